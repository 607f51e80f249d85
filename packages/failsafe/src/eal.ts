/**
 * The bus side (DPDK's failsafe_eal.c): turn a device string into a port through the
 * registry, or adopt a port that already exists, and take ownership so the application's
 * port list no longer shows it.
 */
import { ethDevList, isPciAddr, parsePciAddr, type DevArgs, type EthDev } from '@netvsc/ethdev';
import { SubDeviceBusyError } from './errors.js';
import type { FsPriv } from './state.js';

/**
 * An unowned port that already is this device: same name, or for a PCI address the port
 * whose `infoGet().pciAddr` is that address. Exact match (DPDK compares a prefix, so
 * `net_tap_vsc1` would find `net_tap_vsc10`).
 */
function findExisting(args: DevArgs): EthDev | undefined {
  const pci = isPciAddr(args.name) ? parsePciAddr(args.name) : undefined;
  for (const p of ethDevList()) {
    if (p.state === 'closed') continue;
    if (p.name === args.name) return p;
    if (pci !== undefined && p.infoGet().pciAddr === pci) return p;
  }
  return undefined;
}

/** Probe (or adopt) the device; the port is returned owned by this fail-safe. */
export async function probeSubDevice(priv: FsPriv, args: DevArgs): Promise<EthDev> {
  const existing = findExisting(args);
  const dev = existing ?? (await priv.registry.probe(args));
  try {
    takeOwnership(priv, dev);
  } catch (e) {
    if (existing === undefined) closeQuietly(dev);
    throw e;
  }
  return dev;
}

/** Claim `dev` for this fail-safe (DPDK: rte_eth_dev_owner_set), refusing one that is taken or closed. */
export function takeOwnership(priv: FsPriv, dev: EthDev): void {
  if (dev.state === 'closed') throw new SubDeviceBusyError(`${priv.name}: port ${dev.name} is closed; give a live port`);
  if (dev.owner !== undefined && dev.owner !== priv.owner) {
    throw new SubDeviceBusyError(`${priv.name}: port ${dev.name} is already owned by ${dev.owner}`);
  }
  if (dev === priv.port) throw new SubDeviceBusyError(`${priv.name}: a fail-safe port cannot be its own sub-device`);
  dev.owner = priv.owner;
}

/** Close a sub-device, whatever state it is in; a removed device may complain, that is fine. */
export function closeQuietly(dev: EthDev): void {
  try {
    dev.close();
  } catch {
    // close() always releases the port (ethdev guarantees it); a stop error of a dying device is moot.
  }
}
