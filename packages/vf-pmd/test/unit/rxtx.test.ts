import { Mempool, QueueStats } from '@netvsc/ethdev';
import { describe, expect, it } from 'vitest';
import { addressOf } from '../../src/native/mman.js';
import { Iovec, MmsgHdr } from '../../src/native/packet.js';
import { TpStatus } from '../../src/ring.js';
import { copyBytes, copyWords, memoryOf, RxQueue, TX_BATCH, TxQueue } from '../../src/rxtx.js';
import { blockStatus, fakeRing, frame, geometry, writeBlock, type FakeRing } from './support/fake-ring.js';

function poolOf(size = 64): Mempool {
  return new Mempool({ size });
}

function rxQueue(r: FakeRing, pool: Mempool, stats = new QueueStats(1, 1)): RxQueue {
  return new RxQueue(0, { mem: r.mem, offset: 0, geometry: r.geometry }, pool, memoryOf(pool.buf), 7, stats);
}

describe('copyBytes', () => {
  it('copies exactly, for every relative alignment and length', () => {
    const src = new Uint8Array(4096);
    for (let i = 0; i < src.length; i++) src[i] = (i * 31 + 7) & 0xff;
    const s = memoryOf(src);
    for (const len of [0, 1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 60, 255, 1514]) {
      for (let so = 0; so < 4; so++) {
        for (let dOff = 0; dOff < 4; dOff++) {
          const dst = new Uint8Array(4096).fill(0xee);
          copyBytes(s, 100 + so, memoryOf(dst), 200 + dOff, len);
          expect(dst.subarray(200 + dOff, 200 + dOff + len)).toEqual(src.subarray(100 + so, 100 + so + len));
          // Nothing around the destination is touched.
          expect(dst[199 + dOff]).toBe(0xee);
          expect(dst[200 + dOff + len]).toBe(0xee);
        }
      }
    }
  });
});

describe('copyWords', () => {
  it('copies every byte of the range and at most the rest of its first and last words', () => {
    const src = new Uint8Array(4096);
    for (let i = 0; i < src.length; i++) src[i] = (i * 31 + 7) & 0xff;
    const s32 = new Int32Array(src.buffer);
    for (const len of [0, 1, 3, 4, 5, 15, 16, 17, 31, 60, 64, 255, 767]) {
      for (let shift = 0; shift < 4; shift++) {
        const dst = new Uint8Array(4096).fill(0xee);
        const so = 100 + shift;
        const d = 200 + shift;
        copyWords(s32, so, new Int32Array(dst.buffer), d, len);
        expect(dst.subarray(d, d + len)).toEqual(src.subarray(so, so + len));
        const first = d & ~3;
        const last = len === 0 ? first : (d + len + 3) & ~3;
        expect(dst[first - 1]).toBe(0xee);
        expect(dst[last]).toBe(0xee);
      }
    }
  });
});

describe('RxQueue (TPACKET_V3 block walk)', () => {
  it('delivers every packet of retired blocks in order, byte-exact, and hands each block back', () => {
    const r = fakeRing(geometry());
    const pool = poolOf();
    const stats = new QueueStats(1, 1);
    const q = rxQueue(r, pool, stats);
    writeBlock(r, 0, [{ data: frame(60, 0), rxhash: 0xabcd }, { data: frame(1000, 1) }]);
    writeBlock(r, 1, [{ data: frame(1514, 2) }]);
    const out = new Uint32Array(8);
    expect(q.ready()).toBe(true);
    const n = q.burst(out, 8);
    expect(n).toBe(3);
    for (let i = 0; i < 3; i++) {
      const m = out[i]!;
      expect(pool.data(m)).toEqual(frame([60, 1000, 1514][i]!, i));
      expect(pool.port[m]).toBe(7);
    }
    expect(pool.hash[out[0]!]).toBe(0xabcd);
    expect(blockStatus(r, 0)).toBe(TpStatus.KERNEL);
    expect(blockStatus(r, 1)).toBe(TpStatus.KERNEL);
    expect(stats.rxPackets[0]).toBe(3);
    expect(stats.rxBytes[0]).toBe(60 + 1000 + 1514);
    expect(q.ready()).toBe(false);
    expect(q.burst(out, 8)).toBe(0);
  });

  it('copies large frames through cached views without touching the next mbuf or slot', () => {
    const r = fakeRing(geometry());
    const pool = poolOf(2);
    pool.buf.fill(0xab, pool.dataRoomSize);
    const q = rxQueue(r, pool);
    writeBlock(r, 0, [{ data: frame(1514, 1) }]);
    writeBlock(r, 1, [{ data: frame(1514, 2) }]);
    const out = new Uint32Array(2);
    expect(q.burst(out, 1)).toBe(1);
    expect(out[0]).toBe(0);
    expect(pool.data(0)).toEqual(frame(1514, 1));
    expect(pool.buf.subarray(pool.dataRoomSize).every((b) => b === 0xab)).toBe(true);
    pool.free(0);
    writeBlock(r, 2, [{ data: frame(1514, 3) }]);
    expect(q.burst(out, 2)).toBe(2);
    expect(pool.data(out[0]!)).toEqual(frame(1514, 2));
    expect(pool.data(out[1]!)).toEqual(frame(1514, 3));
  });

  it('copies small frames within the mbuf\'s room whatever its size and headroom', () => {
    // Word copies spill up to 3 bytes around the frame: never into a neighbouring mbuf.
    for (const [dataRoomSize, headroom] of [[2176, 128], [64 + 61, 0], [130, 1], [131, 2], [127, 3]] as const) {
      const r = fakeRing(geometry());
      const pool = new Mempool({ size: 3, dataRoomSize, headroom });
      const q = rxQueue(r, pool);
      const lens = [60, 61, 62, 63].filter((l) => headroom + l <= dataRoomSize);
      for (const [i, len] of lens.entries()) {
        pool.buf.fill(0xab);
        writeBlock(r, i % r.geometry.blockNr, [{ data: frame(len, i) }]);
        const out = new Uint32Array(1);
        // Take the middle mbuf: the two around it must stay untouched.
        const a = pool.alloc();
        const b = pool.alloc();
        pool.free(b);
        expect(q.burst(out, 1)).toBe(1);
        expect(out[0]).toBe(b);
        expect(pool.data(b)).toEqual(frame(len, i));
        const other = 3 - a - b;
        expect(pool.rooms[a]!.every((x) => x === 0xab)).toBe(true);
        expect(pool.rooms[other]!.every((x) => x === 0xab)).toBe(true);
        pool.free(a);
        pool.free(b);
      }
    }
  });

  it('leaves no metadata of an mbuf\'s previous use', () => {
    const r = fakeRing(geometry());
    const pool = poolOf(1);
    const q = rxQueue(r, pool);
    const m = pool.alloc();
    pool.vlanTci[m] = 0x123;
    pool.olFlags[m] = 0xff;
    pool.hash[m] = 0xdead;
    pool.port[m] = 3;
    pool.free(m);
    writeBlock(r, 0, [{ data: frame(60, 0) }]);
    const out = new Uint32Array(1);
    expect(q.burst(out, 1)).toBe(1);
    expect(out[0]).toBe(m);
    expect([pool.vlanTci[m], pool.olFlags[m], pool.hash[m], pool.port[m]]).toEqual([0, 0, 0, 7]);
  });

  it('keeps its place inside a block across bursts and returns the block only when it is empty', () => {
    const r = fakeRing(geometry());
    const pool = poolOf();
    const q = rxQueue(r, pool);
    writeBlock(r, 0, [0, 1, 2, 3, 4].map((i) => ({ data: frame(64, i) })));
    const out = new Uint32Array(8);
    expect(q.burst(out, 2)).toBe(2);
    expect(blockStatus(r, 0)).toBe(TpStatus.USER);
    expect(q.burst(out, 2)).toBe(2);
    expect(pool.data(out[1]!)).toEqual(frame(64, 3));
    expect(q.burst(out, 2)).toBe(1);
    expect(pool.data(out[0]!)).toEqual(frame(64, 4));
    expect(blockStatus(r, 0)).toBe(TpStatus.KERNEL);
  });

  it('wraps around the ring', () => {
    const g = geometry();
    const r = fakeRing(g);
    const pool = poolOf(256);
    const q = rxQueue(r, pool);
    const out = new Uint32Array(4);
    let seq = 0;
    for (let round = 0; round < g.blockNr * 3; round++) {
      // Large frames come back to the same ring positions: their cached views are reused.
      const len = round % 2 === 0 ? 100 : 1400;
      writeBlock(r, round % g.blockNr, [{ data: frame(len, seq) }]);
      expect(q.burst(out, 4)).toBe(1);
      expect(pool.data(out[0]!)).toEqual(frame(len, seq));
      pool.free(out[0]!);
      seq++;
    }
  });

  it('puts back the VLAN tag the kernel stripped', () => {
    const r = fakeRing(geometry());
    const pool = poolOf();
    const q = rxQueue(r, pool);
    const f = frame(100, 9);
    writeBlock(r, 0, [{ data: f, vlan: { tci: 0x2064 } }, { data: f, vlan: { tci: 5, tpid: 0x88a8 } }]);
    const out = new Uint32Array(4);
    expect(q.burst(out, 4)).toBe(2);
    const tagged = pool.data(out[0]!);
    expect(tagged.length).toBe(104);
    expect(tagged.subarray(0, 12)).toEqual(f.subarray(0, 12));
    expect([...tagged.subarray(12, 16)]).toEqual([0x81, 0x00, 0x20, 0x64]);
    expect(tagged.subarray(16)).toEqual(f.subarray(12));
    expect(pool.vlanTci[out[0]!]).toBe(0x2064);
    expect([...pool.data(out[1]!).subarray(12, 16)]).toEqual([0x88, 0xa8, 0x00, 0x05]);
  });

  it('drops truncated and oversized frames, counting them, and moves on', () => {
    const r = fakeRing(geometry());
    const pool = new Mempool({ size: 8, dataRoomSize: 128 + 600 });
    const stats = new QueueStats(1, 1);
    const q = rxQueue(r, pool, stats);
    writeBlock(r, 0, [{ data: frame(200, 0), wireLen: 3000 }, { data: frame(700, 1) }, { data: frame(80, 2) }]);
    const out = new Uint32Array(4);
    expect(q.burst(out, 4)).toBe(1);
    expect(pool.data(out[0]!)).toEqual(frame(80, 2));
    expect(stats.rxErrors[0]).toBe(2);
    expect(q.oversize).toBe(2);
  });

  it('stops at mbuf exhaustion without losing the packet', () => {
    const r = fakeRing(geometry());
    const pool = poolOf(2);
    const stats = new QueueStats(1, 1);
    const q = rxQueue(r, pool, stats);
    writeBlock(r, 0, [0, 1, 2].map((i) => ({ data: frame(60, i) })));
    const out = new Uint32Array(4);
    expect(q.burst(out, 4)).toBe(2);
    expect(stats.rxNombuf[0]).toBe(1);
    pool.freeBulk(out, 2);
    expect(q.burst(out, 4)).toBe(1);
    expect(pool.data(out[0]!)).toEqual(frame(60, 2));
  });

  it('drain() hands back retired blocks without delivering them', () => {
    const r = fakeRing(geometry());
    const q = rxQueue(r, poolOf());
    writeBlock(r, 0, [{ data: frame(60, 0) }]);
    writeBlock(r, 1, [{ data: frame(60, 1) }, { data: frame(60, 2) }]);
    expect(q.drain()).toBe(3);
    expect(blockStatus(r, 0)).toBe(TpStatus.KERNEL);
    expect(blockStatus(r, 1)).toBe(TpStatus.KERNEL);
    expect(q.ready()).toBe(false);
  });
});

describe('TxQueue (sendmmsg of the mbufs in place)', () => {
  interface Sent {
    addr: number;
    len: number;
  }

  /** Plays sendmmsg: reads back the iovecs the queue wrote; `script` answers each call. */
  function setup(script: (n: number, call: number) => number = (n) => n): {
    pool: Mempool;
    q: TxQueue;
    stats: QueueStats;
    calls: Sent[][];
    errors: number[];
    poolAddr: number;
  } {
    const pool = poolOf(128);
    const stats = new QueueStats(1, 1);
    const calls: Sent[][] = [];
    const errors: number[] = [];
    const msgs = new Uint8Array(TX_BATCH * (MmsgHdr.size + Iovec.size));
    const msgsAddr = addressOf(msgs);
    const poolAddr = addressOf(pool.buf);
    const q = new TxQueue(
      0,
      42,
      pool,
      poolAddr,
      msgs,
      msgsAddr,
      stats,
      (fd, vec, n) => {
        expect(fd).toBe(42);
        const v = new DataView(vec.buffer, vec.byteOffset);
        const got: Sent[] = [];
        for (let i = 0; i < n; i++) {
          const h = i * MmsgHdr.size;
          const iov = Number(v.getBigUint64(h + MmsgHdr.msgIov, true));
          expect(iov).toBe(msgsAddr + TX_BATCH * MmsgHdr.size + i * Iovec.size);
          expect(Number(v.getBigUint64(h + MmsgHdr.msgIovLen, true))).toBe(1);
          const o = iov - msgsAddr;
          got.push({ addr: Number(v.getBigUint64(o + Iovec.base, true)), len: Number(v.getBigUint64(o + Iovec.len, true)) });
        }
        calls.push(got);
        return script(n, calls.length - 1);
      },
      (_q, e) => errors.push(e),
    );
    return { pool, q, stats, calls, errors, poolAddr };
  }

  function mbufs(pool: Mempool, lens: readonly number[]): Uint32Array {
    const ids = new Uint32Array(lens.length);
    lens.forEach((len, i) => {
      const m = pool.alloc();
      pool.write(m, frame(len, i));
      ids[i] = m;
    });
    return ids;
  }

  it('points one iovec per frame at the mbuf data, sends the burst in one call and frees what was taken', () => {
    const { pool, q, stats, calls, poolAddr } = setup();
    const ids = mbufs(pool, [60, 300, 1514]);
    pool.dataOff[ids[1]!] = 130; // any data offset
    expect(q.burst(ids, 3, 0)).toBe(3);
    expect(calls.length).toBe(1);
    expect(calls[0]).toEqual([...ids].map((m) => ({ addr: poolAddr + pool.dataOffset(m), len: pool.dataLen[m] })));
    expect(pool.inUse()).toBe(0);
    expect(stats.txPackets[0]).toBe(3);
    expect(stats.txBytes[0]).toBe(60 + 300 + 1514);
  });

  it('takes a long burst in several calls of TX_BATCH', () => {
    const { pool, q, calls } = setup();
    const ids = mbufs(pool, Array.from({ length: TX_BATCH + 5 }, () => 60));
    expect(q.burst(ids, ids.length, 0)).toBe(TX_BATCH + 5);
    expect(calls.map((c) => c.length)).toEqual([TX_BATCH, 5]);
  });

  it('stops where the socket is full: the rest stay the caller\'s', () => {
    const { pool, q, calls } = setup((n, call) => (call === 0 ? Math.min(n, 3) : -11));
    const ids = mbufs(pool, [60, 60, 60, 60, 60]);
    expect(q.burst(ids, 5, 0)).toBe(3);
    expect(calls.map((c) => c.length)).toEqual([5, 2]);
    expect(pool.inUse()).toBe(2);
  });

  it('consumes and counts a frame the device refuses (EMSGSIZE) and sends the rest', () => {
    const { pool, q, stats, calls } = setup((n, call) => (call === 0 ? 1 : call === 1 ? -90 : n));
    const ids = mbufs(pool, [60, 2000, 60]);
    expect(q.burst(ids, 3, 0)).toBe(3);
    expect(calls.map((c) => c.length)).toEqual([3, 2, 1]);
    expect(stats.txErrors[0]).toBe(1);
    expect(stats.txPackets[0]).toBe(2);
    expect(q.oversize).toBe(1);
    expect(pool.inUse()).toBe(0);
  });

  it('on ENXIO keeps every mbuf with the caller and reports', () => {
    const { pool, q, errors, stats } = setup(() => -6);
    const ids = mbufs(pool, [60, 60]);
    expect(q.burst(ids, 2, 0)).toBe(0);
    expect(pool.inUse()).toBe(2);
    expect(errors).toEqual([6]);
    expect(stats.txPackets[0]).toBe(0);
  });

  it('sends mbufs of a pool at any address, also across a 4 GiB boundary of the halves', () => {
    const pool = poolOf(4);
    const msgs = new Uint8Array(TX_BATCH * (MmsgHdr.size + Iovec.size));
    let seen = 0;
    const base = 0x1fffffff0; // lo half near the top: adding the data offset carries into hi
    const q = new TxQueue(0, 1, pool, base, msgs, 0x1000, new QueueStats(1, 1), (_fd, vec) => {
      seen = Number(new DataView(vec.buffer).getBigUint64(TX_BATCH * MmsgHdr.size + Iovec.base, true));
      return 1;
    }, () => undefined);
    const ids = mbufs(pool, [60]);
    expect(q.burst(ids, 1, 0)).toBe(1);
    expect(seen).toBe(base + pool.headroom);
  });
});
