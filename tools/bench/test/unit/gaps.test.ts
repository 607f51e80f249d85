import { describe, expect, it } from 'vitest';
import { splitGaps } from '../../src/gaps.js';

describe('splitGaps', () => {
  // Sent from t = 1000 ms at 1000 frames/s: sequence s left at 1000 + s ms.
  it('attributes each missing range by when it was sent', () => {
    const r = splitGaps(
      [
        [295, 304],
        [900, 949],
        [2000, 2000],
      ],
      1000,
      1000,
      1300,
      1850,
    );
    expect(r).toEqual({ removal: 10, ret: 50 });
  });

  it('counts nothing without the event times', () => {
    expect(splitGaps([[1, 5]], 0, 1000, null, null)).toEqual({ removal: 0, ret: 0 });
  });
});
