import { describe, expect, it } from 'vitest';
import type { Snap } from '../../src/endpoints.js';
import { pairRounds, pairSide } from '../../src/paired.js';

const snap = (o: Partial<Snap>): Snap => ({
  tNs: 0,
  cpuNs: 0,
  sysNs: 0,
  rx: 0,
  tx: 0,
  drops: 0,
  rxWakeups: 0,
  allocatedBytes: 0,
  gc: 0,
  heapUsed: 0,
  rss: 0,
  threads: {},
  ...o,
});

describe('pairSide', () => {
  it('counts received frames for rx, over the window given', () => {
    const s = pairSide('rx', snap({ rx: 1000, tx: 5, cpuNs: 1e6, sysNs: 1e5, rxWakeups: 10 }), snap({ rx: 3000, tx: 9, cpuNs: 1.4e6, sysNs: 1.2e5, rxWakeups: 15 }), 4000);
    expect(s.mpps).toBeCloseTo(500);
    expect(s.cpuNs).toBeCloseTo(200);
    expect(s.sysNs).toBeCloseTo(10);
    expect(s.wakeupsPerKpkt).toBeCloseTo(2.5);
  });

  it('counts accepted frames for tx, and has no wake-ups there', () => {
    const s = pairSide('tx', snap({ rx: 7, tx: 100, cpuNs: 0 }), snap({ rx: 99, tx: 1100, cpuNs: 5e5 }), 1e6);
    expect(s.mpps).toBeCloseTo(1);
    expect(s.cpuNs).toBeCloseTo(500);
    expect(s.wakeupsPerKpkt).toBeNaN();
  });

  it('gives NaN, not a ratio of zeros, when a side is missing or moved nothing', () => {
    expect(pairSide('rx', undefined, snap({}), 1000).cpuNs).toBeNaN();
    expect(pairSide('rx', snap({ rx: 5 }), snap({ rx: 5, cpuNs: 100 }), 1000).cpuNs).toBeNaN();
    expect(pairSide('tx', snap({}), snap({ tx: 10 }), 0).mpps).toBeNaN();
  });
});

describe('pairRounds', () => {
  it('takes an even number of rounds in full runs, so each opening order counts as often', () => {
    expect(pairRounds(3, false).tx).toBe(4);
    expect(pairRounds(4, false).tx).toBe(4);
    expect(pairRounds(1, false).tx).toBe(2);
    expect(pairRounds(1, true)).toEqual({ rx: 1, tx: 1 });
  });

  it('takes twice as many receiving rounds in full runs (their spread is the widest)', () => {
    expect(pairRounds(3, false)).toEqual({ rx: 8, tx: 4 });
    expect(pairRounds(2, false)).toEqual({ rx: 4, tx: 2 });
  });
});
