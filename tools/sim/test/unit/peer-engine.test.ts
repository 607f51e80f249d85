import { describe, expect, it } from 'vitest';
import { TEST_FLAG_ECHO, decodeTestFrame, encodeTestFrame } from '../../src/frame.js';
import { PeerEngine, type PeerNative, type PeerSocket } from '../../src/peer-engine.js';

const GUEST = '00:15:5d:00:00:01';

interface Link {
  exists: boolean;
  carrier: boolean;
  ifindex: number;
}

class FakeSocket implements PeerSocket {
  readonly slots: Uint8Array[];
  readonly lengths: number[];
  readonly sent: Uint8Array[] = [];
  readonly rx: Uint8Array[] = [];
  /** Return this from the next sendSlots (then clear), e.g. -6 for ENXIO. */
  failNext: number | null = null;
  closed = false;

  constructor(
    readonly fd: number,
    readonly ifindex: number,
    private readonly link: Link,
    txSlots: number,
  ) {
    this.slots = Array.from({ length: txSlots }, () => new Uint8Array(2048));
    this.lengths = Array.from({ length: txSlots }, () => 2048);
  }
  txSlot(i: number): Uint8Array {
    return this.slots[i]!;
  }
  setTxLength(i: number, length: number): void {
    this.lengths[i] = length;
  }
  sendSlots(n: number, first = 0): number {
    if (this.failNext !== null) {
      const r = this.failNext;
      this.failNext = null;
      return r;
    }
    for (let i = first; i < first + n; i++) this.sent.push(this.slots[i]!.slice(0, this.lengths[i]));
    return n;
  }
  receive(onFrame: (frame: Uint8Array, length: number) => void, max = Infinity): number {
    let n = 0;
    const slot = new Uint8Array(2048);
    while (this.rx.length > 0 && n < max) {
      const f = this.rx.shift()!;
      slot.fill(0);
      slot.set(f);
      onFrame(slot, f.length);
      n++;
    }
    return n;
  }
  linkIndex(): number {
    return this.link.exists ? this.link.ifindex : -19;
  }
  close(): void {
    this.closed = true;
  }
}

class FakeNative implements PeerNative {
  readonly links = new Map<string, Link>([
    ['vsw0syn', { exists: true, carrier: true, ifindex: 10 }],
    ['vsw0vf', { exists: true, carrier: true, ifindex: 11 }],
  ]);
  readonly sockets = new Map<string, FakeSocket>();
  readonly watchers = new Map<number, () => void>();
  #fd = 100;
  #t = 0;

  open(ifname: string, _batch: number, txSlots: number): PeerSocket {
    const l = this.links.get(ifname);
    if (!l?.exists) throw new Error(`no ${ifname}`);
    const s = new FakeSocket(this.#fd++, l.ifindex, l, txSlots);
    this.sockets.set(ifname, s);
    return s;
  }
  exists(ifname: string): boolean {
    return this.links.get(ifname)?.exists ?? false;
  }
  carrier(ifname: string): boolean {
    const l = this.links.get(ifname);
    return (l?.exists ?? false) && (l?.carrier ?? false);
  }
  watch(fd: number, onReadable: () => void): { close(): void } {
    this.watchers.set(fd, onReadable);
    return { close: () => this.watchers.delete(fd) };
  }
  /** A clock that moves 1 ms per reading: deterministic, never waits. */
  now(): number {
    return (this.#t += 1);
  }
  sock(name: string): FakeSocket {
    return this.sockets.get(name)!;
  }
  /** Deliver frames from the guest on a host interface and fire its watcher. */
  deliver(name: string, ...frames: Uint8Array[]): void {
    const s = this.sock(name);
    s.rx.push(...frames);
    this.watchers.get(s.fd)?.();
  }
}

function engine(native: FakeNative, echo = false): PeerEngine {
  return new PeerEngine({ ports: [{ index: 0, guestMac: GUEST, synthetic: 'vsw0syn', vf: 'vsw0vf' }], echo, batch: 8 }, native);
}

const seqs = (frames: Uint8Array[]): number[] => frames.map((f) => decodeTestFrame(f)!.seq);
const fromGuest = (seq: number, flow = 0): Uint8Array => encodeTestFrame({ dst: '00:15:5d:ff:00:01', src: GUEST, flow, seq, size: 80 });

describe('peer engine (the vSwitch rules)', () => {
  it('sends unicast to the guest over the VF path while the VF is present and up', async () => {
    const n = new FakeNative();
    const e = engine(n);
    const r = await e.send({ count: 20, size: 100, flow: 3 });
    expect(r).toMatchObject({ sent: 20, vf: 20, synthetic: 0, unsent: 0, firstSeq: 0, lastSeq: 19, switches: 0 });
    expect(n.sock('vsw0syn').sent).toHaveLength(0);
    const frames = n.sock('vsw0vf').sent;
    expect(seqs(frames)).toEqual([...Array(20).keys()]);
    expect(decodeTestFrame(frames[0]!)).toMatchObject({ dst: GUEST, src: '00:15:5d:ff:00:01', flow: 3, length: 100 });
    expect(e.counters()).toMatchObject({ sentVf: 20, sentSynthetic: 0 });
  });

  it('sends over the synthetic path when the VF is absent or its guest end is down', async () => {
    const n = new FakeNative();
    n.links.get('vsw0vf')!.exists = false;
    const e = engine(n);
    expect((await e.send({ count: 5 })).synthetic).toBe(5);
    n.links.get('vsw0vf')!.exists = true;
    n.links.get('vsw0vf')!.carrier = false;
    expect((await e.send({ count: 5 })).synthetic).toBe(5);
    n.links.get('vsw0vf')!.carrier = true;
    expect((await e.send({ count: 5 })).vf).toBe(5);
    expect(seqs(n.sock('vsw0syn').sent)).toEqual([...Array(10).keys()]);
    expect(seqs(n.sock('vsw0vf').sent)).toEqual([10, 11, 12, 13, 14]);
  });

  it('always sends broadcast and multicast over the synthetic path', async () => {
    const n = new FakeNative();
    const e = engine(n);
    expect(await e.send({ count: 4, to: 'broadcast' })).toMatchObject({ synthetic: 4, vf: 0 });
    expect(await e.send({ count: 4, to: 'multicast', flow: 1 })).toMatchObject({ synthetic: 4, vf: 0 });
    expect(await e.send({ count: 4, to: '33:33:00:00:00:01', flow: 2 })).toMatchObject({ synthetic: 4, vf: 0 });
    expect(n.sock('vsw0vf').sent).toHaveLength(0);
    expect(decodeTestFrame(n.sock('vsw0syn').sent[0]!)!.dst).toBe('ff:ff:ff:ff:ff:ff');
  });

  it('reroutes to the synthetic path without losing a frame when the VF vanishes mid-send', async () => {
    const n = new FakeNative();
    const e = engine(n);
    await e.send({ count: 8 });
    n.sock('vsw0vf').failNext = -6; // ENXIO: the veth was deleted
    n.links.get('vsw0vf')!.exists = false;
    const r = await e.send({ count: 16 });
    expect(r).toMatchObject({ sent: 16, vf: 0, synthetic: 16, firstSeq: 8, lastSeq: 23 });
    expect(seqs(n.sock('vsw0syn').sent)).toEqual([...Array(16).keys()].map((i) => i + 8));
  });

  it('reopens the VF path when the VF returns as a new link of the same name', async () => {
    const n = new FakeNative();
    const e = engine(n);
    await e.send({ count: 2 });
    const old = n.sock('vsw0vf');
    n.links.get('vsw0vf')!.ifindex = 12;
    const r = await e.send({ count: 2 });
    expect(r.vf).toBe(2);
    expect(old.closed).toBe(true);
    expect(n.sock('vsw0vf')).not.toBe(old);
    expect(n.sock('vsw0vf').ifindex).toBe(12);
  });

  it('counts switches when the route changes during one send', async () => {
    const n = new FakeNative();
    const e = engine(n);
    const vf = n.links.get('vsw0vf')!;
    const orig = n.carrier.bind(n);
    let calls = 0;
    n.carrier = (name) => (++calls > 1 ? false : orig(name)) && vf.carrier;
    const r = await e.send({ count: 24 });
    expect(r.vf).toBe(8);
    expect(r.synthetic).toBe(16);
    expect(r.switches).toBe(1);
  });

  it('fails a forced VF send when there is no VF, leaving the frames unsent', async () => {
    const n = new FakeNative();
    n.links.get('vsw0vf')!.exists = false;
    const e = engine(n);
    expect(await e.send({ count: 5, via: 'vf' })).toMatchObject({ sent: 0, unsent: 5 });
    expect(await e.send({ count: 5, via: 'synthetic' })).toMatchObject({ sent: 5, synthetic: 5 });
  });

  it('continues sequence numbers per flow across sends, restarts after reset', async () => {
    const n = new FakeNative();
    const e = engine(n);
    expect((await e.send({ count: 3, flow: 1 })).firstSeq).toBe(0);
    expect((await e.send({ count: 3, flow: 1 })).firstSeq).toBe(3);
    expect((await e.send({ count: 3, flow: 2 })).firstSeq).toBe(0);
    expect((await e.send({ count: 3, flow: 1, firstSeq: 100 })).lastSeq).toBe(102);
    e.reset();
    expect((await e.send({ count: 1, flow: 1 })).firstSeq).toBe(0);
    expect(e.counters()).toMatchObject({ sentVf: 1 });
  });

  it('rejects bad requests with what is accepted', async () => {
    const e = engine(new FakeNative());
    await expect(e.send({ count: 1, size: 59 })).rejects.toThrow(/60\.\.65535/);
    await expect(e.send({ count: 1, size: 4000 })).rejects.toThrow(/up to 2048/);
    await expect(e.send({ count: 1, flow: 70000 })).rejects.toThrow(/0\.\.65535/);
    await expect(e.send({ count: 1, port: 3 })).rejects.toThrow(/no port 3/);
    await expect(e.send({ count: -1 })).rejects.toThrow(/non-negative/);
  });

  it('counts frames from the guest per path and catches duplicate sequence numbers', () => {
    const n = new FakeNative();
    const e = engine(n);
    n.deliver('vsw0vf', fromGuest(1), fromGuest(2));
    n.deliver('vsw0syn', fromGuest(2), fromGuest(3), new Uint8Array(60));
    n.deliver('vsw0syn', fromGuest(1, 9));
    n.deliver('vsw0vf', fromGuest(5_000_000));
    const c = e.counters();
    expect(c).toMatchObject({ receivedVf: 3, receivedSynthetic: 3, duplicates: 1 });
    expect(c.ports[0]!.synthetic).toMatchObject({ received: 3, other: 1, receivedBytes: 240 });
    expect(c.flows).toEqual([
      { flow: 0, unique: 4, duplicates: 1, maxSeq: 5_000_000 },
      { flow: 9, unique: 1, duplicates: 0, maxSeq: 1 },
    ]);
  });

  it('echoes the guest frames back with the MACs swapped and the echo flag set, over the vSwitch route', () => {
    const n = new FakeNative();
    const e = engine(n, true);
    n.deliver('vsw0syn', fromGuest(7), fromGuest(8));
    const back = n.sock('vsw0vf').sent.map((f) => decodeTestFrame(f)!);
    expect(back).toHaveLength(2);
    expect(back[0]).toMatchObject({ dst: GUEST, src: '00:15:5d:ff:00:01', seq: 7, flags: TEST_FLAG_ECHO, length: 80 });
    // An echoed frame that comes back is not echoed again.
    n.deliver('vsw0vf', encodeTestFrame({ dst: '00:15:5d:ff:00:01', src: GUEST, flow: 0, seq: 9, flags: TEST_FLAG_ECHO }));
    expect(n.sock('vsw0vf').sent).toHaveLength(2);
    expect(e.counters().echoed).toBe(2);
    e.setEcho(false);
    n.deliver('vsw0syn', fromGuest(10));
    expect(e.counters().echoed).toBe(2);
  });

  it('closes every socket and watcher', async () => {
    const n = new FakeNative();
    const e = engine(n);
    await e.send({ count: 1 });
    e.close();
    expect(n.sock('vsw0syn').closed).toBe(true);
    expect(n.sock('vsw0vf').closed).toBe(true);
    expect(n.watchers.size).toBe(0);
  });
});
