import { readdirSync } from 'node:fs';
import { Mempool, registry, type EthDev, type RemovalEvent } from '@netvsc/ethdev';
import {
  SimGuest,
  TEST_HEADER_LEN,
  TRANSPARENT_VF_PREF,
  decodeTestFrame,
  integrationGate,
  writeTestFrame,
  type SimPeer,
} from '@netvsc/sim';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { afPacketPort, OWN_RX_PROG_NAME } from '../../src/index.js';

/**
 * The VF PMD in a simulated Hyper-V guest: the VF is a veth whose host end is the
 * vSwitch peer, the fixture sysfs maps its PCI address to it, and the transparent-VF
 * redirect (VF ingress -> NetVSC ingress) is on, as the kernel's enslaved VF behaves.
 */

const PEER_MAC = '00:15:5d:ff:00:01';
const SIZES = [60, 128, 512, 1024, 1514];

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!integrationGate('@netvsc/vf-pmd'))('VF PMD in the simulated guest', () => {
  let sim: SimGuest;
  let leave: () => void = () => undefined;
  let peer: SimPeer;
  let pci: string;
  let mac: string;
  let savedRoot: string | undefined;
  const open: EthDev[] = [];

  beforeAll(async () => {
    sim = await SimGuest.create({ prefix: `nvsim-vfpmd${process.pid.toString(16)}` });
    const vf = sim.netvsc(0).vf;
    if (vf === null) throw new Error('simulator started without a VF');
    pci = vf.pci;
    mac = sim.netvsc(0).mac;
    savedRoot = process.env.NETVSC_SYSFS_ROOT;
    process.env.NETVSC_SYSFS_ROOT = sim.sysfsRoot;
    peer = await sim.startPeer();
    leave = sim.enterGuest();
  });

  afterEach(() => {
    for (const d of open.splice(0)) d.close();
  });

  afterAll(async () => {
    for (const d of open.splice(0)) d.close();
    leave();
    if (savedRoot === undefined) delete process.env.NETVSC_SYSFS_ROOT;
    else process.env.NETVSC_SYSFS_ROOT = savedRoot;
    await sim.destroy();
  });

  async function port(devargs: string, nbQueues = 1, pool = new Mempool({ size: 4096 }), nbTx = nbQueues): Promise<{ dev: EthDev; pool: Mempool }> {
    const dev = await registry.probe(devargs);
    open.push(dev);
    dev.configure(nbQueues, nbTx, { rmv: true, rxqIntr: true });
    for (let q = 0; q < nbQueues; q++) dev.rxQueueSetup(q, { mempool: pool });
    for (let q = 0; q < nbTx; q++) dev.txQueueSetup(q, { mempool: pool });
    dev.start();
    return { dev, pool };
  }

  /** Receive test frames of `flow` until `want` arrived or `ms` passed; sleeps in rxQueueWait when idle. */
  async function receive(dev: EthDev, pool: Mempool, flow: number, want: number, ms: number, queues = 1): Promise<{ seqs: number[]; lengths: number[]; perQueue: number[]; other: number }> {
    const out = new Uint32Array(64);
    const seqs: number[] = [];
    const lengths: number[] = [];
    const perQueue = new Array<number>(queues).fill(0);
    let other = 0;
    const end = performance.now() + ms;
    while (seqs.length < want && performance.now() < end) {
      let got = 0;
      for (let q = 0; q < queues; q++) {
        const n = dev.rxBurst(q, out, 64);
        got += n;
        for (let i = 0; i < n; i++) {
          const m = out[i]!;
          const f = decodeTestFrame(pool.data(m));
          if (f?.flow === flow) {
            seqs.push(f.seq);
            lengths.push(f.length);
            perQueue[q]!++;
          } else {
            other++;
          }
          pool.free(m);
        }
      }
      if (got === 0) await dev.rxQueueWait(0, 5);
    }
    return { seqs, lengths, perQueue, other };
  }

  it('registers as the PCI bus default and as net_af_packet', () => {
    expect(registry.pciDriverNames()).toContain('net_vf_pmd');
    expect(registry.findVdevDriver('net_af_packet0')?.name).toBe('net_af_packet');
    expect(registry.findVdevDriver('eth_af_packet1')?.name).toBe('net_af_packet');
  });

  it('resolves the PCI address through the fixture sysfs and opens the VF netdev', async () => {
    const { dev } = await port(`${pci},mac=${mac}`);
    const info = dev.infoGet();
    expect(info).toMatchObject({ driverName: 'net_vf_pmd', ifName: sim.netvsc(0).vf?.name, pciAddr: pci, capa: { rmv: true, rxqIntr: true } });
    expect(dev.macAddrGet()).toBe(mac);
    expect(dev.linkGet().up).toBe(true);
    expect(dev.getMtu()).toBe(1500);
  });

  it('Rx: numbered frames of every size up to the MTU, from the vSwitch over the VF, none lost', async () => {
    const { dev, pool } = await port(`${pci},mac=${mac},own_rx=1`);
    for (const [i, size] of SIZES.entries()) {
      const flow = 100 + i;
      const sending = peer.send({ count: 500, size, flow, firstSeq: 0, ratePps: 20_000, via: 'vf' });
      const r = await receive(dev, pool, flow, 500, 10_000);
      const sent = await sending;
      expect(sent.vf).toBe(500);
      expect(r.seqs).toEqual(Array.from({ length: 500 }, (_, s) => s));
      expect(new Set(r.lengths)).toEqual(new Set([size]));
    }
    expect(dev.statsGet().imissed).toBe(0);
  });

  it('Tx: numbered frames of every size up to the MTU reach the vSwitch over the VF, none lost', async () => {
    const { dev, pool } = await port(`${pci},mac=${mac}`);
    await peer.reset();
    const ids = new Uint32Array(32);
    let seq = 0;
    const total = SIZES.length * 500;
    for (const size of SIZES) {
      for (let k = 0; k < 500; k += 25) {
        for (let i = 0; i < 25; i++) {
          const m = pool.alloc();
          pool.dataLen[m] = size;
          pool.buf.fill(0, pool.dataOffset(m) + TEST_HEADER_LEN, pool.dataOffset(m) + size);
          writeTestFrame(pool.buf, pool.dataOffset(m), { dst: PEER_MAC, src: mac, flow: 7, seq: seq++, size });
          ids[i] = m;
        }
        let sent = 0;
        while (sent < 25) {
          sent += dev.txBurst(0, ids, 25 - sent, sent);
          if (sent < 25) await tick(1);
        }
        await tick(1); // ~25 frames per ms: a moderate rate
      }
    }
    const c = await peer.waitFor((x) => (x.flows.find((f) => f.flow === 7)?.unique ?? 0) >= total, 10_000);
    const f = c.flows.find((x) => x.flow === 7);
    expect(f).toMatchObject({ unique: total, duplicates: 0, maxSeq: total - 1 });
    expect(c.ports[0]?.vf.received).toBe(total);
    expect(c.ports[0]?.synthetic.received).toBe(0);
    expect(pool.inUse()).toBe(0);
    const st = dev.statsGet();
    expect(st.opackets).toBe(total);
    expect(st.oerrors).toBe(0);
  });

  it('Tx on a queue without an Rx ring (more Tx than Rx queues)', async () => {
    const { dev, pool } = await port(`${pci},mac=${mac},qpairs=2`, 1, new Mempool({ size: 256 }), 2);
    await peer.reset();
    const ids = new Uint32Array(50);
    for (let i = 0; i < 50; i++) {
      const m = pool.alloc();
      pool.dataLen[m] = 100;
      pool.buf.fill(0, pool.dataOffset(m), pool.dataOffset(m) + 100);
      writeTestFrame(pool.buf, pool.dataOffset(m), { dst: PEER_MAC, src: mac, flow: 8, seq: i, size: 100 });
      ids[i] = m;
    }
    expect(dev.txBurst(1, ids, 50)).toBe(50);
    const c = await peer.waitFor((x) => (x.flows.find((f) => f.flow === 8)?.unique ?? 0) >= 50, 5000);
    expect(c.flows.find((f) => f.flow === 8)).toMatchObject({ unique: 50, duplicates: 0 });
    expect(dev.statsGet().qOpackets).toEqual([0, 50]);
  });

  it('own_rx: a frame the PMD received never reaches the NetVSC; without it the kernel passes it on', async () => {
    const netvscName = sim.netvsc(0).name;
    const { dev: nv, pool: nvPool } = await port(`net_af_packet_nv,iface=${netvscName}`);
    const { dev: vf, pool: vfPool } = await port(`${pci},mac=${mac},own_rx=1`);
    const filters = await sim.ingressFilters(sim.netvsc(0).vf?.name ?? '');
    expect(filters).toMatch(new RegExp(`pref 1 bpf .*${OWN_RX_PROG_NAME}`));
    expect(filters).toContain(`pref ${TRANSPARENT_VF_PREF} u32`);
    expect(afPacketPort(vf)?.ownRx?.pref).toBeLessThan(TRANSPARENT_VF_PREF);

    let sending = peer.send({ count: 300, size: 200, flow: 20, firstSeq: 0, ratePps: 20_000, via: 'vf' });
    expect((await receive(vf, vfPool, 20, 300, 10_000)).seqs.length).toBe(300);
    await sending;
    expect((await receive(nv, nvPool, 20, 1, 300)).seqs).toEqual([]);

    // Take the filter away: the transparent VF hands every frame to the NetVSC as well.
    vf.stop();
    expect(await sim.ingressFilters(sim.netvsc(0).vf?.name ?? '')).not.toContain(OWN_RX_PROG_NAME);
    sending = peer.send({ count: 300, size: 200, flow: 21, firstSeq: 0, ratePps: 20_000, via: 'vf' });
    expect((await receive(nv, nvPool, 21, 300, 10_000)).seqs.length).toBe(300);
    await sending;
  });

  it('multi-queue: PACKET_FANOUT spreads one stream over every queue, nothing lost or doubled', async () => {
    const { dev, pool } = await port(`${pci},mac=${mac},qpairs=4,fanout_mode=lb`, 4, new Mempool({ size: 8192 }));
    const sending = peer.send({ count: 4000, size: 100, flow: 30, firstSeq: 0, ratePps: 40_000, via: 'vf' });
    const r = await receive(dev, pool, 30, 4000, 15_000, 4);
    await sending;
    expect(r.seqs.length).toBe(4000);
    expect(new Set(r.seqs).size).toBe(4000);
    for (const n of r.perQueue) expect(n).toBeGreaterThan(0);
    expect(dev.statsGet().qIpackets.filter((n) => n > 0).length).toBe(4);
  });

  it('VF removed mid-traffic: one removal event, no exception, bounded time; close releases everything; re-opened after re-add', async () => {
    const fdsBefore = fdCount();
    const { dev, pool } = await port(`${pci},mac=${mac},own_rx=1,qpairs=2`, 2);
    const removals: RemovalEvent[] = [];
    dev.on('rmv', (e) => removals.push(e));
    const sending = peer.send({ count: 200_000, size: 300, flow: 40, firstSeq: 0, ratePps: 20_000, maxMs: 6000 });
    const out = new Uint32Array(64);
    const ids = new Uint32Array(16);
    let removedAt = 0;
    let rxAfter = 0;
    let txAfter = 0;
    let errors = 0;
    const loop = (async () => {
      const end = performance.now() + 5000;
      while (performance.now() < end && (removals.length === 0 || performance.now() - removedAt < 300)) {
        try {
          for (let q = 0; q < 2; q++) {
            const n = dev.rxBurst(q, out, 64);
            pool.freeBulk(out, n);
            if (removals.length > 0) rxAfter += n;
          }
          if (!pool.allocBulk(ids, 16)) throw new Error('pool exhausted');
          for (let i = 0; i < 16; i++) {
            pool.dataLen[ids[i]!] = 300;
            writeTestFrame(pool.buf, pool.dataOffset(ids[i]!), { dst: PEER_MAC, src: mac, flow: 41, seq: i, size: 300 });
          }
          const sent = dev.txBurst(0, ids, 16);
          pool.freeBulk(ids, 16 - sent, sent);
          if (removals.length > 0) txAfter += sent;
        } catch {
          errors++;
        }
        await tick(1);
      }
    })();
    await tick(500);
    const t0 = performance.now();
    await sim.removeVf();
    removedAt = performance.now();
    await loop;
    await sending;
    expect(errors).toBe(0);
    expect(removals.length).toBe(1);
    expect(removals[0]!.at - (performance.timeOrigin + t0)).toBeLessThan(1000);
    expect(rxAfter).toBe(0);
    expect(txAfter).toBe(0);
    expect(dev.removed).toBe(true);
    expect(pool.inUse()).toBe(0);
    dev.close();
    // A removed device's sockets close on the thread pool (ops.test.ts pins which way): wait for them.
    open.splice(open.indexOf(dev), 1);
    for (let i = 0; i < 200 && fdCount() !== fdsBefore; i++) await new Promise((r) => setTimeout(r, 10));
    expect(fdCount()).toBe(fdsBefore);

    // The address resolves to nothing now, and says so.
    await expect(registry.probe(`${pci},mac=${mac}`)).rejects.toThrow(/PCI device 0002:00:02.0 does not exist/);

    await sim.addVf();
    const again = await port(`${pci},mac=${mac},own_rx=1`);
    const sendingAgain = peer.send({ count: 200, size: 60, flow: 42, firstSeq: 0, ratePps: 20_000, via: 'vf' });
    expect((await receive(again.dev, again.pool, 42, 200, 10_000)).seqs.length).toBe(200);
    await sendingAgain;
  });

  it('bad devargs and a PCI address without a netdev give clear errors', async () => {
    await expect(registry.probe(`${pci},qpairs=0`)).rejects.toThrow(`net_vf_pmd ${pci}: qpairs=0 is out of range; accepted: 1..1024`);
    await expect(registry.probe(`${pci},framesz=3000`)).rejects.toThrow(/framesz=3000 must be a multiple of 16/);
    await expect(registry.probe(`${pci},mac=00:15:5d:00:00:99`)).rejects.toThrow(/has no network interface with MAC 00:15:5d:00:00:99/);
    await expect(registry.probe('0002:00:09.0')).rejects.toMatchObject({ code: 'ERR_NO_DEVICE', message: expect.stringMatching(/PCI device 0002:00:09.0 does not exist/) as unknown });
    await expect(registry.probe('net_af_packet9,iface=nosuchif0')).rejects.toThrow('net_af_packet9: no network interface "nosuchif0" in this network namespace');
  });
});
