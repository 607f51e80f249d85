/**
 * Summaries of repeated measurements. Every figure the bench reports is a list of samples
 * (one per repetition) reduced to min / median / max, so runs can be compared across commits
 * without trusting a single noisy sample.
 */

export interface Summary {
  /** Number of samples; 0 when the figure could not be taken. */
  readonly n: number;
  readonly min: number | null;
  readonly median: number | null;
  readonly max: number | null;
  readonly mean: number | null;
}

export const EMPTY_SUMMARY: Summary = Object.freeze({ n: 0, min: null, median: null, max: null, mean: null });

/** Finite samples only: NaN and ±Infinity are measurement failures, not values. */
function finite(samples: readonly number[]): number[] {
  return samples.filter((v) => Number.isFinite(v));
}

/** The median of a list (mean of the two middle values for an even count); null when empty. */
export function median(samples: readonly number[]): number | null {
  const s = finite(samples).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const mid = s.length >> 1;
  const hi = s[mid] ?? 0;
  return s.length % 2 === 1 ? hi : ((s[mid - 1] ?? 0) + hi) / 2;
}

export function summarize(samples: readonly number[]): Summary {
  const s = finite(samples);
  if (s.length === 0) return EMPTY_SUMMARY;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of s) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { n: s.length, min, median: median(s), max, mean: sum / s.length };
}

/**
 * Ratios of two figures taken in the same run. With as many samples on both sides, sample i
 * is paired with sample i (both were taken in the same repetition, under the same load);
 * otherwise every sample of `a` is divided by the median of `b`. A zero denominator gives no
 * sample (the ratio is undefined, not infinite).
 */
export function ratioSamples(a: readonly number[], b: readonly number[]): number[] {
  const fa = finite(a);
  const fb = finite(b);
  if (fa.length === 0 || fb.length === 0) return [];
  if (fa.length === fb.length) {
    const out: number[] = [];
    fa.forEach((v, i) => {
      const d = fb[i] ?? 0;
      if (d !== 0) out.push(v / d);
    });
    return out;
  }
  const m = median(fb);
  if (m === null || m === 0) return [];
  return fa.map((v) => v / m);
}

/** Samples per second from a count and an interval in ns; 0 for an empty interval. */
export function perSecond(count: number, ns: number): number {
  return ns > 0 ? (count * 1e9) / ns : 0;
}

/** ns of CPU per packet; null when no packet was handled (the figure does not exist). */
export function nsPerPacket(cpuNs: number, packets: number): number | null {
  return packets > 0 ? cpuNs / packets : null;
}
