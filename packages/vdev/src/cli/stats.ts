import { Failsafe, type SubDeviceInfo } from '@netvsc/failsafe';
import type { EthDev, EthStats } from '@netvsc/ethdev';
import type { ContextInfo } from '../context.js';
import type { NetvscStack } from '../driver.js';
import type { NetvscEvent } from '../events.js';
import type { Forwarder } from '../fwd.js';
import { JSON_SCHEMA } from './json.js';

/** Counters of one sub-device slot at one instant. */
export interface SubRow {
  readonly slot: number;
  readonly name: string;
  readonly state: string;
  readonly tx: boolean;
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly arrivals: number;
  readonly removals: number;
  readonly txTimeMs: number;
}

export interface PortRow {
  readonly port: string;
  readonly stats: EthStats;
  readonly rxPps: number;
  readonly txPps: number;
  /** Name of the sub-device carrying Tx (fail-safe ports), undefined when none. */
  readonly txDevice: string | undefined;
  readonly switches: number;
  readonly fallbackMs: number;
  readonly subs: readonly SubRow[];
}

export interface StatsSnapshot {
  /** ms since the view was created. */
  readonly t: number;
  readonly ports: readonly PortRow[];
  readonly contexts: readonly ContextInfo[];
  readonly fwd: readonly { readonly port: string; readonly rx: number; readonly tx: number; readonly txDropped: number }[];
}

function subRow(s: SubDeviceInfo, fs: Failsafe): SubRow {
  // Per-slot totals (across every device plugged into the slot) come from the port's xstats.
  const x = new Map(fs.xstatsGet().map((v) => [v.name, v.value]));
  const p = `sub${s.index}_`;
  return {
    slot: s.index,
    name: s.name ?? `${s.device?.split(',')[0] ?? (s.preferred ? 'VF' : '-')} (absent)`,
    state: s.removing ? 'removing' : s.state,
    tx: s.tx,
    rxPackets: x.get(`${p}rx_packets`) ?? 0,
    txPackets: x.get(`${p}tx_packets`) ?? 0,
    arrivals: s.arrivals,
    removals: s.removals,
    txTimeMs: s.txTimeMs,
  };
}

/** Samples ports, sub-devices, contexts and the forwarder; renders them as a table or JSON. */
export class StatsView {
  readonly #stack: NetvscStack;
  readonly #fwd: Forwarder | undefined;
  readonly #t0 = performance.now();
  #prev = new Map<string, { t: number; rx: number; tx: number }>();

  constructor(stack: NetvscStack, forwarder?: Forwarder) {
    this.#stack = stack;
    this.#fwd = forwarder;
  }

  sample(): StatsSnapshot {
    const t = performance.now() - this.#t0;
    const ports = this.#stack.ports.map((p) => this.#portRow(p, t));
    const fwd = this.#fwd?.stats.map((s, i) => ({ port: this.#stack.ports[i]?.name ?? String(i), rx: s.rx, tx: s.tx, txDropped: s.txDropped })) ?? [];
    return { t, ports, contexts: this.#stack.info(), fwd };
  }

  #portRow(p: EthDev, t: number): PortRow {
    const stats = p.statsGet();
    const prev = this.#prev.get(p.name);
    const dt = prev === undefined ? 0 : (t - prev.t) / 1000;
    const rxPps = prev === undefined || dt <= 0 ? 0 : (stats.ipackets - prev.rx) / dt;
    const txPps = prev === undefined || dt <= 0 ? 0 : (stats.opackets - prev.tx) / dt;
    this.#prev.set(p.name, { t, rx: stats.ipackets, tx: stats.opackets });
    if (!(p instanceof Failsafe)) return { port: p.name, stats, rxPps, txPps, txDevice: undefined, switches: 0, fallbackMs: 0, subs: [] };
    const st = p.status();
    const subs = st.subdevices.map((s) => subRow(s, p));
    const txSub = st.subdevices.find((s) => s.tx);
    return { port: p.name, stats, rxPps, txPps, txDevice: txSub?.name, switches: st.switches, fallbackMs: st.fallbackMs, subs };
  }

  /** A compact table: one line per port, one per sub-device, one per context's VF. */
  render(s: StatsSnapshot, options: { color?: boolean } = {}): string {
    const bold = (x: string): string => (options.color ? `\x1b[1m${x}\x1b[0m` : x);
    const n = (v: number): string => Math.round(v).toLocaleString('en-US');
    const lines: string[] = [];
    lines.push(bold(`-- statistics at ${(s.t / 1000).toFixed(1)} s ${'-'.repeat(40)}`));
    const rows: string[][] = [['port / sub-device', 'state', 'rx-pkts', 'rx-pps', 'tx-pkts', 'tx-pps', 'missed', 'errors', '']];
    for (const p of s.ports) {
      const tx = p.subs.length > 0 ? `tx via ${p.txDevice ?? 'none'}, ${p.switches} switches` : '';
      rows.push([p.port, 'port', n(p.stats.ipackets), n(p.rxPps), n(p.stats.opackets), n(p.txPps), n(p.stats.imissed), n(p.stats.ierrors + p.stats.oerrors), tx]);
      for (const sub of p.subs) {
        rows.push([`  sub${sub.slot} ${sub.name}`, sub.state, n(sub.rxPackets), '', n(sub.txPackets), '', '', '', `plugged ${sub.arrivals}x, removed ${sub.removals}x${sub.tx ? '  <- tx' : ''}`]);
      }
    }
    const widths: number[] = [];
    for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
    const left = new Set([0, 1, 8]);
    for (const r of rows) lines.push(r.map((c, i) => (left.has(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd());
    for (const c of s.contexts) {
      const vf = c.vf ? `${c.vf.name} ${c.vf.pci}${c.announced === null ? ' (settling)' : ''}` : 'none';
      lines.push(`${c.name} ${c.ifName}: VF ${vf}; arrivals ${c.counters.arrivals}, removals ${c.counters.removals}, bounced ${c.counters.bounced}, pipe writes ${c.counters.pipeWrites}`);
    }
    return `${lines.join('\n')}\n`;
  }

  /** The `--json-stats` document (schema 1). */
  json(s: StatsSnapshot, events: readonly NetvscEvent[]): unknown {
    return {
      schema: JSON_SCHEMA,
      elapsedMs: Math.round(s.t),
      ports: s.ports.map((p) => ({
        name: p.port,
        ipackets: p.stats.ipackets,
        opackets: p.stats.opackets,
        ibytes: p.stats.ibytes,
        obytes: p.stats.obytes,
        imissed: p.stats.imissed,
        ierrors: p.stats.ierrors,
        oerrors: p.stats.oerrors,
        rxNombuf: p.stats.rxNombuf,
        rxPps: Math.round(p.rxPps),
        txPps: Math.round(p.txPps),
        txDevice: p.txDevice ?? null,
        txSwitches: p.switches,
        fallbackMs: Math.round(p.fallbackMs),
        subdevices: p.subs.map((sub) => ({ ...sub, txTimeMs: Math.round(sub.txTimeMs) })),
      })),
      contexts: s.contexts,
      forwarding: s.fwd,
      events,
    };
  }
}
