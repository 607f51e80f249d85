import { InvalidArgumentError, NoDeviceError, type EtherAddr } from '@netvsc/ethdev';
import { isLinkLocal6, type Discovery, type InterfaceInfo } from '@netvsc/detect';
import { specText, type DeviceSpec, type NetvscArgs } from './args.js';
import { SpecConflictError } from './errors.js';
import type { VfInfo } from './vf-watch.js';

/** DPDK's buffer limits (1.1): names < 64, devargs < 256 bytes. */
export const MAX_NAME_LEN = 63;
export const MAX_DEVARGS_LEN = 255;

/** Stands for the pipe's read fd in a planned devargs string (the pipe exists only once attached). */
export const PIPE_PLACEHOLDER = '<pipe>';

/** One context the driver would create: what `netvsc probe` prints and `attach()` builds. */
export interface PlannedInstance {
  /** `<N>`: the process-wide context number. */
  readonly id: number;
  /** `<vdev-name>_id<N>`, e.g. `net_vdev_netvsc0_id0` (DPDK uses it for logs only). */
  readonly name: string;
  /** The NetVSC (or forced) interface. */
  readonly ifName: string;
  readonly ifIndex: number;
  readonly mac: EtherAddr;
  /** False for an interface attached by `force=1`. */
  readonly netvsc: boolean;
  readonly routed: boolean;
  readonly addresses: readonly string[];
  /** The `iface=`/`mac=` that chose it; null in automatic mode. */
  readonly specifiedBy: string | null;
  /** `net_failsafe_vsc<N>`. */
  readonly failsafeName: string;
  /** `net_tap_vsc<N>`. */
  readonly tapName: string;
  /** The VF present now, if any. */
  readonly vf: VfInfo | null;
  readonly warnings: readonly string[];
}

export interface Plan {
  /** The device string's name (`net_vdev_netvsc0`). */
  readonly vdev: string;
  readonly ignored: boolean;
  readonly instances: readonly PlannedInstance[];
  /** Warnings not tied to a created instance (e.g. an interface already attached). */
  readonly warnings: readonly string[];
}

/** PCI address of a netdev, or null when it is not on PCI (detect's `pciAddressOf` over a sysfs root). */
export type PciLookup = (ifname: string) => string | null;

export interface PlanOptions {
  /** The next context number (the driver's process-wide counter). */
  readonly firstId?: number;
  /** ifindexes that already have a context: skipped, with a warning when specified. */
  readonly attached?: ReadonlySet<number>;
  /** Finds the VF of a forced (non-NetVSC) interface; without it only NetVSC pairings are known. */
  readonly pciOf?: PciLookup;
}

/** Fail-safe devargs of one instance (DPDK 1.1), with the pipe's read fd or a placeholder. */
export function failsafeDevargs(inst: Pick<PlannedInstance, 'tapName' | 'ifName'>, pipeFd: number | string = PIPE_PLACEHOLDER): string {
  return `fd(${pipeFd}),dev(${inst.tapName},remote=${inst.ifName})`;
}

/**
 * The VF of an interface in a discovery picture: detect's pairing for a NetVSC. For a forced
 * non-NetVSC interface the same rule is applied here: the first other non-NetVSC interface with
 * the same MAC that sits on PCI (`pciOf`), or the VF of a NetVSC sharing the MAC.
 */
export function findVf(picture: Discovery, ifIndex: number, mac: EtherAddr, pciOf?: PciLookup): VfInfo | null {
  const own = picture.interfaces.find((i) => i.index === ifIndex);
  if (own?.netvsc) return own.vf ? { name: own.vf.name, index: own.vf.index, pci: own.vf.pci } : null;
  const byIndex = [...picture.interfaces].sort((a, b) => a.index - b.index);
  for (const i of byIndex) {
    if (i.index === ifIndex || i.mac !== mac) continue;
    if (i.netvsc) {
      if (i.vf && i.vf.index !== ifIndex) return { name: i.vf.name, index: i.vf.index, pci: i.vf.pci };
      continue;
    }
    const pci = pciOf?.(i.name) ?? null;
    if (pci !== null) return { name: i.name, index: i.index, pci };
  }
  return null;
}

/** `10.0.0.4/24` for an address record. */
export function addressText(a: { readonly address: string; readonly prefixlen: number }): string {
  return `${a.address}/${a.prefixlen}`;
}

/** Interfaces DPDK would enumerate: Ethernet ones (a MAC), in ifindex order. */
function ethernet(picture: Discovery): InterfaceInfo[] {
  return picture.interfaces.filter((i) => i.mac !== '00:00:00:00:00:00').sort((a, b) => a.index - b.index);
}

function matches(spec: DeviceSpec, i: InterfaceInfo): boolean {
  return spec.key === 'iface' ? i.name === spec.value : i.mac === spec.mac;
}

/** Interfaces that are the VF of some NetVSC: never attached as "forced" NetVSCs themselves. */
function vfIndexes(picture: Discovery): Set<number> {
  const s = new Set<number>();
  for (const i of picture.interfaces) if (i.vf) s.add(i.vf.index);
  return s;
}

interface Selected {
  readonly iface: InterfaceInfo;
  readonly by: DeviceSpec | null;
  readonly forced: boolean;
}

/**
 * Which contexts one `net_vdev_netvsc` device string creates on this discovery picture — a pure
 * function, so every rule is unit-tested on fixtures:
 * - no `iface`/`mac`: every NetVSC interface without routes (IPv4, or IPv6 beyond link-local);
 * - each `iface=`/`mac=` names one instance (several are allowed, unlike DPDK's code); exactly one
 *   `iface=` plus one `mac=` describe a single instance and must name the same interface;
 *   specified interfaces are attached even when routed (with a warning);
 * - a specifier matching no NetVSC is an error, unless `force=1`: then non-NetVSC interfaces are
 *   searched too (never the VF of a NetVSC), with a warning;
 * - an interface named twice is a contradiction; one already attached is skipped with a warning.
 * Throws InvalidArgumentError (names too long), SpecConflictError, NoDeviceError.
 */
export function planInstances(args: NetvscArgs, picture: Discovery, options: PlanOptions = {}): Plan {
  if (args.ignore) return { vdev: args.name, ignored: true, instances: [], warnings: [] };
  const attached = options.attached ?? new Set<number>();
  const all = ethernet(picture);
  const netvscs = all.filter((i) => i.netvsc);
  const warnings: string[] = [];
  const selected: Selected[] = [];

  if (args.specs.length === 0) {
    for (const i of netvscs) {
      if (attached.has(i.index)) continue;
      if (!i.routed) selected.push({ iface: i, by: null, forced: false });
    }
    if (selected.length === 0) {
      const routed = netvscs.filter((i) => i.routed).map((i) => i.name);
      const why =
        netvscs.length === 0
          ? 'no NetVSC interface exists (not a Hyper-V guest, or hv_netvsc is not loaded)'
          : routed.length > 0
            ? `every NetVSC interface has routes (${routed.join(', ')}); name one with iface= to use it anyway`
            : 'every NetVSC interface is already attached';
      throw new NoDeviceError(`${args.name}: no unrouted NetVSC interface to attach: ${why}`);
    }
  } else {
    const groups = groupSpecs(args.specs);
    for (const group of groups) {
      const found = resolveGroup(args, group, netvscs, all, vfIndexes(picture));
      selected.push(...found);
    }
    // The same interface named twice: refuse rather than guess which instance was meant.
    const seen = new Map<number, Selected>();
    for (const s of selected) {
      const prev = seen.get(s.iface.index);
      if (prev) {
        throw new SpecConflictError(
          `${args.name}: ${prev.by ? specText(prev.by) : '?'} and ${s.by ? specText(s.by) : '?'} (column ${s.by?.column ?? 0}) both name ${s.iface.name}; name each interface once`,
        );
      }
      seen.set(s.iface.index, s);
    }
  }

  const instances: PlannedInstance[] = [];
  let id = options.firstId ?? 0;
  for (const s of selected) {
    const i = s.iface;
    if (attached.has(i.index)) {
      warnings.push(`${i.name} is already attached by another net_vdev_netvsc instance; skipped`);
      continue;
    }
    const w: string[] = [];
    if (s.forced) w.push(`${i.name} is not a NetVSC interface; attached anyway because force=1 (non-netvsc device was probed as netvsc)`);
    if (s.by && i.routed) {
      const routes = i.addresses.filter((a) => !a.address.includes(':') || !isLinkLocal6(a.address));
      w.push(`${i.name} has routes (${routes.map(addressText).join(', ')}); attached anyway because ${specText(s.by)} names it (its traffic now goes to this application)`);
    }
    const inst: PlannedInstance = {
      id,
      name: `${args.name}_id${id}`,
      ifName: i.name,
      ifIndex: i.index,
      mac: i.mac,
      netvsc: i.netvsc,
      routed: i.routed,
      addresses: i.addresses.map(addressText),
      specifiedBy: s.by ? specText(s.by) : null,
      failsafeName: `net_failsafe_vsc${id}`,
      tapName: `net_tap_vsc${id}`,
      vf: findVf(picture, i.index, i.mac, options.pciOf),
      warnings: w,
    };
    checkLengths(inst);
    instances.push(inst);
    id++;
  }
  if (instances.length === 0) {
    throw new NoDeviceError(`${args.name}: nothing to attach: ${warnings.join('; ')}`);
  }
  return { vdev: args.name, ignored: false, instances, warnings };
}

/** Exactly one iface= and one mac=: one instance described twice. Otherwise one instance per specifier. */
function groupSpecs(specs: readonly DeviceSpec[]): DeviceSpec[][] {
  const ifaces = specs.filter((s) => s.key === 'iface');
  const macs = specs.filter((s) => s.key === 'mac');
  if (ifaces.length === 1 && macs.length === 1) return [[...specs]];
  return specs.map((s) => [s]);
}

function resolveGroup(
  args: NetvscArgs,
  group: readonly DeviceSpec[],
  netvscs: readonly InterfaceInfo[],
  all: readonly InterfaceInfo[],
  vfs: ReadonlySet<number>,
): Selected[] {
  const lookup = (spec: DeviceSpec): { list: InterfaceInfo[]; forced: boolean } => {
    const list = netvscs.filter((i) => matches(spec, i));
    if (list.length > 0 || !args.force) return { list, forced: false };
    return { list: all.filter((i) => !i.netvsc && !vfs.has(i.index) && matches(spec, i)), forced: true };
  };
  const results = group.map((spec) => ({ spec, ...lookup(spec) }));
  for (const r of results) {
    if (r.list.length === 0) {
      const how = args.force ? 'no interface matches it' : 'no NetVSC interface matches it (force=1 also accepts non-NetVSC interfaces)';
      throw new NoDeviceError(`${args.name}: cannot find the specified netvsc device ${specText(r.spec)} (column ${r.spec.column}): ${how}`);
    }
  }
  const [first, second] = results;
  if (first && second) {
    // One instance described by both an iface= and a mac=: they must agree.
    const both = first.list.filter((a) => second.list.some((b) => b.index === a.index));
    if (both.length === 0) {
      const names = (l: readonly InterfaceInfo[]): string => l.map((i) => i.name).join(', ');
      throw new SpecConflictError(
        `${args.name}: ${specText(first.spec)} and ${specText(second.spec)} name different interfaces (${names(first.list)} vs ${names(second.list)}); ` +
          'use one of them, or give each interface its own instance (several iface= or several mac=)',
      );
    }
    const by = first.spec.key === 'iface' ? first.spec : second.spec;
    return both.map((iface) => ({ iface, by, forced: first.forced || second.forced }));
  }
  return first ? first.list.map((iface) => ({ iface, by: first.spec, forced: first.forced })) : [];
}

function checkLengths(inst: PlannedInstance): void {
  for (const [what, s] of [
    ['context name', inst.name],
    ['fail-safe name', inst.failsafeName],
  ] as const) {
    if (s.length > MAX_NAME_LEN) throw new InvalidArgumentError(`${what} "${s}" is longer than ${MAX_NAME_LEN} characters (ENOBUFS); use a shorter device name`);
  }
  const devargs = failsafeDevargs(inst, 2147483647);
  if (devargs.length > MAX_DEVARGS_LEN) throw new InvalidArgumentError(`fail-safe devargs "${devargs}" is longer than ${MAX_DEVARGS_LEN} characters (ENOBUFS)`);
}
