import { describe, expect, it } from 'vitest';
import { median, nsPerPacket, perSecond, ratioSamples, summarize } from '../../src/stats.js';

describe('summarize', () => {
  it('gives min, median, max and mean of the samples', () => {
    expect(summarize([3, 1, 2])).toEqual({ n: 3, min: 1, median: 2, max: 3, mean: 2 });
  });

  it('takes the mean of the two middle values for an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('ignores NaN and infinities (failed measurements), and is empty without samples', () => {
    expect(summarize([Number.NaN, 5, Number.POSITIVE_INFINITY])).toEqual({ n: 1, min: 5, median: 5, max: 5, mean: 5 });
    expect(summarize([])).toEqual({ n: 0, min: null, median: null, max: null, mean: null });
    expect(median([Number.NaN])).toBeNull();
  });
});

describe('ratioSamples', () => {
  it('pairs samples of the same repetition when both sides have as many', () => {
    expect(ratioSamples([2, 6], [1, 3])).toEqual([2, 2]);
  });

  it('divides by the median of the other side when the counts differ', () => {
    expect(ratioSamples([2, 4, 6], [2, 4])).toEqual([2 / 3, 4 / 3, 2]);
  });

  it('drops pairs with a zero denominator instead of producing infinities', () => {
    expect(ratioSamples([1, 2], [0, 1])).toEqual([2]);
    expect(ratioSamples([1], [0])).toEqual([]);
    expect(ratioSamples([], [1])).toEqual([]);
  });
});

describe('rates', () => {
  it('converts counts over nanoseconds to per-second figures', () => {
    expect(perSecond(500, 1e9 / 2)).toBe(1000);
    expect(perSecond(5, 0)).toBe(0);
  });

  it('has no CPU per packet when no packet was handled', () => {
    expect(nsPerPacket(1000, 10)).toBe(100);
    expect(nsPerPacket(1000, 0)).toBeNull();
  });
});
