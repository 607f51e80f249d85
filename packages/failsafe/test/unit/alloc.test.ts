import { PerformanceObserver, constants } from 'node:perf_hooks';
import { Mempool } from '@netvsc/ethdev';
import { describe, expect, it } from 'vitest';
import { ringName, testRegistry, probeFailsafe } from './helpers.js';

/**
 * Zero allocation per packet through the fail-safe's bursts: Tx to the preferred
 * sub-device (a loopback ring), Rx round-robin over it and an idle fallback. Even a few
 * bytes per burst would force young-generation collections over a million packets.
 */
describe('fail-safe bursts allocate nothing in steady state', () => {
  it('1M packets through txBurst + rxBurst trigger no scavenge', async () => {
    const fs = await probeFailsafe(testRegistry().registry, `net_failsafe_alloc,dev(${ringName('vf')},loopback=1),dev(${ringName('tap')},loopback=1)`);
    const pool = new Mempool({ size: 2048, dataRoomSize: 256 });
    fs.configure(1, 1);
    fs.rxQueueSetup(0, { mempool: pool });
    fs.txQueueSetup(0, { mempool: pool });
    fs.start();
    const burst = new Uint32Array(32);
    const rx = new Uint32Array(32);
    const loop = (packets: number): void => {
      for (let done = 0; done < packets; ) {
        if (!pool.allocBulk(burst, 32)) throw new Error('pool exhausted: a leak in the loop');
        for (let i = 0; i < 32; i++) pool.dataLen[burst[i] ?? 0] = 64;
        const sent = fs.txBurst(0, burst, 32);
        if (sent < 32) pool.freeBulk(burst, 32 - sent, sent);
        // Two calls: the round-robin visits the idle fallback too.
        for (let k = 0; k < 2; k++) {
          const got = fs.rxBurst(0, rx, 32);
          for (let i = 0; i < got; i++) if (pool.port[rx[i] ?? 0] !== fs.portId) throw new Error('port id not stamped');
          pool.freeBulk(rx, got);
          done += got;
        }
      }
    };
    loop(200_000);
    expect(global.gc, 'run with --expose-gc (vitest.config.ts execArgv)').toBeTypeOf('function');
    global.gc?.();
    let scavenges = 0;
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
      }
    });
    obs.observe({ entryTypes: ['gc'] });
    const before = process.memoryUsage().heapUsed;
    loop(1_000_000);
    const grown = process.memoryUsage().heapUsed - before;
    await new Promise((r) => setTimeout(r, 20));
    obs.disconnect();
    fs.close();
    expect(pool.inUse()).toBe(0);
    expect(scavenges).toBe(0);
    // JIT code and feedback vectors can land on the heap (seen up to ~380 KB when the whole suite
    // ran first); one object per packet would be >= 16 MB, and would also force scavenges.
    expect(grown).toBeLessThan(1024 * 1024);
  });
});
