import { afterEach, describe, expect, it } from 'vitest';
import { AllocMeter } from '../../src/alloc.js';
import { Engine } from '../../src/engine.js';

/** ~3.2 MB of small objects, kept until the function returns. */
function churn(): number {
  const keep: { i: number }[] = [];
  for (let i = 0; i < 100_000; i++) keep.push({ i });
  return keep.length;
}

describe('AllocMeter', () => {
  const meters: AllocMeter[] = [];
  afterEach(() => {
    for (const m of meters.splice(0)) m.close();
  });

  it('counts what is allocated between two readings, and leaves out what `own` ran', () => {
    const m = new AllocMeter();
    meters.push(m);
    const a0 = m.allocated();
    expect(m.own(churn)).toBe(100_000);
    const a1 = m.allocated();
    churn();
    const a2 = m.allocated();
    expect(a1 - a0).toBeLessThan(300_000);
    expect(a2 - a1).toBeGreaterThan(2_000_000);
  });

  it('leaves out what `own` allocated when it throws', () => {
    const m = new AllocMeter();
    meters.push(m);
    const a0 = m.allocated();
    expect(() =>
      m.own(() => {
        churn();
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(m.allocated() - a0).toBeLessThan(300_000);
  });
});

describe('Engine.mark', () => {
  it("is not counted as the data path's: back-to-back marks answered as the child does differ by almost nothing", () => {
    const engine = new Engine();
    try {
      // Warm: the first call compiles and caches.
      engine.meter.own(() => JSON.stringify(engine.mark()));
      const marks = Array.from({ length: 11 }, () => engine.meter.own(() => engine.mark()));
      // A mark reads every thread's /proc stat: ~80 KB each, which every later mark would show.
      // Per mark, averaged over 10: a GC's statistics object now and then is the meter's own noise.
      const perMark = ((marks[10]?.allocatedBytes ?? 0) - (marks[0]?.allocatedBytes ?? 0)) / 10;
      expect(perMark).toBeLessThan(8_000);
    } finally {
      engine.meter.close();
    }
  });
});
