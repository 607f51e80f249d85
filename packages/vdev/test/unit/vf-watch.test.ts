import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PipeOps, WriteResult } from '../../src/native/pipe.js';
import { VfWatch, type VfWatchEvent, type VfInfo } from '../../src/vf-watch.js';

/** A pipe that records lines and can be told to refuse writes. */
class FakePipe implements PipeOps {
  readonly lines: string[] = [];
  next: WriteResult | Error | undefined;
  open(): { read: number; write: number } {
    return { read: 10, write: 11 };
  }
  write(_fd: number, bytes: Uint8Array): WriteResult {
    const forced = this.next;
    this.next = undefined;
    if (forced instanceof Error) throw forced;
    if (forced === 'again') return 'again';
    const text = new TextDecoder().decode(bytes);
    if (typeof forced === 'number') {
      this.lines.push(text.slice(0, forced));
      return forced;
    }
    this.lines.push(text);
    return bytes.length;
  }
  close(): void {
    /* nothing to release */
  }
}

const VF: VfInfo = { name: 'enP2s2', index: 5, pci: '0002:00:02.0' };
const VF2: VfInfo = { name: 'enP3s3', index: 9, pci: '0003:00:02.0' };

function make(settleMs: number): { watch: VfWatch; pipe: FakePipe; events: VfWatchEvent[]; bound: string[] } {
  const pipe = new FakePipe();
  const events: VfWatchEvent[] = [];
  const bound: string[] = [];
  let t = 0;
  const watch = new VfWatch(11, pipe, {
    settleMs,
    line: (vf) => `${vf.pci},mac=00:15:5d:10:00:01`,
    onEvent: (e) => events.push(e),
    beforeAnnounce: (vf) => bound.push(vf.pci),
    now: () => (t += 1),
  });
  return { watch, pipe, events, bound };
}

describe('VfWatch', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('announces a VF only after it stayed for the settle time', () => {
    const { watch, pipe, events } = make(200);
    watch.observe(VF);
    expect(pipe.lines).toEqual([]);
    expect(watch.settling).toBe(true);
    vi.advanceTimersByTime(199);
    expect(pipe.lines).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(pipe.lines).toEqual(['0002:00:02.0,mac=00:15:5d:10:00:01\n']);
    expect(watch.announced).toBe('0002:00:02.0');
    expect(events.map((e) => e.type)).toEqual(['vf-seen', 'vf-announced']);
  });

  it('announces at once with a settle time of 0 and binds before writing', () => {
    const { watch, pipe, bound } = make(0);
    watch.observe(VF);
    expect(pipe.lines).toHaveLength(1);
    expect(bound).toEqual(['0002:00:02.0']);
  });

  it('writes the pipe once per arrival, not on every observation', () => {
    const { watch, pipe } = make(0);
    for (let i = 0; i < 100; i++) watch.observe(VF);
    expect(pipe.lines).toHaveLength(1);
    expect(watch.counters.pipeWrites).toBe(1);
  });

  it('never debounces a removal and counts a bounce that never got announced', () => {
    const { watch, pipe, events } = make(200);
    watch.observe(VF);
    vi.advanceTimersByTime(50);
    watch.observe(null);
    expect(events.at(-1)).toMatchObject({ type: 'vf-removed', announced: false });
    vi.advanceTimersByTime(1000);
    expect(pipe.lines).toEqual([]);
    expect(watch.counters).toMatchObject({ arrivals: 1, removals: 1, bounced: 1, pipeWrites: 0 });
  });

  it('announces a VF again when it returns at the same address', () => {
    const { watch, pipe } = make(0);
    watch.observe(VF);
    watch.observe(null);
    watch.observe(VF);
    expect(pipe.lines).toHaveLength(2);
    expect(watch.counters).toMatchObject({ arrivals: 2, removals: 1 });
  });

  it('treats a new address without a gap as a removal plus an arrival', () => {
    const { watch, pipe, events } = make(0);
    watch.observe(VF);
    watch.observe(VF2);
    expect(pipe.lines.map((l) => l.split(',')[0])).toEqual(['0002:00:02.0', '0003:00:02.0']);
    expect(events.map((e) => e.type)).toEqual(['vf-seen', 'vf-announced', 'vf-removed', 'vf-seen', 'vf-announced']);
  });

  it('reports a renamed VF without writing the pipe', () => {
    const { watch, pipe, events } = make(0);
    watch.observe(VF);
    watch.observe({ ...VF, name: 'eth9' });
    expect(pipe.lines).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'vf-renamed', from: 'enP2s2' });
    expect(watch.current?.name).toBe('eth9');
  });

  it('retries at the next observation when the pipe is full', () => {
    const { watch, pipe, events } = make(0);
    pipe.next = 'again';
    watch.observe(VF);
    expect(watch.announced).toBeNull();
    expect(events.at(-1)?.type).toBe('pipe-error');
    watch.observe(VF);
    expect(watch.announced).toBe('0002:00:02.0');
    expect(watch.counters).toMatchObject({ pipeFull: 1, pipeWrites: 1 });
  });

  it('terminates a short write with a newline and retries', () => {
    const { watch, pipe } = make(0);
    pipe.next = 4;
    watch.observe(VF);
    expect(pipe.lines).toEqual(['0002', '\n']);
    watch.observe(VF);
    expect(pipe.lines.at(-1)).toBe('0002:00:02.0,mac=00:15:5d:10:00:01\n');
  });

  it('reports a write error as an event instead of throwing', () => {
    const { watch, pipe, events } = make(0);
    pipe.next = new Error('EBADF');
    expect(() => {
      watch.observe(VF);
    }).not.toThrow();
    expect(events.at(-1)).toMatchObject({ type: 'pipe-error', error: 'EBADF' });
    expect(watch.counters.pipeErrors).toBe(1);
  });

  it('stops announcing after close', () => {
    const { watch, pipe } = make(100);
    watch.observe(VF);
    watch.close();
    vi.advanceTimersByTime(500);
    watch.observe(VF2);
    expect(pipe.lines).toEqual([]);
  });

  it('keeps monotonic counters over many flaps', () => {
    const { watch } = make(0);
    let last = 0;
    for (let i = 0; i < 20; i++) {
      watch.observe(VF);
      watch.observe(null);
      expect(watch.counters.removals).toBeGreaterThan(last);
      last = watch.counters.removals;
    }
    expect(watch.counters).toMatchObject({ arrivals: 20, removals: 20, pipeWrites: 20 });
  });
});

describe('VfWatch immediate observations', () => {
  it('announces a VF present at creation without waiting for the settle time', () => {
    const { watch, pipe } = make(10_000);
    watch.observe(VF, { immediate: true });
    expect(pipe.lines).toHaveLength(1);
  });
});
