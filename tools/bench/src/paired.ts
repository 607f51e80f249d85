/**
 * Fail-safe against the VF PMD it wraps, at the same time: two processes on the same CPU, each
 * with its own packet socket on the VF, measured over ONE window. Receiving, both get a copy of
 * every frame of one generator, so they see the same offered rate, the same block retirements
 * and the same machine moment; sending, both send flat out and share the CPU. Measured one after
 * the other, the two windows' generator rates differed by up to 50 % on this VM, and a sleeping
 * receiver's CPU per packet follows the rate (its wake-up rate does): the sequential ratio then
 * measures the generator and the VM's drift, not fail-safe.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { debugThreads, OurEndpoint, type Generator, type Snap } from './endpoints.js';
import type { Env } from './env.js';
import type { OpenArgs } from './proto.js';
import { DRAIN_MS, failsafeDevargs, openGenerator, TX_DST_MAC, vfArgs, warmUp, warmUpTx } from './rates.js';
import { makeFigure } from './schema.js';

interface Side {
  /** Frames received (rx) or accepted by the PMD (tx) per µs. */
  readonly mpps: number;
  readonly cpuNs: number;
  /** Of which system time. */
  readonly sysNs: number;
  readonly wakeupsPerKpkt: number;
}

type Dir = 'rx' | 'tx';

export function pairSide(dir: Dir, a: Snap | undefined, b: Snap | undefined, ns: number): Side {
  if (a === undefined || b === undefined || ns <= 0) return { mpps: Number.NaN, cpuNs: Number.NaN, sysNs: Number.NaN, wakeupsPerKpkt: Number.NaN };
  const pkts = dir === 'rx' ? b.rx - a.rx : b.tx - a.tx;
  return {
    mpps: (pkts * 1e3) / ns,
    cpuNs: pkts > 0 ? (b.cpuNs - a.cpuNs) / pkts : Number.NaN,
    sysNs: pkts > 0 ? (b.sysNs - a.sysNs) / pkts : Number.NaN,
    wakeupsPerKpkt: dir === 'rx' && pkts > 0 ? ((b.rxWakeups - a.rxWakeups) * 1000) / pkts : Number.NaN,
  };
}

/** Both receivers over one generator window; the generator's time is the rates' denominator. */
async function rxWindow(eps: readonly OurEndpoint[], gen: Generator, size: number, windowMs: number): Promise<Side[]> {
  const a = await Promise.all(eps.map((ep) => ep.snap()));
  await gen.start(size);
  await sleep(windowMs);
  const g = await gen.stop();
  await sleep(DRAIN_MS);
  const b = await Promise.all(eps.map((ep) => ep.snap()));
  eps.forEach((ep, i) => {
    debugThreads(ep.subject, a[i], b[i]);
  });
  return eps.map((_, i) => pairSide('rx', a[i], b[i], g.ns));
}

/** Both senders flat out over one window; each one's own clock is its rate's denominator. */
async function txWindow(eps: readonly OurEndpoint[], size: number, windowMs: number): Promise<Side[]> {
  const a = await Promise.all(eps.map((ep) => ep.snap()));
  await Promise.all(eps.map((ep) => ep.startTx(size, TX_DST_MAC)));
  await sleep(windowMs);
  await Promise.all(eps.map((ep) => ep.stopAll()));
  const b = await Promise.all(eps.map((ep) => ep.snap()));
  return eps.map((_, i) => pairSide('tx', a[i], b[i], (b[i]?.tNs ?? 0) - (a[i]?.tNs ?? 0)));
}

interface PairDef {
  /** Subject of the ratio figures: `<left>-vs-<right>`. */
  readonly name: string;
  readonly left: { readonly label: string; readonly open: OpenArgs };
  readonly right: { readonly label: string; readonly open: OpenArgs };
  readonly dirs: readonly Dir[];
}

function pairs(env: Env, dirs: readonly Dir[]): PairDef[] {
  const vf: OpenArgs = { kind: 'af_packet', devargs: `net_af_packet0,iface=${env.vf}${vfArgs(env)}` };
  const out: PairDef[] = [{ name: 'failsafe-vs-vf-pmd', left: { label: 'failsafe', open: { kind: 'failsafe', devargs: failsafeDevargs(env) } }, right: { label: 'vf-pmd', open: vf }, dirs }];
  // The method's own noise: the same PMD on both sides. Measured: single rounds 0.81-1.40 on
  // Rx CPU/packet at 64 B, so a ratio is read against this, not against 1.0.
  if (!env.opts.quick && dirs.includes('rx')) out.push({ name: 'vf-pmd-vs-vf-pmd', left: { label: 'vf-pmd', open: vf }, right: { label: 'vf-pmd', open: vf }, dirs: ['rx'] });
  return out;
}

/**
 * `overhead.failsafe-vs-vf-pmd.{rx,tx}<size>-concurrent.{rate,cpu}_ratio`, and in full runs the
 * control `overhead.vf-pmd-vs-vf-pmd.rx<size>-concurrent.*`. The fail-safe's VF runs with
 * own_rx, whose tc filter acts on the interface, so the plain VF PMD next to it meets the same
 * kernel path as the `vf-pmd-own_rx` subject. Both share CPU 0: what the CPU ratio compares is
 * each one's work per packet, with the wake-up toll (wake.ts) paid by both.
 */
export async function runPaired(env: Env, dirs: readonly Dir[]): Promise<void> {
  for (const pair of pairs(env, dirs)) await runPair(env, pair);
}

/**
 * Rounds of a pair: the opening order alternates by round and whichever process's socket is
 * opened last runs first on each wake-up, so full runs take an even number of rounds (the A/A
 * pair's single rounds ranged 0.81-1.40 at 64 B, the order showing in them); quick runs, one.
 * Receiving, full runs take twice as many: sleeping receivers' CPU per packet spreads that
 * widely from round to round (run medians of fail-safe / VF PMD 1.04-1.32 over 4 rounds), while
 * two senders' stays within 0.98-1.01.
 */
export function pairRounds(reps: number, quick: boolean): { rx: number; tx: number } {
  if (quick) return { rx: reps, tx: reps };
  const even = reps + (reps % 2);
  return { rx: 2 * even, tx: even };
}

async function runPair(env: Env, pair: PairDef): Promise<void> {
  const { opts } = env;
  const { left, right, dirs } = pair;
  const per = pairRounds(opts.reps, opts.quick);
  const rounds = Math.max(dirs.includes('rx') ? per.rx : 0, dirs.includes('tx') ? per.tx : 0);
  const ratios = new Map<string, number[]>();
  const add = (key: string, v: number): void => {
    if (!Number.isFinite(v)) return;
    const xs = ratios.get(key);
    if (xs === undefined) ratios.set(key, [v]);
    else xs.push(v);
  };
  const record = (dir: Dir, size: number, l: Side, r: Side): void => {
    const side = (label: string, x: Side): string => `${label} ${x.mpps.toFixed(3)} Mpps ${x.cpuNs.toFixed(0)} ns/pkt (${x.sysNs.toFixed(0)} sys${dir === 'rx' ? `, ${x.wakeupsPerKpkt.toFixed(1)} wake-ups/kpkt` : ''})`;
    env.log(`  ${dir} at once ${size} B: ${side(left.label, l)}, ${side(right.label, r)}`);
    add(`${dir}|${size}|rate_ratio`, l.mpps / r.mpps);
    add(`${dir}|${size}|cpu_ratio`, l.cpuNs / r.cpuNs);
  };
  for (let r = 0; r < rounds; r++) {
    env.log(`${pair.name} at once: opening (round ${r + 1}/${rounds})`);
    const eps: (OurEndpoint | undefined)[] = [undefined, undefined];
    let gen: Generator | undefined;
    try {
      // The kernel hands a frame to the packet socket opened last first (ptype_all is a
      // stack), whose block then retires and wakes its reader first: take turns.
      const sides = [left, right];
      for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const s = sides[i];
        if (s !== undefined) eps[i] = await OurEndpoint.open(`paired-${s.label}-${i}`, env.guestNs, s.open, env.childEnv, opts.cpuProf);
      }
      const [l, rt] = eps;
      if (l === undefined || rt === undefined) break;
      const both = [l, rt];
      if (dirs.includes('rx') && r < per.rx) {
        gen = await openGenerator(env, env.hostVf);
        for (const ep of both) await ep.startRx();
        await warmUp(env, gen);
        for (const size of opts.sizes) {
          const [a, b] = await rxWindow(both, gen, size, opts.windowMs);
          if (a !== undefined && b !== undefined) record('rx', size, a, b);
        }
        await gen.close();
        gen = undefined;
        for (const ep of both) await ep.stopAll();
      }
      if (dirs.includes('tx') && r < per.tx) {
        await Promise.all(both.map((ep) => warmUpTx(env, ep)));
        for (const size of opts.sizes) {
          const [a, b] = await txWindow(both, size, opts.windowMs);
          if (a !== undefined && b !== undefined) record('tx', size, a, b);
        }
      }
    } catch (e) {
      env.missing.push(`${pair.name} at once: ${e instanceof Error ? e.message : String(e)}`);
      break;
    } finally {
      await gen?.close().catch(() => undefined);
      for (const ep of eps) await ep?.close().catch(() => undefined);
    }
  }
  for (const dir of dirs) {
    const what = dir === 'rx' ? 'both receivers at once, same CPU, one generator window' : 'both sending flat out at once, same CPU; rate = frames the PMD accepted';
    for (const size of opts.sizes) {
      for (const [key, metric, better] of [
        ['rate_ratio', 'rate', 'higher'],
        ['cpu_ratio', 'CPU/packet', 'lower'],
      ] as const) {
        const xs = ratios.get(`${dir}|${size}|${key}`);
        if (xs === undefined) continue;
        env.figures.push(
          makeFigure({ section: 'overhead', subject: pair.name, variant: `${dir}${size}-concurrent`, key, metric: `${dir} ${metric} ${left.label} / ${right.label}, at once`, unit: 'x', better }, xs, [what]),
        );
      }
    }
  }
}
