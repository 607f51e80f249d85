import { describe, expect, it } from 'vitest';
import { ratioFigures } from '../../src/ratios.js';
import { makeFigure } from '../../src/schema.js';

const f = (dir: 'rx' | 'tx', subject: string, key: 'mpps' | 'cpu_ns', samples: number[], notes: string[] = []) =>
  makeFigure({ section: dir, subject, variant: 64, key, metric: key, unit: 'x', better: 'none' }, samples, notes);

describe('ratioFigures', () => {
  it('divides ours by DPDK per repetition, per direction and size', () => {
    const out = ratioFigures([f('rx', 'vf-pmd', 'mpps', [2, 4]), f('rx', 'dpdk-af_packet', 'mpps', [1, 2])], [64]);
    expect(out.map((x) => [x.id, x.samples])).toEqual([['overhead.vf-pmd-vs-dpdk-af_packet.rx64.rate_ratio', [2, 2]]]);
  });

  it('compares fail-safe Rx with the own_rx VF PMD and fail-safe Tx with the plain one', () => {
    const out = ratioFigures(
      [f('rx', 'failsafe', 'mpps', [0.9]), f('rx', 'vf-pmd-own_rx', 'mpps', [1]), f('tx', 'failsafe', 'cpu_ns', [110]), f('tx', 'vf-pmd', 'cpu_ns', [100])],
      [64],
    );
    const byId = new Map(out.map((x) => [x.id, x.median]));
    expect(byId.get('overhead.failsafe-vs-vf-pmd.rx64.rate_ratio')).toBeCloseTo(0.9);
    expect(byId.get('overhead.failsafe-vs-vf-pmd.tx64.cpu_ratio')).toBeCloseTo(1.1);
  });

  it('warns when a CPU ratio sets a sleeping receiver against a polling one', () => {
    const out = ratioFigures([f('rx', 'tap', 'cpu_ns', [10]), f('rx', 'dpdk-tap', 'cpu_ns', [100], ['poll mode: spins a core'])], [64]);
    expect(out[0]?.notes[0]).toMatch(/sleeping and a polling/);
  });

  it('does not say so on a Tx ratio: both sides send flat out', () => {
    const out = ratioFigures([f('tx', 'tap', 'cpu_ns', [10]), f('tx', 'dpdk-tap', 'cpu_ns', [100], ['poll mode: spins a core'])], [64]);
    expect(out).toHaveLength(1);
    expect(out[0]?.notes).toEqual([]);
  });

  it('makes nothing when a side is missing', () => {
    expect(ratioFigures([f('rx', 'vf-pmd', 'mpps', [1])], [64])).toEqual([]);
  });
});
