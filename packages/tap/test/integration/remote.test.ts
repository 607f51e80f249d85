import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { EthDev, LinkEvent, Mempool, RemovalEvent } from '@netvsc/ethdev';
import type { RtNetlink } from '@netvsc/netlink';
import { PacketSocket, encodeTestFrame, integrationGate, type SimGuest, type SimPeer } from '@netvsc/sim';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REMOTE_PREF_FIRST, REMOTE_PREF_LAST, TAP_PREFS, TapPmd } from '../../src/index.js';
import { errorLike } from '../support/expect.js';
import {
  createSim,
  guestNetlink,
  holdTapInChild,
  udpFrame,
  inHostSync,
  peerSendAndCount,
  probeInGuest,
  receive,
  release,
  settle,
  startPort,
  total,
  type Holder,
} from './support.js';

const run = integrationGate('@netvsc/tap remote= integration tests');

describe.skipIf(!run)('net_tap remote= in the simulated guest', () => {
  let sim: SimGuest;
  let peer: SimPeer;
  let nl: RtNetlink;
  let mac: string;
  let eth1: number;
  const ports: EthDev[] = [];
  const holders: Holder[] = [];

  const probe = async (devargs: string): Promise<EthDev> => {
    const dev = await probeInGuest(sim, devargs);
    ports.push(dev);
    return dev;
  };
  const ourPrefs = (): number[] =>
    nl
      .filters({ ifindex: eth1 })
      .filter((f) => f.pref >= REMOTE_PREF_FIRST && f.pref <= REMOTE_PREF_LAST)
      .map((f) => f.pref);
  const hasIngress = (ifindex: number): boolean => nl.qdiscs(ifindex).some((q) => q.kind === 'ingress');

  beforeAll(async () => {
    sim = await createSim();
    peer = await sim.startPeer();
    nl = guestNetlink(sim);
    mac = sim.netvsc('eth1').mac;
    eth1 = nl.ifindex('eth1');
  }, 60_000);

  afterEach(async () => {
    for (const d of ports.splice(0)) d.close();
    for (const h of holders.splice(0)) await h.kill();
    // Each test starts from a bare eth1: no ingress qdisc, no flags we set.
    for (const f of nl.filters({ ifindex: eth1 })) nl.deleteFilter({ ifindex: eth1, pref: f.pref });
    if (hasIngress(eth1)) nl.deleteIngressQdisc({ ifindex: eth1 });
    nl.setLink(eth1, { promisc: false, allmulti: false, up: true });
    for (const l of nl.links()) if (l.kind === 'tun') nl.deleteLink(l.index);
    await peer.reset();
  });

  afterAll(async () => {
    // beforeAll may have failed half-way
    const opened = { nl: nl as RtNetlink | undefined, peer: peer as SimPeer | undefined, sim: sim as SimGuest | undefined };
    opened.nl?.close();
    await opened.peer?.close();
    await opened.sim?.destroy();
  });

  it('hands unicast to the NetVSC MAC and broadcast to the application; other frames follow promiscuous/all-multicast', async () => {
    const dev = await probe('net_tap_vsc0,remote=eth1');
    const pool = startPort(dev);
    expect(ourPrefs()).toEqual([TAP_PREFS.LOCAL_MAC, TAP_PREFS.BROADCAST, TAP_PREFS.BROADCASTV6]);
    expect(await peerSendAndCount(peer, dev, pool, 'unicast')).toBe(8);
    expect(await peerSendAndCount(peer, dev, pool, 'broadcast')).toBe(8);
    expect(await peerSendAndCount(peer, dev, pool, 'multicast')).toBe(0);
    expect(await peerSendAndCount(peer, dev, pool, '02:00:00:00:00:99')).toBe(0);

    dev.allmulticastEnable();
    expect(ourPrefs()).toContain(TAP_PREFS.ALLMULTI);
    expect(await peerSendAndCount(peer, dev, pool, 'multicast')).toBe(8);
    expect(await peerSendAndCount(peer, dev, pool, '02:00:00:00:00:99')).toBe(0);
    dev.allmulticastDisable();
    expect(await peerSendAndCount(peer, dev, pool, 'multicast')).toBe(0);

    dev.promiscuousEnable();
    expect(await peerSendAndCount(peer, dev, pool, '02:00:00:00:00:99')).toBe(8);
    expect(await peerSendAndCount(peer, dev, pool, 'multicast')).toBe(8);
    // each frame exactly once even where several rules could match
    expect(await peerSendAndCount(peer, dev, pool, 'broadcast')).toBe(8);
    expect(await peerSendAndCount(peer, dev, pool, 'unicast')).toBe(8);
    dev.promiscuousDisable();
    expect(await peerSendAndCount(peer, dev, pool, '02:00:00:00:00:99')).toBe(0);
    expect(ourPrefs()).toEqual([TAP_PREFS.LOCAL_MAC, TAP_PREFS.BROADCAST, TAP_PREFS.BROADCASTV6]);
    // the kernel rules did the selecting: nothing unwanted reached the software MAC filter
    expect(dev.xstatsGet().find((x) => x.name === 'rx_mac_filter_drops')?.value).toBe(0);
  });

  it('mirrors IPv6 multicast (neighbour discovery) to the tap; the application picks its groups', async () => {
    const dev = await probe('net_tap_vsc0,remote=eth1');
    const pool = startPort(dev);
    const solicited = `33:33:ff:${mac.slice(9)}`;
    expect(await peerSendAndCount(peer, dev, pool, solicited)).toBe(0);
    expect(dev.xstatsGet().find((x) => x.name === 'rx_mac_filter_drops')?.value).toBe(8); // it did reach the tap
    dev.setMcAddrList([solicited]);
    expect(await peerSendAndCount(peer, dev, pool, solicited)).toBe(8);
    expect(await peerSendAndCount(peer, dev, pool, '33:33:00:00:00:01')).toBe(0);
    dev.allmulticastEnable();
    expect(await peerSendAndCount(peer, dev, pool, '33:33:00:00:00:01')).toBe(8);
  });

  it('steals unicast from the kernel stack (redirect) but leaves it a copy of broadcast (mirror)', async () => {
    await sim.addAddress('eth1', '10.77.0.2/24');
    const sock: Socket = await sim.inGuest(async () => {
      const s = createSocket('udp4');
      s.bind(5555);
      await once(s, 'listening');
      return s;
    });
    const got: string[] = [];
    sock.on('message', (m) => got.push(m.length === 18 ? 'udp' : 'other'));
    const host = inHostSync(sim, () => PacketSocket.open(sim.netvsc('eth1').hostSynthetic));
    try {
      host.send(udpFrame(mac, '10.77.0.2', 4000, 5555));
      await settle(200);
      expect(got).toEqual(['udp']); // the kernel receives unicast while no tap is there

      const dev = await probe('net_tap_vsc0,remote=eth1');
      const pool = startPort(dev);
      got.length = 0;
      host.send(udpFrame(mac, '10.77.0.2', 4000, 5555));
      host.send(udpFrame('ff:ff:ff:ff:ff:ff', '10.77.0.255', 4000, 5555));
      await settle(200);
      const r = await receive(dev, pool, () => false, 300);
      release(pool, r);
      expect(r.other).toBe(2); // both reached the application
      expect(got).toEqual(['udp']); // only the broadcast reached the kernel
    } finally {
      host.close();
      sock.close();
      await sim.removeAddress('eth1', '10.77.0.2/24');
    }
  });

  it('sends what the application transmits out through the remote to the host peer', async () => {
    const dev = await probe('net_tap_vsc0,remote=eth1');
    const pool = startPort(dev);
    const burst = new Uint32Array(16);
    for (let i = 0; i < 16; i++) {
      const m = pool.alloc();
      pool.write(m, encodeTestFrame({ dst: '00:15:5d:ff:00:01', src: mac, flow: 7, seq: i }));
      burst[i] = m;
    }
    expect(dev.txBurst(0, burst, 16)).toBe(16);
    const c = await peer.waitFor((x) => x.receivedSynthetic >= 16, 3000);
    expect(c.receivedSynthetic).toBe(16);
    expect(c.flows.find((f) => f.flow === 7)).toMatchObject({ unique: 16, duplicates: 0 });
    expect(dev.statsGet()).toMatchObject({ opackets: 16, oerrors: 0 });
    expect(pool.inUse()).toBe(1); // only the Rx spare
  });

  it('spreads flows over the queues and transmits on every queue', async () => {
    const dev = await probe('net_tap_vsc0,remote=eth1');
    const pool = startPort(dev, 4);
    expect(nl.link(TapPmd.of(dev)!.ifIndex)?.tun).toMatchObject({ numQueues: 4, numDisabledQueues: 1, multiQueue: true, pi: false });
    const host = inHostSync(sim, () => PacketSocket.open(sim.netvsc('eth1').hostSynthetic));
    try {
      for (let p = 0; p < 64; p++) host.send(udpFrame(mac, '10.77.0.2', 1000 + p, 9));
      await settle(100);
      const r = await receive(dev, pool, () => false, 300);
      const perQueue = dev.statsGet().qIpackets;
      expect(perQueue.reduce((a, b) => a + b, 0)).toBe(64);
      expect(perQueue.filter((n) => n > 0).length).toBeGreaterThan(1);
      release(pool, r);
    } finally {
      host.close();
    }
    for (let q = 0; q < 4; q++) {
      const m = pool.alloc();
      pool.write(m, encodeTestFrame({ dst: '00:15:5d:ff:00:01', src: mac, flow: 100 + q, seq: 0 }));
      expect(dev.txBurst(q, Uint32Array.of(m), 1)).toBe(1);
    }
    const c = await peer.waitFor((x) => x.receivedSynthetic >= 4, 3000);
    expect(c.flows.filter((f) => f.flow >= 100).map((f) => f.flow).sort()).toEqual([100, 101, 102, 103]);
    expect(dev.statsGet().qOpackets).toEqual([1, 1, 1, 1]);
  });

  it('wakes an Rx queue waiter when a frame arrives', async () => {
    const dev = await probe('net_tap_vsc0,remote=eth1');
    const pool = startPort(dev);
    expect(await dev.rxQueueWait(0, 50)).toBe(false);
    const waiting = dev.rxQueueWait(0, 3000);
    await peer.send({ count: 1, to: 'unicast' });
    expect(await waiting).toBe(true);
    const r = await receive(dev, pool, (n) => n >= 1, 500);
    expect(total(r)).toBe(1);
    release(pool, r);
  });

  it('copies the remote MAC and MTU and close removes the tap, every rule, the qdisc it added and its flag changes', async () => {
    nl.setLink(eth1, { mtu: 1400 });
    try {
      const dev = await probe('net_tap_vsc0,remote=eth1');
      const tap = TapPmd.of(dev)!;
      expect(dev.macAddrGet()).toBe(mac);
      expect(nl.link(tap.ifIndex)).toMatchObject({ mac, mtu: 1400 });
      startPort(dev);
      dev.promiscuousEnable();
      dev.allmulticastEnable();
      expect(nl.link(eth1)!.flags & 0x300).toBe(0x300);
      expect(ourPrefs()).toEqual([61498, 61499, 61500, 61501, 61502]);
      expect(nl.filters({ ifindex: tap.ifIndex }).map((f) => f.pref)).toEqual([TAP_PREFS.REMOTE_TX]);
      dev.close();
      expect(nl.link(tap.ifIndex)).toBeNull();
      expect(nl.filters({ ifindex: eth1 })).toEqual([]);
      expect(hasIngress(eth1)).toBe(false);
      expect(nl.link(eth1)!.flags & 0x300).toBe(0);
      expect(nl.link(eth1)!.mtu).toBe(1400);
    } finally {
      nl.setLink(eth1, { mtu: 1500 });
    }
  });

  it('leaves an ingress qdisc it found, and the filters of others on it', async () => {
    nl.addIngressQdisc({ ifindex: eth1 });
    nl.addU32Filter({ ifindex: eth1, pref: 10, keys: [{ mask: 0xffff, val: 0x0806, off: -4 }] });
    const dev = await probe('net_tap_vsc0,remote=eth1');
    startPort(dev);
    dev.close();
    expect(hasIngress(eth1)).toBe(true);
    expect(nl.filters({ ifindex: eth1 }).map((f) => f.pref)).toEqual([10]);
  });

  it('persist keeps the tap and its rules; a later port adopts and then removes them', async () => {
    const dev = await probe('net_tap_vsc0,iface=vsc0tap,remote=eth1,persist');
    startPort(dev);
    dev.close();
    const kept = nl.link('vsc0tap');
    expect(kept?.tun).toMatchObject({ persist: true, numQueues: 0, numDisabledQueues: 0 });
    expect(ourPrefs()).toEqual([61498, 61501, 61502]);
    expect(nl.filters({ ifindex: kept!.index }).map((f) => f.pref)).toEqual([TAP_PREFS.REMOTE_TX]);

    const again = await probe('net_tap_vsc1,iface=vsc0tap,remote=eth1');
    expect(TapPmd.of(again)!.ifIndex).toBe(kept!.index);
    expect(ourPrefs()).toEqual([61498, 61501, 61502]);
    const pool = startPort(again);
    expect(await peerSendAndCount(peer, again, pool, 'unicast')).toBe(8);
    again.close();
    expect(nl.link('vsc0tap')).toBeNull();
    expect(nl.filters({ ifindex: eth1 })).toEqual([]);
  });

  it('refuses a second port on the same remote, in this process and from another one', async () => {
    await probe('net_tap_vsc0,remote=eth1');
    await expect(probe('net_tap_vsc1,remote=eth1')).rejects.toThrow(errorLike('ERR_TAP_REMOTE_IN_USE', /already used by port net_tap_vsc0/));
    ports.splice(0).forEach((d) => {
      d.close();
    });

    const holder = await holdTapInChild(sim, 'net_tap_vsc9,remote=eth1');
    holders.push(holder);
    const before = JSON.stringify(nl.filters({ ifindex: eth1 }));
    await expect(probe('net_tap_vsc1,remote=eth1')).rejects.toThrow(errorLike('ERR_TAP_REMOTE_IN_USE', new RegExp(`used by tap ${holder.ifName}`)));
    expect(JSON.stringify(nl.filters({ ifindex: eth1 }))).toBe(before);
    expect(nl.links().filter((l) => l.kind === 'tun').map((l) => l.name)).toEqual([holder.ifName]);
  });

  it('replaces the rules a crashed process left on the remote, without duplicates', async () => {
    const holder = await holdTapInChild(sim, 'net_tap_vsc9,remote=eth1');
    await holder.kill('SIGKILL');
    // the tap died with the process; its rules did not
    expect(nl.link(holder.ifIndex)).toBeNull();
    expect(ourPrefs()).toEqual([61498, 61501, 61502]);
    expect(await peer.send({ count: 4, to: 'unicast' })).toMatchObject({ sent: 4 });

    const dev = await probe('net_tap_vsc0,remote=eth1');
    const rules = nl.filters({ ifindex: eth1 });
    expect(rules.map((f) => f.pref)).toEqual([61498, 61501, 61502]);
    expect(new Set(rules.map((f) => f.actions[0]?.mirred?.ifindex))).toEqual(new Set([TapPmd.of(dev)!.ifIndex]));
    const pool = startPort(dev);
    expect(await peerSendAndCount(peer, dev, pool, 'unicast')).toBe(8);
  });

  it('reports the remote going down and up as link events', async () => {
    const dev = await probe('net_tap_vsc0,remote=eth1');
    const events: boolean[] = [];
    dev.on('lsc', (e: LinkEvent) => events.push(e.link.up));
    startPort(dev, 1, undefined, { lsc: true });
    expect(dev.linkGet().up).toBe(true);
    await sim.setLink('eth1', false, 'host');
    await waitUntil(() => events.at(-1) === false);
    await sim.setLink('eth1', true, 'host');
    await waitUntil(() => events.at(-1) === true);
    expect(events).toEqual([true, false, true]);
  });

  it('refuses a missing remote, a long name and a name in use, leaving nothing behind', async () => {
    const taps = (): string[] => nl.links().filter((l) => l.kind === 'tun').map((l) => l.name);
    await expect(probe('net_tap_vsc0,remote=eth9')).rejects.toThrow(errorLike('ERR_NO_DEVICE', /remote=eth9: no such network interface/));
    await expect(probe('net_tap_vsc0,iface=abcdefghijklmnopq,remote=eth1')).rejects.toThrow(errorLike('ERR_INVALID_ARG', /too long/));
    await expect(probe('net_tap_vsc0,iface=eth1')).rejects.toThrow(errorLike('ERR_TAP_IFACE_IN_USE', /taken by an existing veth interface/));
    await probe('net_tap_vsc0,iface=dup0');
    await expect(probe('net_tap_vsc1,iface=dup0')).rejects.toThrow(errorLike('ERR_TAP_IFACE_IN_USE', /in use/));
    expect(taps()).toEqual(['dup0']);
    expect(nl.filters({ ifindex: eth1 })).toEqual([]);
    expect(hasIngress(eth1)).toBe(false);
  });
});

describe.skipIf(!run)('net_tap when the remote disappears', () => {
  it('emits a removal event, and close still cleans up without errors', async () => {
    const sim = await createSim();
    const nl = guestNetlink(sim);
    let dev: EthDev | undefined;
    try {
      dev = await probeInGuest(sim, 'net_tap_vsc0,remote=eth1');
      const removed: RemovalEvent[] = [];
      dev.on('rmv', (e: RemovalEvent) => removed.push(e));
      const pool: Mempool = startPort(dev);
      nl.deleteLink('eth1');
      await waitUntil(() => removed.length > 0);
      expect(removed[0]!.reason).toMatch(/remote eth1 \(ifindex \d+\) was removed/);
      expect(dev.linkGet().up).toBe(false);
      const out = new Uint32Array(8);
      expect(dev.rxBurst(0, out, 8)).toBe(0);
      const tapIndex = TapPmd.of(dev)!.ifIndex;
      dev.close();
      expect(nl.link(tapIndex)).toBeNull();
      expect(pool.inUse()).toBe(0);
    } finally {
      dev?.close();
      nl.close();
      await sim.destroy();
    }
  }, 60_000);
});

async function waitUntil(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
