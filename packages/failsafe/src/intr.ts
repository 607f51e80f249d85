/**
 * Rx readiness (DPDK's failsafe_intr.c, which proxies the sub-devices' Rx interrupts
 * into one event fd): `rxQueueWait` resolves as soon as ANY usable sub-device's queue is
 * readable, or when the set of sub-devices changes (a spurious wake-up the caller's
 * next rxBurst absorbs), or on timeout.
 */
import type { FsPriv, QueueWatch, SubDevice } from './state.js';

/**
 * How long to sleep when a usable sub-device cannot signal readiness (no `rxQueueWait`):
 * the caller polls it at this pace instead of sleeping until its timeout.
 */
export const POLL_FALLBACK_MS = 1;

type Wake = 'data' | 'idle' | 'topology' | 'timeout' | 'poll';

/**
 * The sub-device's wait on `queue`: started once, with one reaction that tells whoever is
 * listening at that moment. Later calls join it, so an idle sub-device carries one wait
 * and no growing chain of reactions, however often the application waits.
 */
function watchQueue(sub: SubDevice, queue: number): QueueWatch | undefined {
  const dev = sub.dev;
  if (!sub.rxqIntr || dev === undefined) return undefined;
  const existing = sub.rxWaits[queue];
  if (existing !== undefined) return existing;
  let pending: Promise<boolean>;
  try {
    pending = dev.rxQueueWait(queue, -1);
  } catch {
    return undefined;
  }
  const w: QueueWatch = { listeners: new Set() };
  const settle = (ready: boolean): void => {
    if (sub.rxWaits[queue] === w) sub.rxWaits[queue] = undefined;
    for (const l of [...w.listeners]) l(ready);
  };
  pending.then(settle, () => {
    settle(false);
  });
  sub.rxWaits[queue] = w;
  return w;
}

export async function rxQueueWait(priv: FsPriv, queue: number, timeoutMs: number): Promise<boolean> {
  const deadline = timeoutMs < 0 ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
  // Sub-devices whose wait ended without data during this call: polled from then on, so a
  // driver that answers "nothing" at once cannot spin this loop on microtasks.
  const quiet = new Set<SubDevice>();
  for (;;) {
    if (priv.closed) return false;
    const remaining = deadline - performance.now();
    if (remaining <= 0) return false;
    const joined: [QueueWatch, (ready: boolean) => void][] = [];
    let wakeTopology: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let why: Wake;
    try {
      why = await new Promise<Wake>((resolve) => {
        let needsPoll = false;
        for (const sub of priv.rxList) {
          const w = quiet.has(sub) ? undefined : watchQueue(sub, queue);
          if (w === undefined) {
            needsPoll = true;
            continue;
          }
          const listener = (ready: boolean): void => {
            if (!ready) quiet.add(sub);
            resolve(ready ? 'data' : 'idle');
          };
          w.listeners.add(listener);
          joined.push([w, listener]);
        }
        wakeTopology = () => {
          resolve('topology');
        };
        priv.topologyWaiters.add(wakeTopology);
        const sleep = needsPoll ? Math.min(POLL_FALLBACK_MS, remaining) : remaining;
        if (Number.isFinite(sleep)) {
          timer = setTimeout(() => {
            resolve(needsPoll && sleep < remaining ? 'poll' : 'timeout');
          }, sleep);
        }
      });
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      if (wakeTopology !== undefined) priv.topologyWaiters.delete(wakeTopology);
      for (const [w, l] of joined) w.listeners.delete(l);
    }
    if (why === 'data' || why === 'topology' || why === 'poll') return !priv.closed;
    if (why === 'timeout') return false;
    // 'idle': a sub-device's wait ended without data (its own timeout, close); wait again.
  }
}
