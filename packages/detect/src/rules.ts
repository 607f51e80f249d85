import { isEtherAddr, isPciAddr, parseEtherAddr, parsePciAddr, type EtherAddr, type PciAddr } from '@netvsc/ethdev';
import { nl, type Address, type Link } from '@netvsc/netlink';
import { isValidIfaceName, validateIfaceName } from './names.js';
import type { SysfsReader } from './sysfs.js';

/** The vmbus class id of a synthetic network device (NetVSC). */
export const NETVSC_CLASS_ID = '{f8615163-df3e-46c5-913f-f2d2f965ed0e}';

/** The link facts the rules need (a netlink Link satisfies it; tests pass plain objects). */
export type LinkFacts = Pick<Link, 'index' | 'name' | 'mac' | 'type'>;

/** A VF found for a NetVSC interface. */
export interface VfInfo {
  readonly name: string;
  readonly index: number;
  readonly pci: PciAddr;
}

const base = (p: string): string => p.replace(/\/+$/, '').split('/').pop() ?? '';

/** MAC in canonical lower-case form, or null for absent/unparsable ones. */
export function normalizeMac(mac: string | null | undefined): EtherAddr | null {
  if (mac === null || mac === undefined || !isEtherAddr(mac.trim())) return null;
  return parseEtherAddr(mac.trim());
}

/** Ethernet (ARPHRD_ETHER) with a 6-byte address: the interfaces DPDK enumerates. */
export function isEthernet(link: LinkFacts): boolean {
  return link.type === nl.ARPHRD_ETHER && normalizeMac(link.mac) !== null;
}

/**
 * NetVSC iff `sys/class/net/<if>/device/class_id` starts with the NetVSC class id
 * (literal, case-sensitive, nothing before it) — DPDK's rule. Unreadable/missing: false.
 */
export function isNetvsc(sysfs: SysfsReader, ifname: string): boolean {
  validateIfaceName(ifname);
  return sysfs.readText(`sys/class/net/${ifname}/device/class_id`)?.startsWith(NETVSC_CLASS_ID) ?? false;
}

/**
 * The PCI address of a netdev whose `device/subsystem` link ends in `pci`: the basename of
 * its `device` link. Null for virtual netdevs (no `device`), non-PCI devices (vmbus,
 * virtio, platform) and broken links.
 */
export function pciAddressOf(sysfs: SysfsReader, ifname: string): PciAddr | null {
  validateIfaceName(ifname);
  const subsystem = sysfs.readLink(`sys/class/net/${ifname}/device/subsystem`);
  if (subsystem === null || base(subsystem) !== 'pci') return null;
  const device = sysfs.readLink(`sys/class/net/${ifname}/device`);
  if (device === null) return null;
  const addr = base(device);
  return isPciAddr(addr) ? parsePciAddr(addr) : null;
}

/**
 * The VF of a NetVSC: the first other Ethernet interface (ifindex order) that is not a
 * NetVSC itself, has the same MAC and sits on PCI. A MAC shared by a non-PCI device
 * (VLAN, macvlan, bridge, the tap) is not a VF.
 */
export function findVf(sysfs: SysfsReader, netvsc: Pick<LinkFacts, 'index' | 'mac'>, links: readonly LinkFacts[]): VfInfo | null {
  const mac = normalizeMac(netvsc.mac);
  if (mac === null) return null;
  const candidates = [...links].sort((a, b) => a.index - b.index);
  for (const c of candidates) {
    if (c.index === netvsc.index || !isEthernet(c) || normalizeMac(c.mac) !== mac || !isValidIfaceName(c.name)) continue;
    if (isNetvsc(sysfs, c.name)) continue;
    const pci = pciAddressOf(sysfs, c.name);
    if (pci !== null) return { name: c.name, index: c.index, pci };
  }
  return null;
}

/** IPv6 link-local (fe80::/10). */
export function isLinkLocal6(address: string): boolean {
  const first = address.split(':')[0] ?? '';
  const word = first === '' ? 0 : parseInt(first, 16);
  return (word & 0xffc0) === 0xfe80;
}

/**
 * "Routed": an IPv4 address, or an IPv6 address outside fe80::/10. (DPDK counts any
 * address, link-local included, which makes every up interface "routed".)
 */
export function isRouted(addresses: readonly Pick<Address, 'family' | 'address'>[]): boolean {
  return addresses.some((a) => a.family === nl.AF_INET || (a.family === nl.AF_INET6 && !isLinkLocal6(a.address)));
}

/** Hypervisor signals read from sysfs. */
export interface HypervisorInfo {
  /** The decision: true iff `vmbus` is true. */
  readonly hyperV: boolean;
  /** `sys/bus/vmbus` is a directory (the vmbus driver is bound: only happens on Hyper-V). */
  readonly vmbus: boolean;
  /** `sys/class/dmi/id/sys_vendor`, trimmed, or null when unreadable. Reported, not decisive. */
  readonly dmiVendor: string | null;
  /** Whether dmiVendor is "Microsoft Corporation". */
  readonly microsoftDmi: boolean;
}

/**
 * Hyper-V guest detection. Decision: the vmbus bus directory exists. The DMI vendor is
 * reported but does not decide: "Microsoft Corporation" is also the vendor of Surface
 * hardware, and without vmbus there can be no NetVSC anyway.
 */
export function hypervisorInfo(sysfs: SysfsReader): HypervisorInfo {
  const vmbus = sysfs.isDirectory('sys/bus/vmbus');
  const dmiVendor = sysfs.readText('sys/class/dmi/id/sys_vendor')?.trim() ?? null;
  return { hyperV: vmbus, vmbus, dmiVendor, microsoftDmi: dmiVendor === 'Microsoft Corporation' };
}

/** A netdev found behind a PCI address. */
export interface PciNetdev {
  readonly name: string;
  /** From `sys/class/net/<name>/ifindex`, or null when unreadable. */
  readonly index: number | null;
  readonly mac: EtherAddr | null;
}

/**
 * The netdev(s) of PCI function `addr` (`sys/bus/pci/devices/<addr>/net/*`) whose MAC is
 * `mac` (MAC from `macOf`, default the sysfs `address` file). MANA exposes several netdevs
 * per function, so the MAC decides; without `mac`, the first netdev (sorted) is returned.
 */
export function findPciNetdev(sysfs: SysfsReader, addr: string, mac?: string | null, macOf?: (name: string) => EtherAddr | null): PciNetdev | null {
  const pci = parsePciAddr(addr);
  const want = mac === undefined || mac === null ? null : parseEtherAddr(mac);
  for (const name of sysfs.list(`sys/bus/pci/devices/${pci}/net`)) {
    try {
      validateIfaceName(name);
    } catch {
      continue;
    }
    const have = macOf ? macOf(name) : normalizeMac(sysfs.readText(`sys/class/net/${name}/address`));
    if (want !== null && have !== want) continue;
    const idx = Number.parseInt(sysfs.readText(`sys/class/net/${name}/ifindex`)?.trim() ?? '', 10);
    return { name, index: Number.isInteger(idx) ? idx : null, mac: have };
  }
  return null;
}
