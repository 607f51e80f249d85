/**
 * Ratio figures, each from two figures of the same run: our PMDs against DPDK's on the same
 * veth with the same generator, and fail-safe against the VF PMD it wraps.
 */
import { makeFigure, type Figure } from './schema.js';
import { ratioSamples } from './stats.js';

export interface RatioDef {
  /** Subject of the ratio figure, e.g. `vf-pmd-vs-dpdk-af_packet`. */
  readonly name: string;
  readonly num: string;
  readonly den: string;
}

export const RATIOS: readonly RatioDef[] = [
  { name: 'vf-pmd-vs-dpdk-af_packet', num: 'vf-pmd', den: 'dpdk-af_packet' },
  // The same PMD with DPDK's page-sized Rx blocks (Rx only): what that block size costs.
  { name: 'vf-pmd-4k-vs-dpdk-af_packet', num: 'vf-pmd-4k', den: 'dpdk-af_packet' },
  // Rx only: 4x fewer wake-ups (256 KiB blocks, blk_tov=4) against the default, same round.
  { name: 'vf-pmd-tov4-vs-vf-pmd', num: 'vf-pmd-tov4', den: 'vf-pmd' },
  { name: 'tap-vs-dpdk-tap', num: 'tap', den: 'dpdk-tap' },
  // Tx only: the TAP with one writev per frame (tx_uring=0) as DPDK sends, and what io_uring adds.
  { name: 'tap-writev-vs-dpdk-tap', num: 'tap-writev', den: 'dpdk-tap' },
  { name: 'tap-vs-tap-writev', num: 'tap', den: 'tap-writev' },
  // Rx: the VF PMD with own_rx, as fail-safe runs it (the kernel then skips the transparent-VF path for both).
  { name: 'failsafe-vs-vf-pmd', num: 'failsafe', den: 'vf-pmd-own_rx' },
];

/**
 * rate_ratio = num rate / den rate, cpu_ratio = num CPU/packet / den CPU/packet, per direction
 * and size. Fail-safe's Tx is compared with the plain VF PMD (own_rx changes nothing on Tx).
 */
export function ratioFigures(figures: readonly Figure[], sizes: readonly number[]): Figure[] {
  const byId = new Map(figures.map((f) => [f.id, f]));
  const out: Figure[] = [];
  for (const r of RATIOS) {
    for (const dir of ['rx', 'tx'] as const) {
      for (const s of sizes) {
        const den = dir === 'tx' && r.den === 'vf-pmd-own_rx' ? 'vf-pmd' : r.den;
        for (const [key, metric, better] of [
          ['mpps', 'rate_ratio', 'higher'],
          ['cpu_ns', 'cpu_ratio', 'lower'],
        ] as const) {
          const a = byId.get(`${dir}.${r.num}.${s}.${key}`);
          const b = byId.get(`${dir}.${den}.${s}.${key}`);
          if (a === undefined || b === undefined) continue;
          const samples = ratioSamples(a.samples, b.samples);
          if (samples.length === 0) continue;
          // Only a receiver can sleep: both sides of a Tx ratio send as fast as they are let.
          const spins = (f: Figure): boolean => f.notes.some((n) => n.includes('spins'));
          const notes = dir === 'rx' && key === 'cpu_ns' && (spins(a) || spins(b)) ? ['one side spins: CPU ratio compares a sleeping and a polling receiver'] : [];
          out.push(
            makeFigure(
              { section: 'overhead', subject: r.name, variant: `${dir}${s}`, key: metric, metric: `${dir} ${key === 'mpps' ? 'rate' : 'CPU/packet'} ${r.num} / ${den}`, unit: 'x', better },
              samples,
              notes,
            ),
          );
        }
      }
    }
  }
  return out;
}
