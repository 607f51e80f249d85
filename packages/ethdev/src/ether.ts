import { InvalidArgumentError } from './errors.js';

/** A MAC address in canonical form: six lower-case two-digit groups joined by `:`. */
export type EtherAddr = string & { readonly __brand: 'EtherAddr' };

const HEX = /^[0-9a-fA-F]+$/;

function fail(text: string): never {
  throw new InvalidArgumentError(
    `invalid MAC address "${text}": expected six groups of 1-2 hex digits separated by ':' or '-', or three groups of 4 hex digits separated by ':', '-' or '.'`,
  );
}

/**
 * Parse a MAC address as DPDK's rte_ether_unformat_addr does: `0:1:2:3:4:5`,
 * `00-15-5D-01-02-03`, or `0015.5d01.0203`. Case-insensitive, nothing trailing.
 */
export function parseEtherAddr(text: string): EtherAddr {
  const sep = ['-', ':', '.'].find((c) => text.includes(c));
  if (sep === undefined) fail(text);
  const groups = text.split(sep);
  const bytes: number[] = [];
  if (groups.length === 6 && sep !== '.') {
    for (const g of groups) {
      if (g.length < 1 || g.length > 2 || !HEX.test(g)) fail(text);
      bytes.push(parseInt(g, 16));
    }
  } else if (groups.length === 3) {
    for (const g of groups) {
      if (g.length !== 4 || !HEX.test(g)) fail(text);
      const v = parseInt(g, 16);
      bytes.push(v >> 8, v & 0xff);
    }
  } else {
    fail(text);
  }
  return formatEtherAddr(bytes);
}

/** Whether `text` parses as a MAC address. */
export function isEtherAddr(text: string): boolean {
  try {
    parseEtherAddr(text);
    return true;
  } catch {
    return false;
  }
}

export function formatEtherAddr(bytes: ArrayLike<number>): EtherAddr {
  if (bytes.length !== 6) throw new InvalidArgumentError(`a MAC address has 6 bytes, got ${bytes.length}`);
  let s = '';
  for (let i = 0; i < 6; i++) {
    const b = bytes[i] ?? 0;
    s += (i ? ':' : '') + (b < 16 ? '0' : '') + b.toString(16);
  }
  return s as EtherAddr;
}

export function etherAddrBytes(addr: EtherAddr): Uint8Array {
  return Uint8Array.from(addr.split(':'), (g) => parseInt(g, 16));
}

export function isMulticastEtherAddr(addr: EtherAddr): boolean {
  return (parseInt(addr.slice(0, 2), 16) & 1) === 1;
}

export function isZeroEtherAddr(addr: EtherAddr): boolean {
  return addr === '00:00:00:00:00:00';
}

/** Random unicast, locally administered address (rte_eth_random_addr). */
export function randomEtherAddr(random: (n: number) => Uint8Array = defaultRandom): EtherAddr {
  const b = random(6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return formatEtherAddr(b);
}

function defaultRandom(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
