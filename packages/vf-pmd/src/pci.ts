import { resolvePciNetdev as findNetdev, sysfsReader } from '@netvsc/detect';
import { InvalidArgumentError, NoDeviceError, type EtherAddr, type PciAddr } from '@netvsc/ethdev';

/**
 * PCI address -> netdev. The rule (`<root>/sys/bus/pci/devices/<addr>/net/*`, chosen by
 * MAC, root from the option / NETVSC_SYSFS_ROOT / `/`) is @netvsc/detect's; this module
 * adds what a probe needs on top: refusing an ambiguous function and saying why nothing
 * was found.
 */

export interface PciNetdevMatch {
  readonly name: string;
  readonly mac: EtherAddr | null;
}

function devicePath(addr: PciAddr): string {
  return `sys/bus/pci/devices/${addr}`;
}

/**
 * The netdev of PCI function `addr`: the one with `mac` when given, else the only one.
 * A function with several netdevs (MANA) needs `mac`.
 */
export function resolveVfNetdev(addr: PciAddr, mac: EtherAddr | undefined, sysfsRoot: string | undefined): PciNetdevMatch {
  const sysfs = sysfsReader(sysfsRoot === undefined ? {} : { sysfsRoot });
  const names = sysfs.list(`${devicePath(addr)}/net`);
  if (mac === undefined && names.length > 1) {
    throw new InvalidArgumentError(`PCI device ${addr} has ${names.length} network interfaces (${names.join(', ')}); choose one with mac=`);
  }
  const hit = findNetdev(addr, { mac: mac ?? null, sysfsRoot: sysfs.root });
  if (hit !== null) return { name: hit.name, mac: hit.mac };
  const where = `${sysfs.root.replace(/\/$/, '')}/${devicePath(addr)}`;
  if (!sysfs.isDirectory(devicePath(addr))) throw new NoDeviceError(`PCI device ${addr} does not exist (no ${where})`);
  if (names.length === 0) throw new NoDeviceError(`PCI device ${addr} has no network interface (nothing in ${where}/net)`);
  throw new NoDeviceError(`PCI device ${addr} has no network interface with MAC ${mac ?? '?'}; found: ${names.join(', ')}`);
}

/** Whether the function still resolves (the removal backstop's "re-resolve"). */
export function pciStillResolves(addr: PciAddr, mac: EtherAddr | undefined, sysfsRoot: string | undefined): boolean {
  return findNetdev(addr, { mac: mac ?? null, ...(sysfsRoot === undefined ? {} : { sysfsRoot }) }) !== null;
}
