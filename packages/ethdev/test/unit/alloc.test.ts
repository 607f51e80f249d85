import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { Mempool, createRingPair } from '../../src/index.js';

/**
 * Zero allocation per packet in steady state: forward a million packets through a ring
 * pair and count young-generation collections. Short-lived garbage never shows in heap
 * size, but even 16 bytes per packet (16 MB here) fills the nursery and forces scavenges;
 * a loop that allocates nothing triggers none.
 */
describe('steady state allocates nothing per packet', () => {
  it('1M forwarded packets trigger no scavenge and no heap growth', async () => {
    const [a, b] = createRingPair('alloc_a', 'alloc_b', { ringSize: 512 });
    const pool = new Mempool({ size: 2048, dataRoomSize: 256 });
    for (const d of [a.dev, b.dev]) {
      d.configure(1, 1);
      d.rxQueueSetup(0, { mempool: pool });
      d.txQueueSetup(0, { mempool: pool });
      d.start();
    }
    const burst = new Uint32Array(32);
    const rx = new Uint32Array(32);
    const loop = (packets: number): void => {
      for (let done = 0; done < packets; ) {
        if (!pool.allocBulk(burst, 32)) throw new Error('pool exhausted: a leak in the loop');
        for (let i = 0; i < 32; i++) {
          const m = burst[i] ?? 0;
          pool.dataLen[m] = 64;
        }
        const sent = a.dev.txBurst(0, burst, 32);
        if (sent < 32) pool.freeBulk(burst, 32 - sent, sent);
        const got = b.dev.rxBurst(0, rx, 32);
        pool.freeBulk(rx, got);
        done += got;
      }
    };
    loop(200_000); // warm up: JIT, stats arrays, hidden classes
    expect(global.gc, 'run with --expose-gc (vitest.config.ts execArgv)').toBeTypeOf('function');
    global.gc?.();
    let scavenges = 0;
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
      }
    });
    obs.observe({ entryTypes: ['gc'] });
    const before = process.memoryUsage().heapUsed;
    loop(1_000_000);
    const grown = process.memoryUsage().heapUsed - before;
    await new Promise((r) => setTimeout(r, 20)); // gc entries are delivered asynchronously
    obs.disconnect();
    a.dev.close();
    b.dev.close();
    expect(pool.inUse()).toBe(0);
    expect(scavenges).toBe(0);
    // JIT code and feedback may still land on the heap; one object per packet would be >= 16 MB.
    expect(grown).toBeLessThan(1024 * 1024);
  });
});
