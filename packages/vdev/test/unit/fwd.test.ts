import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRingPair, Mempool, type EthDev, type RingPmd } from '@netvsc/ethdev';
import { Forwarder, isFwdMode } from '../../src/fwd.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

function frame(dst: number[], src: number[], seq: number): number[] {
  return [...dst, ...src, 0x88, 0xb5, seq, 0, 0, 0, ...new Array<number>(46).fill(0)];
}

const open: RingPmd[] = [];

/** port under test `dev` with a wire peer `wire` (what the far side sends/receives). */
function wired(name: string, pool: Mempool, mac: string, rxqIntr = false): { dev: EthDev; wire: RingPmd; pmd: RingPmd } {
  const [pmd, wire] = createRingPair(`${name}_dut`, `${name}_wire`, {});
  pmd.dev.defaultMacAddrSet(mac);
  for (const r of [pmd, wire]) {
    r.dev.configure(1, 1, { rxqIntr });
    r.dev.rxQueueSetup(0, { mempool: pool });
    r.dev.txQueueSetup(0, { mempool: pool });
    r.dev.start();
    open.push(r);
  }
  return { dev: pmd.dev, wire, pmd };
}

function drain(wire: RingPmd, pool: Mempool): number[][] {
  const out = new Uint32Array(64);
  const frames: number[][] = [];
  for (;;) {
    const n = wire.dev.rxBurst(0, out, 64);
    if (n === 0) return frames;
    for (let i = 0; i < n; i++) {
      frames.push([...pool.data(out[i]!)]);
      pool.free(out[i]!);
    }
  }
}

afterEach(() => {
  for (const r of open.splice(0)) r.dev.close();
});

describe('Forwarder', () => {
  it('knows the testpmd modes plus echo', () => {
    expect(['io', 'mac', 'macswap', 'rxonly', 'txonly', 'echo'].every(isFwdMode)).toBe(true);
    expect(isFwdMode('flowgen')).toBe(false);
  });

  it('io forwards between paired ports unchanged', () => {
    const pool = new Mempool({ size: 256 });
    const p0 = wired('io0', pool, A);
    const p1 = wired('io1', pool, B);
    const f = new Forwarder({ mode: 'io', ports: [p0.dev, p1.dev], mempool: pool });
    p0.pmd.inject(0, frame([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], 1));
    expect(f.pollOnce()).toBe(1);
    const got = drain(p1.wire, pool);
    expect(got).toHaveLength(1);
    expect(got[0]!.slice(0, 12)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(f.stats[0]).toMatchObject({ rx: 1 });
    expect(f.stats[1]).toMatchObject({ tx: 1 });
  });

  it('echo swaps the MACs and answers on the receiving port', () => {
    const pool = new Mempool({ size: 256 });
    const p0 = wired('echo0', pool, A);
    const f = new Forwarder({ mode: 'echo', ports: [p0.dev], mempool: pool });
    for (let s = 0; s < 5; s++) p0.pmd.inject(0, frame([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xf], s));
    f.pollOnce();
    const got = drain(p0.wire, pool);
    expect(got.map((g) => g[14])).toEqual([0, 1, 2, 3, 4]);
    expect(got[0]!.slice(0, 12)).toEqual([2, 0, 0, 0, 0, 0xf, 2, 0, 0, 0, 0, 0xa]);
    expect(pool.inUse()).toBe(0);
  });

  it('mac mode writes the Tx port MAC as source and the peer as destination', () => {
    const pool = new Mempool({ size: 256 });
    const p0 = wired('mac0', pool, A);
    const f = new Forwarder({ mode: 'mac', ports: [p0.dev], mempool: pool, peers: ['02:11:22:33:44:55'] });
    p0.pmd.inject(0, frame([9, 9, 9, 9, 9, 9], [8, 8, 8, 8, 8, 8], 0));
    f.pollOnce();
    const got = drain(p0.wire, pool);
    expect(got[0]!.slice(0, 12)).toEqual([2, 0x11, 0x22, 0x33, 0x44, 0x55, 2, 0, 0, 0, 0, 0xa]);
  });

  it('rxonly frees everything it receives', () => {
    const pool = new Mempool({ size: 64 });
    const p0 = wired('rxo0', pool, A);
    const f = new Forwarder({ mode: 'rxonly', ports: [p0.dev], mempool: pool });
    for (let s = 0; s < 10; s++) p0.pmd.inject(0, frame([1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 2], s));
    expect(f.pollOnce()).toBe(10);
    expect(pool.inUse()).toBe(0);
  });

  it('txonly sends numbered frames from the port MAC', () => {
    const pool = new Mempool({ size: 64 });
    const p0 = wired('txo0', pool, A);
    const f = new Forwarder({ mode: 'txonly', ports: [p0.dev], mempool: pool, burst: 4 });
    f.pollOnce();
    f.pollOnce();
    const got = drain(p0.wire, pool);
    expect(got).toHaveLength(8);
    expect(got.map((g) => g[17])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(got[0]!.slice(6, 12)).toEqual([2, 0, 0, 0, 0, 0xa]);
    expect(got[0]!.length).toBe(64);
  });

  it('frees what the Tx port refuses and counts it', () => {
    const pool = new Mempool({ size: 64 });
    const p0 = wired('drop0', pool, A);
    const p1 = wired('drop1', pool, B);
    const f = new Forwarder({ mode: 'io', ports: [p0.dev, p1.dev], mempool: pool });
    p1.dev.stop(); // a stopped port accepts nothing
    for (let s = 0; s < 3; s++) p0.pmd.inject(0, frame([1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 2], s));
    f.pollOnce();
    expect(f.stats[0]).toMatchObject({ rx: 3, txDropped: 3 });
    expect(pool.inUse()).toBe(0);
  });

  it('idle, sleeps in every port\'s Rx interrupt: a frame on any port wakes it, abort ends it', async () => {
    // Timers frozen: neither a poll timer nor the sleep's time limit can wake the loop, only
    // an interrupt (the ring PMD fires it from setImmediate) or the abort.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const pool = new Mempool({ size: 256 });
      const p0 = wired('in0', pool, A, true);
      const p1 = wired('in1', pool, B, true);
      const f = new Forwarder({ mode: 'io', ports: [p0.dev, p1.dev], mempool: pool });
      let polls = 0;
      const pollOnce = f.pollOnce.bind(f);
      f.pollOnce = () => {
        polls++;
        return pollOnce();
      };
      const turns = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
      };
      const ac = new AbortController();
      const loop = f.run(ac.signal);
      await turns(50);
      const asleep = polls;
      await turns(50);
      expect(polls).toBe(asleep);
      p1.pmd.inject(0, frame([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], 2));
      await turns(50);
      expect(drain(p0.wire, pool)).toHaveLength(1);
      expect(f.stats[1]).toMatchObject({ rx: 1 });
      p0.pmd.inject(0, frame([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], 3));
      await turns(50);
      expect(drain(p1.wire, pool)).toHaveLength(1);
      ac.abort();
      await loop;
      expect(pool.inUse()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('idle with a port that has no Rx interrupt, polls every millisecond instead', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const pool = new Mempool({ size: 256 });
      const p0 = wired('nopoll0', pool, A, true);
      const p1 = wired('nopoll1', pool, B, false);
      const f = new Forwarder({ mode: 'io', ports: [p0.dev, p1.dev], mempool: pool });
      const ac = new AbortController();
      const loop = f.run(ac.signal);
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
      p1.pmd.inject(0, frame([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12], 4));
      await vi.advanceTimersByTimeAsync(5);
      expect(drain(p0.wire, pool)).toHaveLength(1);
      ac.abort();
      await vi.advanceTimersByTimeAsync(5);
      await loop;
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a bad burst size', () => {
    const pool = new Mempool({ size: 8 });
    const p0 = wired('bad0', pool, A);
    expect(() => new Forwarder({ mode: 'io', ports: [p0.dev], mempool: pool, burst: 0 })).toThrow(/burst 0/);
  });
});
