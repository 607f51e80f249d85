import { InvalidArgumentError, NotSupportedError, StateError } from './errors.js';
import { isMulticastEtherAddr, isZeroEtherAddr, parseEtherAddr, type EtherAddr } from './ether.js';
import { TypedEmitter, now } from './events.js';
import type {
  DevInfo,
  EthConf,
  EthDevEvents,
  EthDevOps,
  EthStats,
  LinkStatus,
  RxIntrHandler,
  RxQueueConf,
  TxQueueConf,
  XStat,
} from './types.js';

/** Generic port lifecycle, as rte_ethdev tracks it. */
export type EthDevState = 'probed' | 'configured' | 'started' | 'stopped' | 'closed';

const ports = new Map<number, EthDev>();

function allocPortId(): number {
  let id = 0;
  while (ports.has(id)) id++;
  return id;
}

/** Ports not owned by another driver (rte_eth_dev_count_avail's view). */
export function ethDevList(): EthDev[] {
  return [...ports.values()].filter((p) => p.owner === undefined);
}

export function ethDevGet(portId: number): EthDev | undefined {
  return ports.get(portId);
}

/**
 * A port: the generic ethdev layer. It owns the lifecycle and argument checks and calls the
 * driver's `EthDevOps`. Control operations are synchronous and throw typed errors; bursts
 * never throw and never allocate.
 */
export class EthDev<E extends EthDevEvents = EthDevEvents> extends TypedEmitter<E> {
  readonly name: string;
  readonly driverName: string;
  readonly portId: number;
  /** Set by a driver that manages this port (fail-safe hides its sub-devices this way). */
  owner: string | undefined;
  readonly #ops: EthDevOps;
  #state: EthDevState = 'probed';
  #nbRx = 0;
  #nbTx = 0;
  #rxReady: boolean[] = [];
  #txReady: boolean[] = [];
  #conf: EthConf = {};
  #promisc = false;
  #allmulti = false;
  #mcList: EtherAddr[] = [];
  #removed = false;
  #lastLink: LinkStatus | undefined;
  /** Per Rx queue: the handler armed by `rxIntrEnable`, and the `rxQueueWait` promises pending. */
  #intrHandlers: (RxIntrHandler | undefined)[] = [];
  #intrWaiters: ((ready: boolean) => void)[][] = [];
  /** What the driver is armed with: one function for every queue, so arming allocates nothing. */
  readonly #onRxIntr: RxIntrHandler = (queue) => {
    this.#rxIntrFire(queue);
  };

  constructor(name: string, driverName: string, ops: EthDevOps) {
    super();
    this.name = name;
    this.driverName = driverName;
    this.#ops = ops;
    this.portId = allocPortId();
    ports.set(this.portId, this);
  }

  get state(): EthDevState {
    return this.#state;
  }

  get started(): boolean {
    return this.#state === 'started';
  }

  /** True once the driver reported the device gone. */
  get removed(): boolean {
    return this.#removed;
  }

  get nbRxQueues(): number {
    return this.#nbRx;
  }

  get nbTxQueues(): number {
    return this.#nbTx;
  }

  get conf(): EthConf {
    return this.#conf;
  }

  infoGet(): DevInfo {
    return this.#ops.infoGet();
  }

  configure(nbRxQueues: number, nbTxQueues: number, conf: EthConf = {}): void {
    this.#expect(['probed', 'configured', 'stopped'], 'configure');
    const info = this.#ops.infoGet();
    checkCount(this.name, 'Rx queue count', nbRxQueues, 1, info.maxRxQueues);
    checkCount(this.name, 'Tx queue count', nbTxQueues, 1, info.maxTxQueues);
    this.#ops.configure(nbRxQueues, nbTxQueues, conf);
    this.#nbRx = nbRxQueues;
    this.#nbTx = nbTxQueues;
    this.#rxReady = new Array<boolean>(nbRxQueues).fill(false);
    this.#txReady = new Array<boolean>(nbTxQueues).fill(false);
    this.#rxIntrCancel();
    this.#intrHandlers = new Array<RxIntrHandler | undefined>(nbRxQueues).fill(undefined);
    this.#intrWaiters = Array.from({ length: nbRxQueues }, () => []);
    this.#conf = conf;
    this.#state = 'configured';
  }

  rxQueueSetup(queue: number, conf: RxQueueConf): void {
    this.#expect(['configured', 'stopped'], 'rxQueueSetup');
    checkCount(this.name, 'Rx queue id', queue, 0, this.#nbRx - 1);
    this.#ops.rxQueueSetup(queue, conf);
    this.#rxReady[queue] = true;
  }

  txQueueSetup(queue: number, conf: TxQueueConf): void {
    this.#expect(['configured', 'stopped'], 'txQueueSetup');
    checkCount(this.name, 'Tx queue id', queue, 0, this.#nbTx - 1);
    this.#ops.txQueueSetup(queue, conf);
    this.#txReady[queue] = true;
  }

  start(): void {
    this.#expect(['configured', 'stopped'], 'start');
    const rx = this.#rxReady.indexOf(false);
    const tx = this.#txReady.indexOf(false);
    if (rx >= 0) throw new StateError(`${this.name}: start: Rx queue ${rx} is not set up (call rxQueueSetup first)`);
    if (tx >= 0) throw new StateError(`${this.name}: start: Tx queue ${tx} is not set up (call txQueueSetup first)`);
    this.#ops.start();
    this.#state = 'started';
  }

  stop(): void {
    this.#expect(['started'], 'stop');
    this.#ops.stop();
    this.#state = 'stopped';
    this.#rxIntrCancel();
  }

  /** Stop if started, release everything. Idempotent, so it is safe in `finally` blocks. */
  close(): void {
    if (this.#state === 'closed') return;
    let stopError: Error | undefined;
    try {
      if (this.#state === 'started') this.#ops.stop();
    } catch (e) {
      // A removed device cannot be stopped cleanly; closing must still release it.
      if (!this.#removed) stopError = e instanceof Error ? e : new Error(String(e));
    }
    this.#state = 'closed';
    ports.delete(this.portId);
    this.#rxIntrCancel();
    this.#ops.close();
    if (stopError !== undefined) throw stopError;
  }

  rxBurst(queue: number, out: Uint32Array, max: number): number {
    return this.#ops.rxBurst(queue, out, max);
  }

  txBurst(queue: number, mbufs: Uint32Array, n: number, first = 0): number {
    return this.#ops.txBurst(queue, mbufs, n, first);
  }

  /**
   * Arm Rx queue `queue`'s interrupt (rte_eth_dev_rx_intr_enable + the epoll wait, in one):
   * `handler(queue)` is called once, from the event loop, when the queue may have something —
   * then the interrupt is disarmed until armed again. The allocation-free way to sleep between
   * bursts: drain with rxBurst until it returns 0, arm, return. A spurious call is possible (the
   * next rxBurst returns 0). Arming again replaces the handler. Returns false, arming nothing,
   * when the device was removed: nothing will arrive (the `rmv` event said so).
   */
  rxIntrEnable(queue: number, handler: RxIntrHandler): boolean {
    if (this.#ops.rxIntrEnable === undefined) {
      throw new NotSupportedError(`${this.name}: driver ${this.driverName} has no Rx interrupt (rxIntrEnable)`);
    }
    if (this.#state !== 'started') throw new StateError(`${this.name}: rxIntrEnable needs a started port (state ${this.#state})`);
    checkCount(this.name, 'Rx queue id', queue, 0, this.#nbRx - 1);
    if (this.#removed) return false;
    this.#intrHandlers[queue] = handler;
    this.#ops.rxIntrEnable(queue, this.#onRxIntr);
    return true;
  }

  /** Disarm it (rte_eth_dev_rx_intr_disable): the handler armed is not called. */
  rxIntrDisable(queue: number): void {
    if (this.#state !== 'started') return;
    checkCount(this.name, 'Rx queue id', queue, 0, this.#nbRx - 1);
    this.#intrHandlers[queue] = undefined;
    if (this.#intrWaiters[queue]?.length === 0) this.#ops.rxIntrDisable?.(queue);
  }

  /**
   * Sleep until Rx queue `queue` may have something (DPDK's Rx interrupt mode, awaitable):
   * true when woken, false on timeout or when the port stops, closes or is removed meanwhile.
   * Each call makes a promise (and a timer with a timeout); a loop that must not allocate
   * per wake-up uses `rxIntrEnable`.
   */
  rxQueueWait(queue: number, timeoutMs = -1): Promise<boolean> {
    if (this.#ops.rxIntrEnable === undefined) {
      return Promise.reject(new NotSupportedError(`${this.name}: driver ${this.driverName} has no Rx interrupt (rxQueueWait)`));
    }
    if (this.#state !== 'started') return Promise.reject(new StateError(`${this.name}: rxQueueWait needs a started port (state ${this.#state})`));
    checkCount(this.name, 'Rx queue id', queue, 0, this.#nbRx - 1);
    if (this.#removed) return Promise.resolve(false);
    const waiters = this.#intrWaiters[queue] ?? [];
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (ready: boolean): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve(ready);
      };
      waiters.push(settle);
      if (timeoutMs >= 0) {
        timer = setTimeout(() => {
          const i = waiters.indexOf(settle);
          if (i >= 0) waiters.splice(i, 1);
          if (waiters.length === 0 && this.#intrHandlers[queue] === undefined && this.#state === 'started') this.#ops.rxIntrDisable?.(queue);
          resolve(false);
        }, timeoutMs);
      }
      this.#ops.rxIntrEnable?.(queue, this.#onRxIntr);
    });
  }

  #rxIntrFire(queue: number): void {
    const h = this.#intrHandlers[queue];
    this.#intrHandlers[queue] = undefined;
    const waiters = this.#intrWaiters[queue];
    if (waiters !== undefined && waiters.length > 0) {
      for (const w of waiters.splice(0)) w(true);
    }
    if (h !== undefined) h(queue);
  }

  /** Forget armed handlers and settle pending waits with false (stop, close, removal). */
  #rxIntrCancel(): void {
    this.#intrHandlers.fill(undefined);
    for (const waiters of this.#intrWaiters) {
      for (const w of waiters.splice(0)) w(false);
    }
  }

  linkGet(): LinkStatus {
    return this.#ops.linkGet();
  }

  macAddrGet(): EtherAddr {
    return this.#ops.macAddrGet();
  }

  /** rte_eth_dev_default_mac_addr_set: zero and multicast addresses are refused. */
  defaultMacAddrSet(mac: string): void {
    this.#expectOpen('defaultMacAddrSet');
    const addr = parseEtherAddr(mac);
    if (isZeroEtherAddr(addr) || isMulticastEtherAddr(addr)) {
      throw new InvalidArgumentError(`${this.name}: default MAC ${addr} must be a non-zero unicast address`);
    }
    this.#ops.macAddrSet(addr);
  }

  getMtu(): number {
    return this.#ops.mtuGet();
  }

  setMtu(mtu: number): void {
    this.#expectOpen('setMtu');
    const info = this.#ops.infoGet();
    checkCount(this.name, 'MTU', mtu, info.minMtu, info.maxMtu);
    this.#ops.mtuSet(mtu);
  }

  promiscuousEnable(): void {
    this.#expectOpen('promiscuousEnable');
    this.#ops.promiscuousSet(true);
    this.#promisc = true;
  }

  promiscuousDisable(): void {
    this.#expectOpen('promiscuousDisable');
    this.#ops.promiscuousSet(false);
    this.#promisc = false;
  }

  promiscuousGet(): boolean {
    return this.#promisc;
  }

  allmulticastEnable(): void {
    this.#expectOpen('allmulticastEnable');
    this.#ops.allmulticastSet(true);
    this.#allmulti = true;
  }

  allmulticastDisable(): void {
    this.#expectOpen('allmulticastDisable');
    this.#ops.allmulticastSet(false);
    this.#allmulti = false;
  }

  allmulticastGet(): boolean {
    return this.#allmulti;
  }

  /** Replace the multicast filter list; every entry must be a multicast MAC. */
  setMcAddrList(list: readonly string[]): void {
    this.#expectOpen('setMcAddrList');
    const parsed = list.map((m) => {
      const a = parseEtherAddr(m);
      if (!isMulticastEtherAddr(a)) throw new InvalidArgumentError(`${this.name}: ${a} in the multicast list is not a multicast address`);
      return a;
    });
    this.#ops.mcAddrListSet(parsed);
    this.#mcList = parsed;
  }

  mcAddrListGet(): readonly EtherAddr[] {
    return this.#mcList;
  }

  statsGet(): EthStats {
    return this.#ops.statsGet();
  }

  statsReset(): void {
    this.#ops.statsReset();
  }

  xstatsGet(): XStat[] {
    return this.#ops.xstatsGet?.() ?? basicXstats(this.#ops.statsGet());
  }

  xstatsReset(): void {
    if (this.#ops.xstatsReset) this.#ops.xstatsReset();
    else this.#ops.statsReset();
  }

  /** For drivers: report a link change; emitted only when `up`, speed or duplex really changed. */
  reportLink(link: LinkStatus): void {
    const last = this.#lastLink;
    this.#lastLink = link;
    if (last?.up === link.up && last.speed === link.speed && last.duplex === link.duplex) return;
    if (last === undefined && !this.#conf.lsc) return;
    (this as EthDev).emit('lsc', { port: this.name, link, at: now() });
  }

  /** For drivers: report that the device is gone. Emitted once. */
  reportRemoval(reason: string): void {
    if (this.#removed) return;
    this.#removed = true;
    this.#rxIntrCancel();
    (this as EthDev).emit('rmv', { port: this.name, reason, at: now() });
  }

  #expect(states: readonly EthDevState[], op: string): void {
    if (!states.includes(this.#state)) {
      throw new StateError(`${this.name}: ${op} is not allowed in state ${this.#state} (allowed in: ${states.join(', ')})`);
    }
  }

  #expectOpen(op: string): void {
    if (this.#state === 'closed') throw new StateError(`${this.name}: ${op} on a closed port`);
  }
}

function checkCount(port: string, what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${port}: ${what} ${value} is out of range; accepted: ${min}..${max}`);
  }
}

/** The xstats every port has, named as DPDK names its basic stats. */
export function basicXstats(s: EthStats): XStat[] {
  const out: XStat[] = [
    { name: 'rx_good_packets', value: s.ipackets },
    { name: 'tx_good_packets', value: s.opackets },
    { name: 'rx_good_bytes', value: s.ibytes },
    { name: 'tx_good_bytes', value: s.obytes },
    { name: 'rx_missed_errors', value: s.imissed },
    { name: 'rx_errors', value: s.ierrors },
    { name: 'tx_errors', value: s.oerrors },
    { name: 'rx_mbuf_allocation_errors', value: s.rxNombuf },
  ];
  s.qIpackets.forEach((v, q) => out.push({ name: `rx_q${q}_packets`, value: v }));
  s.qIbytes.forEach((v, q) => out.push({ name: `rx_q${q}_bytes`, value: v }));
  s.qOpackets.forEach((v, q) => out.push({ name: `tx_q${q}_packets`, value: v }));
  s.qObytes.forEach((v, q) => out.push({ name: `tx_q${q}_bytes`, value: v }));
  s.qErrors.forEach((v, q) => out.push({ name: `q${q}_errors`, value: v }));
  return out;
}
