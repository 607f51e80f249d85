import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  PacketSocket,
  SimGuest,
  TEST_FLAG_ECHO,
  encodeTestFrame,
  integrationGate,
  isTestFrame,
  testFrameFlags,
  testFrameFlow,
  testFrameSeq,
  type SimPeer,
} from '../../src/index.js';

const MAC = '00:15:5d:bb:00:01';
const REMOTE = '00:15:5d:ff:00:01';

interface Seen {
  seqs: number[];
  flags: number[];
}

/** A plain AF_PACKET socket on a guest interface (opened inside the guest namespace). */
function observe(sim: SimGuest, ifname: string): PacketSocket {
  const restore = sim.enterGuest();
  try {
    return PacketSocket.open(ifname);
  } finally {
    restore();
  }
}

/** Test frames of `flow` seen on `sock` until it has been quiet for 100 ms (or `want` arrived). */
async function collect(sock: PacketSocket, flow: number, want = Infinity): Promise<Seen> {
  const seen: Seen = { seqs: [], flags: [] };
  let quiet = performance.now();
  const deadline = performance.now() + 5000;
  while (performance.now() - quiet < 100 && seen.seqs.length < want && performance.now() < deadline) {
    const n = sock.receive((f, len) => {
      if (isTestFrame(f, 0, len) && testFrameFlow(f, 0) === flow) {
        seen.seqs.push(testFrameSeq(f, 0));
        seen.flags.push(testFrameFlags(f, 0));
      }
    });
    if (n > 0) quiet = performance.now();
    await new Promise((r) => setTimeout(r, 5));
  }
  return seen;
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

describe.skipIf(!integrationGate('@netvsc/sim peer'))('host traffic peer (vSwitch)', () => {
  let sim: SimGuest;
  let peer: SimPeer;
  let onNetvsc: PacketSocket;
  let onVf: PacketSocket | null = null;
  const sockets: PacketSocket[] = [];

  beforeAll(async () => {
    sim = await SimGuest.create({ netvsc: [{ name: 'eth1', mac: MAC, vf: { name: 'enP2s2', pci: '0002:00:02.0' } }] });
    onNetvsc = observe(sim, 'eth1');
    onVf = observe(sim, 'enP2s2');
    sockets.push(onNetvsc, onVf);
    peer = await sim.startPeer();
  });

  afterEach(async () => {
    await peer.reset();
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    const pid = peer.pid;
    await sim.destroy();
    expect(peer.running).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('sends unicast over the VF, and the transparent VF delivers every frame a second time on the NetVSC', async () => {
    const r = await peer.send({ count: 500, size: 200, flow: 1 });
    expect(r).toMatchObject({ sent: 500, vf: 500, synthetic: 0, unsent: 0 });
    const vf = await collect(onVf!, 1, 500);
    const nv = await collect(onNetvsc, 1, 500);
    expect(vf.seqs).toEqual(range(0, 500));
    expect(nv.seqs).toEqual(range(0, 500));
  });

  it('sends broadcast and multicast over the synthetic path only', async () => {
    expect(await peer.send({ count: 100, to: 'broadcast', flow: 2 })).toMatchObject({ synthetic: 100, vf: 0 });
    expect(await peer.send({ count: 50, to: 'multicast', flow: 2 })).toMatchObject({ synthetic: 50, vf: 0 });
    expect((await collect(onNetvsc, 2, 150)).seqs).toEqual(range(0, 150));
    expect((await collect(onVf!, 2)).seqs).toEqual([]);
  });

  it('falls back to the synthetic path while the VF is away and returns to the VF after re-add', async () => {
    await sim.removeVf('eth1');
    onVf!.close();
    const gone = await peer.send({ count: 300, flow: 3 });
    expect(gone).toMatchObject({ sent: 300, vf: 0, synthetic: 300 });
    expect((await collect(onNetvsc, 3, 300)).seqs).toEqual(range(0, 300));

    const vf = await sim.addVf('eth1', { pci: '0003:00:02.0' });
    onVf = observe(sim, vf.name);
    sockets.push(onVf);
    const back = await peer.send({ count: 300, flow: 3 });
    expect(back).toMatchObject({ sent: 300, vf: 300, synthetic: 0, firstSeq: 300 });
    expect((await collect(onVf, 3, 300)).seqs).toEqual(range(300, 300));
    expect((await collect(onNetvsc, 3, 300)).seqs).toEqual(range(300, 300));
  });

  it('uses the synthetic path while the guest VF link is down', async () => {
    const vfName = sim.netvsc('eth1').vf!.name;
    await sim.setLink(vfName, false);
    try {
      expect(await peer.send({ count: 50, flow: 4 })).toMatchObject({ vf: 0, synthetic: 50 });
    } finally {
      await sim.setLink(vfName, true);
    }
    expect(await peer.send({ count: 50, flow: 4 })).toMatchObject({ vf: 50, synthetic: 0 });
    // A packet socket on a link that went down holds a pending ENETDOWN: reopen, as a PMD would.
    expect(onVf!.send(encodeTestFrame({ dst: REMOTE, src: MAC, flow: 4, seq: 0 }))).toBe(-100);
    onVf!.close();
    onVf = observe(sim, vfName);
    sockets.push(onVf);
  });

  it('counts what the guest sends per path and catches duplicate sequence numbers', async () => {
    const frame = (seq: number): Uint8Array => encodeTestFrame({ dst: REMOTE, src: MAC, flow: 6, seq, size: 64 });
    for (let s = 0; s < 10; s++) expect(onNetvsc.send(frame(s))).toBe(1);
    for (let s = 5; s < 8; s++) expect(onVf!.send(frame(s))).toBe(1);
    const c = await peer.waitFor((x) => x.receivedSynthetic + x.receivedVf >= 13);
    expect(c).toMatchObject({ receivedSynthetic: 10, receivedVf: 3, duplicates: 3 });
    expect(c.flows).toEqual([{ flow: 6, unique: 10, duplicates: 3, maxSeq: 9 }]);
  });

  it('echoes the guest frames back over the vSwitch route (the VF when present)', async () => {
    await peer.setEcho(true);
    try {
      for (let s = 0; s < 20; s++) onNetvsc.send(encodeTestFrame({ dst: REMOTE, src: MAC, flow: 7, seq: s }));
      const back = await collect(onVf!, 7, 20);
      expect(back.seqs).toEqual(range(0, 20));
      expect(back.flags.every((f) => (f & TEST_FLAG_ECHO) !== 0)).toBe(true);
      expect((await peer.counters()).echoed).toBe(20);
    } finally {
      await peer.setEcho(false);
    }
  });

  it('a packet socket opened during a flood on another interface holds none of its frames', async () => {
    // Hooked into the receive path by socket(..., ETH_P_ALL) before bind() names the interface,
    // a socket catches whatever any interface receives in between; the peer counted those
    // frames twice (on both paths) when it reopened its VF socket during a failover.
    const vfName = sim.netvsc('eth1').vf?.name ?? 'enP2s2';
    const flood = peer.send({ count: 100_000, to: 'broadcast', flow: 9 });
    await new Promise((r) => setTimeout(r, 30));
    const opened: PacketSocket[] = [];
    try {
      for (let i = 0; i < 200; i++) opened.push(observe(sim, vfName));
      await flood;
      let foreign = 0;
      for (const sock of opened) {
        sock.receive((f, len) => {
          if (isTestFrame(f, 0, len) && testFrameFlow(f, 0) === 9) foreign++;
        });
      }
      expect(foreign).toBe(0);
    } finally {
      for (const sock of opened) sock.close();
    }
  });

  it('paces a send to the target rate within its time bound', async () => {
    const r = await peer.send({ count: 100, ratePps: 1000, flow: 8, maxMs: 10_000 });
    expect(r.sent).toBe(100);
    // 100 frames at 1000/s cannot take less than ~99 ms; no upper bound is asserted (shared CPU).
    expect(r.elapsedMs).toBeGreaterThanOrEqual(90);
    const bounded = await peer.send({ count: 1_000_000, ratePps: 1000, flow: 8, maxMs: 50 });
    expect(bounded.sent).toBeLessThan(1_000_000);
    expect(bounded.unsent).toBe(1_000_000 - bounded.sent);
  });
});

describe.skipIf(!integrationGate('@netvsc/sim transparent VF off'))('guest without the transparent VF', () => {
  it('delivers VF frames on the VF only', async () => {
    const sim = await SimGuest.create({ transparentVf: false });
    const socks: PacketSocket[] = [];
    try {
      expect(await sim.ingressFilters('enP2s2')).toBe('');
      const nv = observe(sim, 'eth1');
      const vf = observe(sim, 'enP2s2');
      socks.push(nv, vf);
      const peer = await sim.startPeer();
      expect(await peer.send({ count: 100, flow: 1 })).toMatchObject({ vf: 100 });
      expect((await collect(vf, 1, 100)).seqs).toEqual(range(0, 100));
      expect((await collect(nv, 1)).seqs).toEqual([]);
    } finally {
      for (const s of socks) s.close();
      await sim.destroy();
    }
  });
});
