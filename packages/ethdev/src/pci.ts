import { InvalidArgumentError } from './errors.js';

/** A PCI address in the kernel's canonical form `dddd:bb:dd.f` (lower-case hex). */
export type PciAddr = string & { readonly __brand: 'PciAddr' };

const FULL = /^([0-9a-fA-F]{4,8}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;
const SHORT = /^([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;

/** Whether `text` looks like a PCI address (either form); used to choose the PCI bus. */
export function isPciAddr(text: string): boolean {
  return FULL.test(text) || SHORT.test(text);
}

/**
 * Parse `DDDD:BB:DD.F` (Hyper-V uses 4+ hex digit domains such as `c3a8`) or `BB:DD.F`
 * (domain 0000). Device must be < 32, function < 8.
 */
export function parsePciAddr(text: string): PciAddr {
  const full = FULL.exec(text);
  const short = full ? null : SHORT.exec(text);
  const m = full ?? (short ? [text, '0000', short[1], short[2], short[3]] : null);
  if (!m) {
    throw new InvalidArgumentError(`invalid PCI address "${text}": expected DDDD:BB:DD.F or BB:DD.F (hex, function 0-7)`);
  }
  const [, domain = '', bus = '', dev = '', fn = ''] = m;
  if (parseInt(dev, 16) > 0x1f) {
    throw new InvalidArgumentError(`invalid PCI address "${text}": device ${dev} is above 1f`);
  }
  return `${domain.toLowerCase()}:${bus.toLowerCase()}:${dev.toLowerCase()}.${fn}` as PciAddr;
}
