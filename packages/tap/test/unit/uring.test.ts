import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tunNative } from '../../src/native/tun.js';
import { openWriteRing, RES_PENDING } from '../../src/native/uring.js';

// The real io_uring shim against the running kernel, on regular files (no root, no tap): what
// the TAP's Tx path relies on — every prepared write made once, each result in its slot, a
// failing write failing alone, nothing left open after close.

const probe = openWriteRing(4);
const refused = 'errno' in probe ? probe.errno : undefined;
if (!('errno' in probe)) probe.close();
if (refused !== undefined) console.log(`io_uring refused by this kernel (errno ${refused}): the real-ring tests are skipped; the TAP sends with writev here`);

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe.skipIf(refused !== undefined)('openWriteRing on this kernel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netvsc-uring-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes every prepared write once, results by slot, and a bad fd fails only its own slot', () => {
    const ring = openWriteRing(8);
    if ('errno' in ring) throw new Error(`refused: ${ring.errno}`);
    const fds = [0, 1, 2].map((i) => openSync(join(dir, `f${i}`), 'w'));
    try {
      const data = new Uint8Array(4096);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
      const base = tunNative.addressOf(data);
      const lens = [60, 1514, 7];
      const res = new Int32Array(ring.depth);
      for (let round = 0; round < 3; round++) {
        for (let k = 0; k < 3; k++) {
          const addr = base + k * 100;
          ring.prep(k, fds[k]!, addr >>> 0, Math.floor(addr / 0x100000000), lens[k]!);
        }
        // Slot 3 writes to an fd that is not open.
        ring.prep(3, 987654, base >>> 0, Math.floor(base / 0x100000000), 10);
        expect(ring.submit(4, res)).toBe(4);
        expect([...res.subarray(0, 4)]).toEqual([60, 1514, 7, -9]);
        expect(res.subarray(0, 4).includes(RES_PENDING)).toBe(false);
      }
      for (let k = 0; k < 3; k++) {
        const want = data.subarray(k * 100, k * 100 + lens[k]!);
        const got = readFileSync(join(dir, `f${k}`));
        expect(got.length).toBe(3 * lens[k]!);
        for (let round = 0; round < 3; round++) expect(new Uint8Array(got.subarray(round * lens[k]!, (round + 1) * lens[k]!))).toEqual(want);
      }
    } finally {
      for (const fd of fds) closeSync(fd);
      ring.close();
    }
  });

  it('leaves no fd behind, refuses a depth the kernel refuses, and a closed ring takes nothing', () => {
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      const r = openWriteRing(64);
      if ('errno' in r) throw new Error(`refused: ${r.errno}`);
      r.close();
      r.close();
    }
    expect(openWriteRing(0)).toEqual({ errno: 22 });
    expect(openFds()).toBe(before);
    const r = openWriteRing(2);
    if ('errno' in r) throw new Error(`refused: ${r.errno}`);
    r.close();
    expect(r.submit(1, new Int32Array(2))).toBe(-9);
  });
});
