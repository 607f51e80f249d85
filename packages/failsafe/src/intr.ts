/**
 * Rx interrupts (DPDK's failsafe_intr.c, which proxies the sub-devices' Rx interrupts into
 * one event fd): arming the fail-safe's queue arms that queue on every usable sub-device, all
 * with one proxy handler, so whichever has something first wakes the application. A change
 * of the set of sub-devices wakes it too (spuriously: its next rxBurst polls the new set and
 * it re-arms, which arms the newcomers). Nothing here allocates per wake-up.
 */
import type { RxIntrHandler } from '@netvsc/ethdev';
import type { FsPriv } from './state.js';

/**
 * How long to sleep when a usable sub-device cannot signal readiness (no Rx interrupt): the
 * application is woken at this pace so it polls that sub-device, instead of sleeping until
 * another one has something.
 */
export const POLL_FALLBACK_MS = 1;

export function rxIntrEnable(priv: FsPriv, queue: number, handler: RxIntrHandler): void {
  if (priv.closed) return;
  priv.rxIntr[queue] = handler;
  priv.rxIntrEpoch[queue] = priv.rxListEpoch;
  let needsPoll = false;
  for (const sub of priv.rxList) {
    const dev = sub.dev;
    if (dev === undefined) continue;
    if (!sub.rxqIntr) {
      needsPoll = true;
      continue;
    }
    try {
      // false: removed; the removal wakes us through the topology change.
      dev.rxIntrEnable(queue, priv.onSubRxIntr);
    } catch {
      needsPoll = true;
    }
  }
  if (needsPoll) armPollTimer(priv);
}

export function rxIntrDisable(priv: FsPriv, queue: number): void {
  priv.rxIntr[queue] = undefined;
  for (const sub of priv.rxList) {
    try {
      sub.dev?.rxIntrDisable(queue);
    } catch {
      // a sub-device that cannot disarm just wakes us once more, spuriously
    }
  }
}

/** A sub-device's queue fired: wake whoever armed the fail-safe's queue. */
export function rxIntrFire(priv: FsPriv, queue: number): void {
  const h = priv.rxIntr[queue];
  if (h === undefined) return;
  priv.rxIntr[queue] = undefined;
  h(queue);
}

/** Wake every armed queue (the poll fallback is due). */
export function rxIntrFireAll(priv: FsPriv): void {
  for (let q = 0; q < priv.rxIntr.length; q++) rxIntrFire(priv, q);
}

/**
 * Wake every armed queue from the event loop: the set of sub-devices changes inside bursts and
 * control calls, where calling the application back would re-enter it.
 */
export function rxIntrWakeSoon(priv: FsPriv): void {
  if (priv.wakeQueued) return;
  priv.wakeQueued = true;
  setImmediate(() => {
    priv.wakeQueued = false;
    if (priv.closed) return;
    // A queue armed since the change is armed on the new set already: no need to wake it.
    for (let q = 0; q < priv.rxIntr.length; q++) {
      if ((priv.rxIntrEpoch[q] ?? 0) !== priv.rxListEpoch) rxIntrFire(priv, q);
    }
  });
}

/** Forget armed handlers (stop, close): nothing is called. */
export function rxIntrReset(priv: FsPriv): void {
  priv.rxIntr.fill(undefined);
  if (priv.pollTimer !== undefined) clearTimeout(priv.pollTimer);
}

/** One timer for the port, re-armed with refresh(): a poll-fallback wait allocates nothing. */
function armPollTimer(priv: FsPriv): void {
  if (priv.pollTimer === undefined) {
    priv.pollTimer = setTimeout(() => {
      rxIntrFireAll(priv);
    }, POLL_FALLBACK_MS);
  } else {
    priv.pollTimer.refresh();
  }
}
