/**
 * Private state shared by the fail-safe's files (DPDK's failsafe_private.h): the ordered
 * sub-device states, the slot record, the stored configuration and the port record.
 */
import {
  emptyStats,
  type DevArgs,
  type EthConf,
  type EthDev,
  type EthStats,
  type EtherAddr,
  type LinkStatus,
  type Mempool,
  type Registry,
  type RxIntrHandler,
  type RxQueueConf,
  type TxQueueConf,
} from '@netvsc/ethdev';
import type { FailStage, FailsafeEvents, SubStateName, SubdevRemovedEvent, TxSwitchEvent } from './events.js';
import { rxIntrFire } from './intr.js';
import type { ExecSource, FdSource } from './source.js';

/**
 * Ordered, so "is it ready?" is one comparison. UNDEFINED: declared, no device string yet
 * (or torn down); PARSED: device string known; PROBED: the port exists and is ours;
 * ACTIVE: configured (with the replayed configuration); STARTED: running.
 */
export const SubState = { UNDEFINED: 0, PARSED: 1, PROBED: 2, ACTIVE: 3, STARTED: 4 } as const;
export type SubState = (typeof SubState)[keyof typeof SubState];
export const SUB_STATE_NAMES: readonly SubStateName[] = ['undefined', 'parsed', 'probed', 'active', 'started'];

export type SubSource =
  | { readonly kind: 'dev'; readonly args: DevArgs; readonly text: string }
  | { readonly kind: 'exec'; readonly exec: ExecSource }
  | { readonly kind: 'fd'; readonly fd: FdSource }
  | { readonly kind: 'port'; port: EthDev | undefined }
  | { readonly kind: 'manual' };

/** A sub-device's pending Rx wait on one queue and who is listening to it (see intr.ts). */
export interface PendingRemoval {
  readonly cause: SubdevRemovedEvent['cause'];
  readonly reason: string;
  readonly detectedAt: number;
}

export interface FailureRecord {
  readonly stage: FailStage;
  readonly op: string;
  readonly error: Error;
  readonly at: number;
}

/** One sub-device slot (DPDK's `struct sub_device`). */
export class SubDevice {
  readonly index: number;
  source: SubSource;
  state: SubState = SubState.UNDEFINED;
  dev: EthDev | undefined;
  /** Device string of the plugged device or of the last attempt. */
  device: string | undefined;
  /** False after `unplug()` until `plug()`: the upkeep leaves the slot alone. */
  enabled = true;
  /** Bumped when the slot's source or wish changes; an attempt begun under an older one is dropped. */
  generation = 0;
  /** An attempt (source read / probe) is in flight. */
  attempting = false;
  /** Set when removal is known; the teardown happens between bursts (DPDK's `remove` flag). */
  removal: PendingRemoval | undefined;
  /** Bursts on this sub-device in progress (re-entrancy guard; DPDK's per-queue `refcnt`). */
  inBurst = 0;
  /** Last link state read from the device (Tx choice prefers link-up devices). */
  linkUp = false;
  /** Whether the device implements Rx interrupts. */
  rxqIntr = false;
  offRmv: (() => void) | undefined;
  offLsc: (() => void) | undefined;

  // Statistics of the slot, across every device plugged into it (see `stats` below).
  acc: EthStats = emptyStats();
  snap: EthStats = emptyStats();
  snapAt = 0;

  arrivals = 0;
  removals = 0;
  failures = 0;
  pluggedAt = 0;
  removedAt = 0;
  /** ms this slot carried Tx while the port was started. */
  txTimeMs = 0;
  lastFailure: FailureRecord | undefined;
  /** Key of the last failure event emitted, so an unchanged failure repeating every round is counted, not re-announced. */
  lastFailureKey: string | undefined;
  /** Outcome of the newest attempt, for `plug()`. */
  lastAttempt: 'plugged' | 'nothing' | 'failed' | undefined;

  constructor(index: number, source: SubSource) {
    this.index = index;
    this.source = source;
  }

  /** Started and not being removed: may carry traffic. */
  get usable(): boolean {
    return this.state === SubState.STARTED && this.removal === undefined;
  }

  /** Configured and not being removed: control operations are fanned out to it. */
  get live(): boolean {
    return this.state >= SubState.ACTIVE && this.removal === undefined;
  }
}

/** What the application applied to the port, replayed onto every sub-device that plugs in. */
export interface StoredConf {
  nbRx: number;
  nbTx: number;
  conf: EthConf;
  rxq: (RxQueueConf | undefined)[];
  txq: (TxQueueConf | undefined)[];
  promisc: boolean;
  allmulti: boolean;
  mtu: number;
  mac: EtherAddr;
  mcList: EtherAddr[];
}

export type MacOrigin = 'args' | 'subdev' | 'random' | 'app';

/** DPDK's initial link record: up, 10G, full duplex, autoneg. */
export const INITIAL_LINK: LinkStatus = Object.freeze({ up: true, speed: 10000, duplex: 'full', autoneg: true });

/** Hooks the port gives its internals (scheduling lives in failsafe.ts). */
export interface FsHooks {
  requestUpkeep(): void;
  scheduleRemovals(): void;
  /** A burst threw; called from inside the data path, so it may only flag, never tear down. */
  burstFailed(sub: SubDevice, op: string, error: unknown): void;
  /** The port is closing: stop timers, watches and running commands. */
  onClose(): void;
}

/** The fail-safe port's private data (DPDK's `struct fs_priv`). */
export class FsPriv {
  readonly name: string;
  readonly port: EthDev<FailsafeEvents>;
  readonly registry: Registry;
  readonly hotplugPollMs: number;
  readonly execTimeoutMs: number;
  readonly owner: string;
  readonly hooks: FsHooks;
  readonly subs: SubDevice[] = [];
  /** The state every sub-device is driven towards. */
  target: SubState = SubState.PARSED;
  readonly stored: StoredConf;
  macOrigin: MacOrigin;
  link: LinkStatus = INITIAL_LINK;
  closed = false;

  // Data path
  tx: SubDevice | undefined;
  /** Usable sub-devices, in slot order: what rxBurst polls. Replaced (not mutated) on change. */
  rxList: readonly SubDevice[] = [];
  /** Per Rx queue: index into rxList of the next sub-device to poll. */
  rxCursor = new Uint32Array(0);
  /** Per Rx queue: the pool, to stamp the fail-safe's port id on received mbufs. */
  rxPools: (Mempool | undefined)[] = [];
  /** Per Rx queue: the handler the fail-safe's queue is armed with (ethdev's dispatcher). */
  rxIntr: (RxIntrHandler | undefined)[] = [];
  /** What every sub-device's queue is armed with: made once, so arming allocates nothing. */
  readonly onSubRxIntr: RxIntrHandler = (queue) => {
    rxIntrFire(this, queue);
  };
  /** Wakes armed queues when a usable sub-device cannot signal Rx (see intr.ts). */
  pollTimer: NodeJS.Timeout | undefined;
  /** Bumped whenever rxList changes. */
  rxListEpoch = 0;
  /** Per Rx queue: rxListEpoch when it was armed. */
  rxIntrEpoch = new Uint32Array(0);
  /** A topology wake-up of the armed queues is scheduled. */
  wakeQueued = false;

  // Tx switch bookkeeping
  txSince = 0;
  /** Whether the port was started during the period since `txSince`. */
  txRunning = false;
  switches = 0;
  lastSwitch: TxSwitchEvent | undefined;
  fallbackMs = 0;
  noTxMs = 0;
  lastUpkeepError: Error | undefined;

  constructor(init: {
    name: string;
    port: EthDev<FailsafeEvents>;
    registry: Registry;
    hotplugPollMs: number;
    execTimeoutMs: number;
    mac: EtherAddr;
    macOrigin: MacOrigin;
    hooks: FsHooks;
  }) {
    this.name = init.name;
    this.port = init.port;
    this.registry = init.registry;
    this.hotplugPollMs = init.hotplugPollMs;
    this.execTimeoutMs = init.execTimeoutMs;
    this.owner = `net_failsafe:${init.name}`;
    this.hooks = init.hooks;
    this.macOrigin = init.macOrigin;
    this.stored = { nbRx: 0, nbTx: 0, conf: {}, rxq: [], txq: [], promisc: false, allmulti: false, mtu: 1500, mac: init.mac, mcList: [] };
  }
}

// ---- statistics arithmetic (control path only) ----

const SCALARS = ['ipackets', 'opackets', 'ibytes', 'obytes', 'imissed', 'ierrors', 'oerrors', 'rxNombuf'] as const;
const ARRAYS = ['qIpackets', 'qOpackets', 'qIbytes', 'qObytes', 'qErrors'] as const;

/** `into += s`, field by field (per-queue arrays grow as needed). */
export function addStats(into: EthStats, s: EthStats): void {
  for (const f of SCALARS) into[f] += s[f];
  for (const f of ARRAYS) {
    const a = into[f];
    s[f].forEach((v, q) => {
      a[q] = (a[q] ?? 0) + v;
    });
  }
}

/**
 * Take a fresh reading of a device's counters. A counter below the previous reading means
 * the device reset it (reconfigure, driver restart): the previous value is folded into the
 * slot's accumulator first, so the slot's totals never go down.
 */
export function absorbReading(sub: SubDevice, fresh: EthStats, at: number): void {
  const { acc, snap } = sub;
  for (const f of SCALARS) if (fresh[f] < snap[f]) acc[f] += snap[f];
  for (const f of ARRAYS) {
    const a = acc[f];
    snap[f].forEach((v, q) => {
      if ((fresh[f][q] ?? 0) < v) a[q] = (a[q] ?? 0) + v;
    });
  }
  sub.snap = cloneStats(fresh);
  sub.snapAt = at;
}

/** The device leaves the slot: its last reading joins the accumulator. */
export function foldSnapshot(sub: SubDevice): void {
  addStats(sub.acc, sub.snap);
  sub.snap = emptyStats();
}

/** acc + snap: everything this slot ever counted. */
export function slotTotals(sub: SubDevice): EthStats {
  const t = emptyStats();
  addStats(t, sub.acc);
  addStats(t, sub.snap);
  return t;
}

export function cloneStats(s: EthStats): EthStats {
  const c = emptyStats();
  addStats(c, s);
  return c;
}
