import { afterEach, describe, expect, it } from 'vitest';
import { createRingPair, Mempool, type EthDev, type RingPmd } from '@netvsc/ethdev';
import { Forwarder, isFwdMode } from '../../src/fwd.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

function frame(dst: number[], src: number[], seq: number): number[] {
  return [...dst, ...src, 0x88, 0xb5, seq, 0, 0, 0, ...new Array<number>(46).fill(0)];
}

const open: RingPmd[] = [];

/** port under test `dev` with a wire peer `wire` (what the far side sends/receives). */
function wired(name: string, pool: Mempool, mac: string): { dev: EthDev; wire: RingPmd; pmd: RingPmd } {
  const [pmd, wire] = createRingPair(`${name}_dut`, `${name}_wire`, {});
  pmd.dev.defaultMacAddrSet(mac);
  for (const r of [pmd, wire]) {
    r.dev.configure(1, 1);
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

  it('refuses a bad burst size', () => {
    const pool = new Mempool({ size: 8 });
    const p0 = wired('bad0', pool, A);
    expect(() => new Forwarder({ mode: 'io', ports: [p0.dev], mempool: pool, burst: 0 })).toThrow(/burst 0/);
  });
});
