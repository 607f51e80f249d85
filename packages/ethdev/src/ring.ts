import type { DevArgs } from './devargs.js';
import { InvalidArgumentError, NoDeviceError } from './errors.js';
import { parseEtherAddr, randomEtherAddr, type EtherAddr } from './ether.js';
import { EthDev } from './ethdev.js';
import type { Mempool } from './mbuf.js';
import type { VdevDriver } from './registry.js';
import { QueueStats } from './stats.js';
import type { DevInfo, EthConf, EthDevOps, EthStats, LinkStatus, RxIntrHandler, RxQueueConf, TxQueueConf } from './types.js';

export interface RingPmdOptions {
  readonly name: string;
  readonly mac?: string;
  /** Descriptors per Rx ring (power of two not required). */
  readonly ringSize?: number;
  readonly maxQueues?: number;
  /** Transmit into our own Rx (net_ring's loopback); otherwise into the peer, or nowhere. */
  readonly loopback?: boolean;
}

type ControlOp = 'configure' | 'rxQueueSetup' | 'txQueueSetup' | 'start' | 'stop' | 'close' | 'macAddrSet' | 'mtuSet' | 'promiscuousSet' | 'allmulticastSet' | 'mcAddrListSet' | 'statsGet';

interface RxRing {
  pool: Mempool;
  slots: Uint32Array;
  head: number;
  tail: number;
  readonly queue: number;
  /** Armed Rx interrupt. */
  intr: RxIntrHandler | undefined;
  /** A call of `intr` is scheduled (it runs from the event loop, never inside the peer's txBurst). */
  intrQueued: boolean;
}

function fireRingIntr(ring: RxRing): void {
  ring.intrQueued = false;
  const h = ring.intr;
  if (h === undefined || ring.head === ring.tail) return;
  ring.intr = undefined;
  h(ring.queue);
}

function queueRingIntr(ring: RxRing): void {
  if (ring.intrQueued) return;
  ring.intrQueued = true;
  setImmediate(fireRingIntr, ring);
}

const rings = new Map<string, RingPmd>();

/**
 * An in-memory PMD in the spirit of DPDK's net_ring/net_null: no kernel, controllable
 * link, simulated removal and injectable faults, and a log of the control calls it saw.
 * It lets fail-safe and applications be tested anywhere.
 */
export class RingPmd implements EthDevOps {
  readonly dev: EthDev;
  /** Control calls in the order received, e.g. `mtuSet(9000)`, for replay-order tests. */
  readonly calls: string[] = [];
  peer: RingPmd | undefined;
  readonly #opts: Required<Omit<RingPmdOptions, 'mac'>>;
  #mac: EtherAddr;
  #mtu = 1500;
  #link: LinkStatus = { up: true, speed: 10000, duplex: 'full', autoneg: true };
  #started = false;
  #removed = false;
  #rx: (RxRing | undefined)[] = [];
  #txPools: (Mempool | undefined)[] = [];
  #stats = new QueueStats(0, 0);
  #faults = new Map<ControlOp, Error>();
  #promisc = false;
  #allmulti = false;
  #mc: readonly EtherAddr[] = [];

  constructor(options: RingPmdOptions) {
    this.#opts = { ringSize: 1024, maxQueues: 8, loopback: false, ...options };
    this.#mac = options.mac === undefined ? randomEtherAddr() : parseEtherAddr(options.mac);
    this.dev = new EthDev(options.name, 'net_ring', this);
    rings.set(options.name, this);
  }

  /** The ring device of that name, for tests that probed it through the registry. */
  static get(name: string): RingPmd | undefined {
    return rings.get(name);
  }

  get promiscuous(): boolean {
    return this.#promisc;
  }

  get allmulticast(): boolean {
    return this.#allmulti;
  }

  get mcList(): readonly EtherAddr[] {
    return this.#mc;
  }

  get isStarted(): boolean {
    return this.#started;
  }

  // ---- controls for tests ----

  setLink(up: boolean): void {
    this.#link = { ...this.#link, up };
    this.dev.reportLink(this.#link);
  }

  /** Simulate a hot-unplug: bursts return 0 from now on, control ops fail with ERR_NO_DEVICE. */
  remove(reason = 'simulated removal'): void {
    this.#removed = true;
    this.#started = false;
    this.dev.reportRemoval(reason);
  }

  /** Make the next call of `op` throw `error`. */
  failNext(op: ControlOp, error: Error = new Error(`injected ${op} failure`)): void {
    this.#faults.set(op, error);
  }

  /** Put a frame on Rx queue `queue` as if it came from the wire; false when dropped. */
  inject(queue: number, frame: ArrayLike<number>): boolean {
    const ring = this.#rx[queue];
    if (!ring) return false;
    const m = ring.pool.alloc();
    if (m < 0) {
      this.#stats.rxNombuf[queue] = (this.#stats.rxNombuf[queue] ?? 0) + 1;
      return false;
    }
    ring.pool.write(m, frame);
    if (!this.#enqueue(ring, m)) {
      ring.pool.free(m);
      this.#stats.rxMissed[queue] = (this.#stats.rxMissed[queue] ?? 0) + 1;
      return false;
    }
    return true;
  }

  // ---- EthDevOps ----

  infoGet(): DevInfo {
    const q = this.#opts.maxQueues;
    return {
      driverName: 'net_ring',
      maxRxQueues: q,
      maxTxQueues: q,
      minMtu: 68,
      maxMtu: 9000,
      maxRxPktLen: 9018,
      maxMacAddrs: 1,
      capa: { lsc: true, rmv: true, rxqIntr: true },
    };
  }

  configure(nbRx: number, nbTx: number, _conf: EthConf): void {
    this.#control('configure', `configure(${nbRx},${nbTx})`);
    this.#rx = new Array<RxRing | undefined>(nbRx).fill(undefined);
    this.#txPools = new Array<Mempool | undefined>(nbTx).fill(undefined);
    this.#stats = new QueueStats(nbRx, nbTx);
  }

  rxQueueSetup(queue: number, conf: RxQueueConf): void {
    this.#control('rxQueueSetup', `rxQueueSetup(${queue})`);
    this.#rx[queue] = { pool: conf.mempool, slots: new Uint32Array(conf.nbDesc ?? this.#opts.ringSize), head: 0, tail: 0, queue, intr: undefined, intrQueued: false };
  }

  txQueueSetup(queue: number, conf: TxQueueConf): void {
    this.#control('txQueueSetup', `txQueueSetup(${queue})`);
    this.#txPools[queue] = conf.mempool;
  }

  start(): void {
    this.#control('start', 'start');
    this.#started = true;
  }

  stop(): void {
    this.#control('stop', 'stop');
    this.#started = false;
  }

  close(): void {
    this.calls.push('close');
    this.#started = false;
    for (const ring of this.#rx) {
      if (!ring) continue;
      while (ring.head !== ring.tail) {
        ring.pool.free(ring.slots[ring.tail % ring.slots.length] ?? 0);
        ring.tail++;
      }
      ring.intr = undefined;
    }
    if (rings.get(this.dev.name) === this) rings.delete(this.dev.name);
  }

  rxBurst(queue: number, out: Uint32Array, max: number): number {
    const ring = this.#rx[queue];
    if (!this.#started || ring === undefined) return 0;
    const len = ring.slots.length;
    let n = 0;
    let bytes = 0;
    while (n < max && ring.tail !== ring.head) {
      const m = ring.slots[ring.tail % len] ?? 0;
      ring.tail++;
      ring.pool.port[m] = this.dev.portId;
      bytes += ring.pool.dataLen[m] ?? 0;
      out[n++] = m;
    }
    this.#stats.rxPackets[queue] = (this.#stats.rxPackets[queue] ?? 0) + n;
    this.#stats.rxBytes[queue] = (this.#stats.rxBytes[queue] ?? 0) + bytes;
    return n;
  }

  txBurst(queue: number, mbufs: Uint32Array, n: number, first: number): number {
    const pool = this.#txPools[queue];
    if (!this.#started || pool === undefined) return 0;
    const target = this.#opts.loopback ? this : this.peer;
    const ring = target !== undefined && target.#started ? target.#rx[queue % target.#rx.length] : undefined;
    let sent = 0;
    let bytes = 0;
    for (; sent < n; sent++) {
      const m = mbufs[first + sent] ?? 0;
      const len = pool.dataLen[m] ?? 0;
      if (ring !== undefined) {
        if (ring.head - ring.tail >= ring.slots.length) break; // peer ring full: the rest stay the caller's
        if (ring.pool === pool) {
          this.#enqueue(ring, m);
        } else {
          const c = ring.pool.alloc();
          if (c < 0) break;
          ring.pool.buf.set(pool.buf.subarray(pool.dataOffset(m), pool.dataOffset(m) + len), ring.pool.dataOffset(c));
          ring.pool.dataLen[c] = len;
          this.#enqueue(ring, c);
          pool.free(m);
        }
      } else {
        pool.free(m); // no wire attached: a sink, like net_null
      }
      bytes += len;
    }
    this.#stats.txPackets[queue] = (this.#stats.txPackets[queue] ?? 0) + sent;
    this.#stats.txBytes[queue] = (this.#stats.txBytes[queue] ?? 0) + bytes;
    return sent;
  }

  rxIntrEnable(queue: number, handler: RxIntrHandler): void {
    const ring = this.#rx[queue];
    if (ring === undefined) return;
    ring.intr = handler;
    if (ring.head !== ring.tail) queueRingIntr(ring);
  }

  rxIntrDisable(queue: number): void {
    const ring = this.#rx[queue];
    if (ring !== undefined) ring.intr = undefined;
  }

  linkGet(): LinkStatus {
    return this.#removed ? { ...this.#link, up: false } : this.#link;
  }

  macAddrGet(): EtherAddr {
    return this.#mac;
  }

  macAddrSet(mac: EtherAddr): void {
    this.#control('macAddrSet', `macAddrSet(${mac})`);
    this.#mac = mac;
  }

  mtuGet(): number {
    return this.#mtu;
  }

  mtuSet(mtu: number): void {
    this.#control('mtuSet', `mtuSet(${mtu})`);
    this.#mtu = mtu;
  }

  promiscuousSet(on: boolean): void {
    this.#control('promiscuousSet', `promiscuousSet(${on})`);
    this.#promisc = on;
  }

  allmulticastSet(on: boolean): void {
    this.#control('allmulticastSet', `allmulticastSet(${on})`);
    this.#allmulti = on;
  }

  mcAddrListSet(list: readonly EtherAddr[]): void {
    this.#control('mcAddrListSet', `mcAddrListSet(${list.join(' ')})`);
    this.#mc = [...list];
  }

  statsGet(): EthStats {
    this.#control('statsGet', undefined);
    return this.#stats.toEthStats();
  }

  statsReset(): void {
    this.#stats.reset();
  }

  #control(op: ControlOp, log: string | undefined): void {
    if (this.#removed) throw new NoDeviceError(`${this.dev.name}: ${op}: device removed`);
    const fault = this.#faults.get(op);
    if (fault) {
      this.#faults.delete(op);
      throw fault;
    }
    if (log !== undefined) this.calls.push(log);
  }

  #enqueue(ring: RxRing, m: number): boolean {
    if (ring.head - ring.tail >= ring.slots.length) return false;
    ring.slots[ring.head % ring.slots.length] = m;
    ring.head++;
    if (ring.intr !== undefined) queueRingIntr(ring);
    return true;
  }
}

/** Two ring ports wired back to back: what one transmits, the other receives. */
export function createRingPair(nameA: string, nameB: string, options: Omit<RingPmdOptions, 'name' | 'loopback'> = {}): [RingPmd, RingPmd] {
  const a = new RingPmd({ ...options, name: nameA });
  const b = new RingPmd({ ...options, name: nameB });
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/**
 * `net_ring<anything>[,mac=..][,loopback=1][,peer=<name>]`: an in-memory port. With
 * `peer=` it is wired to an existing ring port (both directions).
 */
export const ringDriver: VdevDriver = {
  name: 'net_ring',
  probe(args: DevArgs) {
    args.check('net_ring', ['mac', 'loopback', 'peer']);
    const loopback = args.last('loopback');
    if (loopback !== undefined && loopback !== '0' && loopback !== '1') {
      throw new InvalidArgumentError(`net_ring: loopback=${loopback}; accepted: 0, 1`);
    }
    const mac = args.last('mac');
    const pmd = new RingPmd({ name: args.name, loopback: loopback === '1', ...(mac === undefined ? {} : { mac }) });
    const peerName = args.last('peer');
    if (peerName !== undefined) {
      const peer = RingPmd.get(peerName);
      if (!peer) {
        pmd.dev.close();
        throw new NoDeviceError(`net_ring: peer "${peerName}" does not exist`);
      }
      pmd.peer = peer;
      peer.peer = pmd;
    }
    return pmd.dev;
  },
};
