import { describe, expect, it } from 'vitest';
import { makeFigure, SCHEMA_ID, type BenchResult } from '../../src/schema.js';
import { fmtNum, renderComparison, renderResult, renderTable, renderTargets } from '../../src/table.js';

describe('fmtNum', () => {
  it('keeps about three significant digits without exponents in the usual range', () => {
    expect([fmtNum(12345.6), fmtNum(123.45), fmtNum(12.345), fmtNum(1.2345), fmtNum(0.012345), fmtNum(0)]).toEqual(['12346', '123.5', '12.35', '1.234', '0.0123', '0']);
    expect(fmtNum(0.00001)).toBe('1.00e-5');
  });

  it('shows a dash for missing values', () => {
    expect([fmtNum(null), fmtNum(undefined), fmtNum(Number.NaN)]).toEqual(['-', '-', '-']);
  });
});

describe('renderTable', () => {
  it('pads columns, right-aligns the numeric ones and leaves the last column ragged', () => {
    const t = renderTable(['name', 'value', 'note'], [['a', '1', 'x'], ['long', '100', '']], 1);
    expect(t.split('\n')).toEqual(['name  value  note', '----  -----  ----', 'a         1  x', 'long    100']);
  });
});

describe('renderResult', () => {
  const fig = makeFigure({ section: 'rx', subject: 'vf-pmd', variant: 64, key: 'mpps', metric: 'Rx rate', unit: 'Mpps', better: 'higher' }, [0.5, 0.6], ['generator-bound']);
  const r: BenchResult = {
    schema: SCHEMA_ID,
    startedAt: '2026-01-01T00:00:00.000Z',
    durationS: 61.2,
    machine: { hostname: 'h', kernel: 'Linux 6.1', os: 'Debian', cpuModel: 'Xeon', cpus: 2, memoryGiB: 24, loadAverage: [1, 2, 3], node: 'v20.20.2', v8: '11' },
    versions: {},
    git: { commit: '0123456789abcdef', dirty: true },
    run: { quick: true, repetitions: 1, windowMs: 1000, generator: 'dpdk', dpdk: 'DPDK 22.11', options: {}, loadAverageEnd: 2.5, busyAtStart: ['vitest(12) 45%'] },
    figures: [fig],
    targets: [
      { id: 'a', description: 'rate', figure: fig.id, stat: 'median', op: '>=', threshold: 1, value: 0.55, status: 'missed', note: '' },
      { id: 'b', description: 'servicing', figure: 'x', stat: 'median', op: 'within', threshold: 0.125, value: null, status: 'not-measured', note: 'figure x was not taken' },
    ],
    missing: ['DPDK: not installed'],
    notes: ['a note'],
  };

  it('shows the run, each section, the verdicts and what is missing', () => {
    const out = renderResult(r);
    expect(out).toContain('netvsc-ts bench (quick)');
    expect(out).toContain('git: 0123456789ab (dirty)');
    expect(out).not.toContain('wake path:');
    expect(out).toContain('load at the end 2.5; busy at the start: vitest(12) 45%');
    expect(out).toContain('== Rx (generator -> receiver');
    expect(out).toMatch(/vf-pmd\s+64\s+Rx rate\s+0\.500\s+0\.550\s+0\.600\s+2\s+Mpps\s+generator-bound/);
    expect(out).toContain('0 met, 1 missed, 1 not measured');
    expect(out).toContain('- DPDK: not installed');
    expect(out).toContain('- a note');
  });

  it('shows the machine\'s wake path when the file has it', () => {
    const wakePath = { hypervisor: false, dmiVendor: null, clocksource: 'tsc', cpuidleDriver: null, cpuidleGovernor: null, haltPollNs: null, hz: 1000, cpuAccounting: null, irqTimeAccounting: null, paravirtTimeAccounting: null };
    expect(renderResult({ ...r, machine: { ...r.machine, wakePath } })).toContain('\nwake path: bare metal; clocksource tsc; HZ 1000\n');
  });

  it('renders files of runs that predate the load fields', () => {
    const { loadAverageEnd: _l, busyAtStart: _b, ...run } = r.run;
    const out = renderResult({ ...r, run });
    expect(out).toContain('repetitions: 1, window: 1000 ms\n');
  });

  it('writes a "within" target as 1 ± threshold', () => {
    expect(renderTargets(r.targets)).toContain('1 ± 0.125');
    expect(renderTargets(r.targets)).toMatch(/MISSED\s+rate\s+median 0\.550\s+>= 1\.000/);
  });
});

describe('renderComparison', () => {
  it('marks figures that moved beyond the tolerance, in the direction that matters', () => {
    const out = renderComparison([
      { id: 'rx.a.64.mpps', before: 1, after: 0.5, ratio: 0.5, better: 'higher' },
      { id: 'rx.a.64.cpu_ns', before: 100, after: 50, ratio: 0.5, better: 'lower' },
      { id: 'rx.a.64.gen_mpps', before: 1, after: 2, ratio: 2, better: 'none' },
      { id: 'rx.b.64.mpps', before: 1, after: 1.05, ratio: 1.05, better: 'higher' },
      { id: 'rx.c.64.mpps', before: null, after: 1, ratio: null, better: 'higher' },
    ]);
    const lines = out.split('\n');
    expect(lines.find((l) => l.startsWith('rx.a.64.mpps'))).toMatch(/0\.500x\s+worse$/);
    expect(lines.find((l) => l.startsWith('rx.a.64.cpu_ns'))).toMatch(/better$/);
    expect(lines.find((l) => l.startsWith('rx.a.64.gen_mpps'))).toMatch(/2\.000x$/);
    expect(lines.find((l) => l.startsWith('rx.b.64.mpps'))).toMatch(/1\.050x$/);
    expect(lines.find((l) => l.startsWith('rx.c.64.mpps'))).toMatch(/-\s+1\.000\s+-$/);
    expect(lines.at(-1)).toBe('1 better, 1 worse (beyond ±10.00 %)');
  });

  it('warns first when the two machines\' wake paths differ', () => {
    const deltas = [{ id: 'rx.a.64.cpu_ns', before: 100, after: 50, ratio: 0.5, better: 'lower' as const }];
    expect(renderComparison(deltas).split('\n')[0]).toMatch(/^figure/);
    const out = renderComparison(deltas, 0.1, ['haltPollNs: 0 -> 200000']);
    expect(out.split('\n')[0]).toBe("the machines' wake paths differ (haltPollNs: 0 -> 200000): CPU per packet of sleeping receivers is not comparable");
  });
});
