/**
 * What this machine charges a process for sleeping and being woken, whatever the process does.
 * Our receivers sleep on the Rx interrupt between TPACKET_V3 blocks; each wake-up costs the
 * scheduler's and the hypervisor's idle/wake path, and the guest kernel (tick-based accounting,
 * no IRQ time accounting) charges that to the task that runs. On the 2-vCPU VM this was measured
 * at 40-110 µs per wake-up for a Python epoll loop and a Node stream alike, which at ~2 wake-ups
 * per 1000 packets is more than the whole Rx-CPU target of 100 ns per packet. The figure lets a
 * reader split a receiver's CPU per packet into its own work and the machine's wake-up toll.
 */
import { spawn } from 'node:child_process';
import type { Figure } from './schema.js';
import { makeFigure } from './schema.js';

/** The idle child: counts the pipe reads it is woken for and reports its CPU time at EOF. */
const PROBE = `
let wakes = 0;
const c0 = process.cpuUsage();
process.stdin.on('data', () => { wakes++; });
process.stdin.on('end', () => {
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ wakes, cpuUs: c.user + c.system }) + '\\n');
});
`;

/**
 * The waker, on the other CPU: after the probe has started, one byte every period, timed with
 * Atomics.wait (a futex with a sub-millisecond timeout; Node timers round to 1 ms and would let
 * bytes pile up into one read).
 */
const WAKER = `
const [n, periodUs] = process.argv.slice(1).map(Number);
const cell = new Int32Array(new SharedArrayBuffer(4));
const fs = require('node:fs');
const byte = Buffer.from([0x2e]);
Atomics.wait(cell, 0, 0, 300);
let next = performance.now();
for (let i = 0; i < n; i++) {
  fs.writeSync(1, byte);
  next += periodUs / 1000;
  const d = next - performance.now();
  if (d > 0) Atomics.wait(cell, 0, 0, d);
}
`;

export interface WakeSample {
  readonly wakes: number;
  readonly cpuUs: number;
}

/**
 * One sample: a Node process pinned to CPU 0 is woken `hz` times a second for `ms` by a byte
 * another process on CPU 1 writes to its stdin (a pipe: woken across CPUs, as a packet socket is
 * by the softirq on the generator's CPU).
 */
export async function wakeSample(hz: number, ms: number): Promise<WakeSample> {
  const n = Math.max(1, Math.round((hz * ms) / 1000));
  const periodUs = 1e6 / hz;
  const child = spawn('sh', ['-c', `taskset -c 1 "$NODE" -e "$WAKER" ${n} ${periodUs} | taskset -c 0 "$NODE" -e "$PROBE"`], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE: process.execPath, WAKER, PROBE },
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    out += d;
  });
  try {
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    const parsed = parseWakeSample(out);
    if (parsed === undefined) throw new Error(`wake-up probe exited ${String(code)} without a result (output: ${JSON.stringify(out.slice(0, 200))})`);
    return parsed;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

export function parseWakeSample(text: string): WakeSample | undefined {
  const line = text.trim().split('\n').pop();
  if (line === undefined || line === '') return undefined;
  try {
    const v = JSON.parse(line) as { wakes?: unknown; cpuUs?: unknown };
    if (typeof v.wakes !== 'number' || typeof v.cpuUs !== 'number' || v.wakes <= 0) return undefined;
    return { wakes: v.wakes, cpuUs: v.cpuUs };
  } catch {
    return undefined;
  }
}

/** µs of CPU per wake-up of each sample. */
export function wakeCostUs(samples: readonly WakeSample[]): number[] {
  return samples.map((s) => s.cpuUs / s.wakes);
}

/**
 * For every sleeping receiver's Rx figure: the part of its CPU per packet that the machine's
 * wake-up toll explains (toll × wake-ups per packet), and what is left (its own work).
 */
export function wakeShareFigures(figures: readonly Figure[], tollUs: number): Figure[] {
  const out: Figure[] = [];
  for (const w of figures) {
    if (w.section !== 'rx' || !w.id.endsWith('.wakeups_per_kpkt')) continue;
    const cpu = figures.find((f) => f.section === 'rx' && f.subject === w.subject && f.variant === w.variant && f.id.endsWith('.cpu_ns'));
    if (cpu === undefined) continue;
    const n = Math.min(w.samples.length, cpu.samples.length);
    // µs per wake-up x wake-ups per 1000 packets = ns per packet.
    const toll = w.samples.slice(0, n).map((k) => tollUs * k);
    const own = toll.map((t, i) => (cpu.samples[i] ?? Number.NaN) - t);
    const note = `this machine's wake-up toll (${tollUs.toFixed(1)} µs per wake-up of an idle process) x wake-ups per packet`;
    out.push(
      makeFigure({ section: 'rx', subject: w.subject, variant: w.variant, key: 'wake_ns', metric: 'Rx CPU/packet: wake-up toll', unit: 'ns', better: 'lower' }, toll, [note]),
      makeFigure({ section: 'rx', subject: w.subject, variant: w.variant, key: 'own_cpu_ns', metric: 'Rx CPU/packet less the wake-up toll', unit: 'ns', better: 'lower' }, own, [
        'the receiver\'s own work per packet (drain, copy, free, event loop)',
      ]),
    );
  }
  return out;
}

/** The machine figure: CPU per wake-up of an idle process, `reps` samples. */
export async function measureWakeToll(reps: number, ms: number, hz = 1000): Promise<Figure> {
  const samples: WakeSample[] = [];
  for (let i = 0; i < reps; i++) samples.push(await wakeSample(hz, ms));
  return makeFigure(
    { section: 'rx', subject: 'idle-process', variant: 'wake', key: 'cpu_us', metric: 'CPU charged per sleep/wake-up', unit: 'µs', better: 'lower' },
    wakeCostUs(samples),
    [`a Node process doing nothing but wake on a pipe written ${hz} times/s from CPU 1, pinned to CPU 0 like the receivers; ${samples.map((s) => s.wakes).join('/')} wake-ups`],
  );
}
