import { describe, expect, it } from 'vitest';
import { makeFigure } from '../../src/schema.js';
import { idleTwinFigures, parseWakeSample, tollAt } from '../../src/wake.js';

describe('wake-up toll', () => {
  it('parses the probe\'s last line and refuses what is not a result', () => {
    expect(parseWakeSample('noise\n{"wakes":1000,"cpuUs":45000}\n')).toEqual({ wakes: 1000, cpuUs: 45000 });
    expect(parseWakeSample('')).toBeUndefined();
    expect(parseWakeSample('{"wakes":0,"cpuUs":1}')).toBeUndefined();
    expect(parseWakeSample('{"wakes":"x"}')).toBeUndefined();
    expect(parseWakeSample('not json')).toBeUndefined();
  });

  it('interpolates the toll between probed rates, in log(rate), and not beyond them', () => {
    const pts = [
      { hz: 2000, us: 40 },
      { hz: 500, us: 100 },
      { hz: 1000, us: 60 },
    ];
    expect(tollAt(pts, 500)).toBe(100);
    expect(tollAt(pts, 2000)).toBe(40);
    expect(tollAt(pts, Math.sqrt(500 * 1000))).toBeCloseTo(80, 9);
    expect(tollAt(pts, 1000)).toBe(60);
    expect(tollAt(pts, 499)).toBeUndefined();
    expect(tollAt(pts, 2001)).toBeUndefined();
    expect(tollAt([], 1000)).toBeUndefined();
  });

  it('gives each sleeping receiver the CPU per packet of an idle process woken as often, sample by sample', () => {
    const rx = (subject: string, key: string, unit: string, samples: number[]) =>
      makeFigure({ section: 'rx', subject, variant: 64, key, metric: key, unit, better: 'lower' }, samples);
    const figs = [
      rx('vf-pmd', 'cpu_ns', 'ns', [300, 250, 400]),
      // 2/kpkt at 0.5 Mpps and 4/kpkt at 0.25 Mpps: 1000 wake-ups/s; 40/kpkt at 0.5 Mpps: 20 000/s.
      rx('vf-pmd', 'wakeups_per_kpkt', '/1000 pkt', [2, 4, 40]),
      rx('vf-pmd', 'mpps', 'Mpps', [0.5, 0.25, 0.5]),
      // DPDK spins: no wake-up figure, nothing derived.
      rx('dpdk-af_packet', 'cpu_ns', 'ns', [2500]),
      rx('dpdk-af_packet', 'mpps', 'Mpps', [0.4]),
    ];
    const out = idleTwinFigures(figs, [
      { hz: 500, us: 80 },
      { hz: 1000, us: 50 },
      { hz: 4000, us: 20 },
    ]);
    expect(out.map((f) => f.id)).toEqual(['rx.vf-pmd.64.idle_twin_ns']);
    // 20 000 wake-ups/s is beyond the probed rates: that sample has no estimate.
    expect(out[0]!.samples).toEqual([100, 200]);
  });
});
