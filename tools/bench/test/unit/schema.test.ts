import { describe, expect, it } from 'vitest';
import { compareResults, figureId, makeFigure, SCHEMA_ID, validateResult, type BenchResult } from '../../src/schema.js';

const rx = makeFigure({ section: 'rx', subject: 'vf-pmd', variant: 64, key: 'mpps', metric: 'Rx rate', unit: 'Mpps', better: 'higher' }, [1, 3, 2], ['a', 'a', 'b']);

function result(figures = [rx]): BenchResult {
  return {
    schema: SCHEMA_ID,
    startedAt: '2026-01-01T00:00:00.000Z',
    durationS: 1,
    machine: { hostname: 'h', kernel: 'k', os: 'o', cpuModel: 'c', cpus: 2, memoryGiB: 1, loadAverage: [0, 0, 0], node: 'v20', v8: '11' },
    versions: { '@netvsc/ethdev': '0.1.0' },
    git: null,
    run: { quick: true, repetitions: 1, windowMs: 1000, generator: 'g', dpdk: null, options: {}, loadAverageEnd: 0, busyAtStart: [] },
    figures,
    targets: [{ id: 't', description: 'd', figure: rx.id, stat: 'median', op: '>=', threshold: 1, value: 2, status: 'met', note: '' }],
    missing: [],
    notes: [],
  };
}

describe('figures', () => {
  it('are named section.subject.variant.key and carry their own summary', () => {
    expect(rx.id).toBe('rx.vf-pmd.64.mpps');
    expect(figureId({ section: 'memory', subject: 'failsafe', key: 'rss_mib' })).toBe('memory.failsafe.rss_mib');
    expect([rx.min, rx.median, rx.max, rx.n]).toEqual([1, 2, 3, 3]);
    expect(rx.variant).toBe('64');
  });

  it('keep each note once', () => {
    expect(rx.notes).toEqual(['a', 'b']);
  });
});

describe('validateResult', () => {
  it('accepts a well-formed result (also after a JSON round trip)', () => {
    expect(validateResult(JSON.parse(JSON.stringify(result())))).toEqual([]);
  });

  it('names what is wrong', () => {
    expect(validateResult(null)).toEqual(['not an object']);
    const bad = { ...result(), schema: 'x', figures: [rx, rx], targets: [{ status: 'maybe', figure: 'nope', value: 'x' }] };
    const errs = validateResult(bad);
    expect(errs).toContain('schema is "x", expected netvsc-bench/1');
    expect(errs.some((e) => e.includes('duplicated'))).toBe(true);
    expect(errs.some((e) => e.includes('status is invalid'))).toBe(true);
    expect(errs.some((e) => e.includes('unknown figure nope'))).toBe(true);
    expect(errs.some((e) => e.includes('value must be a number or null'))).toBe(true);
  });

  it('refuses a figure whose section is unknown or whose samples are not numbers', () => {
    const f = { ...rx, section: 'warp', samples: ['1'] };
    const errs = validateResult({ ...result(), figures: [f] });
    expect(errs.some((e) => e.includes('section warp is unknown'))).toBe(true);
    expect(errs.some((e) => e.includes('samples must be numbers'))).toBe(true);
  });
});

describe('compareResults', () => {
  it('compares medians figure by figure, including figures only one run has', () => {
    const after = makeFigure({ section: 'rx', subject: 'vf-pmd', variant: 64, key: 'mpps', metric: 'Rx rate', unit: 'Mpps', better: 'higher' }, [4]);
    const extra = makeFigure({ section: 'memory', subject: 'x', key: 'rss_mib', metric: 'RSS', unit: 'MiB', better: 'lower' }, [10]);
    const d = compareResults(result(), result([after, extra]));
    expect(d).toEqual([
      { id: 'rx.vf-pmd.64.mpps', before: 2, after: 4, ratio: 2, better: 'higher' },
      { id: 'memory.x.rss_mib', before: null, after: 10, ratio: null, better: 'lower' },
    ]);
  });
});
