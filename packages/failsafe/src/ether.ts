/**
 * State sync (DPDK's failsafe_ether.c): the upkeep round, bringing a sub-device up to the
 * port's state by replaying the stored configuration, removal flags and teardown, and
 * the sub-device event callbacks.
 */
import { NetvscError, emptyStats, now, parseDevArgs, type DevArgs, type EthConf, type EthDev, type EthStats } from '@netvsc/ethdev';
import { closeQuietly, probeSubDevice, takeOwnership } from './eal.js';
import type { FailStage, SubdevRemovedEvent } from './events.js';
import { readLink, refreshRxList, switchTx, updateLink } from './rxtx.js';
import {
  SUB_STATE_NAMES,
  SubState,
  absorbReading,
  addStats,
  foldSnapshot,
  type FailureRecord,
  type FsPriv,
  type SubDevice,
} from './state.js';

/** Error codes that mean "the device is gone", not "the device refused" (DPDK's fs_err: -EIO or remove flag). */
const REMOVAL_CODES: ReadonlySet<string> = new Set(['ERR_NO_DEVICE', 'ENODEV', 'ENXIO', 'EIO']);

export function isRemovalError(e: unknown): boolean {
  return e instanceof NetvscError && REMOVAL_CODES.has(e.code);
}

export function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

// ---- failures and removal ----

/**
 * Count a failure and tell the application, once per distinct failure: a slot whose
 * stale address fails every round is counted each time but announced again only when
 * the failure changes (or after a success).
 */
export function recordFailure(priv: FsPriv, sub: SubDevice, stage: FailStage, op: string, error: unknown, device: string | undefined): FailureRecord {
  const err = toError(error);
  const at = now();
  const rec: FailureRecord = { stage, op, error: err, at };
  sub.failures++;
  sub.lastFailure = rec;
  const code = err instanceof NetvscError ? err.code : err.name;
  const key = `${stage}|${op}|${device ?? ''}|${code}|${err.message}`;
  if (key !== sub.lastFailureKey) {
    sub.lastFailureKey = key;
    priv.port.emit('subdev-failed', { port: priv.name, subdev: sub.index, device, stage, op, error: err, at });
  }
  return rec;
}

/**
 * Removal is known: switch Tx away and stop polling the sub-device now, tear it down
 * between bursts (DPDK's RMV callback: flag only, nothing torn down in event context).
 */
export function flagRemoval(priv: FsPriv, sub: SubDevice, cause: SubdevRemovedEvent['cause'], reason: string, detectedAt = now()): void {
  if (sub.removal !== undefined || sub.state < SubState.PROBED || priv.closed) return;
  sub.removal = { cause, reason, detectedAt };
  refreshRxList(priv);
  switchTx(priv, cause === 'failed' ? 'failed' : 'removed');
  priv.hooks.scheduleRemovals();
  priv.hooks.requestUpkeep();
}

/** A sub-device failed an operation: gone (removal error) or refusing (left out, announced). */
export function subDeviceFailed(priv: FsPriv, sub: SubDevice, stage: FailStage, op: string, error: unknown): void {
  if (isRemovalError(error)) {
    flagRemoval(priv, sub, 'rmv', `${op}: ${toError(error).message}`);
    return;
  }
  recordFailure(priv, sub, stage, op, error, sub.device);
  flagRemoval(priv, sub, 'failed', `${op} failed: ${toError(error).message}`);
}

/**
 * Tear down every flagged sub-device that no burst is using: stats saved, callbacks off,
 * closed (which stops it), slot back to UNDEFINED. Runs only from a macrotask, never inside a burst.
 */
export function processRemovals(priv: FsPriv): void {
  let busy = false;
  for (const sub of priv.subs) {
    const r = sub.removal;
    if (r === undefined) continue;
    if (sub.inBurst > 0) {
      busy = true;
      continue;
    }
    if (sub.attempting) continue; // the attempt's own end asks for an upkeep round
    const name = sub.dev?.name ?? '';
    teardown(priv, sub);
    sub.removal = undefined;
    sub.removals++;
    const at = now();
    sub.removedAt = at;
    priv.port.emit('subdev-removed', { port: priv.name, subdev: sub.index, device: sub.device, name, cause: r.cause, reason: r.reason, detectedAt: r.detectedAt, at });
  }
  if (busy) priv.hooks.scheduleRemovals();
}

/** Release the sub-device's port and return the slot to UNDEFINED (no event). */
export function teardown(priv: FsPriv, sub: SubDevice): void {
  const dev = sub.dev;
  if (sub.state >= SubState.ACTIVE) refreshStats(sub);
  foldSnapshot(sub);
  sub.offRmv?.();
  sub.offLsc?.();
  sub.offRmv = undefined;
  sub.offLsc = undefined;
  sub.dev = undefined;
  sub.state = SubState.UNDEFINED;
  sub.linkUp = false;
  refreshRxList(priv);
  if (priv.tx === sub) switchTx(priv, 'removed');
  if (dev !== undefined) closeQuietly(dev);
  // A port handed in by instance is spent once closed; the slot waits for plug().
  if (sub.source.kind === 'port' && sub.source.port === dev) sub.source.port = undefined;
}

// ---- bring-up and replay ----

/** The configuration a sub-device gets: the application's, with the events the fail-safe itself needs. */
export function subConf(priv: FsPriv, dev: EthDev): EthConf {
  const capa = dev.infoGet().capa;
  return {
    // The fail-safe needs removal and link events from its sub-devices whatever the application asked.
    lsc: capa.lsc,
    rmv: capa.rmv,
    rxqIntr: (priv.stored.conf.rxqIntr ?? false) && capa.rxqIntr,
  };
}

/**
 * Drive a sub-device towards the port's state. From PROBED (target configured or more):
 * configure, then replay in DPDK's order — Rx queues, Tx queues, promiscuous,
 * all-multicast, MTU, default MAC, multicast list — then start if the port is started.
 * Returns the failure, if any; the caller decides what that means for the slot.
 */
export function bringUp(priv: FsPriv, sub: SubDevice): FailureRecord | undefined {
  const dev = sub.dev;
  if (dev === undefined) return undefined;
  const s = priv.stored;
  let op = 'configure';
  try {
    if (sub.state === SubState.PROBED && priv.target >= SubState.ACTIVE) {
      dev.configure(s.nbRx, s.nbTx, subConf(priv, dev));
      sub.state = SubState.ACTIVE;
      op = 'rxQueueSetup';
      for (let q = 0; q < s.rxq.length; q++) {
        const c = s.rxq[q];
        if (c !== undefined) dev.rxQueueSetup(q, c);
      }
      op = 'txQueueSetup';
      for (let q = 0; q < s.txq.length; q++) {
        const c = s.txq[q];
        if (c !== undefined) dev.txQueueSetup(q, c);
      }
      op = 'promiscuousSet';
      if (dev.promiscuousGet() !== s.promisc) {
        if (s.promisc) dev.promiscuousEnable();
        else dev.promiscuousDisable();
      }
      op = 'allmulticastSet';
      if (dev.allmulticastGet() !== s.allmulti) {
        if (s.allmulti) dev.allmulticastEnable();
        else dev.allmulticastDisable();
      }
      op = 'mtuSet';
      if (dev.getMtu() !== s.mtu) dev.setMtu(s.mtu);
      op = 'macAddrSet';
      dev.defaultMacAddrSet(s.mac);
      op = 'mcAddrListSet';
      if (s.mcList.length > 0) dev.setMcAddrList(s.mcList);
    }
    if (sub.state === SubState.ACTIVE && priv.target === SubState.STARTED && queuesComplete(priv)) {
      op = 'start';
      dev.start();
      sub.state = SubState.STARTED;
      readLink(sub);
    }
    return undefined;
  } catch (e) {
    return { stage: 'replay', op, error: toError(e), at: now() };
  }
}

function queuesComplete(priv: FsPriv): boolean {
  const s = priv.stored;
  for (let q = 0; q < s.nbRx; q++) if (s.rxq[q] === undefined) return false;
  for (let q = 0; q < s.nbTx; q++) if (s.txq[q] === undefined) return false;
  return true;
}

/** Make `dev` the slot's device: state PROBED, removal and link callbacks registered. */
function attach(priv: FsPriv, sub: SubDevice, dev: EthDev): void {
  sub.dev = dev;
  sub.state = SubState.PROBED;
  try {
    sub.rxqIntr = dev.infoGet().capa.rxqIntr;
  } catch {
    sub.rxqIntr = false;
  }
  const onRmv = (ev: { reason: string; at: number }): void => {
    flagRemoval(priv, sub, 'rmv', ev.reason, ev.at);
  };
  const onLsc = (): void => {
    if (sub.dev !== dev) return;
    const was = sub.linkUp;
    readLink(sub);
    if (was !== sub.linkUp) switchTx(priv, 'link');
    else if (priv.tx === sub) updateLink(priv);
    priv.hooks.requestUpkeep();
  };
  dev.on('rmv', onRmv);
  dev.on('lsc', onLsc);
  sub.offRmv = () => dev.off('rmv', onRmv);
  sub.offLsc = () => dev.off('lsc', onLsc);
  readLink(sub);
  // A device that reported removal before we listened (handed in by instance) is already gone.
  if (dev.removed) flagRemoval(priv, sub, 'rmv', 'device reported removal before it was plugged');
}

/** Undo `attach` for a device that never made it in (its attempt failed). */
function detachFailed(priv: FsPriv, sub: SubDevice): void {
  teardown(priv, sub);
  sub.removal = undefined;
}

/**
 * One attempt to fill an UNDEFINED slot: read its source (re-reading `fd()` / re-running
 * `exec()` every time, so a device that came back elsewhere is found), parse, probe or
 * adopt, then bring it up to the port's state and announce it.
 */
export async function attempt(priv: FsPriv, sub: SubDevice): Promise<void> {
  const gen = sub.generation;
  const stale = (): boolean => priv.closed || !sub.enabled || sub.generation !== gen;
  sub.attempting = true;
  try {
    const src = sub.source;
    let dev: EthDev;
    let device: string;
    if (src.kind === 'manual') {
      sub.lastAttempt = 'nothing';
      return;
    }
    if (src.kind === 'port') {
      if (src.port === undefined) {
        sub.lastAttempt = 'nothing';
        return;
      }
      dev = src.port;
      device = dev.name;
      try {
        takeOwnership(priv, dev);
      } catch (e) {
        src.port = undefined;
        fail(priv, sub, 'probe', 'takeOwnership', e, device);
        return;
      }
    } else {
      let line: string | undefined;
      try {
        if (src.kind === 'dev') line = src.text;
        else if (src.kind === 'fd') line = src.fd.take();
        else line = await src.exec.take();
      } catch (e) {
        if (!stale()) fail(priv, sub, 'source', src.kind === 'exec' ? 'exec' : 'read', e, undefined);
        return;
      }
      if (stale()) return;
      if (line === undefined) {
        sub.lastAttempt = 'nothing';
        return;
      }
      let args: DevArgs;
      try {
        args = src.kind === 'dev' ? src.args : parseDevArgs(line);
      } catch (e) {
        fail(priv, sub, 'parse', 'parse', e, line);
        return;
      }
      device = line;
      sub.device = line;
      sub.state = SubState.PARSED;
      try {
        dev = await probeSubDevice(priv, args);
      } catch (e) {
        sub.state = SubState.UNDEFINED;
        if (!stale()) fail(priv, sub, 'probe', 'probe', e, line);
        return;
      }
      if (stale()) {
        sub.state = SubState.UNDEFINED;
        closeQuietly(dev);
        return;
      }
    }
    sub.device = device;
    attach(priv, sub, dev);
    const failure = bringUp(priv, sub);
    if (failure !== undefined) {
      detachFailed(priv, sub);
      fail(priv, sub, failure.stage, failure.op, failure.error, device);
      return;
    }
    sub.arrivals++;
    sub.pluggedAt = now();
    sub.lastFailureKey = undefined;
    sub.lastAttempt = 'plugged';
    priv.port.emit('subdev-plugged', {
      port: priv.name,
      subdev: sub.index,
      device,
      name: dev.name,
      state: SUB_STATE_NAMES[sub.state] ?? 'probed',
      arrivals: sub.arrivals,
      at: sub.pluggedAt,
    });
    refreshRxList(priv);
    switchTx(priv, 'plugged');
  } finally {
    sub.attempting = false;
  }
}

function fail(priv: FsPriv, sub: SubDevice, stage: FailStage, op: string, error: unknown, device: string | undefined): void {
  sub.lastAttempt = 'failed';
  recordFailure(priv, sub, stage, op, error, device);
}

/**
 * Sub-devices that are in but behind the port's state (the application configured or
 * started while they were PROBED, or a start was refused earlier): bring them up.
 */
export function catchUp(priv: FsPriv): void {
  let changed = false;
  for (const sub of priv.subs) {
    if (sub.removal !== undefined || sub.attempting || sub.state < SubState.PROBED || sub.state >= priv.target) continue;
    const before = sub.state;
    const failure = bringUp(priv, sub);
    if (failure !== undefined) subDeviceFailed(priv, sub, failure.stage, failure.op, failure.error);
    else if (sub.state !== before) changed = true;
  }
  if (changed) {
    refreshRxList(priv);
    switchTx(priv, 'plugged');
  }
}

/**
 * Drain the `fd()` sources. A plugged slot whose source now names another device is
 * replaced (its device is taken out, the new one plugged in the same round); the same
 * device named again is just noted.
 */
export function pollSources(priv: FsPriv): void {
  for (const sub of priv.subs) {
    if (sub.source.kind !== 'fd') continue;
    const fd = sub.source.fd;
    try {
      fd.drain();
    } catch {
      // Reported by the next attempt on this slot, where it matters.
    }
    const fresh = fd.fresh;
    if (fresh === undefined || sub.state < SubState.PROBED || sub.removal !== undefined) continue;
    if (fresh === sub.device) fd.consumeFresh();
    else flagRemoval(priv, sub, 'replaced', `fd(${fd.fd}) now names ${fresh}`);
  }
}

/** Read the link of every usable sub-device (for drivers without link events). */
export function pollLinks(priv: FsPriv): void {
  let changed = false;
  for (const sub of priv.subs) {
    if (!sub.usable) continue;
    const was = sub.linkUp;
    readLink(sub);
    if (was !== sub.linkUp) changed = true;
  }
  if (changed) switchTx(priv, 'link');
  else updateLink(priv);
}

/**
 * One upkeep round (DPDK's fs_hotplug_alarm + failsafe_eth_dev_state_sync): sources,
 * links, removals, catch-up, then an attempt on every absent slot (concurrently: a slow
 * `exec()` does not hold the others back), then removals flagged meanwhile.
 */
export async function upkeepRound(priv: FsPriv): Promise<void> {
  if (priv.closed) return;
  pollSources(priv);
  pollLinks(priv);
  processRemovals(priv);
  catchUp(priv);
  const absent = priv.subs.filter((s) => s.enabled && s.state === SubState.UNDEFINED && !s.attempting && s.removal === undefined);
  await Promise.all(absent.map((s) => attempt(priv, s)));
  processRemovals(priv);
}

// ---- statistics ----

/** Refresh a configured sub-device's reading; a device that cannot answer keeps its last one. */
export function refreshStats(sub: SubDevice): void {
  const dev = sub.dev;
  if (dev === undefined || sub.state < SubState.ACTIVE) return;
  try {
    absorbReading(sub, dev.statsGet(), now());
  } catch {
    // Gone or failing: the previous reading stands (counts since then are lost, as in DPDK).
  }
}

/** Port totals: every slot's accumulator plus the live devices' fresh readings; never decreases. */
export function portStats(priv: FsPriv): EthStats {
  const t = emptyStats();
  for (const sub of priv.subs) {
    refreshStats(sub);
    addStats(t, sub.acc);
    addStats(t, sub.snap);
  }
  return t;
}
