/**
 * Rx and Tx rate scenarios, the receiver ceiling and the allocation run: every receiver on the
 * same veth, fed by the same generator, with its CPU time per packet; every transmitter counted
 * by the host end of its veth.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { debugThreads, DpdkEndpoint, DpdkGenerator, OurEndpoint, OurGenerator, type Endpoint, type Generator, type Snap } from './endpoints.js';
import { linkCounters, redirectAll } from './host.js';
import type { Figure, FigureSpec } from './schema.js';
import { makeFigure } from './schema.js';
import type { Env } from './env.js';
import type { BenchOptions, SubjectName } from './parse.js';
import type { CeilingRound, OpenArgs } from './proto.js';

/** Destination of the guest's Tx frames (a "remote VM"; the host veth end counts them). */
export const TX_DST_MAC = '00:15:5d:ff:00:01';
/** After the generator stops, let the receiver drain its ring before the closing mark. */
export const DRAIN_MS = 200;
/** Interface name of the TAP our ports create (DPDK's gets another one). */
const OUR_TAP = 'nvbtap0';
const DPDK_TAP = 'nvbdtap0';

/**
 * The VF PMD with DPDK's page-sized blocks (its own default is 64 KiB, in the same default
 * ring): an Rx block then holds ~30 small frames instead of ~500, so the receiver wakes up ~16x
 * as often.
 */
export const DPDK_BLOCK_ARGS = 'blocksz=4096';

/**
 * The VF PMD leaning to CPU over latency: 256 KiB blocks retired after up to 4 ms (in a 16 MiB
 * ring, as it sleeps longer between blocks), so a sleeping receiver wakes ~4x less often at
 * these rates while frames wait up to 4 ms at low rate. Shows what the wake-up toll costs the
 * default (64 KiB, blk_tov=1).
 */
export const LOW_WAKE_ARGS = 'blocksz=262144,framecnt=8192,blk_tov=4';

export interface Subject {
  readonly name: SubjectName;
  readonly dpdk: boolean;
  /** Host veth end the generator feeds and the Tx counter reads. */
  readonly hostIf: (env: Env) => string;
  readonly rx: boolean;
  readonly tx: boolean;
  /**
   * A variant that explains another subject's figure and that no target judges (DPDK's block
   * size, fewer wake-ups, writev instead of io_uring; a missed target may quote it): left out
   * of quick runs unless --subjects names it.
   */
  readonly diagnostic?: boolean;
  readonly open: (env: Env) => Promise<{ ep: Endpoint; undo?: () => Promise<void> }>;
}

function ours(name: SubjectName, open: (env: Env) => OpenArgs): (env: Env) => Promise<{ ep: Endpoint }> {
  return async (env) => ({ ep: await OurEndpoint.open(name, env.guestNs, open(env), env.childEnv, env.opts.cpuProf) });
}

/**
 * In round order: each ratio's two subjects run next to each other (VF PMD then DPDK's
 * af_packet, fail-safe right after the VF PMD with own_rx, TAP with io_uring, with writev, then
 * DPDK's tap), so the pair is measured seconds apart.
 */
export const SUBJECTS: readonly Subject[] = [
  {
    name: 'vf-pmd',
    dpdk: false,
    hostIf: (e) => e.hostVf,
    rx: true,
    tx: true,
    open: ours('vf-pmd', (e) => ({ kind: 'af_packet', devargs: `net_af_packet0,iface=${e.vf}${vfArgs(e)}` })),
  },
  {
    name: 'dpdk-af_packet',
    dpdk: true,
    hostIf: (e) => e.hostVf,
    rx: true,
    tx: true,
    open: async (e) => ({ ep: await DpdkEndpoint.open('dpdk-af_packet', e.guestNs, `net_af_packet0,iface=${e.vf}`) }),
  },
  {
    name: 'vf-pmd-4k',
    dpdk: false,
    hostIf: (e) => e.hostVf,
    rx: true,
    tx: false,
    diagnostic: true,
    open: ours('vf-pmd-4k', (e) => ({ kind: 'af_packet', devargs: `net_af_packet0,iface=${e.vf},${DPDK_BLOCK_ARGS}` })),
  },
  {
    name: 'vf-pmd-tov4',
    dpdk: false,
    hostIf: (e) => e.hostVf,
    rx: true,
    tx: false,
    diagnostic: true,
    open: ours('vf-pmd-tov4', (e) => ({ kind: 'af_packet', devargs: `net_af_packet0,iface=${e.vf},${LOW_WAKE_ARGS}` })),
  },
  {
    name: 'vf-pmd-own_rx',
    dpdk: false,
    hostIf: (e) => e.hostVf,
    rx: true,
    tx: false,
    open: ours('vf-pmd-own_rx', (e) => ({ kind: 'af_packet', devargs: `net_af_packet0,iface=${e.vf},own_rx=1${vfArgs(e)}` })),
  },
  {
    name: 'failsafe',
    dpdk: false,
    hostIf: (e) => e.hostVf,
    rx: true,
    tx: true,
    open: ours('failsafe', (e) => ({ kind: 'failsafe', devargs: failsafeDevargs(e) })),
  },
  {
    name: 'tap',
    dpdk: false,
    hostIf: (e) => e.hostSyn,
    rx: true,
    tx: true,
    open: ours('tap', (e) => ({ kind: 'tap', devargs: `net_tap0,iface=${OUR_TAP},remote=${e.netvsc}` })),
  },
  // Our TAP with one writev per frame, as DPDK sends (tx_uring=0), right next to it: what io_uring buys.
  {
    name: 'tap-writev',
    dpdk: false,
    hostIf: (e) => e.hostSyn,
    rx: false,
    tx: true,
    diagnostic: true,
    open: ours('tap-writev', (e) => ({ kind: 'tap', devargs: `net_tap0,iface=${OUR_TAP},remote=${e.netvsc},tx_uring=0` })),
  },
  {
    name: 'dpdk-tap',
    dpdk: true,
    hostIf: (e) => e.hostSyn,
    rx: true,
    tx: true,
    open: async (e) => {
      const ep = await DpdkEndpoint.open('dpdk-tap', e.guestNs, `net_tap0,iface=${DPDK_TAP}`);
      try {
        // DPDK's remote= needs tc flower (absent here): build the same two redirects our tap's remote= does.
        const a = await redirectAll(e.guestNs, e.netvsc, DPDK_TAP);
        const b = await redirectAll(e.guestNs, DPDK_TAP, e.netvsc);
        return {
          ep,
          undo: async () => {
            await a();
            await b();
          },
        };
      } catch (err) {
        await ep.close();
        throw err;
      }
    },
  },
];

/** The user's --vf-args, as a devargs suffix. */
export function vfArgs(e: Env): string {
  return e.opts.vfArgs === '' ? '' : `,${e.opts.vfArgs}`;
}

export function failsafeDevargs(e: Env, vfExtra = vfArgs(e)): string {
  return `net_failsafe0,dev(${e.pci},own_rx=1${vfExtra}),dev(net_tap0,iface=${OUR_TAP},remote=${e.netvsc})`;
}

/**
 * The subjects a run measures: those --subjects names, or else all of them but, in a quick run,
 * the diagnostic variants. Returns the subjects left out for being diagnostic, to be said.
 */
export function selectSubjects(opts: Pick<BenchOptions, 'quick' | 'subjects'>, all: readonly Subject[] = SUBJECTS): { subjects: Subject[]; skipped: SubjectName[] } {
  const named = opts.subjects;
  if (named !== undefined) return { subjects: all.filter((s) => named.includes(s.name)), skipped: [] };
  if (!opts.quick) return { subjects: [...all], skipped: [] };
  return { subjects: all.filter((s) => s.diagnostic !== true), skipped: all.filter((s) => s.diagnostic === true).map((s) => s.name) };
}

export async function openGenerator(env: Env, iface: string): Promise<Generator> {
  return env.genKind === 'dpdk' ? DpdkGenerator.open(env.hostNs, iface, env.guestMac) : OurGenerator.open(env.hostNs, iface, env.guestMac, env.opts.cpuProf);
}

const spec = (section: 'rx' | 'tx', subject: string, size: number, key: string, metric: string, unit: string, better: FigureSpec['better']): FigureSpec => ({
  section,
  subject,
  variant: size,
  key,
  metric,
  unit,
  better,
});

interface RxSample {
  mpps: number;
  genMpps: number;
  lossPct: number;
  drops: number;
  cpuNs: number;
  sysNs: number;
  wakeupsPerKpkt: number;
  bytesPerPkt: number;
  rss: number;
}

/**
 * Traffic before a port's first measured window: a process just started still compiles its hot
 * functions and collects its start-up garbage in its first second of traffic, and a fail-safe
 * loads more modules than a VF PMD, so that toll weighs on the two sides of a ratio unequally
 * (seen in the paired Rx runs: without it, fail-safe / VF PMD read 1.03-1.10 at 64 B, with it
 * 1.2-1.4 — the VF PMD's side had been carrying its start-up).
 */
const WARM_UP_MS = 1000;
/** Quick runs only smoke-test the figures. */
const QUICK_WARM_UP_MS = 300;

const warmUpMs = (env: Env): number => (env.opts.quick ? QUICK_WARM_UP_MS : WARM_UP_MS);

export async function warmUp(env: Env, gen: Generator): Promise<void> {
  await gen.start(env.opts.sizes[0] ?? 64);
  await sleep(warmUpMs(env));
  await gen.stop();
  await sleep(DRAIN_MS);
}

/** The same before a sender's first window: sending flat out, discarded. */
export async function warmUpTx(env: Env, ep: Endpoint): Promise<void> {
  await ep.startTx(env.opts.sizes[0] ?? 64, TX_DST_MAC);
  await sleep(warmUpMs(env));
  await ep.stopAll();
}

async function measureRx(ep: Endpoint, gen: Generator, size: number, windowMs: number): Promise<RxSample> {
  const a = await ep.snap();
  await gen.start(size);
  await sleep(windowMs);
  const g = await gen.stop();
  await sleep(DRAIN_MS);
  const b = await ep.snap();
  const rx = b.rx - a.rx;
  debugThreads(ep.subject, a, b);
  return {
    mpps: (rx * 1e3) / g.ns,
    genMpps: (g.sent * 1e3) / g.ns,
    lossPct: g.sent > 0 ? Math.max(0, ((g.sent - rx) / g.sent) * 100) : Number.NaN,
    drops: b.drops - a.drops,
    cpuNs: rx > 0 ? (b.cpuNs - a.cpuNs) / rx : Number.NaN,
    sysNs: rx > 0 ? (b.sysNs - a.sysNs) / rx : Number.NaN,
    wakeupsPerKpkt: rx > 0 ? ((b.rxWakeups - a.rxWakeups) * 1000) / rx : Number.NaN,
    bytesPerPkt: rx > 0 ? (b.allocatedBytes - a.allocatedBytes) / rx : Number.NaN,
    rss: b.rss,
  };
}

interface TxSample {
  mpps: number;
  acceptedMpps: number;
  cpuNs: number;
  bytesPerPkt: number;
}

async function measureTx(env: Env, ep: Endpoint, hostIf: string, size: number, windowMs: number): Promise<TxSample> {
  const h0 = await linkCounters(env.hostNs, hostIf);
  const a = await ep.snap();
  await ep.startTx(size, TX_DST_MAC);
  await sleep(windowMs);
  await ep.stopAll();
  const b = await ep.snap();
  await sleep(100);
  const h1 = await linkCounters(env.hostNs, hostIf);
  const ns = b.tNs - a.tNs;
  const accepted = b.tx - a.tx;
  return {
    mpps: ((h1.rxPackets - h0.rxPackets) * 1e3) / ns,
    acceptedMpps: (accepted * 1e3) / ns,
    cpuNs: accepted > 0 ? (b.cpuNs - a.cpuNs) / accepted : Number.NaN,
    bytesPerPkt: accepted > 0 ? (b.allocatedBytes - a.allocatedBytes) / accepted : Number.NaN,
  };
}

const col = <T>(xs: readonly T[], f: (x: T) => number): number[] => xs.map(f);

/** Generator-bound: the receiver got (almost) everything the generator sent. */
function boundNotes(samples: readonly RxSample[], spins: boolean): string[] {
  const notes: string[] = [];
  if (samples.length > 0 && samples.every((s) => s.lossPct <= 0.5)) notes.push('generator-bound (received all)');
  if (spins) notes.push('poll mode: spins a core');
  return notes;
}

/**
 * Repetitions run round by round: every subject once per round (opened, measured at every size,
 * closed), so repetition i of two subjects are minutes apart at most, not a whole phase. A ratio
 * pairs samples by repetition, and this shared VM's speed drifts over minutes: interleaving keeps
 * that drift out of the ratios.
 */
export async function runRates(env: Env, subjects: readonly Subject[]): Promise<void> {
  const { opts } = env;
  const doRx = opts.only.includes('rx');
  const doTx = opts.only.includes('tx');
  const active = subjects.filter((subj) => !(subj.dpdk && !env.dpdk) && ((doRx && subj.rx) || (doTx && subj.tx)));
  const rx = new Map<string, RxSample[]>();
  const tx = new Map<string, TxSample[]>();
  const spins = new Map<SubjectName, boolean>();
  const broken = new Set<SubjectName>();
  for (let r = 0; r < opts.reps; r++) {
    for (const subj of active) {
      if (broken.has(subj.name)) continue;
      env.log(`${subj.name}: opening (round ${r + 1}/${opts.reps})`);
      const hostIf = subj.hostIf(env);
      // The Rx generator starts alongside the subject (both stay idle until measured): a second
      // less per subject. A DPDK receiver only spins from startRx on, after both are up.
      const [o, g] = await Promise.allSettled([subj.open(env), doRx && subj.rx ? openGenerator(env, hostIf) : Promise.resolve(undefined)]);
      if (o.status === 'rejected') {
        if (g.status === 'fulfilled') await g.value?.close().catch(() => undefined);
        env.missing.push(`${subj.name}: could not open: ${o.reason instanceof Error ? o.reason.message : String(o.reason)}`);
        broken.add(subj.name);
        continue;
      }
      const opened = o.value;
      const { ep } = opened;
      spins.set(subj.name, ep.spins);
      try {
        if (g.status === 'rejected') throw g.reason;
        // Closed before Tx: its packet socket on the host end would take a copy of every frame sent.
        if (g.value !== undefined) await rxRound(env, subj, ep, g.value, rx);
        if (doTx && subj.tx) await txRound(env, subj, ep, hostIf, tx);
      } catch (e) {
        env.missing.push(`${subj.name}: failed: ${e instanceof Error ? e.message : String(e)}`);
        broken.add(subj.name);
      } finally {
        await ep.close().catch(() => undefined);
        if (opened.undo) await opened.undo().catch(() => undefined);
      }
    }
  }
  for (const subj of active) {
    for (const size of opts.sizes) {
      const rs = rx.get(`${subj.name}|${size}`);
      if (rs !== undefined) rxFigures(env, subj.name, size, rs, spins.get(subj.name) ?? false);
      const ts = tx.get(`${subj.name}|${size}`);
      if (ts !== undefined) txFigures(env, subj.name, size, ts, spins.get(subj.name) ?? false);
    }
  }
}

function push<T>(m: Map<string, T[]>, key: string, v: T): void {
  const xs = m.get(key);
  if (xs === undefined) m.set(key, [v]);
  else xs.push(v);
}

/**
 * One repetition of every size, receiving; closes `gen`. The generator is opened before the
 * receiver starts: a DPDK receiver spins on the CPU a starting testpmd initialises on, which
 * made the generator's start take 4-5 s instead of 0.5.
 */
async function rxRound(env: Env, subj: Subject, ep: Endpoint, gen: Generator, out: Map<string, RxSample[]>): Promise<void> {
  const { opts } = env;
  try {
    await ep.startRx();
    await warmUp(env, gen);
    for (const size of opts.sizes) {
      const s = await measureRx(ep, gen, size, opts.windowMs);
      env.log(`  rx ${subj.name} ${size} B: ${s.mpps.toFixed(3)} Mpps (gen ${s.genMpps.toFixed(3)}), ${s.cpuNs.toFixed(0)} ns/pkt CPU (${s.sysNs.toFixed(0)} sys), ${s.wakeupsPerKpkt.toFixed(1)} wake-ups/kpkt, loss ${s.lossPct.toFixed(2)} %, drops ${s.drops}`);
      push(out, `${subj.name}|${size}`, s);
    }
  } finally {
    await gen.close().catch(() => undefined);
    await ep.stopAll().catch(() => undefined);
  }
}

function rxFigures(env: Env, n: SubjectName, size: number, samples: readonly RxSample[], spins: boolean): void {
  const notes = boundNotes(samples, spins);
  env.figures.push(
    makeFigure(spec('rx', n, size, 'mpps', 'Rx rate', 'Mpps', 'higher'), col(samples, (s) => s.mpps), notes),
    makeFigure(spec('rx', n, size, 'cpu_ns', 'Rx CPU/packet', 'ns', 'lower'), col(samples, (s) => s.cpuNs), spins ? ['poll mode: spins a core'] : ['Rx-interrupt mode']),
    makeFigure(spec('rx', n, size, 'gen_mpps', 'generator rate', 'Mpps', 'none'), col(samples, (s) => s.genMpps), [env.generatorName]),
    makeFigure(spec('rx', n, size, 'loss_pct', 'loss (gen - rx)', '%', 'lower'), col(samples, (s) => s.lossPct)),
    makeFigure(spec('rx', n, size, 'drops', 'receiver ring drops', 'frames', 'lower'), col(samples, (s) => s.drops)),
  );
  if (!spins) {
    env.figures.push(
      makeFigure(spec('rx', n, size, 'wakeups_per_kpkt', 'Rx wake-ups', '/1000 pkt', 'lower'), col(samples, (s) => s.wakeupsPerKpkt)),
      makeFigure({ section: 'memory', subject: n, variant: `rx${size}`, key: 'bytes_per_pkt', metric: 'heap allocated/packet', unit: 'B', better: 'lower' }, col(samples, (s) => s.bytesPerPkt)),
    );
  }
  if (size === env.opts.sizes[env.opts.sizes.length - 1]) {
    env.figures.push(makeFigure({ section: 'memory', subject: n, variant: 'rx_rates', key: 'rss_mib', metric: 'RSS after the Rx runs', unit: 'MiB', better: 'lower' }, col(samples, (s) => s.rss / 2 ** 20)));
  }
}

/** One repetition of every size, sending. */
async function txRound(env: Env, subj: Subject, ep: Endpoint, hostIf: string, out: Map<string, TxSample[]>): Promise<void> {
  await warmUpTx(env, ep);
  for (const size of env.opts.sizes) {
    const s = await measureTx(env, ep, hostIf, size, env.opts.windowMs);
    env.log(`  tx ${subj.name} ${size} B: ${s.mpps.toFixed(3)} Mpps delivered (${s.acceptedMpps.toFixed(3)} accepted), ${s.cpuNs.toFixed(0)} ns/pkt CPU`);
    push(out, `${subj.name}|${size}`, s);
  }
}

function txFigures(env: Env, n: SubjectName, size: number, samples: readonly TxSample[], spins: boolean): void {
  const notes = spins ? ['poll mode: spins a core'] : [];
  env.figures.push(
    makeFigure(spec('tx', n, size, 'mpps', 'Tx rate (host counted)', 'Mpps', 'higher'), col(samples, (s) => s.mpps), notes),
    makeFigure(spec('tx', n, size, 'accepted_mpps', 'Tx accepted by the PMD', 'Mpps', 'none'), col(samples, (s) => s.acceptedMpps)),
    makeFigure(spec('tx', n, size, 'cpu_ns', 'Tx CPU/packet', 'ns', 'lower'), col(samples, (s) => s.cpuNs), notes),
  );
  if (!spins) {
    env.figures.push(makeFigure({ section: 'memory', subject: n, variant: `tx${size}`, key: 'bytes_per_pkt', metric: 'heap allocated/packet', unit: 'B', better: 'lower' }, col(samples, (s) => s.bytesPerPkt)));
  }
}

/**
 * Big VF ring for the ceiling: 16 blocks of 1 MiB hold some 150 000 64-byte frames; blocks retire
 * only when full (blk_tov=1000), so the ring really fills while it is not read.
 */
const CEILING_RING = ',blocksz=1048576,framesz=2048,framecnt=8192,blk_tov=1000';
/** Ceiling rounds run before the reported ones: the JIT's warm-up. */
const CEILING_WARMUP = 2;

export async function runCeiling(env: Env): Promise<void> {
  const { opts } = env;
  const rounds = opts.quick ? 3 : 8;
  // The ring takes ~110 000 small frames: 0.2 s of this generator at its usual 0.6 Mpps.
  const fillMs = opts.quick ? 400 : 1000;
  const size = opts.sizes.includes(64) ? 64 : (opts.sizes[0] ?? 64);
  // Two children, one packet socket each on the VF: fail-safe(VF+TAP) and the VF PMD alone
  // each get a copy of every frame the generator sends while neither reads, then each drains
  // its ring; they take turns at going first. Same frames, same minute, and each process has
  // its own JIT (one drain loop serving both ports would be polymorphic, slowing the VF PMD
  // alone down to fail-safe's speed). Their ratio is the fail-safe layer's.
  env.log('ceiling failsafe + vf-pmd: opening');
  const eps: OurEndpoint[] = [];
  let gen: Generator | undefined;
  try {
    eps.push(await OurEndpoint.open('ceiling-failsafe', env.guestNs, { kind: 'failsafe', devargs: failsafeDevargs(env, CEILING_RING) }, env.childEnv, opts.cpuProf));
    eps.push(await OurEndpoint.open('ceiling-vf-pmd', env.guestNs, { kind: 'af_packet', devargs: `net_af_packet0,iface=${env.vf}${CEILING_RING}` }, env.childEnv, opts.cpuProf));
    gen = await openGenerator(env, env.hostVf);
    // Each round: the generator fills the rings while nobody reads them, stops, then they are
    // drained. A generator still sending during the drain would refill the blocks handed back
    // and contend for the same cache lines from the other CPU (measured: drains of one run then
    // spread 3x). The first rounds warm the JIT up and are not reported.
    const res: { fs: CeilingRound; vf: CeilingRound }[] = [];
    for (let r = 0; r < rounds + CEILING_WARMUP; r++) {
      await gen.start(size);
      await sleep(fillMs);
      await gen.stop();
      const order = r % 2 === 0 ? [0, 1] : [1, 0];
      const got: (CeilingRound | undefined)[] = [];
      for (const i of order) got[i] = (await eps[i]?.child.ceiling({ rounds: 1, fillMs: 0 }))?.[0];
      const [fs, vf] = got;
      if (r >= CEILING_WARMUP && fs !== undefined && vf !== undefined) res.push({ fs, vf });
    }
    const sides = [
      { subject: 'failsafe', note: 'pre-filled VF TPACKET_V3 ring, failsafe(VF+tap) rxBurst', rounds: res.map((r) => r.fs) },
      { subject: 'vf-pmd', note: 'pre-filled TPACKET_V3 ring, vf-pmd rxBurst; filled by the same frames as the failsafe one', rounds: res.map((r) => r.vf) },
    ];
    const rate = (r: CeilingRound): number => (r.packets * 1e3) / r.ns;
    // Per CPU-second: a drain of 5-20 ms is sometimes preempted or its vCPU stolen (measured:
    // single drains at a third of their neighbours' wall-clock rate, not by CPU time).
    const cpuRate = (r: CeilingRound): number => (r.cpuUs > 0 ? r.packets / r.cpuUs : Number.NaN);
    for (const side of sides) {
      const mpps = side.rounds.map(rate);
      const cpuMpps = side.rounds.map(cpuRate);
      const perRound = side.rounds.map((r) => r.packets);
      env.log(`  ceiling ${side.subject}: ${mpps.map((m) => m.toFixed(2)).join(', ')} Mpps (per CPU-second ${cpuMpps.map((m) => m.toFixed(2)).join(', ')}) over ${perRound.join(', ')} packets`);
      const drained = perRound.reduce((s, n) => s + n, 0);
      env.figures.push(
        makeFigure({ section: 'ceiling', subject: side.subject, variant: size, key: 'mpps', metric: 'drain rate (wall clock)', unit: 'Mpps', better: 'higher' }, mpps, [side.note]),
        makeFigure({ section: 'ceiling', subject: side.subject, variant: size, key: 'cpu_mpps', metric: 'drain rate per CPU-second', unit: 'Mpps', better: 'higher' }, cpuMpps, ['packets / CPU time of the drain']),
        makeFigure({ section: 'ceiling', subject: side.subject, variant: size, key: 'packets', metric: 'packets per drain', unit: 'frames', better: 'none' }, perRound),
        makeFigure(
          { section: 'ceiling', subject: side.subject, variant: size, key: 'empty_poll_ns', metric: 'rxBurst on an empty queue', unit: 'ns', better: 'lower' },
          side.rounds.map((r) => r.emptyPollNs),
          ['right after each drain (generator stopped)'],
        ),
        makeFigure(
          { section: 'memory', subject: side.subject, variant: 'rx_burst', key: 'bytes_per_pkt', metric: 'heap allocated/packet, rxBurst loop', unit: 'B', better: 'lower' },
          side.rounds.map((r) => (r.packets > 0 ? r.allocBytes / r.packets : Number.NaN)),
          [`drains of the pre-filled ring, ${drained} packets; ${side.rounds.reduce((s, r) => s + r.gcs, 0)} GCs`],
        ),
      );
    }
    const paired = res.map((r) => cpuRate(r.fs) / cpuRate(r.vf)).filter((x) => Number.isFinite(x));
    if (paired.length > 0) {
      env.figures.push(
        makeFigure(
          { section: 'overhead', subject: 'failsafe-vs-vf-pmd', variant: `ceiling${size}`, key: 'rate_ratio', metric: 'ceiling drain rate per CPU-second failsafe / vf-pmd', unit: 'x', better: 'higher' },
          paired,
          ['the two drains of each round: same frames, taking turns at going first'],
        ),
      );
    }
  } catch (e) {
    env.missing.push(`ceiling failsafe + vf-pmd: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await gen?.close().catch(() => undefined);
    for (const ep of eps) await ep.close().catch(() => undefined);
  }
  // The software part alone: fail-safe over in-memory rings (no kernel, no copy).
  try {
    const ep = await OurEndpoint.open('ceiling-failsafe-ring', env.guestNs, { kind: 'failsafe-ring', poolSize: 1 << 16 }, env.childEnv, opts.cpuProf);
    try {
      // Cheap rounds: many of them, so the median is not a GC pause.
      const res = (await ep.child.ceiling({ rounds: 12, fillMs: 0, frames: 50_000, size })).slice(2);
      const mpps = res.map((r) => (r.packets * 1e3) / r.ns);
      env.log(`  ceiling failsafe-ring: ${mpps.map((m) => m.toFixed(2)).join(', ')} Mpps`);
      env.figures.push(
        makeFigure({ section: 'ceiling', subject: 'failsafe-ring', variant: size, key: 'mpps', metric: 'drain rate', unit: 'Mpps', better: 'higher' }, mpps, ['in-memory ring sub-devices: fail-safe + mempool only']),
        makeFigure({ section: 'ceiling', subject: 'failsafe-ring', variant: size, key: 'empty_poll_ns', metric: 'rxBurst on an empty queue', unit: 'ns', better: 'lower' }, res.map((r) => r.emptyPollNs)),
      );
    } finally {
      await ep.close();
    }
  } catch (e) {
    env.missing.push(`ceiling failsafe-ring: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Allocations over N packets through the fail-safe (VF present), Rx and Tx. */
export async function runMemory(env: Env): Promise<void> {
  const { opts } = env;
  const n = opts.allocPackets;
  const size = opts.sizes.includes(64) ? 64 : (opts.sizes[0] ?? 64);
  env.log(`memory: ${n} packets each way through failsafe`);
  let ep: OurEndpoint;
  try {
    ep = await OurEndpoint.open('memory-failsafe', env.guestNs, { kind: 'failsafe', devargs: failsafeDevargs(env) }, env.childEnv, opts.cpuProf);
  } catch (e) {
    env.missing.push(`memory: could not open failsafe: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  let gen: Generator | undefined;
  try {
    // Rx: run the generator until N packets arrived (bounded by time).
    gen = await openGenerator(env, env.hostVf);
    await ep.startRx();
    await gen.start(size);
    await sleep(300); // warm-up: JIT, first GCs
    const a = await ep.snap();
    const deadline = performance.now() + Math.max(20_000, n / 100);
    let b: Snap = a;
    while (b.rx - a.rx < n && performance.now() < deadline) {
      await sleep(250);
      b = await ep.snap();
    }
    await gen.stop();
    await ep.stopAll();
    pushMemory(env, 'rx', a, b, b.rx - a.rx, n);
    // Tx: as fast as the VF takes frames, until N were accepted.
    await ep.child.tx({ size, dstMac: TX_DST_MAC });
    await sleep(300);
    const c = await ep.snap();
    let d: Snap = c;
    const deadline2 = performance.now() + Math.max(20_000, n / 100);
    while (d.tx - c.tx < n && performance.now() < deadline2) {
      await sleep(250);
      d = await ep.snap();
    }
    await ep.stopAll();
    pushMemory(env, 'tx', c, d, d.tx - c.tx, n);
  } catch (e) {
    env.missing.push(`memory: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await gen?.close().catch(() => undefined);
    await ep.close().catch(() => undefined);
  }
}

function pushMemory(env: Env, dir: 'rx' | 'tx', a: Snap, b: Snap, packets: number, wanted: number): void {
  const notes = [`over ${packets} packets${packets < wanted ? ` (time bound hit before ${wanted})` : ''}`, dir === 'rx' ? 'Rx-interrupt mode' : 'as fast as accepted'];
  const bytes = packets > 0 ? (b.allocatedBytes - a.allocatedBytes) / packets : Number.NaN;
  const gcs = packets > 0 ? ((b.gc - a.gc) * 1e6) / packets : Number.NaN;
  env.log(`  memory ${dir}: ${bytes.toFixed(3)} B/packet, ${gcs.toFixed(2)} GCs per million packets, RSS ${(b.rss / 2 ** 20).toFixed(1)} MiB over ${packets} packets`);
  const f = (key: string, metric: string, unit: string, v: number, better: Figure['better'] = 'lower'): Figure =>
    makeFigure({ section: 'memory', subject: 'failsafe', variant: dir, key, metric, unit, better }, [v], notes);
  const wakeups = b.rxWakeups - a.rxWakeups;
  if (dir === 'rx' && wakeups > 0) {
    env.figures.push(
      f('bytes_per_wakeup', 'heap allocated/Rx wake-up', 'B', (b.allocatedBytes - a.allocatedBytes) / wakeups),
      f('packets_per_wakeup', 'packets per Rx wake-up', 'pkts', packets / wakeups, 'none'),
    );
  }
  env.figures.push(
    f('bytes_per_pkt', 'heap allocated/packet', 'B', bytes),
    f('gc_per_mpkt', 'GCs per million packets', 'GCs', gcs),
    f('allocated_mib', 'heap allocated in total', 'MiB', (b.allocatedBytes - a.allocatedBytes) / 2 ** 20),
    f('heap_growth_mib', 'heap used growth', 'MiB', (b.heapUsed - a.heapUsed) / 2 ** 20),
    f('rss_mib', 'RSS at the end', 'MiB', b.rss / 2 ** 20),
  );
}
