import { describe, expect, it } from 'vitest';
import { makeFigure } from '../../src/schema.js';
import { parseWakeSample, wakeCostUs, wakeShareFigures } from '../../src/wake.js';

describe('wake-up toll', () => {
  it('parses the probe\'s last line and refuses what is not a result', () => {
    expect(parseWakeSample('noise\n{"wakes":1000,"cpuUs":45000}\n')).toEqual({ wakes: 1000, cpuUs: 45000 });
    expect(parseWakeSample('')).toBeUndefined();
    expect(parseWakeSample('{"wakes":0,"cpuUs":1}')).toBeUndefined();
    expect(parseWakeSample('{"wakes":"x"}')).toBeUndefined();
    expect(parseWakeSample('not json')).toBeUndefined();
  });

  it('gives µs per wake-up per sample', () => {
    expect(wakeCostUs([{ wakes: 1000, cpuUs: 45000 }, { wakes: 500, cpuUs: 50000 }])).toEqual([45, 100]);
  });

  it('splits each sleeping receiver\'s CPU per packet into the toll and its own work, sample by sample', () => {
    const rx = (subject: string, key: string, unit: string, samples: number[]) =>
      makeFigure({ section: 'rx', subject, variant: 64, key, metric: key, unit, better: 'lower' }, samples);
    const figs = [
      rx('vf-pmd', 'cpu_ns', 'ns', [300, 250, 400]),
      rx('vf-pmd', 'wakeups_per_kpkt', '/1000 pkt', [2, 2.5, 3]),
      // DPDK spins: no wake-up figure, no split.
      rx('dpdk-af_packet', 'cpu_ns', 'ns', [2500]),
    ];
    const out = wakeShareFigures(figs, 50);
    expect(out.map((f) => f.id)).toEqual(['rx.vf-pmd.64.wake_ns', 'rx.vf-pmd.64.own_cpu_ns']);
    expect(out[0]!.samples).toEqual([100, 125, 150]);
    expect(out[1]!.samples).toEqual([200, 125, 250]);
  });
});
