import { FdWatch } from '@netvsc/ethdev';
import { RtSubscription, type Link, type ReadinessWatch } from '@netvsc/netlink';

/**
 * Interrupt-style events of a port: Rx queue readiness (DPDK's Rx interrupt mode, here a
 * libuv poll on the packet socket, which turns readable when the kernel retires a block)
 * and the rtnetlink link watch that notices the netdev change or go away.
 */

interface Waiter {
  resolve: (ready: boolean) => void;
  timer: NodeJS.Timeout | undefined;
}

/** Rx interrupt of one queue. */
export class RxIntr {
  readonly #watch: FdWatch;
  readonly #ready: () => boolean;
  readonly #onWake: () => void;
  #waiters: Waiter[] = [];
  #armed = false;

  /**
   * @param ready  whether a block is waiting (read from the ring, no syscall)
   * @param onWake called on every wake-up before waiters resolve (error checks)
   */
  constructor(fd: number, ready: () => boolean, onWake: () => void) {
    this.#watch = new FdWatch(fd);
    this.#ready = ready;
    this.#onWake = onWake;
  }

  wait(timeoutMs: number): Promise<boolean> {
    if (this.#ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w: Waiter = { resolve, timer: undefined };
      if (timeoutMs >= 0) {
        w.timer = setTimeout(() => {
          this.#settle(w, false);
        }, timeoutMs);
      }
      this.#waiters.push(w);
      this.#arm();
    });
  }

  /** Wake every waiter with the current state (removal, stop). */
  wakeAll(): void {
    for (const w of [...this.#waiters]) this.#settle(w, this.#ready());
  }

  close(): void {
    this.wakeAll();
    this.#watch.close();
  }

  #arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    this.#watch.start(() => {
      this.#onWake();
      this.wakeAll();
    });
  }

  #settle(w: Waiter, ready: boolean): void {
    const i = this.#waiters.indexOf(w);
    if (i < 0) return;
    this.#waiters.splice(i, 1);
    if (w.timer) clearTimeout(w.timer);
    w.resolve(ready);
    if (this.#waiters.length === 0 && this.#armed) {
      this.#armed = false;
      this.#watch.stop();
    }
  }
}

export interface LinkWatchHandlers {
  /** RTM_NEWLINK for the watched ifindex. */
  onLink(link: Link): void;
  /** RTM_DELLINK for the watched ifindex (deleted, or moved to another namespace). */
  onRemoved(): void;
  /** Notifications were lost (overrun) or the socket failed: the state must be re-read. */
  onOverrun(): void;
}

/** A readiness watch that does not keep the process alive: a port left open must not hold the app. */
function backgroundWatch(fd: number): ReadinessWatch {
  const w = new FdWatch(fd);
  return {
    start(onReadable) {
      w.start(onReadable);
      w.ref(false);
    },
    close() {
      w.close();
    },
  };
}

/** rtnetlink link notifications (@netvsc/netlink's RtSubscription) filtered to one ifindex. */
export class LinkWatch {
  readonly ifindex: number;
  readonly #sub: RtSubscription;

  constructor(ifindex: number, h: LinkWatchHandlers) {
    this.ifindex = ifindex;
    this.#sub = RtSubscription.open(
      {
        onEvent: (e) => {
          if (e.type === 'overrun') h.onOverrun();
          else if (e.type === 'dellink' && e.link.index === ifindex) h.onRemoved();
          else if (e.type === 'newlink' && e.link.index === ifindex) h.onLink(e.link);
        },
        onError: () => {
          h.onOverrun();
        },
      },
      { groups: ['link'], watch: backgroundWatch },
    );
  }

  close(): void {
    this.#sub.close();
  }
}
