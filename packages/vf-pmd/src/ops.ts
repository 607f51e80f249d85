import {
  basicXstats,
  Errno,
  ErrnoError,
  etherAddrBytes,
  EthDev,
  FdRxIntr,
  InvalidArgumentError,
  NoDeviceError,
  QueueStats,
  StateError,
  type DevInfo,
  type EthConf,
  type EthDevOps,
  type EthStats,
  type EtherAddr,
  type LinkStatus,
  type Mempool,
  type RxIntrHandler,
  type RxQueueConf,
  type TxQueueConf,
  type XStat,
} from '@netvsc/ethdev';
import type { Link, RtNetlink } from '@netvsc/netlink';
import type { FanoutMode, PmdConfig } from './args.js';
import { OwnRx, ownRxNative, type OwnRxNative, type TcOps } from './bpf.js';
import { LinkWatch, type LinkWatchHandlers } from './intr.js';
import { addressOf, mapShared, unmap, type Mapping } from './native/mman.js';
import { ifIndexToName, linkSpeed } from './native/netif.js';
import {
  bindPacket,
  setMuted,
  closeFd,
  closeFdLater,
  ETH_P_ALL,
  FanoutFlag,
  getFanout,
  Iovec,
  MmsgHdr,
  PACKET_MR_ALLMULTI,
  PACKET_MR_MULTICAST,
  PACKET_MR_PROMISC,
  PacketOpt,
  packetSocket,
  packetStats,
  POLLERR,
  pollNow,
  sendBatch,
  setFanout,
  setMembership,
  setPacketInt,
  setRxRing,
  socketError,
  TPACKET_V3,
  type PacketStats,
  type TpacketReq3,
} from './native/packet.js';
import { pciStillResolves } from './pci.js';
import { ETHER_HDR_LEN, maxMtu, MIN_MTU, VLAN_TAG_LEN } from './ring.js';
import { memoryOf, RxQueue, TX_BATCH, TxQueue, type SendFn } from './rxtx.js';

/**
 * The port: DPDK's eth_dev_ops for an AF_PACKET netdev (rte_eth_af_packet.c's
 * eth_dev_configure/start/stop/close, link/MTU/MAC/promisc, stats) plus what a hot-pluggable
 * VF needs: removal detection and the own_rx take-away.
 */

/** The socket-layer calls the port makes; the real shim by default, a fake in unit tests. */
export interface SocketLayer {
  open(): number;
  close(fd: number): void;
  /** Close without blocking the caller (a packet socket's close waits for RCU). */
  closeLater(fd: number): void;
  setInt(fd: number, opt: number, value: number, name: string): void;
  setRxRing(fd: number, req: TpacketReq3): void;
  bind(fd: number, ifindex: number, protocol: number): void;
  /** Accept nothing (true) or everything (false) on a socket, for a duplicate-free own_rx start. */
  setMuted(fd: number, muted: boolean): void;
  setFanout(fd: number, arg: number): void;
  getFanout(fd: number): number;
  membership(fd: number, add: boolean, ifindex: number, type: number, address?: Uint8Array): void;
  stats(fd: number): PacketStats;
  socketError(fd: number): number;
  pollNow(fd: number, events: number): number;
  send: SendFn;
  map(fd: number, length: number): Mapping;
  unmap(m: Mapping): void;
  addressOf(bytes: Uint8Array): number;
  ifIndexToName(ifindex: number): string | undefined;
  linkSpeed(fd: number, name: string): number;
}

export const nativeSockets: SocketLayer = {
  open: packetSocket,
  close: closeFd,
  closeLater: closeFdLater,
  setInt: setPacketInt,
  setRxRing,
  bind: bindPacket,
  setMuted,
  setFanout,
  getFanout,
  membership: setMembership,
  stats: packetStats,
  socketError,
  pollNow,
  send: sendBatch,
  map: mapShared,
  unmap,
  addressOf,
  ifIndexToName,
  linkSpeed,
};

/** The rtnetlink calls the port makes (link state and the own_rx filter). */
export type LinkOps = Pick<RtNetlink, 'link' | 'setLink' | 'close'> & TcOps;

export interface PortDeps {
  readonly sockets?: SocketLayer;
  readonly rtnl?: LinkOps;
  readonly ownRxNative?: OwnRxNative;
  /** Start the link watch (null: none, e.g. in unit tests). */
  readonly linkWatch?: ((ifindex: number, h: LinkWatchHandlers) => { close(): void }) | null;
}

const FANOUT_CODE: Record<FanoutMode, number> = { hash: 0, lb: 1, cpu: 2, rollover: 3, rnd: 4, qm: 5 };

interface QueuePair {
  readonly fd: number;
  /** The Rx ring; none for a Tx-only queue. */
  readonly mapping: Mapping | undefined;
  readonly rx: RxQueue | undefined;
  readonly tx: TxQueue | undefined;
  readonly intr: FdRxIntr | undefined;
}

/** What probe resolved: the netdev the port drives. */
export interface Netdev {
  readonly name: string;
  readonly ifindex: number;
  readonly mac: EtherAddr;
}

export class AfPacketPort implements EthDevOps {
  readonly dev: EthDev;
  readonly config: PmdConfig;
  readonly #sockets: SocketLayer;
  readonly #rtnl: LinkOps;
  readonly #ownRxNative: OwnRxNative;
  readonly #driverName: string;
  #ifname: string;
  readonly #ifindex: number;
  #mac: EtherAddr;
  /** Holds promiscuous/allmulticast/multicast memberships for the port's lifetime (PACKET_*_MEMBERSHIP). */
  #ctlFd: number;
  #nbRx = 0;
  #nbTx = 0;
  #rxPools: (Mempool | undefined)[] = [];
  #txPools: (Mempool | undefined)[] = [];
  #stats = new QueueStats(0, 0);
  #pairs: QueuePair[] = [];
  #rx: (RxQueue | undefined)[] = [];
  #tx: (TxQueue | undefined)[] = [];
  #ownRx: OwnRx | undefined;
  #watch: { close(): void } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #dead = false;
  /** The device was removed (not merely the port closed). */
  #gone = false;
  #closed = false;
  #checkQueued = false;
  #promisc = false;
  #allmulti = false;
  #mc: EtherAddr[] = [];
  #kernelDrops = 0;
  #freezes = 0;
  #fanoutIgnoreOutgoing = true;

  constructor(config: PmdConfig, netdev: Netdev, driverName: string, deps: PortDeps = {}) {
    this.config = config;
    this.#sockets = deps.sockets ?? nativeSockets;
    if (deps.rtnl === undefined) throw new StateError(`${config.name}: no rtnetlink handle`);
    this.#rtnl = deps.rtnl;
    this.#ownRxNative = deps.ownRxNative ?? ownRxNative;
    this.#driverName = driverName;
    this.#ifname = netdev.name;
    this.#ifindex = netdev.ifindex;
    this.#mac = netdev.mac;
    this.#ctlFd = this.#sockets.open();
    this.dev = new EthDev(config.name, driverName, this);
    try {
      const watch = deps.linkWatch === undefined ? defaultLinkWatch : deps.linkWatch;
      if (watch !== null) {
        this.#watch = watch(this.#ifindex, {
          onLink: (l) => {
            this.#onLink(l);
          },
          onRemoved: () => {
            this.#remove(`${this.#ifname} (ifindex ${this.#ifindex}) was deleted (RTM_DELLINK)`);
          },
          onOverrun: () => {
            this.#scheduleCheck();
          },
        });
      }
      if (config.removalCheckMs > 0) {
        this.#timer = setInterval(() => {
          this.#check();
        }, config.removalCheckMs);
        this.#timer.unref();
      }
    } catch (e) {
      this.dev.close();
      throw e;
    }
  }

  get ifname(): string {
    return this.#ifname;
  }

  get ifindex(): number {
    return this.#ifindex;
  }

  /** The own_rx filter while it is attached. */
  get ownRx(): OwnRx | undefined {
    return this.#ownRx;
  }

  // ---- EthDevOps: lifecycle ----

  infoGet(): DevInfo {
    const g = this.config.geometry;
    return {
      driverName: this.#driverName,
      ifName: this.#ifname,
      ifIndex: this.#ifindex,
      ...(this.config.pciAddr === undefined ? {} : { pciAddr: this.config.pciAddr }),
      maxRxQueues: this.config.qpairs,
      maxTxQueues: this.config.qpairs,
      minMtu: MIN_MTU,
      maxMtu: maxMtu(g),
      maxRxPktLen: g.maxRxFrame,
      maxMacAddrs: 1,
      capa: { lsc: true, rmv: true, rxqIntr: true },
    };
  }

  configure(nbRx: number, nbTx: number, _conf: EthConf): void {
    this.#alive('configure');
    this.#nbRx = nbRx;
    this.#nbTx = nbTx;
    this.#rxPools = new Array<Mempool | undefined>(nbRx).fill(undefined);
    this.#txPools = new Array<Mempool | undefined>(nbTx).fill(undefined);
    this.#stats = new QueueStats(nbRx, nbTx);
  }

  rxQueueSetup(queue: number, conf: RxQueueConf): void {
    this.#alive('rxQueueSetup');
    const pool = conf.mempool;
    const need = this.#mtuNow() + ETHER_HDR_LEN + VLAN_TAG_LEN;
    if (pool.dataRoomSize - pool.headroom < need) {
      throw new InvalidArgumentError(
        `${this.dev.name}: Rx queue ${queue}: mbufs of ${pool.dataRoomSize - pool.headroom} data bytes cannot hold a frame of MTU ${this.#mtuNow()} (${need} bytes with VLAN tag); use a larger dataRoomSize or a smaller MTU`,
      );
    }
    this.#rxPools[queue] = pool;
  }

  txQueueSetup(queue: number, conf: TxQueueConf): void {
    this.#alive('txQueueSetup');
    this.#txPools[queue] = conf.mempool;
  }

  start(): void {
    this.#alive('start');
    const pairs = Math.max(this.#nbRx, this.#nbTx);
    try {
      let fanoutId = -1;
      for (let q = 0; q < pairs; q++) {
        const pair = this.#openPair(q, fanoutId);
        this.#pairs.push(pair);
        if (q === 0 && this.#nbRx > 1) fanoutId = this.#sockets.getFanout(pair.fd) & 0xffff;
      }
      if (this.config.ownRx) {
        // Rx sockets were bound muted: until the take-away program is in, the kernel's
        // transparent path (VF -> NetVSC -> TAP) delivers; from here on, only our sockets do.
        this.#ownRx = OwnRx.attach(this.#rtnl, this.#ifindex, this.config.ownRxPref, this.#ownRxNative);
        for (const p of this.#pairs) if (p.rx) this.#sockets.setMuted(p.fd, false);
      }
    } catch (e) {
      this.#closePairs();
      throw e;
    }
    this.#rx = this.#pairs.map((p) => p.rx);
    this.#tx = this.#pairs.map((p) => p.tx);
    this.dev.reportLink(this.linkGet());
  }

  stop(): void {
    // Detach first: until the sockets close, frames must keep reaching them or the kernel.
    this.#detachOwnRx();
    this.#closePairs();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#dead = true;
    this.#detachOwnRx();
    this.#closePairs();
    this.#releaseAll();
  }

  // ---- data path ----

  rxBurst(queue: number, out: Uint32Array, max: number): number {
    if (this.#dead) return 0;
    const rx = this.#rx[queue];
    return rx === undefined ? 0 : rx.burst(out, max);
  }

  txBurst(queue: number, mbufs: Uint32Array, n: number, first: number): number {
    if (this.#dead) return 0;
    const tx = this.#tx[queue];
    return tx === undefined ? 0 : tx.burst(mbufs, n, first);
  }

  rxIntrEnable(queue: number, handler: RxIntrHandler): void {
    if (!this.#dead) this.#pairs[queue]?.intr?.enable(handler);
  }

  rxIntrDisable(queue: number): void {
    this.#pairs[queue]?.intr?.disable();
  }

  // ---- control ----

  linkGet(): LinkStatus {
    if (this.#dead) return { up: false, speed: 0, duplex: 'full', autoneg: true };
    const l = this.#rtnl.link(this.#ifindex);
    if (l === null) {
      this.#remove(`${this.#ifname} (ifindex ${this.#ifindex}) no longer exists`);
      return { up: false, speed: 0, duplex: 'full', autoneg: true };
    }
    return this.#linkOf(l);
  }

  macAddrGet(): EtherAddr {
    return this.#mac;
  }

  macAddrSet(mac: EtherAddr): void {
    this.#alive('macAddrSet');
    this.#rtnl.setLink(this.#ifindex, { mac });
    this.#mac = mac;
  }

  mtuGet(): number {
    return this.#dead ? 0 : this.#mtuNow();
  }

  mtuSet(mtu: number): void {
    this.#alive('mtuSet');
    for (const [q, pool] of this.#rxPools.entries()) {
      if (pool !== undefined && pool.dataRoomSize - pool.headroom < mtu + ETHER_HDR_LEN + VLAN_TAG_LEN) {
        throw new InvalidArgumentError(`${this.dev.name}: MTU ${mtu} does not fit the mbufs of Rx queue ${q} (${pool.dataRoomSize - pool.headroom} data bytes)`);
      }
    }
    this.#rtnl.setLink(this.#ifindex, { mtu });
  }

  promiscuousSet(on: boolean): void {
    this.#alive('promiscuousSet');
    if (on !== this.#promisc) this.#sockets.membership(this.#ctlFd, on, this.#ifindex, PACKET_MR_PROMISC);
    this.#promisc = on;
  }

  allmulticastSet(on: boolean): void {
    this.#alive('allmulticastSet');
    if (on !== this.#allmulti) this.#sockets.membership(this.#ctlFd, on, this.#ifindex, PACKET_MR_ALLMULTI);
    this.#allmulti = on;
  }

  mcAddrListSet(list: readonly EtherAddr[]): void {
    this.#alive('mcAddrListSet');
    const next = [...new Set(list)];
    for (const a of this.#mc) if (!next.includes(a)) this.#sockets.membership(this.#ctlFd, false, this.#ifindex, PACKET_MR_MULTICAST, etherAddrBytes(a));
    for (const a of next) if (!this.#mc.includes(a)) this.#sockets.membership(this.#ctlFd, true, this.#ifindex, PACKET_MR_MULTICAST, etherAddrBytes(a));
    this.#mc = next;
  }

  statsGet(): EthStats {
    this.#foldKernelStats();
    return this.#stats.toEthStats();
  }

  statsReset(): void {
    this.#foldKernelStats();
    this.#stats.reset();
    this.#kernelDrops = 0;
    this.#freezes = 0;
    for (const p of this.#pairs) {
      if (p.rx) p.rx.oversize = 0;
      if (p.tx) p.tx.oversize = 0;
    }
  }

  xstatsGet(): XStat[] {
    const s = this.statsGet();
    let rxOversize = 0;
    let txOversize = 0;
    for (const p of this.#pairs) {
      rxOversize += p.rx?.oversize ?? 0;
      txOversize += p.tx?.oversize ?? 0;
    }
    return [
      ...basicXstats(s),
      { name: 'rx_kernel_drops', value: this.#kernelDrops },
      { name: 'rx_kernel_freeze_q', value: this.#freezes },
      { name: 'rx_oversize_errors', value: rxOversize },
      { name: 'tx_oversize_errors', value: txOversize },
    ];
  }

  xstatsReset(): void {
    this.statsReset();
  }

  // ---- internals ----

  #openPair(q: number, fanoutId: number): QueuePair {
    const s = this.#sockets;
    const g = this.config.geometry;
    const rxPool = q < this.#nbRx ? this.#rxPools[q] : undefined;
    const txPool = q < this.#nbTx ? this.#txPools[q] : undefined;
    const fd = s.open();
    let mapping: Mapping | undefined;
    try {
      if (this.config.qdiscBypass) s.setInt(fd, PacketOpt.QDISC_BYPASS, 1, 'PACKET_QDISC_BYPASS');
      let rx: RxQueue | undefined;
      if (rxPool) {
        s.setInt(fd, PacketOpt.VERSION, TPACKET_V3, 'PACKET_VERSION');
        // A NIC queue receives what arrives, not what the host sends out through the netdev.
        s.setInt(fd, PacketOpt.IGNORE_OUTGOING, 1, 'PACKET_IGNORE_OUTGOING');
        s.setRxRing(fd, { blockSize: g.blockSize, blockNr: g.blockNr, frameSize: g.frameSize, frameNr: g.frameNr, retireBlkTov: g.retireTovMs });
        mapping = s.map(fd, g.ringBytes);
        rx = new RxQueue(q, { mem: memoryOf(new Uint8Array(mapping.buffer)), offset: 0, geometry: g }, rxPool, memoryOf(rxPool.buf), this.dev.portId, this.#stats);
      }
      if (rxPool && this.config.ownRx) s.setMuted(fd, true);
      // Rx sockets hook in with ETH_P_ALL (served before tc ingress); a Tx-only socket only names the device.
      s.bind(fd, this.#ifindex, rxPool ? ETH_P_ALL : 0);
      if (rxPool && this.#nbRx > 1) this.#joinFanout(fd, fanoutId);
      let tx: TxQueue | undefined;
      if (txPool) {
        const msgs = new Uint8Array(TX_BATCH * (MmsgHdr.size + Iovec.size));
        tx = new TxQueue(q, fd, txPool, s.addressOf(txPool.buf), msgs, s.addressOf(msgs), this.#stats, s.send, (queue, errno) => {
          this.#onTxError(queue, errno);
        });
      }
      // A socket error (POLLERR) may be the device going away: checked soon, outside the burst.
      const intr = rx
        ? new FdRxIntr(fd, q, (error) => {
            if (error) this.#scheduleCheck();
          })
        : undefined;
      return { fd, mapping, rx, tx, intr };
    } catch (e) {
      if (mapping) s.unmap(mapping);
      s.close(fd);
      throw e;
    }
  }

  #joinFanout(fd: number, fanoutId: number): void {
    const base = FANOUT_CODE[this.config.fanoutMode] | FanoutFlag.DEFRAG | FanoutFlag.ROLLOVER;
    const arg = (flags: number): number => (fanoutId < 0 ? ((flags | FanoutFlag.UNIQUEID) << 16) >>> 0 : (fanoutId | (flags << 16)) >>> 0);
    if (this.#fanoutIgnoreOutgoing) {
      try {
        this.#sockets.setFanout(fd, arg(base | FanoutFlag.IGNORE_OUTGOING));
        return;
      } catch (e) {
        // Kernels before the flag existed refuse it; the group then sees outgoing frames too.
        if (!(e instanceof ErrnoError && e.code === 'EINVAL' && fanoutId < 0)) throw e;
        this.#fanoutIgnoreOutgoing = false;
      }
    }
    this.#sockets.setFanout(fd, arg(base));
  }

  #closePairs(): void {
    this.#rx = [];
    this.#tx = [];
    const pairs = this.#pairs;
    this.#pairs = [];
    for (const p of pairs) {
      p.intr?.close();
      if (!this.#dead) this.#foldPair(p);
      try {
        if (p.mapping) this.#sockets.unmap(p.mapping);
      } finally {
        this.#closeSocket(p.fd);
      }
    }
  }

  /**
   * A removed device's sockets are closed off the event loop: each close waits ~10-35 ms for
   * RCU, and the fail-safe tears the device down while the application is failing over.
   */
  #closeSocket(fd: number): void {
    if (this.#gone) this.#sockets.closeLater(fd);
    else this.#sockets.close(fd);
  }

  #detachOwnRx(): void {
    const f = this.#ownRx;
    this.#ownRx = undefined;
    f?.detach();
  }

  #releaseAll(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#watch?.close();
    this.#watch = undefined;
    if (this.#ctlFd >= 0) {
      // Closing the socket drops its memberships: the netdev's promisc/allmulti counts go back.
      this.#closeSocket(this.#ctlFd);
      this.#ctlFd = -1;
    }
    this.#rtnl.close();
  }

  #foldKernelStats(): void {
    if (this.#dead) return;
    for (const p of this.#pairs) this.#foldPair(p);
  }

  /** PACKET_STATISTICS resets on read: accumulate. */
  #foldPair(p: QueuePair): void {
    if (p.rx === undefined) return;
    try {
      const k = this.#sockets.stats(p.fd);
      const q = p.rx.queueId;
      this.#stats.rxMissed[q] = (this.#stats.rxMissed[q] ?? 0) + k.drops;
      this.#kernelDrops += k.drops;
      this.#freezes += k.freezeQueueCount;
    } catch {
      // A socket whose device is gone has nothing left to report.
    }
  }

  #mtuNow(): number {
    return this.#rtnl.link(this.#ifindex)?.mtu ?? 0;
  }

  #linkOf(l: Link): LinkStatus {
    // The ethtool ioctl takes the RTNL lock: on the link-down event of a VF being removed it
    // waits until the kernel has finished unregistering it (measured 7-400 ms of blocked event
    // loop, ahead of the fail-safe's switch). A down link has no speed to ask for.
    const speed = l.operUp && this.#ctlFd >= 0 ? this.#sockets.linkSpeed(this.#ctlFd, l.name) : 0;
    return { up: l.operUp, speed, duplex: 'full', autoneg: true };
  }

  #alive(op: string): void {
    if (this.#dead) throw new NoDeviceError(`${this.dev.name}: ${op}: ${this.#ifname} was removed`);
  }

  #onLink(l: Link): void {
    if (this.#dead) return;
    this.#ifname = l.name;
    if (l.mac !== null) this.#mac = l.mac;
    this.dev.reportLink(this.#linkOf(l));
  }

  #onTxError(queue: number, errno: number): void {
    if (errno === Errno.ENXIO || errno === Errno.ENODEV) {
      this.#remove(`Tx queue ${queue}: the kernel reports ${errno === Errno.ENXIO ? 'ENXIO' : 'ENODEV'} (device gone)`);
    } else {
      this.#scheduleCheck();
    }
  }

  /** Run the removal check soon, once, outside the burst that noticed something. */
  #scheduleCheck(): void {
    if (this.#checkQueued || this.#dead) return;
    this.#checkQueued = true;
    setImmediate(() => {
      this.#checkQueued = false;
      this.#check();
    });
  }

  /**
   * The removal backstop (timer, socket errors): the ifindex must still exist, the PCI
   * function must still resolve to a netdev, and socket errors other than a link going
   * down mean the device is unusable.
   */
  #check(): void {
    if (this.#dead) return;
    try {
      if (this.#sockets.ifIndexToName(this.#ifindex) === undefined) {
        this.#remove(`${this.#ifname} (ifindex ${this.#ifindex}) no longer exists`);
        return;
      }
      const addr = this.config.pciAddr;
      if (addr !== undefined && !pciStillResolves(addr, this.config.mac, this.config.sysfsRoot)) {
        this.#remove(`PCI device ${addr} no longer resolves to a network interface${this.config.mac === undefined ? '' : ` with MAC ${this.config.mac}`}`);
        return;
      }
      for (const p of this.#pairs) {
        if ((this.#sockets.pollNow(p.fd, 0) & POLLERR) === 0) continue;
        const err = this.#sockets.socketError(p.fd);
        if (err === Errno.ENXIO || err === Errno.ENODEV) {
          this.#remove(`queue socket error ${err === Errno.ENXIO ? 'ENXIO' : 'ENODEV'}`);
          return;
        }
        // ENETDOWN with the ifindex still present: the link went down, not away.
        if (err === Errno.ENETDOWN) this.dev.reportLink(this.linkGet());
      }
    } catch {
      // A failing check is retried by the timer; it must never take the event loop down.
    }
  }

  /** The device is gone: bursts return 0 from now on, the event goes out once the current burst returns. */
  #remove(reason: string): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#gone = true;
    this.#rx = [];
    this.#tx = [];
    // Pending waits end when the removal is reported (EthDev settles them); nothing arrives before.
    for (const p of this.#pairs) p.intr?.disable();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    // The filter went with the device; do not try to delete it from a reused ifindex later.
    this.#ownRx = undefined;
    setImmediate(() => {
      this.dev.reportRemoval(reason);
    });
  }
}

function defaultLinkWatch(ifindex: number, h: LinkWatchHandlers): { close(): void } {
  return new LinkWatch(ifindex, h);
}
