/**
 * The kernel and hypervisor settings that decide what a sleeping receiver pays per wake-up, read
 * into the result file so two runs can be told apart by more than their figures. On the 2-vCPU
 * VM the Rx CPU per packet was mostly this path's price (the wake-up toll), and it comes from
 * settings no figure shows: a guest vCPU that halts is descheduled by the host (haltpoll with
 * `guest_halt_poll_ns` 0 halts at once), and without IRQ time accounting whatever the wake-up
 * costs in interrupt context is charged to the task that runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { WakePathInfo } from './schema.js';

/** Where each setting is read, relative to the root (`/` on a live machine). */
export const WAKE_PATH_FILES = {
  cpuinfo: 'proc/cpuinfo',
  config: 'proc/config.gz',
  clocksource: 'sys/devices/system/clocksource/clocksource0/current_clocksource',
  cpuidleDriver: 'sys/devices/system/cpu/cpuidle/current_driver',
  cpuidleGovernor: 'sys/devices/system/cpu/cpuidle/current_governor_ro',
  haltPollNs: 'sys/module/haltpoll/parameters/guest_halt_poll_ns',
  dmiVendor: 'sys/class/dmi/id/sys_vendor',
} as const;

/** The kernel config options read, and what each says. */
export interface KernelConfigFacts {
  readonly hz: number | null;
  /** `tick` (CONFIG_TICK_CPU_ACCOUNTING), `virt-gen` (VIRT_CPU_ACCOUNTING_GEN), `native`, or null. */
  readonly cpuAccounting: 'tick' | 'virt-gen' | 'native' | null;
  readonly irqTimeAccounting: boolean | null;
  readonly paravirtTimeAccounting: boolean | null;
}

/** Nothing known: no kernel config could be read. */
const NO_CONFIG: KernelConfigFacts = { hz: null, cpuAccounting: null, irqTimeAccounting: null, paravirtTimeAccounting: null };

/**
 * Read the options above from a kernel config's text (`/proc/config.gz`, uncompressed). A text
 * that sets or unsets no option at all is not a kernel config: everything stays unknown. In a
 * real config an option that is absent or "is not set" is off.
 */
export function parseKernelConfig(text: string): KernelConfigFacts {
  const set = new Map<string, string>();
  let options = 0;
  for (const line of text.split('\n')) {
    const on = /^CONFIG_([A-Z0-9_]+)=(.*)$/.exec(line);
    if (on?.[1] !== undefined) set.set(on[1], on[2] ?? '');
    if (on !== null || /^# CONFIG_[A-Z0-9_]+ is not set/.test(line)) options++;
  }
  if (options === 0) return NO_CONFIG;
  const yes = (k: string): boolean => set.get(k) === 'y';
  const hz = Number(set.get('HZ'));
  let cpuAccounting: KernelConfigFacts['cpuAccounting'] = null;
  if (yes('VIRT_CPU_ACCOUNTING_GEN')) cpuAccounting = 'virt-gen';
  else if (yes('VIRT_CPU_ACCOUNTING_NATIVE')) cpuAccounting = 'native';
  else if (yes('TICK_CPU_ACCOUNTING')) cpuAccounting = 'tick';
  return {
    hz: Number.isInteger(hz) && hz > 0 ? hz : null,
    cpuAccounting,
    irqTimeAccounting: yes('IRQ_TIME_ACCOUNTING'),
    paravirtTimeAccounting: yes('PARAVIRT_TIME_ACCOUNTING'),
  };
}

/** Whether /proc/cpuinfo's flags say the kernel runs under a hypervisor (CPUID's hypervisor bit). */
export function parseHypervisorFlag(cpuinfo: string): boolean | null {
  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo);
  if (flags?.[1] === undefined) return null;
  return flags[1].split(/\s+/).includes('hypervisor');
}

function readText(root: string, rel: string): string | null {
  try {
    return readFileSync(join(root, rel), 'utf8').trim();
  } catch {
    return null;
  }
}

/** Every setting above, from `root` (a fixture tree in tests); what cannot be read is null. */
export function wakePathInfo(root = '/'): WakePathInfo {
  let config = NO_CONFIG;
  try {
    config = parseKernelConfig(gunzipSync(readFileSync(join(root, WAKE_PATH_FILES.config))).toString('utf8'));
  } catch {
    // no /proc/config.gz (IKCONFIG_PROC off) or not gzip: leave the options unknown
  }
  const cpuinfo = readText(root, WAKE_PATH_FILES.cpuinfo);
  const haltPoll = readText(root, WAKE_PATH_FILES.haltPollNs);
  const haltPollNs = haltPoll === null ? null : Number(haltPoll);
  return {
    hypervisor: cpuinfo === null ? null : parseHypervisorFlag(cpuinfo),
    dmiVendor: readText(root, WAKE_PATH_FILES.dmiVendor),
    clocksource: readText(root, WAKE_PATH_FILES.clocksource),
    cpuidleDriver: readText(root, WAKE_PATH_FILES.cpuidleDriver),
    cpuidleGovernor: readText(root, WAKE_PATH_FILES.cpuidleGovernor),
    haltPollNs: haltPollNs !== null && Number.isFinite(haltPollNs) ? haltPollNs : null,
    ...config,
  };
}

/**
 * One line for the table's head, e.g. `VM; clocksource tsc; cpuidle haltpoll (guest halt poll 0 ns);
 * HZ 250; tick CPU accounting, IRQ time charged to the running task`.
 */
export function describeWakePath(w: WakePathInfo): string {
  const parts: string[] = [];
  if (w.hypervisor !== null) parts.push(w.hypervisor ? `VM${w.dmiVendor === null ? '' : ` (${w.dmiVendor})`}` : 'bare metal');
  if (w.clocksource !== null) parts.push(`clocksource ${w.clocksource}`);
  if (w.cpuidleDriver !== null) {
    const gov = w.cpuidleGovernor !== null && w.cpuidleGovernor !== w.cpuidleDriver ? `/${w.cpuidleGovernor}` : '';
    parts.push(`cpuidle ${w.cpuidleDriver}${gov}${w.haltPollNs === null ? '' : ` (guest halt poll ${w.haltPollNs} ns)`}`);
  }
  if (w.hz !== null) parts.push(`HZ ${w.hz}`);
  if (w.cpuAccounting !== null) {
    const irq = w.irqTimeAccounting === true ? 'IRQ time accounted apart' : 'IRQ time charged to the running task';
    parts.push(`${w.cpuAccounting} CPU accounting, ${irq}`);
  }
  return parts.length === 0 ? 'unknown' : parts.join('; ');
}

/** The settings that differ between two runs' machines, as `name: before -> after`. */
export function wakePathChanges(before: WakePathInfo | undefined, after: WakePathInfo | undefined): string[] {
  if (before === undefined || after === undefined) return [];
  const out: string[] = [];
  for (const k of Object.keys(after) as (keyof WakePathInfo)[]) {
    if (before[k] !== after[k]) out.push(`${k}: ${String(before[k])} -> ${String(after[k])}`);
  }
  return out;
}
