/**
 * Allocation accounting of a measuring child: GC counts by kind (PerformanceObserver 'gc') and
 * the bytes allocated on the V8 heap, computed as "heap used now + everything every GC freed"
 * (v8.GCProfiler gives the heap before and after each collection). Both are cumulative; the
 * bench subtracts two marks. What the child allocates to answer the bench (`own`: reading its
 * threads' CPU from /proc, stats, the reply) is left out: the bench polls a window 4 times a
 * second, and those snapshots (~80 KB each) had been counted as the data path's, ~0.65 B per
 * packet of the Rx-interrupt loop's 1.5.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';

interface GcHeapStats {
  readonly beforeGC?: { readonly heapStatistics?: { readonly usedHeapSize?: number } };
  readonly afterGC?: { readonly heapStatistics?: { readonly usedHeapSize?: number } };
}

export class AllocMeter {
  minor = 0;
  major = 0;
  #freed = 0;
  #own = 0;
  readonly #observer: PerformanceObserver;
  readonly #profiler: v8.GCProfiler;

  constructor() {
    this.#observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MINOR) this.minor++;
        else this.major++;
      }
    });
    this.#observer.observe({ entryTypes: ['gc'] });
    this.#profiler = new v8.GCProfiler();
    this.#profiler.start();
  }

  /** Fold in the collections since the last call (the profiler restarts so its log stays short). */
  #collect(): void {
    const data = this.#profiler.stop() as { statistics?: readonly GcHeapStats[] } | undefined;
    for (const s of data?.statistics ?? []) {
      const before = s.beforeGC?.heapStatistics?.usedHeapSize ?? 0;
      const after = s.afterGC?.heapStatistics?.usedHeapSize ?? 0;
      if (before > after) this.#freed += before - after;
    }
    this.#profiler.start();
  }

  /** Bytes allocated so far (cumulative), but for what `own` ran. */
  allocated(): number {
    return this.#total() - this.#own;
  }

  /** Run `fn` (the child's own bookkeeping) and leave what it allocates out of `allocated()`. */
  own<T>(fn: () => T): T {
    const a = this.#total();
    try {
      return fn();
    } finally {
      this.#own += this.#total() - a;
    }
  }

  #total(): number {
    this.#collect();
    return process.memoryUsage().heapUsed + this.#freed;
  }

  close(): void {
    this.#observer.disconnect();
    this.#profiler.stop();
  }
}
