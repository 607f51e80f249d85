import type { EtherAddr } from './ether.js';
import type { Mempool } from './mbuf.js';

/** rte_eth_conf, reduced to what these PMDs use. */
export interface EthConf {
  /** Ask for link-state-change events (the port emits `lsc`). */
  readonly lsc?: boolean;
  /** Ask for removal events (the port emits `rmv`). */
  readonly rmv?: boolean;
  /** Rx queue interrupts, i.e. `rxIntrEnable()` / `rxQueueWait()` support. */
  readonly rxqIntr?: boolean;
}

export interface RxQueueConf {
  /** Pool the queue takes mbufs from. */
  readonly mempool: Mempool;
  /** Descriptor count hint (ring size); drivers round or ignore as documented. */
  readonly nbDesc?: number;
}

export interface TxQueueConf {
  /**
   * Pool the mbufs handed to `txBurst` belong to: the driver reads their data there and
   * frees the ones it accepts. Forwarding between ports therefore needs one shared pool.
   */
  readonly mempool: Mempool;
  readonly nbDesc?: number;
}

export type LinkDuplex = 'full' | 'half';

/** rte_eth_link. `speed` in Mbps (0 when unknown). */
export interface LinkStatus {
  readonly up: boolean;
  readonly speed: number;
  readonly duplex: LinkDuplex;
  readonly autoneg: boolean;
}

export const LINK_DOWN: LinkStatus = Object.freeze({ up: false, speed: 0, duplex: 'full', autoneg: true });

/** rte_eth_stats, with per-queue counters as arrays indexed by queue id. */
export interface EthStats {
  ipackets: number;
  opackets: number;
  ibytes: number;
  obytes: number;
  /** Dropped by the hardware/kernel before reaching a queue (e.g. ring full). */
  imissed: number;
  ierrors: number;
  oerrors: number;
  /** Rx failures for lack of mbufs. */
  rxNombuf: number;
  qIpackets: number[];
  qOpackets: number[];
  qIbytes: number[];
  qObytes: number[];
  qErrors: number[];
}

export interface XStat {
  readonly name: string;
  readonly value: number;
}

export interface DevCapabilities {
  /** Emits `lsc` events. */
  readonly lsc: boolean;
  /** Emits `rmv` events. */
  readonly rmv: boolean;
  /** Implements Rx queue interrupts (`rxIntrEnable`, `rxQueueWait`). */
  readonly rxqIntr: boolean;
}

/** rte_eth_dev_info, reduced. */
export interface DevInfo {
  readonly driverName: string;
  /** Kernel netdev the port drives, when there is one. */
  readonly ifName?: string;
  readonly ifIndex?: number;
  readonly pciAddr?: string;
  readonly maxRxQueues: number;
  readonly maxTxQueues: number;
  readonly minMtu: number;
  readonly maxMtu: number;
  readonly maxRxPktLen: number;
  readonly maxMacAddrs: number;
  readonly capa: DevCapabilities;
}

export interface RemovalEvent {
  readonly port: string;
  readonly reason: string;
  readonly at: number;
}

export interface LinkEvent {
  readonly port: string;
  readonly link: LinkStatus;
  readonly at: number;
}

/** Events every port may emit; drivers extend the map with their own. */
export interface EthDevEvents {
  /** Link status changed (only when it changed). */
  lsc: LinkEvent;
  /** The device went away: stop using it; `close()` still releases it. */
  rmv: RemovalEvent;
}

/** What an Rx queue interrupt calls: the queue that may have something to read. */
export type RxIntrHandler = (queue: number) => void;

/**
 * The driver side of a port: DPDK's eth_dev_ops plus the burst functions. The generic
 * layer (`EthDev`) validates arguments and lifecycle order before calling in here, so a
 * driver only checks what is specific to it.
 */
export interface EthDevOps {
  infoGet(): DevInfo;
  configure(nbRxQueues: number, nbTxQueues: number, conf: EthConf): void;
  rxQueueSetup(queue: number, conf: RxQueueConf): void;
  txQueueSetup(queue: number, conf: TxQueueConf): void;
  start(): void;
  stop(): void;
  close(): void;

  /** Fill `out[0..]` with up to `max` received mbuf ids; return the count. Never throws. */
  rxBurst(queue: number, out: Uint32Array, max: number): number;
  /**
   * Offer `mbufs[first..first+n)`; return how many were accepted (from `first` on).
   * Accepted mbufs belong to the driver; the rest stay the caller's. Never throws.
   */
  txBurst(queue: number, mbufs: Uint32Array, n: number, first: number): number;
  /**
   * Arm Rx queue `queue`'s interrupt (rte_eth_dev_rx_intr_enable): call `handler(queue)` once,
   * from the event loop, when the queue may have something to read — then the interrupt is
   * disarmed until armed again. Arming an armed queue replaces the handler. Spurious calls are
   * allowed (the caller's next rxBurst absorbs them); a lost one is not. Must not allocate
   * per call once the queue is set up: it sits on every Rx-interrupt loop's hot path.
   */
  rxIntrEnable?(queue: number, handler: RxIntrHandler): void;
  /** Disarm it (rte_eth_dev_rx_intr_disable): the pending handler, if any, is not called. */
  rxIntrDisable?(queue: number): void;

  linkGet(): LinkStatus;
  macAddrGet(): EtherAddr;
  macAddrSet(mac: EtherAddr): void;
  mtuGet(): number;
  mtuSet(mtu: number): void;
  promiscuousSet(on: boolean): void;
  allmulticastSet(on: boolean): void;
  mcAddrListSet(list: readonly EtherAddr[]): void;
  statsGet(): EthStats;
  statsReset(): void;
  xstatsGet?(): XStat[];
  xstatsReset?(): void;
}
