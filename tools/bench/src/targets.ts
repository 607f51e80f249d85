/**
 * The benchmark issue's targets, as data, and their evaluation against the figures of one run.
 * Every target judges one statistic of one figure (ratios are figures too, computed from the
 * same run), so a target is never judged against a number from another machine or day.
 */
import type { Comparison, Figure, TargetResult } from './schema.js';

export interface Condition {
  readonly figure: string;
  readonly stat: 'min' | 'median' | 'max';
  readonly op: Comparison;
  readonly threshold: number;
}

export interface TargetSpec extends Condition {
  readonly id: string;
  readonly description: string;
  /**
   * A second way to meet the target, with the reason shown when it is the one that holds (a
   * rate ratio below 1 is still met when our receiver took every frame the generator sent:
   * nothing can receive more than is sent).
   */
  readonly orElse?: Condition & { readonly note: string };
  /**
   * Figures that put the value in scale, each quoted in the note when the target is missed and
   * the figure was taken (the CPU an idle process is charged when woken as often as the
   * receiver; the same receiver woken less often).
   */
  readonly context?: readonly Context[];
}

export interface Context {
  readonly figure: string;
  readonly stat: 'min' | 'median' | 'max';
  readonly label: string;
  readonly unit: string;
}

export interface TargetOptions {
  readonly sizes: readonly number[];
  /** The vdev's VF settle time in this run (ms): the switch-back target allows it on top of 100 ms. */
  readonly settleMs: number;
}

/** Largest share of generated frames a receiver may miss and still count as "took them all" (%). */
export const FULL_RECEPTION_LOSS_PCT = 0.5;

function rateTarget(id: string, description: string, ratioFigure: string, threshold: number, lossFigure?: string): TargetSpec {
  return {
    id,
    description,
    figure: ratioFigure,
    stat: 'median',
    op: '>=',
    threshold,
    ...(lossFigure === undefined
      ? {}
      : {
          orElse: {
            figure: lossFigure,
            stat: 'max',
            op: '<=',
            threshold: FULL_RECEPTION_LOSS_PCT,
            note: `generator-bound: ours received every frame (loss <= ${FULL_RECEPTION_LOSS_PCT} %), so the ratio only measures the generator`,
          },
        }),
  };
}

/** The targets for the sizes measured. */
export function targetSpecs(opts: TargetOptions): TargetSpec[] {
  const out: TargetSpec[] = [];
  for (const s of opts.sizes) {
    out.push(
      rateTarget(`vf-rx-vs-dpdk-${s}`, `vf-pmd Rx rate >= 1.0x DPDK net_af_packet (${s} B)`, `overhead.vf-pmd-vs-dpdk-af_packet.rx${s}.rate_ratio`, 1, `rx.vf-pmd.${s}.loss_pct`),
      rateTarget(`vf-tx-vs-dpdk-${s}`, `vf-pmd Tx rate >= 1.0x DPDK net_af_packet (${s} B)`, `overhead.vf-pmd-vs-dpdk-af_packet.tx${s}.rate_ratio`, 1),
      rateTarget(`tap-rx-vs-dpdk-${s}`, `tap Rx rate >= 1.0x DPDK net_tap (${s} B)`, `overhead.tap-vs-dpdk-tap.rx${s}.rate_ratio`, 1, `rx.tap.${s}.loss_pct`),
      rateTarget(`tap-tx-vs-dpdk-${s}`, `tap Tx rate >= 1.0x DPDK net_tap (${s} B)`, `overhead.tap-vs-dpdk-tap.tx${s}.rate_ratio`, 1),
      // Fail-safe against the VF PMD measured at once (paired.ts): one after the other, the two
      // windows' generator rates and this VM's speed differ more than the 5 % judged here.
      rateTarget(`failsafe-rx-rate-${s}`, `failsafe(VF) Rx rate at most 5 % below the VF PMD alone (${s} B, both at once)`, `overhead.failsafe-vs-vf-pmd.rx${s}-concurrent.rate_ratio`, 0.95),
      rateTarget(`failsafe-tx-rate-${s}`, `failsafe(VF) Tx rate at most 5 % below the VF PMD alone (${s} B, both at once)`, `overhead.failsafe-vs-vf-pmd.tx${s}-concurrent.rate_ratio`, 0.95),
      {
        id: `failsafe-rx-cpu-${s}`,
        description: `failsafe(VF) Rx CPU/packet at most 5 % above the VF PMD alone (${s} B, both at once)`,
        figure: `overhead.failsafe-vs-vf-pmd.rx${s}-concurrent.cpu_ratio`,
        stat: 'median',
        op: '<=',
        threshold: 1.05,
        // The method's own spread (full runs): what a 5 % bound can be judged against.
        context: [{ figure: `overhead.vf-pmd-vs-vf-pmd.rx${s}-concurrent.cpu_ratio`, stat: 'median', label: 'the VF PMD against itself, same method:', unit: 'x' }],
      },
      {
        id: `failsafe-tx-cpu-${s}`,
        description: `failsafe(VF) Tx CPU/packet at most 5 % above the VF PMD alone (${s} B, both at once)`,
        figure: `overhead.failsafe-vs-vf-pmd.tx${s}-concurrent.cpu_ratio`,
        stat: 'median',
        op: '<=',
        threshold: 1.05,
      },
    );
  }
  const small = opts.sizes.includes(64) ? 64 : (opts.sizes[0] ?? 64);
  // Every size: full-size frames fill the ring ~10x faster per packet, so that is where a
  // sleeping receiver's ring overflows first (the 4 MiB default did, at 1500 B only).
  for (const s of opts.sizes) {
    out.push({
      id: s === small ? 'vf-rx-zero-drops' : `vf-rx-zero-drops-${s}`,
      description: `vf-pmd: zero receiver drops at the generator's maximum (${s} B)`,
      figure: `rx.vf-pmd.${s}.drops`,
      stat: 'max',
      op: '<=',
      threshold: 0,
    });
  }
  out.push(
    {
      id: 'vf-rx-cpu',
      description: `vf-pmd Rx CPU <= 100 ns/packet in Rx-interrupt mode (${small} B)`,
      figure: `rx.vf-pmd.${small}.cpu_ns`,
      stat: 'median',
      op: '<=',
      threshold: 100,
      context: [
        { figure: `rx.vf-pmd.${small}.idle_twin_ns`, stat: 'median', label: 'an idle process woken as often is charged', unit: 'ns/packet' },
        { figure: `rx.vf-pmd-tov4.${small}.cpu_ns`, stat: 'median', label: 'waking ~4x less (blocksz=262144,blk_tov=4: up to 4 ms latency) it takes', unit: 'ns/packet' },
      ],
    },
    {
      id: 'ceiling-failsafe',
      description: `receiver ceiling through failsafe rxBurst >= 10 Mpps (${small} B, pre-filled VF ring, per CPU-second)`,
      figure: `ceiling.failsafe.${small}.cpu_mpps`,
      stat: 'median',
      op: '>=',
      threshold: 10,
    },
    {
      id: 'failover-gap',
      description: 'failover: first Tx on the TAP within 5 ms of the VF removal (worst of all removals)',
      figure: 'failover.vdev.removal.gap_ms',
      stat: 'max',
      op: '<=',
      threshold: 5,
    },
    {
      id: 'failover-switch-back',
      description: `failover: Tx back on the VF within 100 ms of its link coming up + settle ${opts.settleMs} ms (worst)`,
      figure: 'failover.vdev.return.switch_back_ms',
      stat: 'max',
      op: '<=',
      threshold: 100 + opts.settleMs,
    },
    {
      id: 'failover-synthetic-loss',
      description: 'failover: no loss on the synthetic path while switching (broadcast flow, all removals)',
      figure: 'failover.vdev.synthetic.lost',
      stat: 'max',
      op: '<=',
      threshold: 0,
    },
    {
      // Not in the list, but "the application never notices" includes a frame twice.
      id: 'failover-duplicates',
      description: 'failover: no frame delivered twice, either way (all removals)',
      figure: 'failover.vdev.all.duplicates',
      stat: 'max',
      op: '<=',
      threshold: 0,
    },
    {
      id: 'alloc-rx-burst',
      description: 'zero allocations per packet: failsafe(VF) rxBurst path (< 1 byte/packet, pre-filled ring)',
      figure: 'memory.failsafe.rx_burst.bytes_per_pkt',
      stat: 'max',
      op: '<=',
      threshold: 1,
    },
    {
      id: 'alloc-rx',
      description: 'zero allocations per packet in steady state: failsafe Rx-interrupt loop (< 1 byte/packet)',
      figure: 'memory.failsafe.rx.bytes_per_pkt',
      stat: 'max',
      op: '<=',
      threshold: 1,
    },
    {
      id: 'alloc-tx',
      description: 'zero allocations per packet in steady state: failsafe Tx (< 1 byte/packet)',
      figure: 'memory.failsafe.tx.bytes_per_pkt',
      stat: 'max',
      op: '<=',
      threshold: 1,
    },
    {
      id: 'servicing-rx',
      description: 'servicing recovery: Rx pps after the VF returns within ±12.5 % of before',
      figure: 'servicing.vdev.rx.after_before',
      stat: 'median',
      op: 'within',
      threshold: 0.125,
      orElse: {
        figure: 'servicing.vdev.rx.loss_pct',
        stat: 'max',
        op: '<=',
        threshold: FULL_RECEPTION_LOSS_PCT,
        note: `generator-bound: the receiver took all the peer sent before and after (loss <= ${FULL_RECEPTION_LOSS_PCT} %); the pps follows the peer`,
      },
    },
    {
      id: 'servicing-tx',
      description: 'servicing recovery: Tx pps after the VF returns within ±12.5 % of before',
      figure: 'servicing.vdev.tx.after_before',
      stat: 'median',
      op: 'within',
      threshold: 0.125,
    },
  );
  return out;
}

export function holds(op: Comparison, value: number, threshold: number): boolean {
  switch (op) {
    case '>=':
      return value >= threshold;
    case '<=':
      return value <= threshold;
    case 'within':
      return Math.abs(value - 1) <= threshold;
  }
}

function statOf(f: Figure | undefined, stat: Condition['stat']): number | null {
  return f === undefined ? null : f[stat];
}

/** Judge every target; a target whose figure is absent or empty is `not-measured`. */
function fmtContext(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}

export function evaluateTargets(figures: readonly Figure[], specs: readonly TargetSpec[]): TargetResult[] {
  const byId = new Map(figures.map((f) => [f.id, f]));
  return specs.map((t) => {
    const value = statOf(byId.get(t.figure), t.stat);
    const base = { id: t.id, description: t.description, figure: t.figure, stat: t.stat, op: t.op, threshold: t.threshold, value };
    if (value === null) return { ...base, status: 'not-measured', note: `figure ${t.figure} was not taken` };
    if (holds(t.op, value, t.threshold)) return { ...base, status: 'met', note: '' };
    const alt = t.orElse;
    if (alt !== undefined) {
      const v = statOf(byId.get(alt.figure), alt.stat);
      if (v !== null && holds(alt.op, v, alt.threshold)) return { ...base, status: 'met', note: alt.note };
    }
    const notes = [spreadNote(byId.get(t.figure), t)];
    for (const c of t.context ?? []) {
      const v = statOf(byId.get(c.figure), c.stat);
      if (v !== null) notes.push(`${c.label} ${fmtContext(v)} ${c.unit} (${c.figure})`);
    }
    return { ...base, status: 'missed', note: notes.filter((n) => n !== '').join('; ') };
  });
}

/**
 * A median missed while some of the run's rounds meet the bound: say so, with the rounds' range.
 * On this VM the rounds of a ratio spread wider than some targets' margins (the A/A pair of the
 * at-once method: 0.81-1.40 at 64 B), so such a miss is not yet a difference of the code.
 */
export function spreadNote(f: Figure | undefined, t: Condition): string {
  if (f === undefined || t.stat !== 'median' || f.samples.length < 2 || f.min === null || f.max === null) return '';
  const someMeet = f.samples.some((v) => holds(t.op, v, t.threshold));
  return someMeet ? `${f.samples.length} rounds ${fmtContext(f.min)}-${fmtContext(f.max)}: the bound is inside this run's spread` : '';
}
