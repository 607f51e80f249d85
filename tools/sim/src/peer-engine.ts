import { InvalidArgumentError, NetvscError, isMulticastEtherAddr, parseEtherAddr } from '@netvsc/ethdev';
import {
  TEST_FLAG_ECHO,
  checkFrameSize,
  isTestFrame,
  setTestSeq,
  testFrameFlags,
  testFrameFlow,
  testFrameSeq,
  writeTestFrame,
} from './frame.js';
import type {
  PeerCounters,
  PeerFlowCounters,
  PeerInit,
  PeerPath,
  PeerPathCounters,
  PeerPortConfig,
  PeerSendRequest,
  PeerSendResult,
} from './peer-protocol.js';

/** What the engine needs of a packet socket (the real one is native/packet.ts's PacketSocket). */
export interface PeerSocket {
  readonly fd: number;
  readonly ifindex: number;
  txSlot(i: number): Uint8Array;
  setTxLength(i: number, length: number): void;
  sendSlots(n: number, first?: number): number;
  receive(onFrame: (frame: Uint8Array, length: number) => void, max?: number): number;
  /** Current ifindex of the socket's interface name, or -errno. */
  linkIndex(): number;
  close(): void;
}

/** The engine's native layer: injected, so the vSwitch rules are unit-testable with fakes. */
export interface PeerNative {
  /** Open a socket on a host interface with `txSlots` Tx slots of `slotSize`; throws if it does not exist. */
  open(ifname: string, batch: number, txSlots: number): PeerSocket;
  /** Whether the host interface exists. */
  exists(ifname: string): boolean;
  /** Whether the host interface is up with carrier (its guest end is up too). */
  carrier(ifname: string): boolean;
  /** Call `onReadable` whenever `fd` is readable; returns the canceller. */
  watch(fd: number, onReadable: () => void): { close(): void };
  now(): number;
}

/** The peer's Tx/Rx slot size: test frames up to this size (Ethernet header included). */
export const PEER_SLOT_SIZE = 2048;
/** Sequence numbers above this are counted but not checked for duplicates (bitmap cap, 32 MiB). */
export const PEER_DEDUP_LIMIT = 1 << 28;
const DEFAULT_SRC = '00:15:5d:ff:00:01';
const MULTICAST_DST = '01:00:5e:00:00:fb';
/** Minimum gap between attempts to (re)open an absent VF path. */
const VF_RETRY_MS = 1;

interface PathCounters {
  sent: number;
  received: number;
  receivedBytes: number;
  other: number;
  echoed: number;
}

interface Flow {
  bits: Uint8Array;
  unique: number;
  duplicates: number;
  maxSeq: number;
}

interface Port {
  readonly cfg: PeerPortConfig;
  syn: PeerSocket;
  synWatch: { close(): void };
  vf: PeerSocket | null;
  vfWatch: { close(): void } | null;
  vfLastTry: number;
  readonly c: { vf: PathCounters; synthetic: PathCounters };
}

function zero(): PathCounters {
  return { sent: 0, received: 0, receivedBytes: 0, other: 0, echoed: 0 };
}

/** Thrown for requests the engine refuses; `code` is stable. */
export class PeerRequestError extends NetvscError {}

/**
 * The Hyper-V vSwitch, as far as the guest can tell: unicast to the guest's MAC goes over the
 * VF path while the VF is present and up, over the synthetic path otherwise; broadcast and
 * multicast always over the synthetic path. Sends numbered test frames, counts what comes
 * back per path and per flow (duplicates included), and can echo the guest's frames.
 */
export class PeerEngine {
  readonly #native: PeerNative;
  readonly #ports: Port[];
  readonly #src: string;
  readonly #srcBytes: Uint8Array;
  readonly #batch: number;
  readonly #templates = new WeakMap<PeerSocket, string>();
  readonly #nextSeq = new Map<number, number>();
  readonly #flows = new Map<number, Flow>();
  #echo: boolean;
  #sending: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(init: PeerInit, native: PeerNative) {
    this.#native = native;
    this.#src = parseEtherAddr(init.srcMac ?? DEFAULT_SRC);
    this.#srcBytes = Uint8Array.from(this.#src.split(':'), (h) => parseInt(h, 16));
    this.#batch = init.batch ?? 64;
    this.#echo = init.echo ?? false;
    if (!Number.isInteger(this.#batch) || this.#batch < 1 || this.#batch > 1024) throw new InvalidArgumentError(`peer batch must be 1..1024, got ${this.#batch}`);
    this.#ports = [];
    try {
      for (const cfg of init.ports) {
        const syn = native.open(cfg.synthetic, this.#batch, this.#batch * 2);
        const port: Port = {
          cfg: { ...cfg, guestMac: parseEtherAddr(cfg.guestMac) },
          syn,
          synWatch: { close: () => undefined },
          vf: null,
          vfWatch: null,
          vfLastTry: Number.NEGATIVE_INFINITY,
          c: { vf: zero(), synthetic: zero() },
        };
        port.synWatch = native.watch(syn.fd, () => {
          this.#drain(port, 'synthetic');
        });
        this.#ports.push(port);
        this.#vfUsable(port);
      }
    } catch (error) {
      this.close();
      throw error;
    }
  }

  setEcho(on: boolean): void {
    this.#echo = on;
  }

  /** Send numbered frames; sends are queued, one at a time. */
  send(req: PeerSendRequest): Promise<PeerSendResult> {
    const run = this.#sending.then(() => this.#send(req));
    this.#sending = run.catch(() => undefined);
    return run;
  }

  counters(): PeerCounters {
    const path = (c: PathCounters): PeerPathCounters => ({ ...c });
    const ports = this.#ports.map((p) => ({ index: p.cfg.index, vf: path(p.c.vf), synthetic: path(p.c.synthetic), vfUp: this.#vfUsable(p) }));
    const flows: PeerFlowCounters[] = [...this.#flows].map(([flow, f]) => ({ flow, unique: f.unique, duplicates: f.duplicates, maxSeq: f.maxSeq }));
    const sum = (pick: (p: (typeof ports)[number]) => number): number => ports.reduce((a, p) => a + pick(p), 0);
    return {
      sentVf: sum((p) => p.vf.sent),
      sentSynthetic: sum((p) => p.synthetic.sent),
      receivedVf: sum((p) => p.vf.received),
      receivedSynthetic: sum((p) => p.synthetic.received),
      duplicates: flows.reduce((a, f) => a + f.duplicates, 0),
      echoed: sum((p) => p.vf.echoed + p.synthetic.echoed),
      ports,
      flows,
    };
  }

  /** Zero every counter, forget received sequence numbers, restart every flow at 0. */
  reset(): void {
    for (const p of this.#ports) {
      p.c.vf = zero();
      p.c.synthetic = zero();
    }
    this.#flows.clear();
    this.#nextSeq.clear();
  }

  /** Drain every socket now (tests call this before reading counters). */
  poll(): void {
    for (const p of this.#ports) {
      this.#drain(p, 'synthetic');
      if (p.vf) this.#drain(p, 'vf');
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#ports) {
      p.synWatch.close();
      p.syn.close();
      this.#closeVf(p);
    }
  }

  // --- path choice ---

  #closeVf(p: Port): void {
    p.vfWatch?.close();
    p.vf?.close();
    p.vfWatch = null;
    p.vf = null;
  }

  /** Is the VF path usable (host end present and up, guest end up)? Opens/reopens its socket as needed. */
  #vfUsable(p: Port): boolean {
    if (this.#closed) return false;
    if (p.vf && p.vf.linkIndex() !== p.vf.ifindex) this.#closeVf(p);
    if (!p.vf) {
      const t = this.#native.now();
      if (t - p.vfLastTry < VF_RETRY_MS) return false;
      p.vfLastTry = t;
      if (!this.#native.exists(p.cfg.vf)) return false;
      try {
        const s = this.#native.open(p.cfg.vf, this.#batch, this.#batch * 2);
        p.vf = s;
        p.vfWatch = this.#native.watch(s.fd, () => {
          this.#drain(p, 'vf');
        });
      } catch {
        return false;
      }
    }
    return this.#native.carrier(p.cfg.vf);
  }

  #route(p: Port, multicast: boolean): PeerPath {
    return !multicast && this.#vfUsable(p) ? 'vf' : 'synthetic';
  }

  // --- transmit ---

  async #send(req: PeerSendRequest): Promise<PeerSendResult> {
    const port = this.#ports[req.port ?? 0];
    if (!port) throw new InvalidArgumentError(`peer has no port ${req.port ?? 0} (ports 0..${this.#ports.length - 1})`);
    if (!Number.isInteger(req.count) || req.count < 0) throw new InvalidArgumentError(`send count must be a non-negative integer, got ${req.count}`);
    const size = checkFrameSize(req.size ?? 60);
    if (size > PEER_SLOT_SIZE) throw new InvalidArgumentError(`the peer sends frames up to ${PEER_SLOT_SIZE} bytes, got ${size}`);
    const flow = req.flow ?? 0;
    if (!Number.isInteger(flow) || flow < 0 || flow > 0xffff) throw new InvalidArgumentError(`flow must be 0..65535, got ${flow}`);
    const rate = req.ratePps ?? 0;
    if (!(rate >= 0)) throw new InvalidArgumentError(`ratePps must be >= 0, got ${rate}`);
    const maxMs = req.maxMs ?? 60_000;
    const to = req.to ?? 'unicast';
    const dst = to === 'unicast' ? port.cfg.guestMac : to === 'broadcast' ? 'ff:ff:ff:ff:ff:ff' : to === 'multicast' ? MULTICAST_DST : parseEtherAddr(to);
    const multicast = isMulticastEtherAddr(parseEtherAddr(dst));
    const via = req.via ?? 'auto';
    const first = (req.firstSeq ?? this.#nextSeq.get(flow) ?? 0) >>> 0;
    const key = `${dst}|${flow}|${size}`;
    const batch = this.#batch;
    const native = this.#native;

    let sent = 0;
    let vfSent = 0;
    let synSent = 0;
    let switches = 0;
    let last: PeerPath | null = null;
    let turns = 0;
    const t0 = native.now();
    while (sent < req.count && !this.#closed) {
      const elapsed = native.now() - t0;
      if (elapsed > maxMs) break;
      let n = Math.min(batch, req.count - sent);
      if (rate > 0) {
        const allowed = Math.floor((rate * elapsed) / 1000) + 1 - sent;
        if (allowed <= 0) {
          await sleep(Math.max(1, Math.ceil(((sent + 1) * 1000) / rate - elapsed)));
          continue;
        }
        n = Math.min(n, allowed);
      }
      const path: PeerPath = via === 'auto' ? this.#route(port, multicast) : via;
      if (via === 'vf' && !this.#vfUsable(port)) break;
      const sock = path === 'vf' ? port.vf : port.syn;
      if (!sock) break;
      if (last !== null && last !== path) switches++;
      last = path;
      if (this.#templates.get(sock) !== key) {
        for (let i = 0; i < batch; i++) {
          const slot = sock.txSlot(i);
          slot.fill(0, 0, size);
          writeTestFrame(slot, 0, { dst, src: this.#src, flow, seq: 0 });
          sock.setTxLength(i, size);
        }
        this.#templates.set(sock, key);
      }
      for (let i = 0; i < n; i++) setTestSeq(sock.txSlot(i), 0, (first + sent + i) >>> 0);
      const r = sock.sendSlots(n, 0);
      if (r > 0) {
        sent += r;
        if (path === 'vf') {
          vfSent += r;
          port.c.vf.sent += r;
        } else {
          synSent += r;
          port.c.synthetic.sent += r;
        }
      } else if (r === 0) {
        // The device queue is full: let the receivers run, then retry the same frames.
        await immediate();
        continue;
      } else if (path === 'vf') {
        // The VF went away under us (ENXIO/ENETDOWN): reroute, as the vSwitch does.
        this.#closeVf(port);
        continue;
      } else {
        throw new PeerRequestError('ERR_SIM_PEER', `send on ${port.cfg.synthetic} failed: errno ${-r}`);
      }
      if (rate > 0 || ++turns % 4 === 0) await immediate();
    }
    this.#nextSeq.set(flow, (first + sent) >>> 0);
    const elapsedMs = native.now() - t0;
    return {
      sent,
      vf: vfSent,
      synthetic: synSent,
      unsent: req.count - sent,
      firstSeq: first,
      lastSeq: first + sent - 1,
      elapsedMs: Math.round(elapsedMs * 1000) / 1000,
      pps: elapsedMs > 0 ? Math.round((sent * 1000) / elapsedMs) : 0,
      switches,
    };
  }

  // --- receive ---

  #drain(p: Port, path: PeerPath): void {
    const sock = path === 'vf' ? p.vf : p.syn;
    if (!sock) return;
    const c = path === 'vf' ? p.c.vf : p.c.synthetic;
    const batch = this.#batch;
    for (;;) {
      const echoSock = this.#echo ? (this.#vfUsable(p) ? p.vf : p.syn) : null;
      let echoes = 0;
      let got: number;
      try {
        got = sock.receive((frame, len) => {
          if (!isTestFrame(frame, 0, len)) {
            c.other++;
            return;
          }
          c.received++;
          c.receivedBytes += len;
          this.#mark(testFrameFlow(frame, 0), testFrameSeq(frame, 0));
          if (echoSock && (testFrameFlags(frame, 0) & TEST_FLAG_ECHO) === 0) {
            const slot = echoSock.txSlot(batch + echoes);
            slot.set(frame);
            slot.copyWithin(0, 6, 12);
            slot.set(this.#srcBytes, 6);
            slot[19] = (slot[19] ?? 0) | TEST_FLAG_ECHO;
            echoSock.setTxLength(batch + echoes, len);
            echoes++;
          }
        }, batch);
      } catch {
        // The link went away (VF removed): the socket is dead; the route check reopens later.
        if (path === 'vf') this.#closeVf(p);
        return;
      }
      if (echoSock && echoes > 0) {
        const r = echoSock.sendSlots(echoes, batch);
        if (r > 0) (echoSock === p.vf ? p.c.vf : p.c.synthetic).echoed += r;
      }
      if (got < batch) return;
    }
  }

  #mark(flow: number, seq: number): void {
    let f = this.#flows.get(flow);
    if (!f) {
      f = { bits: new Uint8Array(1024), unique: 0, duplicates: 0, maxSeq: -1 };
      this.#flows.set(flow, f);
    }
    if (seq > f.maxSeq) f.maxSeq = seq;
    if (seq >= PEER_DEDUP_LIMIT) {
      f.unique++;
      return;
    }
    const byte = seq >>> 3;
    if (byte >= f.bits.length) {
      let size = f.bits.length;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(f.bits);
      f.bits = grown;
    }
    const bit = 1 << (seq & 7);
    const b = f.bits[byte] ?? 0;
    if (b & bit) f.duplicates++;
    else {
      f.bits[byte] = b | bit;
      f.unique++;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function immediate(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
