/**
 * The port's ethdev ops (DPDK's failsafe_ops.c). Every control operation is stored for
 * replay and fanned out to the configured sub-devices.
 *
 * Two error policies:
 * - value operations (MTU, MAC, promiscuous, all-multicast, multicast list) are
 *   all-or-nothing: a sub-device refusing the value undoes it on the others and the
 *   error reaches the application; nothing is stored.
 * - lifecycle operations (configure, queue setup, start, stop) never fail because of one
 *   sub-device: it is left out (`subdev-failed`, then removed and retried later).
 * In both, an error meaning "device gone" flags the sub-device for removal and is ignored.
 */
import {
  basicXstats,
  emptyStats,
  now,
  type DevInfo,
  type EthConf,
  type EthDev,
  type EthStats,
  type EtherAddr,
  type EthDevOps,
  type LinkStatus,
  type RxIntrHandler,
  type RxQueueConf,
  type TxQueueConf,
  type XStat,
} from '@netvsc/ethdev';
import type { TxSwitchReason } from './events.js';
import { FAILSAFE_DRIVER } from './args.js';
import { bringUp, isRemovalError, portStats, refreshStats, subConf, subDeviceFailed, teardown } from './ether.js';
import { rxIntrDisable, rxIntrEnable, rxIntrReset } from './intr.js';
import { accountTx, refreshRxList, rxBurst, switchTx, txBurst } from './rxtx.js';
import { SubState, slotTotals, type FsPriv, type SubDevice } from './state.js';

/** Numeric codes of `fs_last_switch_reason` (xstats carry numbers only). */
export const SWITCH_REASON_CODES: Readonly<Record<TxSwitchReason, number>> = {
  start: 1,
  stop: 2,
  plugged: 3,
  removed: 4,
  failed: 5,
  link: 6,
};

/** DPDK's permissive starting point for the merged device info. */
const MAX_QUEUES = 1024;

export class FailsafeOps implements EthDevOps {
  // Bound right after the port is constructed (the port is part of the private state).
  #priv!: FsPriv;

  bind(priv: FsPriv): void {
    this.#priv = priv;
  }

  // ---- lifecycle ----

  infoGet(): DevInfo {
    let maxRx = MAX_QUEUES;
    let maxTx = MAX_QUEUES;
    let minMtu = 68;
    let maxMtu = 65535;
    let maxRxPktLen = 0xffffffff;
    for (const sub of this.#priv.subs) {
      if (sub.dev === undefined || sub.state < SubState.PROBED || sub.removal !== undefined) continue;
      let info: DevInfo;
      try {
        info = sub.dev.infoGet();
      } catch {
        continue;
      }
      maxRx = Math.min(maxRx, info.maxRxQueues);
      maxTx = Math.min(maxTx, info.maxTxQueues);
      minMtu = Math.max(minMtu, info.minMtu);
      maxMtu = Math.min(maxMtu, info.maxMtu);
      maxRxPktLen = Math.min(maxRxPktLen, info.maxRxPktLen);
    }
    return {
      driverName: FAILSAFE_DRIVER,
      maxRxQueues: maxRx,
      maxTxQueues: maxTx,
      minMtu,
      maxMtu,
      maxRxPktLen,
      maxMacAddrs: 1,
      capa: { lsc: true, rmv: false, rxqIntr: true },
    };
  }

  configure(nbRx: number, nbTx: number, conf: EthConf): void {
    const priv = this.#priv;
    const s = priv.stored;
    s.nbRx = nbRx;
    s.nbTx = nbTx;
    s.conf = conf;
    // ethdev requires every queue to be set up again after configure; so does the replay.
    s.rxq = new Array<RxQueueConf | undefined>(nbRx).fill(undefined);
    s.txq = new Array<TxQueueConf | undefined>(nbTx).fill(undefined);
    priv.rxCursor = new Uint32Array(nbRx);
    priv.rxPools = new Array<undefined>(nbRx).fill(undefined);
    rxIntrReset(priv);
    priv.rxIntr = new Array<undefined>(nbRx).fill(undefined);
    priv.rxIntrEpoch = new Uint32Array(nbRx);
    if (priv.target < SubState.ACTIVE) priv.target = SubState.ACTIVE;
    for (const sub of priv.subs) {
      if (sub.removal !== undefined || sub.attempting) continue;
      if (sub.state === SubState.PROBED) {
        const failure = bringUp(priv, sub);
        if (failure !== undefined) subDeviceFailed(priv, sub, 'control', failure.op, failure.error);
      } else if (sub.state >= SubState.ACTIVE && sub.dev !== undefined) {
        const dev = sub.dev;
        // Read the counters first: a driver that resets them on configure shows as a drop, which the slot absorbs.
        refreshStats(sub);
        lifecycle(priv, sub, 'configure', () => {
          dev.configure(nbRx, nbTx, subConf(priv, dev));
        });
        refreshStats(sub);
      }
    }
  }

  rxQueueSetup(queue: number, conf: RxQueueConf): void {
    const priv = this.#priv;
    priv.stored.rxq[queue] = conf;
    priv.rxPools[queue] = conf.mempool;
    for (const sub of liveSubs(priv)) lifecycle(priv, sub, 'rxQueueSetup', (dev) => { dev.rxQueueSetup(queue, conf); });
  }

  txQueueSetup(queue: number, conf: TxQueueConf): void {
    const priv = this.#priv;
    priv.stored.txq[queue] = conf;
    for (const sub of liveSubs(priv)) lifecycle(priv, sub, 'txQueueSetup', (dev) => { dev.txQueueSetup(queue, conf); });
  }

  start(): void {
    const priv = this.#priv;
    priv.target = SubState.STARTED;
    for (const sub of liveSubs(priv)) {
      if (sub.state !== SubState.ACTIVE) continue;
      const failure = bringUp(priv, sub);
      if (failure !== undefined) subDeviceFailed(priv, sub, 'control', failure.op, failure.error);
    }
    refreshRxList(priv);
    switchTx(priv, 'start');
    priv.hooks.requestUpkeep();
  }

  stop(): void {
    const priv = this.#priv;
    rxIntrReset(priv);
    priv.target = SubState.ACTIVE;
    // Tx off first: no burst may reach a sub-device being stopped.
    switchTx(priv, 'stop');
    for (const sub of liveSubs(priv)) {
      if (sub.state !== SubState.STARTED) continue;
      sub.state = SubState.ACTIVE;
      lifecycle(priv, sub, 'stop', (dev) => { dev.stop(); });
    }
    refreshRxList(priv);
  }

  /** ethdev calls stop() first when started. Sub-devices are closed; the fd() descriptors are not ours. */
  close(): void {
    const priv = this.#priv;
    accountTx(priv, now());
    priv.closed = true;
    priv.hooks.onClose();
    priv.tx = undefined;
    for (const sub of priv.subs) {
      sub.removal = undefined;
      teardown(priv, sub);
    }
    priv.rxList = [];
    rxIntrReset(priv);
  }

  // ---- data path ----

  rxBurst(queue: number, out: Uint32Array, max: number): number {
    return rxBurst(this.#priv, queue, out, max);
  }

  txBurst(queue: number, mbufs: Uint32Array, n: number, first: number): number {
    return txBurst(this.#priv, queue, mbufs, n, first);
  }

  rxIntrEnable(queue: number, handler: RxIntrHandler): void {
    rxIntrEnable(this.#priv, queue, handler);
  }

  rxIntrDisable(queue: number): void {
    rxIntrDisable(this.#priv, queue);
  }

  // ---- control ----

  linkGet(): LinkStatus {
    return this.#priv.link;
  }

  macAddrGet(): EtherAddr {
    return this.#priv.stored.mac;
  }

  macAddrSet(mac: EtherAddr): void {
    const priv = this.#priv;
    const prev = priv.stored.mac;
    allOrNothing(priv, (dev) => { dev.defaultMacAddrSet(mac); }, (dev) => { dev.defaultMacAddrSet(prev); });
    priv.stored.mac = mac;
    priv.macOrigin = 'app';
  }

  mtuGet(): number {
    return this.#priv.stored.mtu;
  }

  mtuSet(mtu: number): void {
    const priv = this.#priv;
    const prev = priv.stored.mtu;
    allOrNothing(priv, (dev) => { dev.setMtu(mtu); }, (dev) => { dev.setMtu(prev); });
    priv.stored.mtu = mtu;
  }

  promiscuousSet(on: boolean): void {
    const priv = this.#priv;
    const set = (dev: EthDev, v: boolean): void => {
      if (v) dev.promiscuousEnable();
      else dev.promiscuousDisable();
    };
    allOrNothing(priv, (dev) => { set(dev, on); }, (dev) => { set(dev, !on); });
    priv.stored.promisc = on;
  }

  allmulticastSet(on: boolean): void {
    const priv = this.#priv;
    const set = (dev: EthDev, v: boolean): void => {
      if (v) dev.allmulticastEnable();
      else dev.allmulticastDisable();
    };
    allOrNothing(priv, (dev) => { set(dev, on); }, (dev) => { set(dev, !on); });
    priv.stored.allmulti = on;
  }

  mcAddrListSet(list: readonly EtherAddr[]): void {
    const priv = this.#priv;
    const prev = priv.stored.mcList;
    allOrNothing(priv, (dev) => { dev.setMcAddrList(list); }, (dev) => { dev.setMcAddrList(prev); });
    priv.stored.mcList = [...list];
  }

  // ---- statistics ----

  statsGet(): EthStats {
    return portStats(this.#priv);
  }

  statsReset(): void {
    for (const sub of this.#priv.subs) {
      if (sub.dev !== undefined && sub.state >= SubState.ACTIVE) {
        try {
          sub.dev.statsReset();
        } catch {
          // A failing device keeps its counters; the slot simply starts over from its next reading.
        }
      }
      sub.acc = emptyStats();
      sub.snap = emptyStats();
    }
  }

  xstatsGet(): XStat[] {
    return failsafeXstats(this.#priv);
  }

  xstatsReset(): void {
    const priv = this.#priv;
    for (const sub of priv.subs) {
      if (sub.dev !== undefined && sub.live) {
        try {
          sub.dev.xstatsReset();
        } catch {
          // see statsReset
        }
      }
    }
    this.statsReset();
    accountTx(priv, now());
    priv.switches = 0;
    priv.fallbackMs = 0;
    priv.noTxMs = 0;
    for (const sub of priv.subs) {
      sub.arrivals = 0;
      sub.removals = 0;
      sub.failures = 0;
      sub.txTimeMs = 0;
    }
  }
}

function liveSubs(priv: FsPriv): SubDevice[] {
  return priv.subs.filter((s) => s.live && s.dev !== undefined);
}

/** Run a lifecycle op on one sub-device; a failure leaves that sub-device out, never the port. */
function lifecycle(priv: FsPriv, sub: SubDevice, op: string, fn: (dev: EthDev) => void): void {
  const dev = sub.dev;
  if (dev === undefined) return;
  try {
    fn(dev);
  } catch (e) {
    subDeviceFailed(priv, sub, 'control', op, e);
  }
}

/** Apply a value to every configured sub-device, or to none (undo on the ones done, rethrow). */
function allOrNothing(priv: FsPriv, apply: (dev: EthDev) => void, undo: (dev: EthDev) => void): void {
  const done: EthDev[] = [];
  for (const sub of liveSubs(priv)) {
    const dev = sub.dev;
    if (dev === undefined) continue;
    try {
      apply(dev);
      done.push(dev);
    } catch (e) {
      if (isRemovalError(e)) {
        subDeviceFailed(priv, sub, 'control', 'set', e);
        continue;
      }
      for (const d of done) {
        try {
          undo(d);
        } catch {
          // Best effort: the value that failed is reported; a device that cannot undo will be replayed on re-plug.
        }
      }
      throw e;
    }
  }
}

/** Port xstats: the basic ones, fail-safe counters, per-slot totals, and each live device's own (DPDK naming). */
export function failsafeXstats(priv: FsPriv): XStat[] {
  const out = basicXstats(portStats(priv));
  const at = now();
  // The running period since the last switch, without disturbing the bookkeeping.
  const running = priv.txRunning ? Math.max(0, at - priv.txSince) : 0;
  const tx = priv.tx;
  out.push(
    { name: 'fs_tx_subdev', value: tx?.index ?? -1 },
    { name: 'fs_tx_switches', value: priv.switches },
    { name: 'fs_fallback_ms', value: priv.fallbackMs + (tx !== undefined && tx.index !== 0 ? running : 0) },
    { name: 'fs_no_tx_ms', value: priv.noTxMs + (tx === undefined ? running : 0) },
    { name: 'fs_last_switch_at', value: priv.lastSwitch?.at ?? 0 },
    { name: 'fs_last_switch_reason', value: priv.lastSwitch === undefined ? 0 : SWITCH_REASON_CODES[priv.lastSwitch.reason] },
  );
  for (const sub of priv.subs) {
    const p = `sub${sub.index}_`;
    const t = slotTotals(sub);
    out.push(
      { name: `${p}state`, value: sub.state },
      { name: `${p}rx_packets`, value: t.ipackets },
      { name: `${p}rx_bytes`, value: t.ibytes },
      { name: `${p}rx_missed`, value: t.imissed },
      { name: `${p}rx_errors`, value: t.ierrors },
      { name: `${p}rx_nombuf`, value: t.rxNombuf },
      { name: `${p}tx_packets`, value: t.opackets },
      { name: `${p}tx_bytes`, value: t.obytes },
      { name: `${p}tx_errors`, value: t.oerrors },
      { name: `${p}arrivals`, value: sub.arrivals },
      { name: `${p}removals`, value: sub.removals },
      { name: `${p}failures`, value: sub.failures },
      { name: `${p}tx_time_ms`, value: sub.txTimeMs + (tx === sub ? running : 0) },
      { name: `${p}last_plug_at`, value: sub.pluggedAt },
      { name: `${p}last_removal_at`, value: sub.removedAt },
    );
  }
  for (const sub of priv.subs) {
    if (sub.dev === undefined || sub.state < SubState.ACTIVE) continue;
    let own: XStat[];
    try {
      own = sub.dev.xstatsGet();
    } catch {
      continue;
    }
    for (const x of own) out.push({ name: renameSubXstat(sub.index, x.name), value: x.value });
  }
  return out;
}

/** DPDK's renaming: `rx_X` → `rx_sub<i>_X`, `tx_X` → `tx_sub<i>_X`, anything else → `sub<i>_X`. */
export function renameSubXstat(index: number, name: string): string {
  if (name.startsWith('rx_')) return `rx_sub${index}_${name.slice(3)}`;
  if (name.startsWith('tx_')) return `tx_sub${index}_${name.slice(3)}`;
  return `sub${index}_${name}`;
}
