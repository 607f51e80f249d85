import { describe, expect, it } from 'vitest';
import { makeFigure } from '../../src/schema.js';
import { evaluateTargets, holds, targetSpecs, type TargetSpec } from '../../src/targets.js';

const fig = (id: string, samples: number[]) => {
  const [section, subject, variant, key] = id.split('.') as ['rx', string, string, string];
  return makeFigure({ section, subject, variant, key, metric: key, unit: 'x', better: 'none' }, samples);
};

describe('holds', () => {
  it('compares with >=, <= and within (|v - 1| <= t)', () => {
    expect(holds('>=', 1, 1)).toBe(true);
    expect(holds('>=', 0.99, 1)).toBe(false);
    expect(holds('<=', 5, 5)).toBe(true);
    expect(holds('<=', 5.01, 5)).toBe(false);
    expect(holds('within', 0.875, 0.125)).toBe(true);
    expect(holds('within', 1.13, 0.125)).toBe(false);
  });
});

describe('evaluateTargets', () => {
  const spec: TargetSpec = { id: 'gap', description: 'gap', figure: 'failover.vdev.removal.gap_ms', stat: 'max', op: '<=', threshold: 5 };

  it('judges the chosen statistic: the worst for latencies', () => {
    const f = fig('failover.vdev.removal.gap_ms', [1, 2, 6]);
    const [r] = evaluateTargets([f], [spec]);
    expect(r?.status).toBe('missed');
    expect(r?.value).toBe(6);
    const [ok] = evaluateTargets([fig('failover.vdev.removal.gap_ms', [1, 4.9])], [spec]);
    expect(ok?.status).toBe('met');
  });

  it('says not-measured when the figure is missing or empty', () => {
    expect(evaluateTargets([], [spec])[0]?.status).toBe('not-measured');
    expect(evaluateTargets([fig('failover.vdev.removal.gap_ms', [])], [spec])[0]?.status).toBe('not-measured');
  });

  it('meets a rate ratio below 1 only when ours received everything the generator sent, and says so', () => {
    const ratio: TargetSpec = {
      id: 'r',
      description: 'r',
      figure: 'overhead.a.rx64.rate_ratio',
      stat: 'median',
      op: '>=',
      threshold: 1,
      orElse: { figure: 'rx.a.64.loss_pct', stat: 'max', op: '<=', threshold: 0.5, note: 'generator-bound' },
    };
    const low = fig('overhead.a.rx64.rate_ratio', [0.97]);
    const met = evaluateTargets([low, fig('rx.a.64.loss_pct', [0, 0.1])], [ratio])[0];
    expect(met?.status).toBe('met');
    expect(met?.note).toBe('generator-bound');
    expect(evaluateTargets([low, fig('rx.a.64.loss_pct', [0, 3])], [ratio])[0]?.status).toBe('missed');
    expect(evaluateTargets([low], [ratio])[0]?.status).toBe('missed');
  });

  it('quotes the context figure in the note of a missed target, and only then', () => {
    const [spec] = targetSpecs({ sizes: [64], settleMs: 200 }).filter((s) => s.id === 'vf-rx-cpu');
    if (spec === undefined) throw new Error('no vf-rx-cpu target');
    const twin = fig('rx.vf-pmd.64.idle_twin_ns', [231.2, 262.4]);
    const missed = evaluateTargets([fig('rx.vf-pmd.64.cpu_ns', [250]), twin], [spec])[0];
    expect(missed?.status).toBe('missed');
    expect(missed?.note).toBe('an idle process woken as often is charged 247 ns/packet (rx.vf-pmd.64.idle_twin_ns)');
    expect(evaluateTargets([fig('rx.vf-pmd.64.cpu_ns', [250])], [spec])[0]?.note).toBe('');
    expect(evaluateTargets([fig('rx.vf-pmd.64.cpu_ns', [90]), twin], [spec])[0]).toMatchObject({ status: 'met', note: '' });
    const lowWake = fig('rx.vf-pmd-tov4.64.cpu_ns', [96.4, 120]);
    expect(evaluateTargets([fig('rx.vf-pmd.64.cpu_ns', [250]), twin, lowWake], [spec])[0]?.note).toBe(
      'an idle process woken as often is charged 247 ns/packet (rx.vf-pmd.64.idle_twin_ns); waking ~4x less (blocksz=262144,blk_tov=4: up to 4 ms latency) it takes 108 ns/packet (rx.vf-pmd-tov4.64.cpu_ns)',
    );
  });
});

describe('the spread note of a missed median', () => {
  const [cpu] = targetSpecs({ sizes: [64], settleMs: 200 }).filter((s) => s.id === 'failsafe-rx-cpu-64');
  if (cpu === undefined) throw new Error('no failsafe-rx-cpu-64 target');

  it('says when some rounds meet the bound the median misses, and quotes the A/A control', () => {
    const r = evaluateTargets([fig('overhead.failsafe-vs-vf-pmd.rx64-concurrent.cpu_ratio', [0.96, 1.26, 1.1, 1.2]), fig('overhead.vf-pmd-vs-vf-pmd.rx64-concurrent.cpu_ratio', [0.9, 1.0, 1.02, 1.3])], [cpu])[0];
    expect(r?.status).toBe('missed');
    expect(r?.note).toBe("4 rounds 0.960-1.26: the bound is inside this run's spread; the VF PMD against itself, same method: 1.01 x (overhead.vf-pmd-vs-vf-pmd.rx64-concurrent.cpu_ratio)");
  });

  it('says nothing of the spread when every round misses, or there is one round, or the target judges the worst', () => {
    expect(evaluateTargets([fig('overhead.failsafe-vs-vf-pmd.rx64-concurrent.cpu_ratio', [1.1, 1.3])], [cpu])[0]?.note).toBe('');
    expect(evaluateTargets([fig('overhead.failsafe-vs-vf-pmd.rx64-concurrent.cpu_ratio', [1.3])], [cpu])[0]?.note).toBe('');
    const worst: TargetSpec = { id: 'gap', description: 'gap', figure: 'failover.vdev.removal.gap_ms', stat: 'max', op: '<=', threshold: 5 };
    expect(evaluateTargets([fig('failover.vdev.removal.gap_ms', [1, 2, 6])], [worst])[0]).toMatchObject({ status: 'missed', note: '' });
  });

  it('is never given to a met target', () => {
    expect(evaluateTargets([fig('overhead.failsafe-vs-vf-pmd.rx64-concurrent.cpu_ratio', [0.9, 1.04, 1.3])], [cpu])[0]).toMatchObject({ status: 'met', note: '' });
  });
});

describe('targetSpecs', () => {
  it('has every issue target for each size, and allows the settle time on the switch-back', () => {
    const specs = targetSpecs({ sizes: [64, 1500], settleMs: 200 });
    const ids = specs.map((s) => s.id);
    for (const s of [64, 1500]) {
      for (const t of ['vf-rx-vs-dpdk', 'vf-tx-vs-dpdk', 'tap-rx-vs-dpdk', 'tap-tx-vs-dpdk', 'failsafe-rx-rate', 'failsafe-tx-rate', 'failsafe-rx-cpu', 'failsafe-tx-cpu']) {
        expect(ids).toContain(`${t}-${s}`);
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(specs.find((s) => s.id === 'failover-switch-back')?.threshold).toBe(300);
    expect(specs.find((s) => s.id === 'vf-rx-cpu')?.figure).toBe('rx.vf-pmd.64.cpu_ns');
    expect(specs.find((s) => s.id === 'ceiling-failsafe')?.threshold).toBe(10);
  });

  it('wants zero VF PMD ring drops at every size, the small one keeping its old id', () => {
    const specs = targetSpecs({ sizes: [64, 1500], settleMs: 200 });
    const drops = specs.filter((s) => s.figure.endsWith('.drops')).map((s) => [s.id, s.figure, s.stat, s.threshold]);
    expect(drops).toEqual([
      ['vf-rx-zero-drops', 'rx.vf-pmd.64.drops', 'max', 0],
      ['vf-rx-zero-drops-1500', 'rx.vf-pmd.1500.drops', 'max', 0],
    ]);
  });

  it('judges fail-safe against the VF PMD measured at once, and the ceiling per CPU-second', () => {
    const specs = targetSpecs({ sizes: [64], settleMs: 0 });
    const figure = (id: string): string | undefined => specs.find((s) => s.id === id)?.figure;
    expect(figure('failsafe-rx-rate-64')).toBe('overhead.failsafe-vs-vf-pmd.rx64-concurrent.rate_ratio');
    expect(figure('failsafe-tx-rate-64')).toBe('overhead.failsafe-vs-vf-pmd.tx64-concurrent.rate_ratio');
    expect(figure('failsafe-rx-cpu-64')).toBe('overhead.failsafe-vs-vf-pmd.rx64-concurrent.cpu_ratio');
    expect(figure('failsafe-tx-cpu-64')).toBe('overhead.failsafe-vs-vf-pmd.tx64-concurrent.cpu_ratio');
    // Both receivers take every frame of the one generator: no "generator-bound" escape.
    expect(specs.find((s) => s.id === 'failsafe-rx-rate-64')?.orElse).toBeUndefined();
    expect(figure('ceiling-failsafe')).toBe('ceiling.failsafe.64.cpu_mpps');
  });

  it('judges the first size when 64 B is not measured', () => {
    const specs = targetSpecs({ sizes: [1500], settleMs: 0 });
    expect(specs.find((s) => s.id === 'vf-rx-cpu')?.figure).toBe('rx.vf-pmd.1500.cpu_ns');
  });
});
