/**
 * What this machine charges a process for sleeping and being woken, whatever the process does.
 * Our receivers sleep on the Rx interrupt between TPACKET_V3 blocks; each wake-up goes through
 * the scheduler's and the hypervisor's idle/wake path, and the guest kernel (tick-based
 * accounting, no IRQ time accounting) charges what it costs to the task that runs. On the
 * 2-vCPU VM an idle Node process woken 1000 times a second was charged 40-140 µs per wake-up (a
 * Python epoll loop the same), more the longer it idled in between: of the size of a receiver's
 * whole CPU per wake-up. The probe gives the yardstick to read a receiver's CPU per packet by.
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

/** The toll measured at one wake-up rate. */
export interface TollPoint {
  /** Wake-ups per second the probe was woken at. */
  readonly hz: number;
  /** µs of CPU per wake-up. */
  readonly us: number;
}

/**
 * The toll at `hz` wake-ups per second, interpolated between the measured rates (linear in
 * log(rate)); undefined outside them. The toll is not a constant: the longer a CPU idles between
 * wake-ups the more each costs (here 40 µs at 1000/s, 100-300 µs at 100/s), so a receiver's
 * share is only worked out at a rate the probe has bracketed.
 */
export function tollAt(points: readonly TollPoint[], hz: number): number | undefined {
  const p = [...points].filter((x) => x.hz > 0 && Number.isFinite(x.us)).sort((a, b) => a.hz - b.hz);
  const lo = p[0];
  const hi = p[p.length - 1];
  if (lo === undefined || hi === undefined || !(hz >= lo.hz && hz <= hi.hz)) return undefined;
  for (let i = 1; i < p.length; i++) {
    const a = p[i - 1];
    const b = p[i];
    if (a === undefined || b === undefined || hz > b.hz) continue;
    if (b.hz === a.hz) return b.us;
    const t = Math.log(hz / a.hz) / Math.log(b.hz / a.hz);
    return a.us + t * (b.us - a.us);
  }
  return lo.us;
}

/**
 * For every sleeping receiver's Rx figure, sample by sample: what an idle process woken as often
 * as the receiver was (its wake-ups per packet x packets per second) is charged, per packet the
 * receiver took (`idle_twin_ns`). Not a share to subtract — a receiver that works between
 * wake-ups idles less and is charged less per wake-up than the idle probe — but the yardstick
 * for its CPU per packet: on this VM the two are of the same size. Samples at a rate outside the
 * probed ones are left out (JSON has no NaN).
 */
export function idleTwinFigures(figures: readonly Figure[], points: readonly TollPoint[]): Figure[] {
  const out: Figure[] = [];
  const find = (w: Figure, key: string): Figure | undefined =>
    figures.find((f) => f.section === 'rx' && f.subject === w.subject && f.variant === w.variant && f.id.endsWith(`.${key}`));
  for (const w of figures) {
    if (w.section !== 'rx' || !w.id.endsWith('.wakeups_per_kpkt')) continue;
    const mpps = find(w, 'mpps');
    if (mpps === undefined) continue;
    const twin: number[] = [];
    w.samples.forEach((perKpkt, i) => {
      // wake-ups per 1000 packets x Mpps x 1000 = wake-ups per second.
      const us = tollAt(points, perKpkt * (mpps.samples[i] ?? Number.NaN) * 1000);
      // µs per wake-up x wake-ups per 1000 packets = ns per packet.
      if (us !== undefined) twin.push(us * perKpkt);
    });
    if (twin.length === 0) continue;
    out.push(
      makeFigure(
        { section: 'rx', subject: w.subject, variant: w.variant, key: 'idle_twin_ns', metric: 'CPU/packet of an idle process woken as often', unit: 'ns', better: 'none' },
        twin,
        [`the idle probe's CPU per wake-up at the receiver's wake-up rate x its wake-ups per packet (probed at ${points.map((p) => p.hz.toFixed(0)).join('/')} wake-ups/s)`],
      ),
    );
  }
  return out;
}

/** Wake-up rates the toll is probed at: from a receiver of 64 B frames to one of 1500 B or a TAP. */
export const TOLL_RATES = [500, 1000, 2000, 4000, 8000, 16000] as const;
/** A quick run's: the same span, every other octave (each sample starts two node processes). */
export const QUICK_TOLL_RATES = [500, 2000, 16000] as const;

/** The machine figures: CPU per wake-up of an idle process at each rate of `rates`. */
export async function measureWakeToll(ms: number, rates: readonly number[] = TOLL_RATES): Promise<{ figures: Figure[]; points: TollPoint[] }> {
  const figures: Figure[] = [];
  const points: TollPoint[] = [];
  for (const hz of rates) {
    const s = await wakeSample(hz, ms);
    const us = s.cpuUs / s.wakes;
    points.push({ hz: s.wakes / (ms / 1000), us });
    figures.push(
      makeFigure({ section: 'rx', subject: 'idle-process', variant: `wake${hz}`, key: 'cpu_us', metric: 'CPU charged per sleep/wake-up', unit: 'µs', better: 'lower' }, [us], [
        `a Node process doing nothing but wake on a pipe written ${hz} times/s from CPU 1, pinned to CPU 0 like the receivers: ${s.wakes} wake-ups in ${ms} ms`,
      ]),
    );
  }
  return { figures, points };
}
