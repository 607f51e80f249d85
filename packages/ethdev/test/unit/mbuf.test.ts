import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Mempool, StateError } from '../../src/index.js';

describe('Mempool', () => {
  it('hands out every mbuf once, then reports exhaustion', () => {
    const p = new Mempool({ size: 4 });
    const got = [p.alloc(), p.alloc(), p.alloc(), p.alloc()];
    expect(new Set(got).size).toBe(4);
    expect(p.alloc()).toBe(-1);
    expect(p.avail()).toBe(0);
    expect(p.inUse()).toBe(4);
  });

  it('allocBulk is all or nothing', () => {
    const p = new Mempool({ size: 4 });
    const out = new Uint32Array(8);
    expect(p.allocBulk(out, 5)).toBe(false);
    expect(p.avail()).toBe(4);
    expect(p.allocBulk(out, 3, 2)).toBe(true);
    expect(p.avail()).toBe(1);
    p.freeBulk(out, 3, 2);
    expect(p.avail()).toBe(4);
  });

  it('rawAlloc hands out mbufs as their last user left them, and they free like any other', () => {
    const p = new Mempool({ size: 1 });
    const m = p.alloc();
    p.write(m, [9, 9]);
    p.vlanTci[m] = 7;
    p.free(m);
    expect(p.rawAlloc()).toBe(m);
    expect([p.dataLen[m], p.vlanTci[m]]).toEqual([2, 7]);
    expect(p.rawAlloc()).toBe(-1);
    p.free(m);
    expect(() => {
      p.free(m);
    }).toThrow(StateError);
    expect(p.avail()).toBe(1);
  });

  it('refuses double free and foreign ids', () => {
    const p = new Mempool({ size: 2 });
    const m = p.alloc();
    p.free(m);
    expect(() => {
      p.free(m);
    }).toThrow(StateError);
    expect(() => {
      p.free(99);
    }).toThrow(/not from this pool/);
  });

  it('resets metadata on alloc and writes data after the headroom', () => {
    const p = new Mempool({ size: 2, dataRoomSize: 256, headroom: 64 });
    const m = p.alloc();
    p.write(m, [1, 2, 3]);
    expect(p.dataLen[m]).toBe(3);
    expect(p.dataOffset(m)).toBe(m * 256 + 64);
    expect([...p.data(m)]).toEqual([1, 2, 3]);
    expect(p.tailroom(m)).toBe(256 - 64 - 3);
    p.olFlags[m] = 7;
    p.free(m);
    const again = p.alloc();
    expect(p.dataLen[again]).toBe(0);
    expect(p.olFlags[again]).toBe(0);
  });

  it('refuses packets bigger than the room and bad geometry', () => {
    const p = new Mempool({ size: 1, dataRoomSize: 128, headroom: 64 });
    expect(() => {
      p.write(p.alloc(), new Uint8Array(65));
    }).toThrow(InvalidArgumentError);
    expect(() => new Mempool({ size: 0 })).toThrow(/size 0/);
    expect(() => new Mempool({ size: 1, dataRoomSize: 128, headroom: 128 })).toThrow(/headroom/);
  });

  it('per-mbuf room views alias the pool buffer', () => {
    const p = new Mempool({ size: 3, dataRoomSize: 128, headroom: 0 });
    const m = p.alloc();
    p.rooms[m]![0] = 42;
    expect(p.buf[m * 128]).toBe(42);
  });
});
