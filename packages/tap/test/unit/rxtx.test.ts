import { Mempool, type EtherAddr } from '@netvsc/ethdev';
import { beforeEach, describe, expect, it } from 'vitest';
import { RX_IDLE_SKIP_MAX, TapQueue, TapRxTx } from '../../src/rxtx.js';
import { FakeKernel } from '../support/fake-kernel.js';

const MAC = '02:00:00:00:00:01' as EtherAddr;

function frame(dst: number[], len = 60, tag = 0): Uint8Array {
  const f = new Uint8Array(Math.max(len, 60));
  f.set(dst, 0);
  f.set([0x02, 0, 0, 0, 0, 0x99], 6);
  f[12] = 0x08;
  f[14] = tag;
  return f.subarray(0, len);
}

const OURS = [0x02, 0, 0, 0, 0, 0x01];
const OTHER = [0x02, 0, 0, 0, 0, 0x07];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const V4MC = [0x01, 0x00, 0x5e, 0, 0, 0xfb];

describe('Rx burst', () => {
  let k: FakeKernel;
  let pool: Mempool;
  let io: TapRxTx;
  let fd: number;
  const out = new Uint32Array(32);

  beforeEach(() => {
    k = new FakeKernel();
    fd = k.open('dtap%d', 0x1102).fd;
    pool = new Mempool({ size: 64 });
    io = new TapRxTx(k);
    io.resize(1);
    io.portId = 3;
    io.filter.setMac(MAC);
    const q = new TapQueue(0, fd, k);
    expect(q.setRxPool(k, pool)).toBe(true);
    io.queues = [q];
    io.running = true;
  });

  it('reads each frame straight into an mbuf and fills length, offset and port', () => {
    k.deliver(fd, frame(OURS, 60, 1));
    k.deliver(fd, frame(OURS, 1514, 2));
    expect(io.rxBurst(0, out, 32)).toBe(2);
    const [a, b] = [out[0]!, out[1]!];
    expect(pool.dataLen[a]).toBe(60);
    expect(pool.dataLen[b]).toBe(1514);
    expect(pool.dataOff[a]).toBe(pool.headroom);
    expect(pool.port[b]).toBe(3);
    expect(pool.data(a)[14]).toBe(1);
    expect(pool.data(b)[14]).toBe(2);
    expect(io.stats.toEthStats()).toMatchObject({ ipackets: 2, ibytes: 1574, qIpackets: [2] });
    // the queue keeps one spare mbuf besides the two delivered
    expect(pool.inUse()).toBe(3);
  });

  it('returns 0 when nothing is queued, and nothing while stopped', () => {
    expect(io.rxBurst(0, out, 32)).toBe(0);
    k.deliver(fd, frame(OURS));
    io.running = false;
    expect(io.rxBurst(0, out, 32)).toBe(0);
    io.running = true;
    expect(io.rxBurst(0, out, 32)).toBe(0); // the one poll skipped after an empty read
    expect(io.rxBurst(0, out, 32)).toBe(1);
  });

  it('after an empty read skips 1, 2, 4 ... up to RX_IDLE_SKIP_MAX polls without a system call', () => {
    const reads = (polls: number): number => {
      const r0 = k.reads;
      for (let i = 0; i < polls; i++) expect(io.rxBurst(0, out, 32)).toBe(0);
      return k.reads - r0;
    };
    // Runs of 1 read + 1, 2, 4, 8, 16, 32, 32 skips: 7 reads in 7 + 95 polls.
    expect(reads(7 + 1 + 2 + 4 + 8 + 16 + 32 + 32)).toBe(7);
    expect(reads(1000)).toBeLessThanOrEqual(Math.ceil(1000 / (RX_IDLE_SKIP_MAX + 1)) + 1);
    // A wake-up (the fd's Rx interrupt fired) reads at the next poll, and frames end the run.
    k.deliver(fd, frame(OURS));
    k.deliver(fd, frame(OURS));
    io.queues[0]!.rxWake();
    expect(io.rxBurst(0, out, 1)).toBe(1);
    pool.freeBulk(out, 1);
    expect(io.rxBurst(0, out, 1)).toBe(1);
    expect(reads(2)).toBe(1); // empty again: one read, then one skip
    pool.freeBulk(out, 1);
  });

  it('stops at max and leaves the rest queued', () => {
    for (let i = 0; i < 5; i++) k.deliver(fd, frame(OURS, 60, i));
    expect(io.rxBurst(0, out, 3)).toBe(3);
    expect(io.rxBurst(0, out, 32)).toBe(2);
    expect(pool.data(out[1]!)[14]).toBe(4);
  });

  it('filters by destination MAC when not promiscuous (DPDK tap_mac_filter_match)', () => {
    for (const d of [OURS, OTHER, BCAST, V4MC, [0, 0, 0, 0, 0, 0]]) k.deliver(fd, frame(d));
    expect(io.rxBurst(0, out, 32)).toBe(2); // ours + broadcast
    expect(io.counters.rxFiltered[0]).toBe(3);
  });

  it('passes multicast with all-multicast or when listed', () => {
    io.filter.setMcList(['01:00:5e:00:00:fb' as EtherAddr]);
    k.deliver(fd, frame(V4MC));
    k.deliver(fd, frame([0x01, 0x00, 0x5e, 0, 0, 0x01]));
    expect(io.rxBurst(0, out, 32)).toBe(1);
    io.filter.allmulti = true;
    k.deliver(fd, frame([0x01, 0x00, 0x5e, 0, 0, 0x01]));
    k.deliver(fd, frame(OTHER));
    expect(io.rxBurst(0, out, 32)).toBe(1);
  });

  it('passes everything when the filter is off (promiscuous, or tun)', () => {
    io.filter.enabled = false;
    for (const d of [OURS, OTHER, V4MC]) k.deliver(fd, frame(d));
    expect(io.rxBurst(0, out, 32)).toBe(3);
  });

  it('counts a frame larger than the mbuf as an Rx error instead of delivering it cut', () => {
    const small = new Mempool({ size: 8, dataRoomSize: 256, headroom: 128 });
    const q = new TapQueue(0, fd, k);
    q.setRxPool(k, small);
    io.queues = [q];
    k.deliver(fd, frame(OURS, 129));
    k.deliver(fd, frame(OURS, 128));
    expect(io.rxBurst(0, out, 32)).toBe(1);
    expect(small.dataLen[out[0]!]).toBe(128);
    expect(io.stats.toEthStats().ierrors).toBe(1);
    expect(io.counters.rxTruncated[0]).toBe(1);
  });

  it('drops the frame and counts rx_nombuf when the pool has no replacement mbuf', () => {
    const tiny = new Mempool({ size: 2 });
    const q = new TapQueue(0, fd, k);
    q.setRxPool(k, tiny);
    io.queues = [q];
    for (let i = 0; i < 3; i++) k.deliver(fd, frame(OURS, 60, i));
    expect(io.rxBurst(0, out, 32)).toBe(1);
    expect(io.stats.toEthStats().rxNombuf).toBe(2);
    tiny.free(out[0]!);
    k.deliver(fd, frame(OURS, 60, 9));
    expect(io.rxBurst(0, out, 32)).toBe(1);
    expect(tiny.data(out[0]!)[14]).toBe(9);
  });

  it('bounds the work of a burst by max even when every frame is filtered', () => {
    for (let i = 0; i < 10; i++) k.deliver(fd, frame(OTHER));
    expect(io.rxBurst(0, out, 4)).toBe(0);
    expect(io.counters.rxFiltered[0]).toBe(4);
  });

  it('reports the tap gone (once, from the event loop) when reads say EBADFD', async () => {
    const reasons: string[] = [];
    io.onGone = (r) => reasons.push(r);
    const tapLink = k.byName('dtap0')!;
    k.removeLink(tapLink.index);
    expect(io.rxBurst(0, out, 32)).toBe(0);
    expect(io.rxBurst(0, out, 32)).toBe(0);
    expect(reasons).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(reasons).toEqual(['the tap device was deleted (read: EBADFD)']);
  });

  it('gives the spare mbuf back on release', () => {
    io.queues[0]!.releaseRx();
    expect(pool.inUse()).toBe(0);
  });
});

/** A started Tx queue on an up tap of a fake kernel; with `ringDepth`, sending through a fake io_uring. */
function txBed(ringDepth?: number): { k: FakeKernel; pool: Mempool; io: TapRxTx; fd: number; q: TapQueue; burst: (first: number, ...lens: number[]) => Uint32Array } {
  const k = new FakeKernel();
  const fd = k.open('dtap%d', 0x1102).fd;
  k.byName('dtap0')!.flags |= 1;
  const pool = new Mempool({ size: 64 });
  const io = new TapRxTx(k);
  io.resize(1);
  const q = new TapQueue(0, fd, k);
  q.setTxPool(k, pool);
  if (ringDepth !== undefined) {
    const ring = k.openWriteRing(ringDepth);
    if ('errno' in ring) throw new Error('fake ring refused');
    q.setTxRing(ring);
  }
  io.queues = [q];
  io.running = true;
  /** Frames of these lengths (tagged 0, 1, ... at byte 14) in mbufs from index `first` of the array. */
  const burst = (first: number, ...lens: number[]): Uint32Array => {
    const ids = new Uint32Array(lens.length + first);
    lens.forEach((len, i) => {
      const m = pool.alloc();
      pool.write(m, frame(OURS, len, i));
      ids[i + first] = m;
    });
    return ids;
  };
  return { k, pool, io, fd, q, burst };
}

describe('Tx burst', () => {
  let k: FakeKernel;
  let pool: Mempool;
  let io: TapRxTx;
  let fd: number;
  let burst: (...lens: number[]) => Uint32Array;

  beforeEach(() => {
    const b = txBed();
    ({ k, pool, io, fd } = b);
    burst = (...lens) => b.burst(2, ...lens);
  });

  it('writes each frame from its mbuf, frees it and counts it', () => {
    const ids = burst(60, 1514);
    expect(io.txBurst(0, ids, 2, 2)).toBe(2);
    expect(k.written.map((w) => [w.frame.length, w.frame[14]])).toEqual([[60, 0], [1514, 1]]);
    expect(pool.inUse()).toBe(0);
    expect(io.stats.toEthStats()).toMatchObject({ opackets: 2, obytes: 1574, qOpackets: [2] });
  });

  it('honours a data offset other than the headroom', () => {
    const m = pool.alloc();
    pool.write(m, frame(OURS, 64, 7));
    pool.dataOff[m] = pool.headroom + 4;
    pool.dataLen[m] = 60;
    expect(io.txBurst(0, Uint32Array.of(m), 1, 0)).toBe(1);
    expect(k.written[0]!.frame[10]).toBe(7);
  });

  it('stops at a failing write and leaves the rest to the caller', () => {
    const ids = burst(60, 60, 60);
    k.byName('dtap0')!.flags &= ~1; // down: EIO
    expect(io.txBurst(0, ids, 3, 2)).toBe(0);
    expect(pool.inUse()).toBe(3);
    expect(io.stats.toEthStats().oerrors).toBe(1);
  });

  it('does not count EAGAIN as an error', () => {
    const ids = burst(60, 60);
    k.failWrite(fd, 'EAGAIN');
    expect(io.txBurst(0, ids, 2, 2)).toBe(0);
    expect(io.stats.toEthStats().oerrors).toBe(0);
    expect(io.txBurst(0, ids, 2, 2)).toBe(2);
  });

  it('drops (and counts) a frame longer than MTU + L2 overhead instead of stalling the queue', () => {
    io.maxFrame = 1522;
    const ids = burst(60, 1523, 60);
    expect(io.txBurst(0, ids, 3, 2)).toBe(3);
    expect(k.written).toHaveLength(2);
    expect(io.counters.txOversize[0]).toBe(1);
    expect(io.stats.toEthStats()).toMatchObject({ opackets: 2, oerrors: 1 });
    expect(pool.inUse()).toBe(0);
  });

  it('drops a frame the kernel refuses for good (EINVAL) and goes on', () => {
    const ids = burst(10, 60);
    expect(io.txBurst(0, ids, 2, 2)).toBe(2);
    expect(k.written).toHaveLength(1);
    expect(io.counters.txInvalid[0]).toBe(1);
  });
});

describe('Tx burst through io_uring (one submission per chunk of the ring depth)', () => {
  let k: FakeKernel;
  let pool: Mempool;
  let io: TapRxTx;
  let fd: number;
  let q: TapQueue;
  let burst: (...lens: number[]) => Uint32Array;

  beforeEach(() => {
    const b = txBed(4);
    ({ k, pool, io, fd, q } = b);
    burst = (...lens) => b.burst(1, ...lens);
  });

  it('writes every frame in order with one submission per 4 frames, frees and counts them', () => {
    const ids = burst(60, 61, 62, 63, 64, 1514);
    expect(io.txBurst(0, ids, 6, 1)).toBe(6);
    expect(k.submissions).toBe(2);
    expect(k.written.map((w) => [w.frame.length, w.frame[14]])).toEqual([[60, 0], [61, 1], [62, 2], [63, 3], [64, 4], [1514, 5]]);
    expect(pool.inUse()).toBe(0);
    expect(io.stats.toEthStats()).toMatchObject({ opackets: 6, obytes: 60 + 61 + 62 + 63 + 64 + 1514, oerrors: 0 });
  });

  it('leaves everything to the caller when every write fails (link down), counting one error', () => {
    const ids = burst(60, 60, 60);
    k.byName('dtap0')!.flags &= ~1;
    expect(io.txBurst(0, ids, 3, 1)).toBe(0);
    expect(pool.inUse()).toBe(3);
    expect(io.stats.toEthStats().oerrors).toBe(1);
  });

  it('keeps the failed frames at the end of a burst the caller\'s; EAGAIN is not an error', () => {
    const ids = burst(60, 60, 60, 60);
    k.failWrites(fd, '', '', 'EAGAIN', 'EAGAIN');
    expect(io.txBurst(0, ids, 4, 1)).toBe(2);
    expect(k.written).toHaveLength(2);
    expect(pool.inUse()).toBe(2);
    expect(io.stats.toEthStats()).toMatchObject({ opackets: 2, oerrors: 0 });
    // The caller sends the rest again: nothing twice, nothing lost.
    expect(io.txBurst(0, ids, 2, 3)).toBe(2);
    expect(k.written.map((w) => w.frame[14])).toEqual([0, 1, 2, 3]);
  });

  it('drops (and counts) a frame that failed while a later one went out: what is consumed stays a prefix', () => {
    const ids = burst(60, 60, 60);
    k.failWrites(fd, '', 'EIO', '');
    expect(io.txBurst(0, ids, 3, 1)).toBe(3);
    expect(k.written.map((w) => w.frame[14])).toEqual([0, 2]);
    expect(pool.inUse()).toBe(0);
    expect(io.stats.toEthStats()).toMatchObject({ opackets: 2, oerrors: 1 });
  });

  it('drops oversize frames without a write and EINVAL ones after it, and goes on', () => {
    io.maxFrame = 1522;
    const ids = burst(60, 1523, 10, 60, 60);
    expect(io.txBurst(0, ids, 5, 1)).toBe(5);
    expect(k.written.map((w) => w.frame[14])).toEqual([0, 3, 4]);
    expect(io.counters.txOversize[0]).toBe(1);
    expect(io.counters.txInvalid[0]).toBe(1);
    expect(io.stats.toEthStats()).toMatchObject({ opackets: 3, oerrors: 2 });
    expect(pool.inUse()).toBe(0);
  });

  it('takes nothing when the submission itself fails', () => {
    const ids = burst(60, 60);
    k.failNext.set('io_uring_enter', 'EIO');
    expect(io.txBurst(0, ids, 2, 1)).toBe(0);
    expect(pool.inUse()).toBe(2);
    expect(io.stats.toEthStats().oerrors).toBe(1);
    expect(io.txBurst(0, ids, 2, 1)).toBe(2);
  });

  it('reports the tap gone (once, from the event loop) when writes say EBADFD', async () => {
    const gone: string[] = [];
    io.onGone = (r) => gone.push(r);
    const ids = burst(60, 60);
    k.removeLink(k.byName('dtap0')!.index);
    expect(io.txBurst(0, ids, 2, 1)).toBe(0);
    expect(io.txBurst(0, ids, 2, 1)).toBe(0);
    expect(gone).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(gone).toEqual(['the tap device was deleted (write: EBADFD)']);
  });

  it('closes its ring with the queue', () => {
    expect(k.ringsOpen).toBe(1);
    q.setTxRing(undefined);
    expect(k.ringsOpen).toBe(0);
    const ids = burst(60);
    // Back to one writev per frame.
    expect(io.txBurst(0, ids, 1, 1)).toBe(1);
    expect(k.submissions).toBe(0);
    expect(k.written).toHaveLength(1);
  });
});
