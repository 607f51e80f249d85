import { describe, expect, it } from 'vitest';
import { SimGuest, integrationGate } from '@netvsc/sim';
import { parseArgs } from '../../src/parse.js';
import { runBench } from '../../src/runner.js';
import { validateResult } from '../../src/schema.js';

// One short scenario end to end (simulated guest, generator child, receiver child, teardown):
// the runner's plumbing, not the figures, which are only checked to exist and be sane.
describe.skipIf(!integrationGate('bench smoke run'))('bench smoke run', () => {
  it('measures vf-pmd Rx with our own generator and leaves nothing behind', async () => {
    const opts = parseArgs(['--quick', '--only', 'rx', '--subjects', 'vf-pmd', '--sizes', '64', '--window-ms', '500', '--no-dpdk']);
    const lines: string[] = [];
    const before = new Set((await SimGuest.list()).map((s) => s.prefix));
    const r = await runBench(opts, { log: (l) => lines.push(l) });
    expect(validateResult(JSON.parse(JSON.stringify(r)))).toEqual([]);
    const rate = r.figures.find((f) => f.id === 'rx.vf-pmd.64.mpps');
    const gen = r.figures.find((f) => f.id === 'rx.vf-pmd.64.gen_mpps');
    expect(rate?.n, lines.join('\n')).toBe(1);
    expect(gen?.median ?? 0).toBeGreaterThan(0);
    expect(rate?.median ?? 0).toBeGreaterThan(0);
    expect(rate?.median ?? 0).toBeLessThanOrEqual((gen?.median ?? 0) * 1.01);
    expect(r.missing.some((m) => m.includes('DPDK comparison'))).toBe(true);
    expect(r.run.generator).toMatch(/^ours/);
    const after = (await SimGuest.list()).filter((s) => !before.has(s.prefix));
    expect(after).toEqual([]);
  }, 60_000);
});
