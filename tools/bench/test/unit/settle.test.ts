import { afterEach, describe, expect, it, vi } from 'vitest';
import { settleHeap } from '../../src/engine.js';

const g = globalThis as { gc?: () => void };
const saved = g.gc;

afterEach(() => {
  if (saved === undefined) delete g.gc;
  else g.gc = saved;
});

describe('settleHeap', () => {
  it('runs one full collection when the child was started with --expose-gc', () => {
    const gc = vi.fn();
    g.gc = gc;
    settleHeap();
    expect(gc).toHaveBeenCalledTimes(1);
  });

  it('does nothing without it', () => {
    delete g.gc;
    expect(() => {
      settleHeap();
    }).not.toThrow();
  });
});
