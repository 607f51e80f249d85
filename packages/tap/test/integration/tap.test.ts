import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { EthDev } from '@netvsc/ethdev';
import type { RtNetlink } from '@netvsc/netlink';
import { PacketSocket, decodeTestFrame, encodeTestFrame, integrationGate, type SimGuest } from '@netvsc/sim';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TapPmd } from '../../src/index.js';
import { createSim, guestNetlink, inGuestSync, ipv4Udp, probeInGuest, receive, release, settle, startPort } from './support.js';

const run = integrationGate('@netvsc/tap integration tests');

describe.skipIf(!run)('net_tap without remote in the simulated guest', () => {
  let sim: SimGuest;
  let nl: RtNetlink;
  const ports: EthDev[] = [];

  const probe = async (devargs: string): Promise<EthDev> => {
    const dev = await probeInGuest(sim, devargs);
    ports.push(dev);
    return dev;
  };

  beforeAll(async () => {
    sim = await createSim();
    nl = guestNetlink(sim);
  }, 60_000);

  afterEach(() => {
    for (const d of ports.splice(0)) d.close();
  });

  afterAll(async () => {
    const opened = { nl: nl as RtNetlink | undefined, sim: sim as SimGuest | undefined };
    opened.nl?.close();
    await opened.sim?.destroy();
  });

  it('the kernel side of the tap and the application exchange frames; the MAC filter applies', async () => {
    const dev = await probe('net_tap0,iface=plain0,mac=02:00:00:00:00:0a');
    const pool = startPort(dev);
    const tapIndex = TapPmd.of(dev)!.ifIndex;
    expect(nl.link(tapIndex)).toMatchObject({ mac: '02:00:00:00:00:0a', up: true });
    // a frame the application writes appears at the tap's kernel side
    const sock = inGuestSync(sim, () => PacketSocket.open('plain0', { ignoreOutgoing: true }));
    try {
      const m = pool.alloc();
      pool.write(m, encodeTestFrame({ dst: '02:00:00:00:00:0b', src: '02:00:00:00:00:0a', flow: 1, seq: 1 }));
      expect(dev.txBurst(0, Uint32Array.of(m), 1)).toBe(1);
      await settle();
      let seen = 0;
      sock.receive(() => {
        seen++;
      });
      expect(seen).toBe(1);
      // and what the kernel sends out of the tap reaches the application (if for our MAC)
      sock.send(encodeTestFrame({ dst: '02:00:00:00:00:0a', src: '02:00:00:00:00:0b', flow: 2, seq: 5 }));
      sock.send(encodeTestFrame({ dst: '02:00:00:00:00:0c', src: '02:00:00:00:00:0b', flow: 2, seq: 6 }));
      const r = await receive(dev, pool, (n) => n >= 1, 1000);
      await settle();
      const more = await receive(dev, pool, () => false, 50);
      expect([...r.seqs[0]!, ...more.seqs[0]!]).toEqual([5]);
      release(pool, r);
      release(pool, more);
    } finally {
      sock.close();
    }
  });

  it('Tx through io_uring and through one writev per frame carry the same frames, in order', async () => {
    for (const [i, args] of [',tx_uring=1', ',tx_uring=0'].entries()) {
      const iface = `ring${i}`;
      const dev = await probe(`net_tap${i},iface=${iface},mac=02:00:00:00:00:0a${args}`);
      const pool = startPort(dev);
      expect(TapPmd.of(dev)!.txMode.mode).toBe(i === 0 ? 'io_uring' : 'writev');
      const sock = inGuestSync(sim, () => PacketSocket.open(iface, { ignoreOutgoing: true }));
      try {
        // 150 frames in bursts of 50: a burst spans several submissions of the 64-deep ring.
        const ids = new Uint32Array(50);
        for (let b = 0; b < 3; b++) {
          for (let k = 0; k < 50; k++) {
            const m = pool.alloc();
            pool.write(m, encodeTestFrame({ dst: '02:00:00:00:00:0b', src: '02:00:00:00:00:0a', flow: 7, seq: b * 50 + k }));
            ids[k] = m;
          }
          expect(dev.txBurst(0, ids, 50)).toBe(50);
        }
        await settle();
        const seqs: number[] = [];
        sock.receive((f, len) => {
          const t = decodeTestFrame(f, len);
          if (t?.flow === 7) seqs.push(t.seq);
        });
        expect(seqs).toEqual(Array.from({ length: 150 }, (_, s) => s));
        expect(dev.statsGet()).toMatchObject({ opackets: 150, oerrors: 0 });
        expect(pool.inUse()).toBe(1); // the Rx queue's spare
      } finally {
        sock.close();
      }
    }
  });

  it('Tx through io_uring allocates nothing per frame', async () => {
    const dev = await probe('net_tap0,iface=ringgc,mac=02:00:00:00:00:0a');
    const pool = startPort(dev);
    expect(TapPmd.of(dev)!.txMode.mode).toBe('io_uring');
    const ids = new Uint32Array(32);
    const send = (frames: number): void => {
      for (let done = 0; done < frames; ) {
        if (!pool.allocBulk(ids, 32)) throw new Error('pool exhausted: a leak');
        for (let k = 0; k < 32; k++) pool.dataLen[ids[k]!] = 60;
        const sent = dev.txBurst(0, ids, 32);
        if (sent < 32) pool.freeBulk(ids, 32 - sent, sent);
        done += 32;
      }
    };
    send(50_000);
    let scavenges = 0;
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
      }
    });
    obs.observe({ entryTypes: ['gc'] });
    send(300_000);
    await new Promise((r) => setTimeout(r, 20));
    obs.disconnect();
    expect(scavenges).toBe(0);
  });

  it('close deletes the tap; persist keeps it', async () => {
    const dev = await probe('net_tap0,iface=gone0');
    startPort(dev);
    const index = TapPmd.of(dev)!.ifIndex;
    dev.close();
    expect(nl.link(index)).toBeNull();
    const kept = await probe('net_tap1,iface=kept0,persist');
    kept.close();
    expect(nl.link('kept0')?.tun).toMatchObject({ persist: true, numQueues: 0 });
    nl.deleteLink('kept0');
  });
});

describe.skipIf(!run)('net_tun (L3) in the simulated guest', () => {
  it('carries IP packets without an Ethernet header both ways', async () => {
    const sim = await createSim();
    const nl = guestNetlink(sim);
    let dev: EthDev | undefined;
    let sock: Socket | undefined;
    try {
      dev = await probeInGuest(sim, 'net_tun0,iface=l3tun0');
      const pool = startPort(dev);
      const tun = nl.link('l3tun0')!;
      expect(tun.tun).toMatchObject({ type: 'tun', pi: false });
      nl.addAddress({ index: tun.index, address: '10.88.0.1', prefixlen: 24 });
      sock = await sim.inGuest(async () => {
        const s = createSocket('udp4');
        s.bind(6666, '10.88.0.1');
        await once(s, 'listening');
        return s;
      });
      const got: Buffer[] = [];
      sock.on('message', (m) => got.push(m));
      // application -> kernel: an IPv4/UDP packet to the tun's own address
      const m = pool.alloc();
      pool.write(m, ipv4Udp('10.88.0.2', '10.88.0.1', 7000, 6666));
      expect(dev.txBurst(0, Uint32Array.of(m), 1)).toBe(1);
      await settle(200);
      expect(got).toHaveLength(1);
      // kernel -> application: a datagram routed out of the tun arrives as a bare IPv4 packet
      sock.send(Buffer.from('hello'), 6667, '10.88.0.9');
      const out = new Uint32Array(8);
      let n = 0;
      for (let i = 0; i < 100 && n === 0; i++) {
        n = dev.rxBurst(0, out, 8);
        if (n === 0) await settle(10);
      }
      expect(n).toBe(1);
      const pkt = pool.data(out[0]!);
      expect(pkt[0]! >> 4).toBe(4);
      expect([...pkt.subarray(16, 20)]).toEqual([10, 88, 0, 9]);
      pool.free(out[0]!);
    } finally {
      sock?.close();
      dev?.close();
      nl.close();
      await sim.destroy();
    }
  }, 60_000);
});
