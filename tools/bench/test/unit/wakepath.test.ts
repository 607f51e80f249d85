import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { WakePathInfo } from '../../src/schema.js';
import { describeWakePath, parseHypervisorFlag, parseKernelConfig, WAKE_PATH_FILES, wakePathChanges, wakePathInfo } from '../../src/wakepath.js';

const FC_CONFIG = [
  '# Automatically generated file; DO NOT EDIT.',
  'CONFIG_HZ_250=y',
  'CONFIG_HZ=250',
  'CONFIG_TICK_CPU_ACCOUNTING=y',
  '# CONFIG_VIRT_CPU_ACCOUNTING_GEN is not set',
  '# CONFIG_IRQ_TIME_ACCOUNTING is not set',
  'CONFIG_PARAVIRT_TIME_ACCOUNTING=y',
].join('\n');

/** What the fixture tree below describes: the 2-vCPU Firecracker VM this project is measured on. */
const FC_WAKE_PATH: WakePathInfo = {
  hypervisor: true,
  dmiVendor: null,
  clocksource: 'kvm-clock',
  cpuidleDriver: 'haltpoll',
  cpuidleGovernor: 'haltpoll',
  haltPollNs: 0,
  hz: 250,
  cpuAccounting: 'tick',
  irqTimeAccounting: false,
  paravirtTimeAccounting: true,
};

describe('parseKernelConfig', () => {
  it('reads HZ and how CPU time is accounted', () => {
    expect(parseKernelConfig(FC_CONFIG)).toEqual({ hz: 250, cpuAccounting: 'tick', irqTimeAccounting: false, paravirtTimeAccounting: true });
  });

  it('prefers the accounting a full-dynticks kernel selects, and sees IRQ time accounting', () => {
    const text = 'CONFIG_HZ=1000\nCONFIG_VIRT_CPU_ACCOUNTING_GEN=y\nCONFIG_IRQ_TIME_ACCOUNTING=y\n';
    expect(parseKernelConfig(text)).toEqual({ hz: 1000, cpuAccounting: 'virt-gen', irqTimeAccounting: true, paravirtTimeAccounting: false });
  });

  it('says nothing of a text that is no kernel config', () => {
    expect(parseKernelConfig('hello\n')).toEqual({ hz: null, cpuAccounting: null, irqTimeAccounting: null, paravirtTimeAccounting: null });
    expect(parseKernelConfig('CONFIG_HZ=fast\n').hz).toBeNull();
  });
});

describe('parseHypervisorFlag', () => {
  it('finds the hypervisor bit among the flags, not in other lines', () => {
    expect(parseHypervisorFlag('model name\t: hypervisor-less\nflags\t\t: fpu vme hypervisor lahf_lm\n')).toBe(true);
    expect(parseHypervisorFlag('model name\t: hypervisor\nflags\t\t: fpu vme de\n')).toBe(false);
    expect(parseHypervisorFlag('processor\t: 0\n')).toBeNull();
  });
});

describe('wakePathInfo', () => {
  let root: string | undefined;
  afterEach(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
    root = undefined;
  });

  const put = (base: string, rel: string, data: string | Buffer): void => {
    mkdirSync(dirname(join(base, rel)), { recursive: true });
    writeFileSync(join(base, rel), data);
  };

  it('reads every setting from a fixture tree', () => {
    root = mkdtempSync(join(tmpdir(), 'wakepath-'));
    put(root, WAKE_PATH_FILES.cpuinfo, 'processor\t: 0\nflags\t\t: fpu hypervisor\n');
    put(root, WAKE_PATH_FILES.config, gzipSync(Buffer.from(FC_CONFIG)));
    put(root, WAKE_PATH_FILES.clocksource, 'kvm-clock\n');
    put(root, WAKE_PATH_FILES.cpuidleDriver, 'haltpoll\n');
    put(root, WAKE_PATH_FILES.cpuidleGovernor, 'haltpoll\n');
    put(root, WAKE_PATH_FILES.haltPollNs, '0\n');
    const w = wakePathInfo(root);
    expect(w).toEqual(FC_WAKE_PATH);
    expect(describeWakePath(w)).toBe(
      'VM; clocksource kvm-clock; cpuidle haltpoll (guest halt poll 0 ns); HZ 250; tick CPU accounting, IRQ time charged to the running task',
    );
  });

  it('leaves unreadable settings null: no config.gz, a config that is not gzip, an empty tree', () => {
    root = mkdtempSync(join(tmpdir(), 'wakepath-'));
    put(root, WAKE_PATH_FILES.config, FC_CONFIG);
    put(root, WAKE_PATH_FILES.dmiVendor, 'Microsoft Corporation\n');
    put(root, WAKE_PATH_FILES.cpuinfo, 'flags\t: fpu hypervisor\n');
    const w = wakePathInfo(root);
    expect(w.hz).toBeNull();
    expect(w.haltPollNs).toBeNull();
    expect(describeWakePath(w)).toBe('VM (Microsoft Corporation)');
    expect(describeWakePath(wakePathInfo(join(root, 'nothing-here')))).toBe('unknown');
  });
});

describe('wakePathChanges', () => {
  const base = FC_WAKE_PATH;

  it('names what differs, and nothing when a file predates the field', () => {
    expect(wakePathChanges(base, { ...base, haltPollNs: 200000, clocksource: 'tsc' })).toEqual(['clocksource: kvm-clock -> tsc', 'haltPollNs: 0 -> 200000']);
    expect(wakePathChanges(base, base)).toEqual([]);
    expect(wakePathChanges(undefined, base)).toEqual([]);
  });
});
