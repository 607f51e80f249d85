import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SimGuest, integrationGate } from '@netvsc/sim';
import { parseArgs } from '../../src/parse.js';
import { runBench } from '../../src/runner.js';
import { validateResult } from '../../src/schema.js';

// One short scenario end to end (simulated guest, generator child, receiver child, teardown):
// the runner's plumbing, not the figures, which are only checked to exist and be sane.

/** Run the bench in-process; the result (schema-checked), its log, and simulators of ours left behind. */
async function runChecked(argv: readonly string[]): Promise<{ r: Awaited<ReturnType<typeof runBench>>; log: string; leftovers: unknown[] }> {
  const lines: string[] = [];
  const before = new Set((await SimGuest.list()).map((s) => s.prefix));
  const r = await runBench(parseArgs(argv), { log: (l) => lines.push(l) });
  expect(validateResult(JSON.parse(JSON.stringify(r)))).toEqual([]);
  // Other packages' integration tests may run their own simulators meanwhile: look at ours.
  const leftovers = (await SimGuest.list()).filter((s) => !before.has(s.prefix) && s.ownerPid === process.pid);
  return { r, log: lines.join('\n'), leftovers };
}

describe.skipIf(!integrationGate('bench smoke run'))('bench smoke run', () => {
  it('measures vf-pmd Rx with our own generator and leaves nothing behind', async () => {
    const { r, log, leftovers } = await runChecked(['--quick', '--only', 'rx', '--subjects', 'vf-pmd', '--sizes', '64', '--window-ms', '500', '--no-dpdk']);
    const rate = r.figures.find((f) => f.id === 'rx.vf-pmd.64.mpps');
    const gen = r.figures.find((f) => f.id === 'rx.vf-pmd.64.gen_mpps');
    expect(rate?.n, log).toBe(1);
    expect(gen?.median ?? 0).toBeGreaterThan(0);
    expect(rate?.median ?? 0).toBeGreaterThan(0);
    expect(rate?.median ?? 0).toBeLessThanOrEqual((gen?.median ?? 0) * 1.01);
    expect(r.missing.some((m) => m.includes('DPDK comparison'))).toBe(true);
    expect(r.run.generator).toMatch(/^ours/);
    expect(leftovers).toEqual([]);
  }, 60_000);
});

describe.skipIf(!integrationGate('bench subject that cannot open'))('bench subject that cannot open', () => {
  it('says so and closes the generator started alongside it', async () => {
    const { r, log, leftovers } = await runChecked(['--quick', '--only', 'rx', '--subjects', 'vf-pmd', '--sizes', '64', '--vf-args', 'bogus=1', '--no-dpdk']);
    expect(r.missing.find((m) => m.startsWith('vf-pmd: could not open')), log).toMatch(/bogus/);
    expect(r.figures.some((f) => f.id.startsWith('rx.vf-pmd.')), log).toBe(false);
    // The generator (gen.js) was opened in parallel with the failed subject: it must be gone.
    expect(execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('bench/dist/gen.js'))).toEqual([]);
    expect(leftovers).toEqual([]);
  }, 60_000);
});

describe.skipIf(!integrationGate('bench paired run'))('bench paired run', () => {
  it('measures fail-safe and the VF PMD at once, both receiving every frame, and leaves nothing behind', async () => {
    const { r, log, leftovers } = await runChecked(['--quick', '--only', 'rx,tx', '--subjects', 'failsafe', '--sizes', '64', '--window-ms', '400', '--no-dpdk']);
    const fig = (id: string) => r.figures.find((f) => f.id === id);
    // Two sockets on one interface, one generator: each receiver gets every frame.
    const rxRate = fig('overhead.failsafe-vs-vf-pmd.rx64-concurrent.rate_ratio');
    expect(rxRate?.n, log).toBe(1);
    expect(rxRate?.median ?? 0).toBeGreaterThan(0.9);
    expect(rxRate?.median ?? 9).toBeLessThan(1.1);
    for (const id of ['rx64-concurrent.cpu_ratio', 'tx64-concurrent.rate_ratio', 'tx64-concurrent.cpu_ratio']) {
      expect(fig(`overhead.failsafe-vs-vf-pmd.${id}`)?.median ?? 0, `${id}\n${log}`).toBeGreaterThan(0);
    }
    // Quick runs leave the A/A control out.
    expect(r.figures.some((f) => f.id.startsWith('overhead.vf-pmd-vs-vf-pmd.'))).toBe(false);
    expect(r.targets.find((t) => t.id === 'failsafe-rx-rate-64')?.status).toBe('met');
    expect(leftovers).toEqual([]);
  }, 90_000);
});

describe.skipIf(!integrationGate('bench interrupted'))('bench interrupted', () => {
  it('SIGTERM mid-run tears the simulated guest and every child down, exit code 143', async () => {
    const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
    const before = new Set((await SimGuest.list()).map((s) => s.prefix));
    const child = spawn(process.execPath, [cli, '--quick', '--only', 'rx', '--subjects', 'vf-pmd', '--sizes', '64', '--reps', '3', '--window-ms', '3000', '--no-dpdk', '--out', join(tmpdir(), `bench-sigterm-${process.pid}.json`)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8');
    const measuring = new Promise<void>((resolve) => {
      child.stderr.on('data', (d: string) => {
        err += d;
        if (err.includes('  rx vf-pmd 64 B')) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code); }));
    await Promise.race([measuring, exited]);
    const ours = (await SimGuest.list()).filter((s) => !before.has(s.prefix) && s.ownerPid === child.pid).map((s) => s.prefix);
    expect(ours, err).toHaveLength(1);
    const prefix = ours[0] ?? '';
    child.kill('SIGTERM');
    expect(await exited, err).toBe(143);
    expect(err).toContain('SIGTERM: tearing everything down');
    expect((await SimGuest.list()).filter((s) => s.prefix === prefix)).toEqual([]);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(prefix);
    expect(existsSync(join(tmpdir(), prefix))).toBe(false);
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toContain(cli);
  }, 60_000);
});
