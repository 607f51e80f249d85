import {
  ErrnoError,
  EthDev,
  InvalidArgumentError,
  NoDeviceError,
  NotSupportedError,
  StateError,
  basicXstats,
  errnoName,
  formatEtherAddr,
  randomEtherAddr,
  type DevInfo,
  type EthConf,
  type EthDevOps,
  type EthStats,
  type EtherAddr,
  type LinkStatus,
  type RxIntrHandler,
  type RxQueueConf,
  type TxQueueConf,
  type XStat,
} from '@netvsc/ethdev';
import type { Link, LinkChange } from '@netvsc/netlink';
import { nextFixedMac, TAP_DRIVER, TUN_DRIVER, type MacSpec, type TapArgs } from './args.js';
import { openTapControl } from './control.js';
import { TapError, TapErrorCode } from './errors.js';
import { TapFlows, type RuleName } from './flow.js';
import { RxInterrupts } from './intr.js';
import { tunNative, type TunNative } from './native/tun.js';
import type { LinkWatch, TapControl } from './netlink.js';
import { L2_OVERHEAD, TapQueue, TapRxTx } from './rxtx.js';
import { TunDevice } from './tun.js';

/** Link speed DPDK's tap reports (10G full duplex, fixed). */
const TAP_SPEED = 10000;
const DEFAULT_MTU = 1500;
const MIN_MTU = 68;
/** The tun driver's largest MTU (ETH_MAX_MTU minus what tun reserves). */
const MAX_MTU = 65521;
/** Frames one io_uring submission takes (a longer burst takes several). */
const TX_RING_DEPTH = 64;

export interface TapOptions extends Partial<TapArgs> {
  /** Port name (the device string's name, e.g. `net_tap_vsc0`). */
  readonly name: string;
  /** An L3 `net_tun` device instead of an Ethernet tap. */
  readonly l3?: boolean;
  /** The tun device layer; the real /dev/net/tun shim by default. */
  readonly native?: TunNative;
  /** rtnetlink + link watching; a fresh socket by default (closed with the port). */
  readonly control?: TapControl;
}

/** Remote netdev state as found at creation, and what this port changed on it. */
interface RemoteState {
  readonly index: number;
  readonly name: string;
  readonly initial: { readonly up: boolean; readonly promisc: boolean; readonly allmulti: boolean; readonly mtu: number; readonly mac: EtherAddr | null };
  /** Settings this port changed (restored to `initial` at close). */
  readonly touched: Set<keyof LinkChange>;
}

const IFF_PROMISC = 0x100;
const IFF_ALLMULTI = 0x200;

/** Remotes served by a port of this process (another process is caught by the rule scan). */
const remotesInUse = new Map<number, string>();
const pmds = new WeakMap<EthDev, TapPmd>();

function errnoCode(e: unknown): string | undefined {
  return e instanceof ErrnoError ? e.code : undefined;
}

function permissionError(port: string, what: string, e: unknown): unknown {
  const c = errnoCode(e);
  if (c === 'EPERM' || c === 'EACCES') return new TapError(TapErrorCode.PERMISSION, `${port}: ${what} needs CAP_NET_ADMIN`, { cause: e });
  return e;
}

function resolveMac(spec: MacSpec): EtherAddr {
  if (spec.kind === 'explicit') return spec.addr;
  if (spec.kind === 'fixed') return nextFixedMac();
  return randomEtherAddr();
}

const ZERO_MAC = formatEtherAddr([0, 0, 0, 0, 0, 0]);

/**
 * The TAP PMD (DPDK's net_tap, and net_tun for L3): a kernel tap whose queues are this
 * port's queues, optionally bound to a `remote` netdev by tc rules so that the remote's
 * traffic reaches the application and the application's traffic leaves through the remote.
 */
export class TapPmd implements EthDevOps {
  readonly dev: EthDev;
  readonly driverName: string;
  readonly #l3: boolean;
  readonly #native: TunNative;
  /** Whether Tx queues try io_uring (devarg tx_uring). */
  readonly #txUring: boolean;
  /** Why Tx runs one writev per frame although tx_uring is on (the errno io_uring_setup gave). */
  #txUringRefused: string | undefined;
  readonly #control: TapControl;
  readonly #ownsControl: boolean;
  readonly #tun: TunDevice;
  readonly #flows: TapFlows | undefined;
  readonly #remote: RemoteState | undefined;
  readonly #rxtx: TapRxTx;
  readonly #intr = new RxInterrupts();
  #watch: LinkWatch | undefined;
  #nbQueues = 0;
  #mac: EtherAddr;
  #mtu: number;
  #started = false;
  #closed = false;
  #tapLink: Link | null = null;
  #remoteLink: Link | null = null;
  #gone: string | undefined;
  #tapGone = false;
  #remoteGone = false;
  readonly #modes = { promisc: false, allmulti: false };

  private constructor(init: {
    name: string;
    l3: boolean;
    native: TunNative;
    control: TapControl;
    ownsControl: boolean;
    tun: TunDevice;
    flows: TapFlows | undefined;
    remote: RemoteState | undefined;
    mac: EtherAddr;
    mtu: number;
    txUring: boolean;
  }) {
    this.#l3 = init.l3;
    this.driverName = init.l3 ? TUN_DRIVER : TAP_DRIVER;
    this.#native = init.native;
    this.#txUring = init.txUring;
    this.#control = init.control;
    this.#ownsControl = init.ownsControl;
    this.#tun = init.tun;
    this.#flows = init.flows;
    this.#remote = init.remote;
    this.#mac = init.mac;
    this.#mtu = init.mtu;
    this.#rxtx = new TapRxTx(init.native);
    this.#rxtx.maxFrame = init.mtu + L2_OVERHEAD;
    this.#rxtx.filter.enabled = !init.l3;
    this.#rxtx.filter.setMac(init.mac);
    this.#rxtx.onGone = (reason) => {
      this.#tapGone = true;
      this.#lost(reason);
    };
    this.dev = new EthDev(init.name, this.driverName, this);
    this.#rxtx.portId = this.dev.portId;
    pmds.set(this.dev, this);
  }

  /** The TapPmd behind a port created by this package, if it is one. */
  static of(dev: EthDev): TapPmd | undefined {
    return pmds.get(dev);
  }

  /**
   * Create the tap (and with `remote`, its rules). Every failure leaves nothing behind:
   * the tap is deleted, rules and a qdisc we added are removed.
   */
  static create(options: TapOptions): TapPmd {
    const port = options.name;
    const l3 = options.l3 ?? false;
    const native = options.native ?? tunNative;
    const persist = options.persist ?? false;
    // What to undo if a later step fails, newest last.
    const undo: (() => void)[] = [];
    try {
      const control = options.control ?? openTapControl();
      const ownsControl = options.control === undefined;
      if (ownsControl) undo.push(() => {
        control.close();
      });
      let remoteLink: Link | null = null;
      if (options.remote !== undefined) {
        if (l3) throw new InvalidArgumentError(`${port}: remote= needs an Ethernet tap (net_tap), not net_tun`);
        remoteLink = control.link(options.remote);
        if (remoteLink === null) throw new NoDeviceError(`${port}: remote=${options.remote}: no such network interface`);
        const user = remotesInUse.get(remoteLink.index);
        if (user !== undefined) {
          throw new TapError(TapErrorCode.REMOTE_IN_USE, `${port}: remote ${options.remote} is already used by port ${user} of this process; one net_tap per remote`);
        }
      }
      const tun = TunDevice.create(native, control, { name: options.iface ?? (l3 ? 'dtun%d' : 'dtap%d'), l3, persist, port });
      undo.push(() => {
        // Gone if we created it, persistent again if we adopted it.
        try {
          tun.setPersist(tun.adopted);
        } finally {
          tun.close();
        }
      });
      const mac = l3 ? ZERO_MAC : (remoteLink?.mac ?? resolveMac(options.mac ?? { kind: 'random' }));
      const mtu = remoteLink?.mtu ?? DEFAULT_MTU;
      try {
        control.setLink(tun.ifindex, l3 ? { mtu } : { mac, mtu });
      } catch (e) {
        throw permissionError(port, `setting MAC/MTU of ${tun.name}`, e);
      }
      let flows: TapFlows | undefined;
      let remote: RemoteState | undefined;
      if (remoteLink !== null) {
        // The tap is a conduit in remote mode: its own IPv6 stack would only add router
        // solicitations and MLD reports of its own to what the application reads.
        control.disableIpv6(tun.name);
        const f = new TapFlows(control, { tapIndex: tun.ifindex, tapName: tun.name, remoteIndex: remoteLink.index, remoteName: remoteLink.name });
        try {
          f.setup(mac);
        } catch (e) {
          throw permissionError(port, `installing tc rules on ${remoteLink.name}`, e);
        }
        flows = f;
        remote = {
          index: remoteLink.index,
          name: remoteLink.name,
          initial: {
            up: remoteLink.up,
            promisc: (remoteLink.flags & IFF_PROMISC) !== 0,
            allmulti: (remoteLink.flags & IFF_ALLMULTI) !== 0,
            mtu: remoteLink.mtu,
            mac: remoteLink.mac,
          },
          touched: new Set(),
        };
      }
      const pmd = new TapPmd({ name: port, l3, native, control, ownsControl, tun, flows, remote, mac, mtu, txUring: options.txUring ?? true });
      if (remote) remotesInUse.set(remote.index, port);
      // From here on the port owns everything, and its close undoes it all.
      undo.splice(0, undo.length, () => {
        pmd.dev.close();
      });
      pmd.#startWatch();
      return pmd;
    } catch (e) {
      for (const u of undo.reverse()) {
        try {
          u();
        } catch {
          // The first error says what went wrong; a failing clean-up would only hide it.
        }
      }
      throw e;
    }
  }

  /** The kernel netdev of this port (may differ from the requested name for templates). */
  get ifName(): string {
    return this.#tun.name;
  }

  get ifIndex(): number {
    return this.#tun.ifindex;
  }

  get remoteName(): string | undefined {
    return this.#remote?.name;
  }

  /** Rules currently installed (empty without `remote`). */
  get rules(): RuleName[] {
    return this.#flows?.installed ?? [];
  }

  get persist(): boolean {
    return this.#tun.persist;
  }

  /**
   * How Tx reaches the tap: `io_uring` (one system call per burst) or `writev` (one per frame,
   * as DPDK; with `tx_uring=0`, or where the kernel refused io_uring: `refused` says why).
   */
  get txMode(): { readonly mode: 'io_uring' | 'writev'; readonly refused?: string } {
    const anyRing = this.#rxtx.queues.some((q) => q?.txRing !== undefined);
    if (anyRing) return { mode: 'io_uring' };
    return this.#txUringRefused === undefined ? { mode: 'writev' } : { mode: 'writev', refused: this.#txUringRefused };
  }

  // ---- EthDevOps: lifecycle ----

  infoGet(): DevInfo {
    return {
      driverName: this.driverName,
      ifName: this.#tun.name,
      ifIndex: this.#tun.ifindex,
      maxRxQueues: this.#tun.maxQueues,
      maxTxQueues: this.#tun.maxQueues,
      minMtu: MIN_MTU,
      maxMtu: MAX_MTU,
      maxRxPktLen: MAX_MTU + L2_OVERHEAD,
      maxMacAddrs: 1,
      capa: { lsc: true, rmv: true, rxqIntr: true },
    };
  }

  configure(nbRx: number, nbTx: number, _conf: EthConf): void {
    this.#checkOpen('configure');
    if (nbRx !== nbTx) {
      throw new InvalidArgumentError(`${this.dev.name}: Rx and Tx queue counts must be equal (one tap fd serves Rx and Tx queue n), got ${nbRx} and ${nbTx}`);
    }
    for (let q = nbRx; q < this.#rxtx.queues.length; q++) this.#releaseQueue(q);
    this.#rxtx.queues.length = nbRx;
    this.#rxtx.resize(nbRx);
    this.#nbQueues = nbRx;
  }

  rxQueueSetup(queue: number, conf: RxQueueConf): void {
    const q = this.#queue(queue);
    if (!q.setRxPool(this.#native, conf.mempool)) {
      throw new InvalidArgumentError(`${this.dev.name}: Rx queue ${queue}: mempool ${conf.mempool.name} has no free mbuf`);
    }
  }

  txQueueSetup(queue: number, conf: TxQueueConf): void {
    this.#queue(queue).setTxPool(this.#native, conf.mempool);
  }

  start(): void {
    this.#checkOpen('start');
    // Started first, so the link notifications that bringing the devices up causes already
    // see a started port (and no spurious "down" event is emitted).
    this.#started = true;
    try {
      this.#control.setLink(this.#tun.ifindex, { up: true });
      this.#tun.setCarrier(true);
      if (this.#remote && !this.#remote.initial.up) this.#setRemote({ up: true });
    } catch (e) {
      this.#started = false;
      throw e;
    }
    this.#rxtx.running = true;
    this.#refreshLink();
  }

  stop(): void {
    this.#rxtx.running = false;
    this.#started = false;
    // DPDK keeps a persistent tap up across stop, so whoever else uses it is not cut off.
    if (!this.#tun.persist && !this.#tapGone) {
      try {
        this.#control.setLink(this.#tun.ifindex, { up: false });
      } catch (e) {
        // Deleted behind our back, before the notification arrived: stopping still succeeds.
        if (errnoCode(e) !== 'ENODEV') throw e;
      }
    }
    this.dev.reportLink(this.linkGet());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rxtx.running = false;
    this.#started = false;
    const errors: unknown[] = [];
    const step = (fn: () => void): void => {
      try {
        fn();
      } catch (e) {
        errors.push(e);
      }
    };
    step(() => {
      this.#watch?.close();
    });
    this.#intr.close();
    if (this.#remote && remotesInUse.get(this.#remote.index) === this.dev.name) remotesInUse.delete(this.#remote.index);
    const keep = this.#tun.persist;
    if (this.#flows) {
      const flows = this.#flows;
      step(() => {
        if (keep) flows.abandon();
        else flows.teardown();
      });
    }
    if (this.#remote && !keep) {
      step(() => {
        this.#restoreRemote();
      });
    }
    for (let q = 0; q < this.#rxtx.queues.length; q++) {
      step(() => {
        this.#releaseQueue(q);
      });
    }
    step(() => {
      this.#tun.close();
    });
    if (this.#ownsControl) {
      step(() => {
        this.#control.close();
      });
    }
    if (errors.length > 0) throw errors[0];
  }

  // ---- bursts ----

  rxBurst(queue: number, out: Uint32Array, max: number): number {
    return this.#rxtx.rxBurst(queue, out, max);
  }

  txBurst(queue: number, mbufs: Uint32Array, n: number, first: number): number {
    return this.#rxtx.txBurst(queue, mbufs, n, first);
  }

  rxIntrEnable(queue: number, handler: RxIntrHandler): void {
    const q = this.#rxtx.queues[queue];
    if (q !== undefined && !this.#closed) this.#intr.enable(queue, q, handler);
  }

  rxIntrDisable(queue: number): void {
    this.#intr.disable(queue);
  }

  // ---- control ----

  linkGet(): LinkStatus {
    if (!this.#closed) {
      if (!this.#tapGone) {
        this.#tapLink = this.#control.link(this.#tun.ifindex);
        if (this.#tapLink === null) {
          this.#tapGone = true;
          this.#lost(`tap ${this.#tun.name} was deleted`);
        }
      }
      if (this.#remote && !this.#remoteGone) {
        this.#remoteLink = this.#control.link(this.#remote.index);
        if (this.#remoteLink === null) {
          this.#remoteGone = true;
          this.#lost(`remote ${this.#remote.name} (ifindex ${this.#remote.index}) was removed`);
        }
      }
    }
    return this.#computeLink();
  }

  macAddrGet(): EtherAddr {
    return this.#mac;
  }

  macAddrSet(mac: EtherAddr): void {
    this.#checkOpen('macAddrSet');
    if (this.#l3) throw new NotSupportedError(`${this.dev.name}: a net_tun device has no MAC address`);
    if (mac === this.#mac) return;
    const old = this.#mac;
    this.#control.setLink(this.#tun.ifindex, { mac });
    try {
      if (this.#remote && !this.#remoteGone) {
        const current = this.#control.link(this.#remote.index)?.mac ?? null;
        if (current !== mac) this.#setRemote({ mac });
        this.#flows?.add('LOCAL_MAC', mac);
      }
    } catch (e) {
      this.#control.setLink(this.#tun.ifindex, { mac: old });
      throw e;
    }
    this.#mac = mac;
    this.#rxtx.filter.setMac(mac);
  }

  mtuGet(): number {
    return this.#mtu;
  }

  mtuSet(mtu: number): void {
    this.#checkOpen('mtuSet');
    this.#control.setLink(this.#tun.ifindex, { mtu });
    if (this.#remote) {
      try {
        this.#setRemote({ mtu });
      } catch (e) {
        this.#control.setLink(this.#tun.ifindex, { mtu: this.#mtu });
        throw e;
      }
    }
    this.#mtu = mtu;
    this.#rxtx.maxFrame = mtu + L2_OVERHEAD;
  }

  promiscuousSet(on: boolean): void {
    this.#checkOpen('promiscuousSet');
    this.#setMode('PROMISC', 'promisc', on);
    this.#rxtx.filter.enabled = !this.#l3 && !on;
  }

  allmulticastSet(on: boolean): void {
    this.#checkOpen('allmulticastSet');
    this.#setMode('ALLMULTI', 'allmulti', on);
    this.#rxtx.filter.allmulti = on;
  }

  mcAddrListSet(list: readonly EtherAddr[]): void {
    this.#rxtx.filter.setMcList(list);
  }

  statsGet(): EthStats {
    return this.#rxtx.stats.toEthStats();
  }

  statsReset(): void {
    this.#rxtx.stats.reset();
    this.#rxtx.counters.reset();
  }

  xstatsGet(): XStat[] {
    const c = this.#rxtx.counters;
    const sum = (a: Float64Array): number => a.reduce((x, y) => x + y, 0);
    return [
      ...basicXstats(this.statsGet()),
      { name: 'rx_mac_filter_drops', value: sum(c.rxFiltered) },
      { name: 'rx_truncated_errors', value: sum(c.rxTruncated) },
      { name: 'tx_oversize_drops', value: sum(c.txOversize) },
      { name: 'tx_invalid_drops', value: sum(c.txInvalid) },
    ];
  }

  xstatsReset(): void {
    this.statsReset();
  }

  // ---- internals ----

  #checkOpen(op: string): void {
    if (this.#closed) throw new StateError(`${this.dev.name}: ${op} on a closed port`);
  }

  #queue(queue: number): TapQueue {
    this.#checkOpen('queue setup');
    if (queue >= this.#nbQueues) throw new InvalidArgumentError(`${this.dev.name}: queue ${queue} is not configured (${this.#nbQueues} queues)`);
    let q = this.#rxtx.queues[queue];
    if (q === undefined) {
      q = new TapQueue(queue, this.#tun.openQueue(), this.#native);
      this.#rxtx.queues[queue] = q;
      if (this.#txUring && this.#txUringRefused === undefined) {
        const ring = this.#native.openWriteRing(TX_RING_DEPTH);
        if ('errno' in ring) this.#txUringRefused = errnoName(ring.errno);
        else q.setTxRing(ring);
      }
    }
    return q;
  }

  #releaseQueue(queue: number): void {
    const q = this.#rxtx.queues[queue];
    if (q === undefined) return;
    this.#intr.release(queue);
    this.#rxtx.queues[queue] = undefined;
    q.releaseRx();
    q.setTxRing(undefined);
    this.#tun.closeQueue(q.fd);
  }

  /** Promiscuous / all-multicast: the tap's flag, the remote's flag and the matching rule. */
  #setMode(rule: RuleName, flag: 'promisc' | 'allmulti', on: boolean): void {
    const was = this.#modes[flag];
    this.#control.setLink(this.#tun.ifindex, { [flag]: on });
    const remote = this.#remote;
    if (remote && this.#flows && !this.#remoteGone) {
      try {
        // The remote keeps a flag it had before us; we only add ours on top.
        this.#setRemote({ [flag]: remote.initial[flag] || on });
        this.#flows.set(rule, on, this.#mac);
      } catch (e) {
        try {
          this.#control.setLink(this.#tun.ifindex, { [flag]: was });
          this.#setRemote({ [flag]: remote.initial[flag] || was });
        } catch {
          // The first error says what went wrong; this one would only hide it.
        }
        throw e;
      }
    }
    this.#modes[flag] = on;
  }

  #setRemote(change: LinkChange): void {
    const remote = this.#remote;
    if (!remote || this.#remoteGone) return;
    this.#control.setLink(remote.index, change);
    for (const k of Object.keys(change) as (keyof LinkChange)[]) remote.touched.add(k);
  }

  /** Put back what we changed on the remote (DPDK only re-sets the bits it saw set). */
  #restoreRemote(): void {
    const remote = this.#remote;
    if (!remote || remote.touched.size === 0 || this.#remoteGone) return;
    const i = remote.initial;
    const change: { -readonly [K in keyof LinkChange]: LinkChange[K] } = {};
    if (remote.touched.has('promisc')) change.promisc = i.promisc;
    if (remote.touched.has('allmulti')) change.allmulti = i.allmulti;
    if (remote.touched.has('up')) change.up = i.up;
    if (remote.touched.has('mtu')) change.mtu = i.mtu;
    if (remote.touched.has('mac') && i.mac !== null) change.mac = i.mac;
    try {
      this.#control.setLink(remote.index, change);
    } catch (e) {
      if (errnoCode(e) !== 'ENODEV') throw e;
    }
  }

  #computeLink(): LinkStatus {
    const tap = this.#tapLink;
    const remote = this.#remoteLink;
    let up = this.#started && !this.#gone && tap?.operUp === true;
    if (this.#remote) up &&= remote?.operUp === true;
    return { up, speed: up ? TAP_SPEED : 0, duplex: 'full', autoneg: false };
  }

  #refreshLink(): void {
    this.dev.reportLink(this.linkGet());
  }

  #startWatch(): void {
    const ifs = [this.#tun.ifindex, ...(this.#remote ? [this.#remote.index] : [])];
    this.#tapLink = this.#control.link(this.#tun.ifindex);
    if (this.#remote) this.#remoteLink = this.#control.link(this.#remote.index);
    this.#watch = this.#control.watchLinks(ifs, (ev) => {
      if (this.#closed) return;
      const isTap = ev.link.index === this.#tun.ifindex;
      if (ev.type === 'del') {
        if (isTap) {
          this.#tapLink = null;
          this.#tapGone = true;
        } else {
          this.#remoteLink = null;
          this.#remoteGone = true;
        }
        this.#lost(isTap ? `tap ${this.#tun.name} was deleted` : `remote ${this.#remote?.name ?? ''} (ifindex ${ev.link.index}) was removed`);
        return;
      }
      if (isTap) this.#tapLink = ev.link;
      else this.#remoteLink = ev.link;
      this.dev.reportLink(this.#computeLink());
    });
  }

  /** The tap or the remote is gone: link down, then a removal event (the app closes the port). */
  #lost(reason: string): void {
    if (this.#gone !== undefined || this.#closed) return;
    this.#gone = reason;
    this.dev.reportLink(this.#computeLink());
    this.dev.reportRemoval(reason);
  }
}
