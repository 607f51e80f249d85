/**
 * The data path (DPDK's failsafe_rxtx.c) and the one function that chooses the Tx
 * sub-device (DPDK's fs_switch_dev). Bursts never throw and never allocate.
 */
import { LINK_DOWN, now, type LinkStatus } from '@netvsc/ethdev';
import type { TxSwitchEvent, TxSwitchReason } from './events.js';
import { rxIntrWakeSoon } from './intr.js';
import { SubState, type FsPriv, type SubDevice } from './state.js';

/**
 * Poll the usable sub-devices round-robin from the queue's cursor; the first one that has
 * packets fills the burst and the cursor moves past it, so consecutive calls take turns and
 * a busy VF cannot starve the TAP's multicast (DPDK's failsafe_rx_burst).
 */
export function rxBurst(priv: FsPriv, queue: number, out: Uint32Array, max: number): number {
  const list = priv.rxList;
  const n = list.length;
  if (n === 0 || max <= 0) return 0;
  const cursors = priv.rxCursor;
  let cur = cursors[queue] ?? 0;
  if (cur >= n) cur = 0;
  let got = 0;
  for (let i = 0; i < n; i++) {
    const sub = list[cur];
    cur = cur + 1 === n ? 0 : cur + 1;
    if (sub === undefined) continue;
    // The list is a snapshot: a sub-device flagged or torn down by an event raised inside this
    // very burst (a driver reporting removal from its own rxBurst) is skipped, never touched.
    if (sub.state !== SubState.STARTED || sub.removal !== undefined || sub.dev === undefined) continue;
    sub.inBurst++;
    try {
      got = sub.dev.rxBurst(queue, out, max);
    } catch (e) {
      got = 0;
      burstFailed(priv, sub, 'rxBurst', e);
    } finally {
      sub.inBurst--;
    }
    if (got > 0) break;
  }
  if (queue < cursors.length) cursors[queue] = cur;
  if (got > 0) {
    const pool = priv.rxPools[queue];
    if (pool !== undefined) {
      // Loaded once: a property load in the loop is checked again for every packet.
      const port = pool.port;
      const portId = priv.port.portId;
      for (let k = 0; k < got; k++) port[out[k] ?? 0] = portId;
    }
  }
  return got;
}

/** Hand the burst to the Tx sub-device; with none, accept nothing (the caller keeps its mbufs). */
export function txBurst(priv: FsPriv, queue: number, mbufs: Uint32Array, n: number, first: number): number {
  const sub = priv.tx;
  if (sub === undefined || n <= 0) return 0;
  const dev = sub.dev;
  if (dev === undefined || sub.removal !== undefined || sub.state !== SubState.STARTED) return 0;
  sub.inBurst++;
  try {
    return dev.txBurst(queue, mbufs, n, first);
  } catch (e) {
    burstFailed(priv, sub, 'txBurst', e);
    return 0;
  } finally {
    sub.inBurst--;
  }
}

/** A driver threw from a burst (a bug, bursts must not throw): take the sub-device out. */
function burstFailed(priv: FsPriv, sub: SubDevice, op: string, error: unknown): void {
  priv.hooks.burstFailed(sub, op, error);
}

/**
 * Choose the Tx sub-device: among usable ones (started, no removal pending), a link-up one
 * beats a link-down one, and the preferred slot 0 beats the others; the current one is kept
 * on a tie so a fallback does not hop between equals. Not started: no Tx device.
 */
export function selectTx(priv: FsPriv): SubDevice | undefined {
  if (priv.target !== SubState.STARTED || priv.closed) return undefined;
  let best: SubDevice | undefined;
  let bestScore = -1;
  for (const sub of priv.subs) {
    if (!sub.usable) continue;
    const score = (sub.linkUp ? 2 : 0) + (sub.index === 0 ? 1 : 0);
    if (score > bestScore || (score === bestScore && sub === priv.tx)) {
      best = sub;
      bestScore = score;
    }
  }
  return best;
}

/** Re-evaluate Tx; on a change, account the time, emit `tx-switch` and refresh the link record. */
export function switchTx(priv: FsPriv, reason: TxSwitchReason): void {
  const next = selectTx(priv);
  const prev = priv.tx;
  const at = now();
  accountTx(priv, at);
  if (next !== prev) {
    priv.tx = next;
    priv.switches++;
    const ev: TxSwitchEvent = {
      port: priv.name,
      from: prev?.index,
      to: next?.index,
      fromName: prev?.dev?.name,
      toName: next?.dev?.name,
      reason,
      at,
    };
    priv.lastSwitch = ev;
    priv.port.emit('tx-switch', ev);
  }
  updateLink(priv);
}

/** Add the time since the last change to the fallback / no-Tx / per-slot counters. */
export function accountTx(priv: FsPriv, at: number): void {
  const dt = at - priv.txSince;
  if (priv.txRunning && dt > 0) {
    const tx = priv.tx;
    if (tx === undefined) priv.noTxMs += dt;
    else {
      tx.txTimeMs += dt;
      if (tx.index !== 0) priv.fallbackMs += dt;
    }
  }
  priv.txSince = at;
  priv.txRunning = priv.target === SubState.STARTED && !priv.closed;
}

/**
 * The port's link is the Tx sub-device's link. Started with no Tx device, it is down (DPDK
 * keeps the last record, which claims "up" with nothing to send on). `lsc` is emitted by
 * ethdev only when the record really changed.
 */
export function updateLink(priv: FsPriv): void {
  let link: LinkStatus;
  const tx = priv.tx;
  if (tx?.dev !== undefined) link = readLink(tx);
  else if (priv.target === SubState.STARTED) link = LINK_DOWN;
  else return;
  priv.link = link;
  priv.port.reportLink(link);
}

/** A sub-device's link, refreshing its `linkUp` flag; a device that cannot tell counts as down. */
export function readLink(sub: SubDevice): LinkStatus {
  let link: LinkStatus = LINK_DOWN;
  try {
    if (sub.dev !== undefined) link = sub.dev.linkGet();
  } catch {
    link = LINK_DOWN;
  }
  sub.linkUp = link.up;
  return link;
}

/** Rebuild the Rx poll list when its membership changed, and wake armed Rx interrupts. */
export function refreshRxList(priv: FsPriv): void {
  const next = priv.subs.filter((s) => s.usable && !priv.closed);
  const cur = priv.rxList;
  if (next.length === cur.length && next.every((s, i) => s === cur[i])) return;
  priv.rxList = next;
  priv.rxListEpoch = (priv.rxListEpoch + 1) >>> 0;
  rxIntrWakeSoon(priv);
}
