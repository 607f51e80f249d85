import type { EtherAddr, PciAddr } from '@netvsc/ethdev';
import { RtNetlink, type Address, type Link, type LinkRef } from '@netvsc/netlink';
import { findPciNetdev, findVf, hypervisorInfo, isEthernet, isNetvsc, isRouted, normalizeMac, type HypervisorInfo, type PciNetdev, type VfInfo } from './rules.js';
import { validateIfaceName } from './names.js';
import { sysfsReader, type SysfsReader, type SysfsRootOptions } from './sysfs.js';

/** Where discovery reads from. Every field is optional; defaults are the real system. */
export interface DetectOptions extends SysfsRootOptions {
  /** A sysfs reader (tests); default FsSysfs at `sysfsRoot` / NETVSC_SYSFS_ROOT / `/`. */
  readonly sysfs?: SysfsReader;
  /** An open rtnetlink handle to use (not closed here); default: one opened per call. */
  readonly netlink?: RtNetlink;
  /** Network namespace for the rtnetlink queries (name under /run/netns or a path). */
  readonly netns?: string;
}

/** The link fields discovery uses (a netlink Link has them all). */
export type LinkRecord = Pick<Link, 'index' | 'name' | 'mac' | 'type' | 'flags' | 'up' | 'operUp' | 'mtu'>;

/** An Ethernet interface as enumerated (DPDK's foreach_iface: ARPHRD_ETHER only). */
export interface EthernetInterface {
  readonly name: string;
  readonly index: number;
  readonly mac: EtherAddr;
  readonly flags: number;
  readonly up: boolean;
  readonly operUp: boolean;
  readonly mtu: number;
}

export interface InterfaceInfo extends EthernetInterface {
  readonly netvsc: boolean;
  readonly routed: boolean;
  readonly addresses: readonly Address[];
  /** For a NetVSC: its VF, if one is present; always null for other interfaces. */
  readonly vf: VfInfo | null;
}

export interface Discovery {
  readonly hypervisor: HypervisorInfo;
  readonly interfaces: readonly InterfaceInfo[];
}

export function withNetlink<T>(options: DetectOptions, fn: (rt: RtNetlink) => T): T {
  if (options.netlink) return fn(options.netlink);
  const rt = RtNetlink.open(options.netns === undefined ? {} : { netns: options.netns });
  try {
    return fn(rt);
  } finally {
    rt.close();
  }
}

function readerOf(options: SysfsRootOptions & { readonly sysfs?: SysfsReader }): SysfsReader {
  return options.sysfs ?? sysfsReader(options);
}

/** Ethernet interfaces of a link list, in ifindex order. Pure. */
export function ethernetInterfaces(links: readonly LinkRecord[]): EthernetInterface[] {
  return [...links]
    .sort((a, b) => a.index - b.index)
    .flatMap((l) => {
      const mac = normalizeMac(l.mac);
      if (mac === null || !isEthernet(l)) return [];
      return [{ name: l.name, index: l.index, mac, flags: l.flags, up: l.up, operUp: l.operUp, mtu: l.mtu }];
    });
}

/**
 * Every rule applied to a link list, an address list and a sysfs reader. Pure: the
 * input is data, so every rule is testable with fixtures and fake link lists.
 * Names that fail validation are skipped (they cannot be looked up safely).
 */
export function classifyInterfaces(links: readonly LinkRecord[], addresses: readonly Address[], sysfs: SysfsReader): InterfaceInfo[] {
  const ethers = ethernetInterfaces(links).filter((l) => {
    try {
      validateIfaceName(l.name);
      return true;
    } catch {
      return false;
    }
  });
  return ethers.map((l) => {
    const netvsc = isNetvsc(sysfs, l.name);
    const mine = addresses.filter((a) => a.index === l.index);
    return { ...l, netvsc, routed: isRouted(mine), addresses: mine, vf: netvsc ? findVf(sysfs, l, links) : null };
  });
}

/** Ethernet interfaces from the kernel (RTM_GETLINK dump), in ifindex order. */
export function listInterfaces(options: DetectOptions = {}): EthernetInterface[] {
  return withNetlink(options, (rt) => ethernetInterfaces(rt.links()));
}

/** Addresses from the kernel (RTM_GETADDR dump), optionally of one interface. */
export function listAddresses(options: DetectOptions & { readonly index?: number } = {}): Address[] {
  return withNetlink(options, (rt) => rt.addresses(options.index === undefined ? {} : { index: options.index }));
}

/** Whether an interface has an IPv4 or a non-link-local IPv6 address. */
export function isRoutedInterface(ref: LinkRef, options: DetectOptions = {}): boolean {
  if (typeof ref === 'string') validateIfaceName(ref);
  return withNetlink(options, (rt) => isRouted(rt.addresses({ index: rt.ifindex(ref) })));
}

/** Hypervisor signals (see hypervisorInfo for how they combine). */
export function detectHypervisor(options: SysfsRootOptions & { readonly sysfs?: SysfsReader } = {}): HypervisorInfo {
  return hypervisorInfo(readerOf(options));
}

/** Whether this is a Hyper-V guest: `<root>/sys/bus/vmbus` is a directory. */
export function isHyperV(options: SysfsRootOptions & { readonly sysfs?: SysfsReader } = {}): boolean {
  return detectHypervisor(options).hyperV;
}

/** Whether `ifname` is a NetVSC netdev (sysfs class_id rule). */
export function isNetvscInterface(ifname: string, options: SysfsRootOptions & { readonly sysfs?: SysfsReader } = {}): boolean {
  return isNetvsc(readerOf(options), ifname);
}

/** The whole picture: hypervisor, and every Ethernet interface with NetVSC/VF/route facts. */
export function discover(options: DetectOptions = {}): Discovery {
  const sysfs = readerOf(options);
  const { links, addresses } = withNetlink(options, (rt) => ({ links: rt.links(), addresses: rt.addresses() }));
  return { hypervisor: hypervisorInfo(sysfs), interfaces: classifyInterfaces(links, addresses, sysfs) };
}

export interface ResolvePciOptions extends SysfsRootOptions {
  /** Required MAC (recommended: MANA has several netdevs per PCI function). */
  readonly mac?: string | null;
  readonly sysfs?: SysfsReader;
  /**
   * Take MACs from the kernel (rtnetlink, by name) instead of sysfs `address` files.
   * Pass an RtNetlink, or true to open one (in `netns` if given).
   */
  readonly netlink?: RtNetlink | true;
  readonly netns?: string;
}

/**
 * PCI address -> netdev, by `<root>/sys/bus/pci/devices/<addr>/net/*` and MAC. Null when
 * the function has no (matching) netdev yet — a VF netdev can take long to appear.
 */
export function resolvePciNetdev(addr: PciAddr | string, options: ResolvePciOptions = {}): PciNetdev | null {
  const sysfs = readerOf(options);
  if (options.netlink === undefined) return findPciNetdev(sysfs, addr, options.mac);
  const nlOptions: DetectOptions = options.netlink === true ? (options.netns === undefined ? {} : { netns: options.netns }) : { netlink: options.netlink };
  return withNetlink(nlOptions, (rt) =>
    findPciNetdev(sysfs, addr, options.mac, (name) => {
      const l = rt.link(name);
      return l === null ? null : normalizeMac(l.mac);
    }),
  );
}
