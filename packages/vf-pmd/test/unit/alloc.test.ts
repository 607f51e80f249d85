import { Mempool, QueueStats } from '@netvsc/ethdev';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { addressOf } from '../../src/native/mman.js';
import { Iovec, MmsgHdr } from '../../src/native/packet.js';
import { BlockDesc, TpStatus } from '../../src/ring.js';
import { memoryOf, RxQueue, TX_BATCH, TxQueue } from '../../src/rxtx.js';
import { fakeRing, frame, geometry, writeBlock } from './support/fake-ring.js';

/**
 * Zero allocation per packet: run a million packets through each path and count
 * young-generation collections. Even a 16-byte object per packet fills the nursery many
 * times over; a loop that allocates nothing triggers no scavenge. The fake "kernel" here
 * only flips status words, so it allocates nothing either.
 */
async function scavengesDuring(fn: () => void): Promise<number> {
  global.gc?.();
  let count = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) count++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((r) => setTimeout(r, 20));
  obs.disconnect();
  return count;
}

describe('the data path allocates nothing per packet', () => {
  it('Rx: 1M packets of mixed sizes trigger no scavenge', async () => {
    const g = geometry({ blocksz: 65536, framesz: 2048, framecnt: 256 });
    const r = fakeRing(g);
    const sizes = [60, 128, 300, 1514];
    for (let b = 0; b < g.blockNr; b++) writeBlock(r, b, Array.from({ length: 30 }, (_, i) => ({ data: frame(sizes[i % 4]!, i) })));
    const pool = new Mempool({ size: 1024 });
    const q = new RxQueue(0, { mem: r.mem, offset: 0, geometry: g }, pool, memoryOf(pool.buf), 0, new QueueStats(1, 1));
    const out = new Uint32Array(32);
    const status = new Uint32Array(r.u8.buffer);
    const loop = (packets: number): void => {
      for (let done = 0; done < packets; ) {
        for (let b = 0; b < g.blockNr; b++) status[(b * g.blockSize + BlockDesc.blockStatus) >> 2] = TpStatus.USER;
        for (;;) {
          const n = q.burst(out, 32);
          if (n === 0) break;
          pool.freeBulk(out, n);
          done += n;
        }
      }
    };
    loop(100_000);
    expect(await scavengesDuring(() => { loop(1_000_000); })).toBe(0);
    expect(pool.inUse()).toBe(0);
  });

  it('Tx: 1M packets trigger no scavenge', async () => {
    const pool = new Mempool({ size: 1024 });
    const msgs = new Uint8Array(TX_BATCH * (MmsgHdr.size + Iovec.size));
    const q = new TxQueue(0, -1, pool, addressOf(pool.buf), msgs, addressOf(msgs), new QueueStats(1, 1), (_fd, _v, n) => n, () => undefined);
    const burst = new Uint32Array(32);
    const sizes = [60, 128, 300, 1514];
    const loop = (packets: number): void => {
      for (let done = 0; done < packets; ) {
        if (!pool.allocBulk(burst, 32)) throw new Error('pool exhausted');
        for (let i = 0; i < 32; i++) pool.dataLen[burst[i]!] = sizes[i & 3]!;
        const sent = q.burst(burst, 32, 0);
        if (sent < 32) pool.freeBulk(burst, 32 - sent, sent);
        done += sent;
      }
    };
    loop(100_000);
    expect(await scavengesDuring(() => { loop(1_000_000); })).toBe(0);
    expect(pool.inUse()).toBe(0);
  });
});
