/**
 * Failover and servicing on the whole vdev_netvsc stack (app.js, kind `vdev`), with the
 * simulator's vSwitch peer sending numbered frames and counting what the guest sends back.
 *
 * Times: the VF's removal and return are the moments the bench's own rtnetlink monitor in the
 * guest namespace saw the link go and come up (this process is idle then, so that is within a
 * fraction of a millisecond of the kernel); the Tx moves are the app's first accepted burst on
 * the new sub-device (its wall clock; both processes read the same clock).
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { LinkMonitor, type MonitorEvent } from '@netvsc/detect';
import { now } from '@netvsc/ethdev';
import type { PeerCounters, PeerSendResult, SimPeer } from '@netvsc/sim';
import { GENERATOR_CPU, OurEndpoint, type Snap } from './endpoints.js';
import type { Env } from './env.js';
import { makeFigure } from './schema.js';
import { splitGaps } from './gaps.js';
import { median } from './stats.js';
import type { FailoverReport } from './proto.js';

const run = promisify(execFile);

/** Paced traffic both ways during failover: far below any path's capacity, so loss means the switch. */
const FAILOVER_PPS = 20_000;
const BROADCAST_PPS = 1_000;
const FRAME = 64;
const PEER_MAC = '00:15:5d:ff:00:01';

interface LinkTimes {
  removed: number[];
  /** The VF netdev appeared (RTM_NEWLINK of a new ifindex): its re-appearance. */
  added: number[];
  /** Its operstate went up (the kernel's linkwatch runs this up to ~1 s after the carrier). */
  up: number[];
}

function watchVf(env: Env): { mon: LinkMonitor; times: LinkTimes } {
  const times: LinkTimes = { removed: [], added: [], up: [] };
  const mon = LinkMonitor.start({ netns: env.guestNs, addresses: false });
  mon.on('event', (e: MonitorEvent) => {
    if (e.type === 'link-removed' && e.link.name === env.vf) times.removed.push(e.at);
    if (e.type === 'link-added' && e.link.name === env.vf) times.added.push(e.at);
    if (e.type === 'link-up' && e.link.name === env.vf) times.up.push(e.at);
  });
  return { mon, times };
}

async function openStack(env: Env, label: string, pin: boolean): Promise<OurEndpoint> {
  return OurEndpoint.open(
    label,
    env.guestNs,
    { kind: 'vdev', iface: env.netvsc, sysfsRoot: env.sim.sysfsRoot, settleMs: env.opts.settleMs, poolSize: 16384 },
    env.childEnv,
    env.opts.cpuProf,
    pin,
  );
}

/** Keep the (JS) peer off the app's CPU, so a polling app cannot starve the traffic it measures. */
async function pinPeer(peer: SimPeer): Promise<void> {
  await run('taskset', ['-p', '-c', String(GENERATOR_CPU), String(peer.pid)]).catch(() => undefined);
}

const flowCount = (c: PeerCounters, flow: number): number => c.flows.find((f) => f.flow === flow)?.unique ?? 0;
const rxUnique = (r: FailoverReport, flow: number): number => r.flows.find((f) => f.flow === flow)?.unique ?? 0;
const txAccepted = (r: FailoverReport, flow: number): number => r.txFlows.find((f) => f.flow === flow)?.accepted ?? 0;

async function waitMove(ep: OurEndpoint, sub: number, after: number, timeoutMs: number): Promise<number | null> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const r = await ep.child.failoverReport([]);
    const m = r.moves.find((x) => x.sub === sub && x.at >= after);
    if (m !== undefined) return m.at;
    if (performance.now() > end) return null;
    await sleep(20);
  }
}

async function waitTimes(list: number[], count: number, timeoutMs: number): Promise<number | null> {
  const end = performance.now() + timeoutMs;
  while (list.length < count && performance.now() < end) await sleep(2);
  return list[count - 1] ?? null;
}

export async function runFailover(env: Env): Promise<void> {
  const { opts, sim } = env;
  const removals = opts.removals;
  env.log(`failover: ${removals} VF removals, ${FAILOVER_PPS} pps each way, settle ${opts.settleMs} ms`);
  const { mon, times } = watchVf(env);
  let ep: OurEndpoint | undefined;
  let peer: SimPeer | undefined;
  const gap: number[] = [];
  const detect: number[] = [];
  const back: number[] = [];
  const rxLost: number[] = [];
  const rxLostRemoval: number[] = [];
  const rxLostReturn: number[] = [];
  const txLost: number[] = [];
  const synLost: number[] = [];
  const dupes: number[] = [];
  let failures = 0;
  try {
    // The app polls (a testpmd-like loop) on CPU 0, the peer runs on CPU 1.
    ep = await openStack(env, 'failover-vdev', true);
    peer = await sim.startPeer({ srcMac: PEER_MAC });
    await pinPeer(peer);
    // A polling application (as testpmd is): the first Tx after a switch is not delayed by a timer tick.
    // Flow 9999 (not counted) until each cycle names its own: a cycle's flow must start at
    // sequence 0 only once, or the frames sent before the renaming arrive twice.
    await ep.child.tx({ size: FRAME, dstMac: PEER_MAC, ratePps: FAILOVER_PPS, flow: 9999, spin: true });
    const cycleMs = 300 + 400 + opts.settleMs + 600;
    for (let i = 0; i < removals; i++) {
      const txFlow = 2000 + i;
      const rxFlow = 100 + i;
      const bcFlow = 1000 + i;
      await ep.child.txFlow(txFlow);
      const budget = cycleMs + 1500;
      const tSend = now();
      const uni = peer.send({ count: Math.round((FAILOVER_PPS * cycleMs) / 1000), size: FRAME, flow: rxFlow, ratePps: FAILOVER_PPS, maxMs: budget });
      const bc = peer.send({ count: Math.round((BROADCAST_PPS * cycleMs) / 1000), size: FRAME, flow: bcFlow, ratePps: BROADCAST_PPS, maxMs: budget, to: 'broadcast' });
      await sleep(300);
      const nRemoved = times.removed.length;
      await sim.removeVf(env.netvsc);
      const tRemoved = await waitTimes(times.removed, nRemoved + 1, 2000);
      await sleep(400);
      const nAdded = times.added.length;
      await sim.addVf(env.netvsc);
      const tUp = await waitTimes(times.added, nAdded + 1, 5000);
      const tTap = tRemoved === null ? null : await waitMove(ep, 1, tRemoved - 50, 2000);
      const tVf = tUp === null ? null : await waitMove(ep, 0, tUp, opts.settleMs + 5000);
      const [u, b]: [PeerSendResult, PeerSendResult] = await Promise.all([uni, bc]);
      await ep.child.txFlow(9999);
      await sleep(300);
      const r = await ep.child.failoverReport([rxFlow, bcFlow]);
      const c = await peer.counters();
      if (process.env.NETVSC_BENCH_DEBUG === '1') {
        const mine = (f: { flow: number }): boolean => f.flow === rxFlow || f.flow === bcFlow || f.flow === txFlow;
        process.stderr.write(`    peer: ${JSON.stringify(c.flows.filter(mine))}\n    app: ${JSON.stringify({ flows: r.flows.filter(mine), tx: r.txFlows.filter(mine) })}\n    peer send: ${JSON.stringify(u)}\n`);
        const from = (tRemoved ?? 0) - 20;
        for (const e of r.events) if (e.at >= from) process.stderr.write(`    ${(e.at - from - 20).toFixed(2)} ms ${e.type}: ${e.text}\n`);
        for (const m of r.moves) if (m.at >= from) process.stderr.write(`    ${(m.at - from - 20).toFixed(2)} ms first Tx on sub ${m.sub ?? '-'}\n`);
        for (const st of r.stalls) if (st.at >= from && st.at < from + 100) process.stderr.write(`    ${(st.at - from - 20).toFixed(2)} ms: loop turn ${st.ms.toFixed(2)} ms late\n`);
        if (tUp !== null) process.stderr.write(`    VF netdev back at ${(tUp - from - 20).toFixed(2)} ms\n`);
        const pps = u.pps > 0 ? u.pps : FAILOVER_PPS;
        for (const [a, b] of r.flows.find((x) => x.flow === rxFlow)?.gaps ?? []) {
          process.stderr.write(`    rx gap ${b - a + 1} frames sent at ~${(tSend + (a * 1000) / pps - from - 20).toFixed(1)} ms\n`);
        }
      }
      if (tRemoved === null || tUp === null || tTap === null || tVf === null) failures++;
      if (tRemoved !== null && tTap !== null) gap.push(tTap - tRemoved);
      const sw = r.events.find((e) => e.type === 'tx-switch' && tRemoved !== null && e.at >= tRemoved - 50 && e.text.includes('-> net_tap'));
      if (sw !== undefined && tRemoved !== null) detect.push(sw.at - tRemoved);
      if (tUp !== null && tVf !== null) back.push(tVf - tUp);
      rxLost.push(u.sent - rxUnique(r, rxFlow));
      // Where the unicast gaps fall: the peer paces from its start, so sequence s left it at about tSend + s / rate.
      const split = splitGaps(r.flows.find((f) => f.flow === rxFlow)?.gaps ?? [], tSend, u.pps > 0 ? u.pps : FAILOVER_PPS, tRemoved, tUp);
      rxLostRemoval.push(split.removal);
      rxLostReturn.push(split.ret);
      synLost.push(b.sent - rxUnique(r, bcFlow));
      txLost.push(txAccepted(r, txFlow) - flowCount(c, txFlow));
      dupes.push((r.flows.find((f) => f.flow === rxFlow)?.duplicates ?? 0) + (c.flows.find((f) => f.flow === txFlow)?.duplicates ?? 0));
      env.log(
        `  removal ${i + 1}/${removals}: gap ${fmt(tRemoved, tTap)} ms, back on VF ${fmt(tUp, tVf)} ms after link up; lost rx ${rxLost.at(-1) ?? '-'} (of ${u.sent}), tx ${txLost.at(-1) ?? '-'} (of ${txAccepted(r, txFlow)}), broadcast ${synLost.at(-1) ?? '-'}`,
      );
    }
    await ep.child.stop();
  } catch (e) {
    env.missing.push(`failover: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    mon.close();
    await peer?.close().catch(() => undefined);
    await ep?.close().catch(() => undefined);
    await restoreVf(env);
  }
  const note = failures > 0 ? [`${failures} removal(s) without a complete set of times`] : [];
  const f = (variant: string, key: string, metric: string, unit: string, s: number[], notes: string[] = []): void => {
    env.figures.push(makeFigure({ section: 'failover', subject: 'vdev', variant, key, metric, unit, better: 'lower' }, s, [...notes, ...note]));
  };
  f('removal', 'gap_ms', 'VF removed -> first Tx on TAP', 'ms', gap, ['rtnetlink DELLINK seen -> first accepted burst on the TAP']);
  f('removal', 'switch_ms', 'VF removed -> fail-safe switched Tx', 'ms', detect, ['tx-switch event; negative: the link went down before the DELLINK']);
  f('return', 'switch_back_ms', 'VF back -> Tx back on VF', 'ms', back, [`rtnetlink NEWLINK of the VF -> first accepted burst on it; includes the ${opts.settleMs} ms settle time`]);
  f('rx', 'lost', 'frames lost host->guest (unicast)', 'frames', rxLost, [`${FAILOVER_PPS} pps`]);
  f('rx_removal', 'lost', 'of which around the removal', 'frames', rxLostRemoval, ['gaps from 20 ms before to 500 ms after the DELLINK']);
  f('rx_return', 'lost', 'of which around the return', 'frames', rxLostReturn, ['gaps from 20 ms before to 1 s after the VF came back']);
  f('tx', 'lost', 'frames lost guest->host', 'frames', txLost, [`${FAILOVER_PPS} pps, accepted by txBurst but never arrived`]);
  f('synthetic', 'lost', 'frames lost on the synthetic path (broadcast)', 'frames', synLost, [`${BROADCAST_PPS} pps`]);
  f('all', 'duplicates', 'duplicate frames (both ways)', 'frames', dupes);
  env.notes.push(
    'DPDK has no failover figure to measure here: vdev_netvsc re-scans for the VF every 1 s and failsafe services sub-devices every 2 s (hotplug_poll), so DPDK switches Tx on a removal at its RMV event or the next poll (up to 2 s) and back to a returning VF after up to 1 s + 2 s = 3 s; those intervals are its figures for comparison.',
  );
}

function fmt(a: number | null, b: number | null): string {
  return a === null || b === null ? '-' : (b - a).toFixed(2);
}

/** If a scenario failed with the VF removed, put it back for the next one. */
async function restoreVf(env: Env): Promise<void> {
  const st = env.sim.netvsc(env.netvsc);
  if (st.vf === null) await env.sim.addVf(env.netvsc).catch(() => undefined);
}

/**
 * Microsoft's servicing check: T s of traffic, the VF removed for T s, back, T s more; the pps
 * after must be within ±12.5 % of the pps before, both ways. One direction at a time, so the
 * two do not compete for the same cores: Tx is the app as fast as the fail-safe takes frames
 * (nothing listens on the host ends), Rx is the vSwitch peer at its top rate (over the VF
 * while there is one). The pps of a phase is the median of its per-second rates, without the
 * first second of the phase.
 */
export async function runServicing(env: Env): Promise<void> {
  const { opts } = env;
  const T = opts.servicingS;
  env.log(`servicing: per direction ${T} s traffic, VF removed ${T} s, ${T} s after`);
  let ep: OurEndpoint | undefined;
  try {
    ep = await openStack(env, 'servicing-vdev', true);
    for (const dir of ['tx', 'rx'] as const) await servicingRun(env, ep, dir, T);
  } catch (e) {
    env.missing.push(`servicing: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await ep?.close().catch(() => undefined);
    await restoreVf(env);
  }
}

type Phase = 'before' | 'removed' | 'after';

async function servicingRun(env: Env, ep: OurEndpoint, dir: 'rx' | 'tx', T: number): Promise<void> {
  const { sim } = env;
  let peer: SimPeer | undefined;
  try {
    let send: Promise<unknown> = Promise.resolve();
    if (dir === 'tx') {
      await ep.child.tx({ size: FRAME, dstMac: PEER_MAC, ratePps: 0 });
    } else {
      peer = await sim.startPeer({ srcMac: PEER_MAC });
      await pinPeer(peer);
      await ep.child.rx({});
      send = peer.send({ count: 1_000_000_000, size: FRAME, flow: 7, maxMs: (3 * T + 1) * 1000 });
    }
    const series: { snap: Snap; sent: number; phase: Phase }[] = [];
    const t0 = performance.now();
    // What the peer sent so far (Rx runs), to tell a slow generator from a slow receiver.
    const sent = async (): Promise<number> => {
      if (peer === undefined) return 0;
      const c = await peer.counters();
      return c.ports.reduce((s, p) => s + p.vf.sent + p.synthetic.sent, 0);
    };
    const sample = async (phase: Phase, untilS: number): Promise<void> => {
      while ((performance.now() - t0) / 1000 < untilS - 0.01) {
        await sleep(1000 - ((performance.now() - t0) % 1000));
        const [snap, s] = await Promise.all([ep.snap(), sent()]);
        series.push({ snap, sent: s, phase });
      }
    };
    series.push({ snap: await ep.snap(), sent: await sent(), phase: 'before' });
    await sample('before', T);
    await sim.removeVf(env.netvsc);
    await sample('removed', 2 * T);
    await sim.addVf(env.netvsc);
    await sample('after', 3 * T);
    await ep.child.stop();
    await send.catch(() => undefined);
    // Per-second figures within a phase, without its first second (start-up, or the change itself).
    const perSecond = (phase: Phase, f: (a: (typeof series)[number], b: (typeof series)[number]) => number): number[] => {
      const out: number[] = [];
      let first = true;
      for (let i = 1; i < series.length; i++) {
        const a = series[i - 1];
        const b = series[i];
        if (b?.phase !== phase || a === undefined) continue;
        if (first) {
          first = false;
          continue;
        }
        out.push(f(a, b));
      }
      return out;
    };
    const rates = (phase: Phase): number[] => perSecond(phase, (a, b) => ((b.snap[dir] - a.snap[dir]) * 1e9) / (b.snap.tNs - a.snap.tNs));
    // Share of what the peer sent that did not arrive (the peer's and the app's clocks differ by a
    // sampling round trip, so single seconds can come out slightly negative).
    const lossPct = (phase: Phase): number[] =>
      perSecond(phase, (a, b) => {
        const s = b.sent - a.sent;
        return s > 0 ? ((s - (b.snap.rx - a.snap.rx)) / s) * 100 : Number.NaN;
      });
    const before = rates('before');
    const after = rates('after');
    const during = rates('removed');
    const mb = median(before);
    const ma = median(after);
    const ratio = mb !== null && ma !== null && mb > 0 ? ma / mb : Number.NaN;
    env.log(`  servicing ${dir}: before ${fmtK(mb)} pps, VF removed ${fmtK(median(during))} pps, after ${fmtK(ma)} pps -> ${ratio.toFixed(3)}`);
    const mk = (key: string, metric: string, unit: string, s: number[], better: 'higher' | 'none', notes: string[] = []): void => {
      env.figures.push(makeFigure({ section: 'servicing', subject: 'vdev', variant: dir, key, metric, unit, better }, s, notes));
    };
    const src = dir === 'rx' ? 'vSwitch peer at its top rate' : 'app Tx as fast as accepted';
    mk('before_kpps', `${dir} before removal`, 'kpps', before.map((v) => v / 1e3), 'higher', [src]);
    mk('removed_kpps', `${dir} while removed`, 'kpps', during.map((v) => v / 1e3), 'none');
    mk('after_kpps', `${dir} after return`, 'kpps', after.map((v) => v / 1e3), 'higher');
    mk('after_before', `${dir} after / before`, 'ratio', [ratio], 'none', ['medians of per-second rates, first second of each phase skipped']);
    if (dir === 'rx') {
      const lb = median(lossPct('before'));
      const la = median(lossPct('after'));
      env.log(`  servicing rx: receiver loss before ${lb?.toFixed(2) ?? '-'} %, after ${la?.toFixed(2) ?? '-'} % of what the peer sent`);
      mk('loss_pct', 'rx loss before / after (of peer sent)', '%', [lb ?? Number.NaN, la ?? Number.NaN], 'none', ['medians of per-second losses; both near 0: the rates follow the generator']);
    }
  } finally {
    await ep.child.stop().catch(() => undefined);
    await peer?.close().catch(() => undefined);
    await restoreVf(env);
  }
}

function fmtK(v: number | null): string {
  return v === null ? '-' : (v / 1e3).toFixed(1) + 'k';
}
