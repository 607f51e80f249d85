import type { SimGuest, SimPeer } from '@netvsc/sim';
import { NetvscError } from '@netvsc/ethdev';
import type { Failsafe } from '@netvsc/failsafe';
import { attach, type NetvscStack } from './driver.js';
import { describeEvent, type NetvscEvent } from './events.js';
import { FwdSession, startPorts } from './session.js';

/** Why the demo could not run (no root, simulator missing): exit code 1. */
export class DemoError extends NetvscError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DEMO', message, options);
  }
}

export interface DemoOptions {
  /** Frames per second from the vSwitch peer; default 2000. */
  readonly ratePps?: number;
  /** Seconds of steady traffic per phase; default 2. */
  readonly phaseSeconds?: number;
  /** VF flaps in the flap phase; default 5. */
  readonly flaps?: number;
  /** VF settle time (ms); default the driver's 200. */
  readonly vfSettleMs?: number;
  /** Model the kernel's transparent VF (default true: every frame must still arrive once). */
  readonly transparentVf?: boolean;
  readonly signal?: AbortSignal;
}

export interface TimelineEntry {
  /** ms since the demo's traffic started. */
  readonly t: number;
  readonly source: 'demo' | 'stack';
  readonly text: string;
}

/** One VF removal: how long Tx had nowhere to go. */
export interface FailoverFigure {
  readonly phase: string;
  /** Last Tx through the VF before the removal -> first Tx through the TAP after it (ms). */
  readonly gapMs: number | null;
  /** removeVf() issued (the simulator then runs `ip link del`) -> fail-safe switched Tx to the TAP (ms). */
  readonly detectMs: number | null;
}

/** Frames per path during one phase (echoes still in flight at a phase's end count in the next). */
export interface PhaseFigure {
  readonly phase: string;
  readonly sentVf: number;
  readonly sentSynthetic: number;
  readonly echoedVf: number;
  readonly echoedSynthetic: number;
  readonly duplicates: number;
}

/** One VF return: how long until Tx used it again. */
export interface SwitchBackFigure {
  readonly phase: string;
  readonly pci: string;
  /** VF netdev announced by the kernel -> first Tx through the VF (ms); includes the settle time. */
  readonly ms: number | null;
}

export interface DemoReport {
  readonly guest: { readonly prefix: string; readonly guestNs: string; readonly hostNs: string; readonly transparentVf: boolean };
  readonly port: string;
  readonly devargs: string;
  readonly ratePps: number;
  readonly settleMs: number;
  readonly sent: { readonly total: number; readonly vf: number; readonly synthetic: number };
  readonly echoed: { readonly total: number; readonly vf: number; readonly synthetic: number };
  readonly unique: number;
  readonly lost: number;
  readonly lossPercent: number;
  readonly duplicates: number;
  readonly failovers: readonly FailoverFigure[];
  readonly switchBacks: readonly SwitchBackFigure[];
  readonly phases: readonly PhaseFigure[];
  readonly vf: { readonly arrivals: number; readonly removals: number; readonly bounced: number; readonly pipeWrites: number };
  readonly txSwitches: number;
  readonly timeline: readonly TimelineEntry[];
  readonly aborted: boolean;
}

type SimModule = typeof import('@netvsc/sim');

async function loadSim(): Promise<SimModule> {
  try {
    return await import('@netvsc/sim');
  } catch (e) {
    throw new DemoError('the demo needs the simulator (@netvsc/sim), which ships with the repository: run it from a checkout with `npm run demo`', { cause: e });
  }
}

/** Sub-device Tx counters of the fail-safe, sampled often to time the switches. */
class TxSampler {
  readonly samples: { t: number; vf: number; tap: number }[] = [];
  readonly #port: Failsafe;
  readonly #t0: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(port: Failsafe, t0: number) {
    this.#port = port;
    this.#t0 = t0;
  }

  start(everyMs: number): void {
    this.#timer = setInterval(() => {
      this.sample();
    }, everyMs);
  }

  sample(): void {
    let vf = 0;
    let tap = 0;
    for (const x of this.#port.xstatsGet()) {
      if (x.name === 'sub0_tx_packets') vf = x.value;
      else if (x.name === 'sub1_tx_packets') tap = x.value;
    }
    this.samples.push({ t: performance.now() - this.#t0, vf, tap });
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.sample();
  }

  /** Time of the first sample after `t` where `which` grew, or null. */
  firstGrowth(which: 'vf' | 'tap', after: number, before = Infinity): number | null {
    for (let i = 1; i < this.samples.length; i++) {
      const a = this.samples[i - 1];
      const b = this.samples[i];
      if (a === undefined || b === undefined || b.t <= after || b.t > before) continue;
      if (b[which] > a[which]) return b.t;
    }
    return null;
  }

  /** Time of the last sample at or before `t` where `which` grew, or null. */
  lastGrowth(which: 'vf' | 'tap', before: number): number | null {
    let found: number | null = null;
    for (let i = 1; i < this.samples.length; i++) {
      const a = this.samples[i - 1];
      const b = this.samples[i];
      if (a === undefined || b === undefined || b.t > before) break;
      if (b[which] > a[which]) found = b.t;
    }
    return found;
  }
}

/**
 * The whole system on a simulated Hyper-V guest: build the guest (NetVSC eth1 + VF enP2s2, the
 * transparent-VF path on), bring the stack up the way an application does (Hyper-V
 * auto-invocation), echo the vSwitch peer's numbered frames, then remove the VF, bring it back
 * (same and new PCI address), flap it, bounce it faster than the settle time, and measure what
 * the application saw. Everything is torn down at the end, also on error or abort.
 */
export async function runDemo(options: DemoOptions = {}, onLine: (line: string) => void = () => undefined): Promise<DemoReport> {
  const sim = await loadSim();
  const priv = sim.privilegeStatus();
  if (!priv.ok) throw new DemoError(`the demo builds network namespaces and ${priv.reason}; run it as root (sudo npm run demo)`);
  const rate = options.ratePps ?? 2000;
  const phaseMs = (options.phaseSeconds ?? 2) * 1000;
  const flaps = options.flaps ?? 5;
  const signal = options.signal;
  const timeline: TimelineEntry[] = [];
  let t0 = performance.now();
  const note = (source: TimelineEntry['source'], text: string, at = performance.now()): void => {
    const e = { t: at - t0, source, text };
    timeline.push(e);
    onLine(`  ${(e.t / 1000).toFixed(3).padStart(7)} s  ${source === 'demo' ? '==' : '  '} ${text}`);
  };
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });

  onLine('netvsc demo: building a simulated Hyper-V guest (NetVSC eth1 + VF enP2s2 at 0002:00:02.0)');
  const guest: SimGuest = await sim.SimGuest.create({
    netvsc: [{ name: 'eth1', vf: { name: 'enP2s2', pci: '0002:00:02.0' } }],
    transparentVf: options.transparentVf ?? true,
  });
  let stack: NetvscStack | undefined;
  let session: FwdSession | undefined;
  let restore: (() => void) | undefined;
  let sampler: TxSampler | undefined;
  try {
    const peer: SimPeer = await guest.startPeer();
    const nv = guest.netvsc('eth1');
    onLine(`  guest namespace ${guest.guestNs}, vSwitch namespace ${guest.hostNs}; transparent-VF path ${guest.transparentVf ? 'on' : 'off'}`);
    onLine(`  sysfs fixture ${guest.sysfsRoot} (Hyper-V markers present: the driver invokes itself)`);

    // The stack lives in the guest: every socket it opens (now and on every re-plug) must be there.
    restore = guest.enterGuest();
    stack = await attach({ sysfsRoot: guest.sysfsRoot, ...(options.vfSettleMs === undefined ? {} : { vfSettleMs: options.vfSettleMs }) });
    const ctx = stack.contexts[0];
    if (ctx === undefined) throw new DemoError('the stack attached no NetVSC interface');
    const port = ctx.port;
    const settleMs = options.vfSettleMs ?? 200;
    onLine(`  attached ${ctx.name}: ${port.name},${ctx.devargs}  (VF ${ctx.info().vf?.pci ?? 'absent'})`);
    const pool = startPorts([port], { mbufs: 8192 });
    session = new FwdSession([port], pool, 'echo', 32);
    onLine(`  application: fwd echo on ${port.name} (MAC ${port.macAddrGet()}); vSwitch peer sends ${rate} numbered frames/s to ${nv.mac}`);
    onLine('');
    onLine('timeline');

    const events: NetvscEvent[] = [];
    stack.on('event', (e) => {
      events.push(e);
      if (e.type === 'subdev-failed' && e.stage === 'probe') return; // retried quietly while the VF settles
      note('stack', describeEvent(e), e.at - performance.timeOrigin);
    });
    // Wait for Tx to be on the VF before the clock starts.
    for (let i = 0; i < 100 && port.txSubdev !== 0; i++) await sleep(20);

    t0 = performance.now();
    sampler = new TxSampler(port, t0);
    sampler.start(2);
    // Quarter-second paced chunks until told to stop (a send request cannot be interrupted).
    const traffic = { stop: false };
    const sending = (async (): Promise<number> => {
      let sent = 0;
      while (!traffic.stop) {
        const r = await peer.send({ count: Math.max(1, Math.round(rate / 4)), ratePps: rate, size: 128, flow: 1 });
        sent += r.sent;
      }
      return sent;
    })();

    const failovers: FailoverFigure[] = [];
    const switchBacks: SwitchBackFigure[] = [];
    const removeVf = async (phase: string): Promise<void> => {
      const tr = performance.now() - t0;
      note('demo', `${phase}: host removes the VF`);
      await guest.removeVf('eth1');
      const until = performance.now() - t0 + 3000;
      for (; performance.now() - t0 < until && port.txSubdev !== 1 && !signal?.aborted; ) await sleep(2);
      const sw = events.find((e) => e.type === 'tx-switch' && e.to === 1 && e.at - performance.timeOrigin - t0 >= tr);
      const firstTap = sampler?.firstGrowth('tap', tr) ?? null;
      const lastVf = sampler?.lastGrowth('vf', firstTap ?? tr) ?? null;
      failovers.push({
        phase,
        gapMs: firstTap !== null && lastVf !== null ? firstTap - lastVf : null,
        detectMs: sw === undefined ? null : sw.at - performance.timeOrigin - t0 - tr,
      });
    };
    const addVf = async (phase: string, pci?: string): Promise<void> => {
      note('demo', `${phase}: host adds the VF${pci === undefined ? '' : ` at ${pci}`}`);
      const asked = performance.now() - t0;
      const vf = await guest.addVf('eth1', pci === undefined ? {} : { pci });
      const until = performance.now() - t0 + settleMs + 5000;
      for (; performance.now() - t0 < until && port.txSubdev !== 0 && !signal?.aborted; ) await sleep(2);
      await sleep(20);
      // The VF exists from the moment the kernel announces its netdev (the stack's vf-seen).
      const seen = events.find((e) => e.type === 'vf-seen' && e.at - performance.timeOrigin - t0 >= asked);
      const ta = seen === undefined ? asked : seen.at - performance.timeOrigin - t0;
      const first = sampler?.firstGrowth('vf', ta) ?? null;
      switchBacks.push({ phase, pci: vf.pci, ms: first === null ? null : first - ta });
    };

    const phases: [string, () => Promise<void>][] = [
      ['steady, VF present', () => sleep(phaseMs)],
      ['VF removed', async () => {
        await removeVf('removal 1');
        await sleep(phaseMs);
      }],
      ['VF back at the same address', async () => {
        await addVf('return 1');
        await sleep(phaseMs);
      }],
      ['VF back at a new address', async () => {
        await removeVf('removal 2');
        await sleep(phaseMs / 2);
        await addVf('return 2', '0003:00:02.0');
        await sleep(phaseMs);
      }],
      [`${flaps} flaps`, async () => {
        for (let i = 1; i <= flaps && !signal?.aborted; i++) {
          await removeVf(`flap ${i}`);
          await sleep(300);
          await addVf(`flap ${i}`);
          await sleep(800);
        }
      }],
      [`3 bounces shorter than the ${settleMs} ms settle time`, async () => {
        for (let i = 1; i <= 3 && !signal?.aborted; i++) {
          await guest.removeVf('eth1');
          await sleep(100);
          note('demo', `bounce ${i}: VF back for ${Math.round(settleMs / 3)} ms`);
          await guest.addVf('eth1');
          await sleep(settleMs / 3);
        }
        await guest.removeVf('eth1');
        await sleep(100);
        await addVf('after bounces');
        await sleep(phaseMs);
      }],
    ];
    const perPhase: PhaseFigure[] = [];
    let before = await peer.counters();
    for (const [name, run] of phases) {
      if (signal?.aborted) break;
      note('demo', `phase: ${name}`);
      await run();
      const now = await peer.counters();
      perPhase.push({
        phase: name,
        sentVf: now.sentVf - before.sentVf,
        sentSynthetic: now.sentSynthetic - before.sentSynthetic,
        echoedVf: now.receivedVf - before.receivedVf,
        echoedSynthetic: now.receivedSynthetic - before.receivedSynthetic,
        duplicates: now.duplicates - before.duplicates,
      });
      before = now;
    }
    note('demo', signal?.aborted ? 'aborted: stopping traffic' : 'stopping traffic');
    traffic.stop = true;
    const sentTotal = await sending;
    await sleep(300);
    sampler.stop();
    const c = await peer.counters();
    const flow = c.flows.find((f) => f.flow === 1);
    const unique = flow?.unique ?? 0;
    const lost = Math.max(0, sentTotal - unique);
    const info = ctx.info();
    return {
      guest: { prefix: guest.prefix, guestNs: guest.guestNs, hostNs: guest.hostNs, transparentVf: guest.transparentVf },
      port: port.name,
      devargs: ctx.devargs,
      ratePps: rate,
      settleMs,
      sent: { total: sentTotal, vf: c.sentVf, synthetic: c.sentSynthetic },
      echoed: { total: c.receivedVf + c.receivedSynthetic, vf: c.receivedVf, synthetic: c.receivedSynthetic },
      unique,
      lost,
      lossPercent: sentTotal === 0 ? 0 : (100 * lost) / sentTotal,
      duplicates: flow?.duplicates ?? c.duplicates,
      failovers,
      switchBacks,
      phases: perPhase,
      vf: { arrivals: info.counters.arrivals, removals: info.counters.removals, bounced: info.counters.bounced, pipeWrites: info.counters.pipeWrites },
      txSwitches: port.status().switches,
      timeline,
      aborted: signal?.aborted === true,
    };
  } finally {
    sampler?.stop();
    await session?.stop().catch(() => undefined);
    await stack?.close().catch((e: unknown) => {
      onLine(`netvsc demo: teardown: ${e instanceof Error ? e.message : String(e)}`);
    });
    restore?.();
    await guest.destroy();
  }
}

function stats(values: readonly (number | null)[]): string {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0) return 'n/a';
  const med = v[Math.floor(v.length / 2)] ?? 0;
  const f = (x: number): string => `${x.toFixed(1)} ms`;
  return `min ${f(v[0] ?? 0)}, median ${f(med)}, max ${f(v.at(-1) ?? 0)} (${v.length} measured${v.length < values.length ? `, ${values.length - v.length} not` : ''})`;
}

/** The summary block of the demo. */
export function formatSummary(r: DemoReport): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const rows = [['phase', 'sent VF', 'sent syn', 'echo VF', 'echo TAP', 'dup']];
  for (const p of r.phases) rows.push([p.phase, n(p.sentVf), n(p.sentSynthetic), n(p.echoedVf), n(p.echoedSynthetic), n(p.duplicates)]);
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const perPhase = rows.map((row) => `  ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}`);
  const lines = [
    'frames per path (sent by the vSwitch peer / echoed back by the application)',
    ...perPhase,
    '',
    'summary',
    `  frames sent by the vSwitch  ${n(r.sent.total)}  (VF path ${n(r.sent.vf)}, synthetic path ${n(r.sent.synthetic)})`,
    `  echoes back from the guest  ${n(r.echoed.total)}  (via VF ${n(r.echoed.vf)}, via TAP/NetVSC ${n(r.echoed.synthetic)})`,
    `  lost                        ${n(r.lost)} (${r.lossPercent.toFixed(2)} %)`,
    `  duplicates                  ${n(r.duplicates)}${r.guest.transparentVf ? ' (transparent-VF path on)' : ''}`,
    `  failover                    ${stats(r.failovers.map((f) => f.detectMs))}`,
    `                              [host starts removing the VF -> Tx on the TAP]`,
    `  echo gap at removals        ${stats(r.failovers.map((f) => f.gapMs))}`,
    `                              [last echo via VF -> first via TAP; includes the vSwitch peer's own rerouting]`,
    `  switch-back                 ${stats(r.switchBacks.map((s) => s.ms))}`,
    `                              [VF netdev appears -> first echo via VF; settle time ${r.settleMs} ms included]`,
    `  VF                          ${r.vf.arrivals} arrivals, ${r.vf.removals} removals, ${r.vf.bounced} bounced within the settle time, ${r.vf.pipeWrites} pipe writes; ${r.txSwitches} Tx switches`,
  ];
  if (r.aborted) lines.push('  (aborted before the end: figures cover what ran)');
  return `${lines.join('\n')}\n`;
}
