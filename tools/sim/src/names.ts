import { randomBytes } from 'node:crypto';
import { InvalidArgumentError, parsePciAddr, type PciAddr } from '@netvsc/ethdev';
import { SIM_PREFIX } from './api.js';

const PREFIX_RE = /^nvsim-[a-z0-9][a-z0-9-]{0,22}$/;

/** A fresh prefix `nvsim-<4 random hex>`. */
export function randomPrefix(): string {
  return `${SIM_PREFIX}${randomBytes(2).toString('hex')}`;
}

/** Validate a prefix: `nvsim-` then 1-23 of `[a-z0-9-]`, so namespace and directory names stay safe. */
export function checkPrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) {
    throw new InvalidArgumentError(
      `invalid simulator prefix "${prefix}": must be "${SIM_PREFIX}" followed by 1-23 characters of [a-z0-9-] (starting with a letter or digit)`,
    );
  }
  return prefix;
}

export function guestNsName(prefix: string): string {
  return `${prefix}-guest`;
}

export function hostNsName(prefix: string): string {
  return `${prefix}-host`;
}

/** The prefix a simulator namespace belongs to, or null for a foreign namespace. */
export function prefixOfNamespace(ns: string): string | null {
  const m = /^(nvsim-.+)-(guest|host)$/.exec(ns);
  return m?.[1] ?? null;
}

/** Default MAC of the i-th NetVSC: Hyper-V's OUI 00:15:5d. */
export function defaultMac(index: number): string {
  return `00:15:5d:10:${((index >> 8) & 0xff).toString(16).padStart(2, '0')}:${((index + 1) & 0xff).toString(16).padStart(2, '0')}`;
}

/** Host-side veth end of the i-th NetVSC's synthetic path. */
export function hostSyntheticName(index: number): string {
  return `vsw${index}syn`;
}

/** Host-side veth end of the i-th NetVSC's VF path. */
export function hostVfName(index: number): string {
  return `vsw${index}vf`;
}

/** Deterministic vmbus instance id of the i-th NetVSC (the fixture's device directory). */
export function vmbusId(prefix: string, index: number): string {
  const h = Buffer.from(`${prefix}/${index}`).reduce((a, b) => (Math.imul(a, 31) + b) >>> 0, 7);
  const x = h.toString(16).padStart(8, '0');
  return `${x}-${index.toString(16).padStart(4, '0')}-4000-8000-00155d${x.slice(0, 6)}`;
}

/** The predictable name the kernel would give a VF at `pci`: `enP<domain>s<slot>` (Azure style). */
export function vfNameFor(pci: string): string {
  const a: PciAddr = parsePciAddr(pci);
  const [domain = '0', , devfn = '0.0'] = a.split(':');
  const slot = parseInt(devfn.split('.')[0] ?? '0', 16);
  return `enP${parseInt(domain, 16)}s${slot}`;
}

/** The address a VF returns at after servicing: same bus/slot, next PCI domain. */
export function nextPciAddress(pci: string): string {
  const a = parsePciAddr(pci);
  const [domain = '0', ...rest] = a.split(':');
  const next = ((parseInt(domain, 16) + 1) & 0xffff).toString(16).padStart(4, '0');
  return `${next}:${rest.join(':')}`;
}
