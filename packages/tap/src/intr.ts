import { FdRxIntr, type RxIntrHandler } from '@netvsc/ethdev';
import type { TapQueue } from './rxtx.js';

/**
 * Rx interrupt mode (DPDK's tap_intr.c, which arms an eventfd per queue): one event-loop
 * watch per queue fd (ethdev's FdRxIntr), made on first use and kept until the queue is
 * released. It stops by itself when it fires with nobody armed, so an idle port costs nothing.
 * Each event also ends the queue's idle skip run, so the woken application reads at once.
 */
export class RxInterrupts {
  readonly #queues: ({ readonly intr: FdRxIntr; readonly queue: TapQueue } | undefined)[] = [];

  enable(queue: number, q: TapQueue, handler: RxIntrHandler): void {
    let e = this.#queues[queue];
    if (e?.queue !== q) {
      e?.intr.close();
      e = {
        intr: new FdRxIntr(q.fd, queue, () => {
          q.rxWake();
        }),
        queue: q,
      };
      this.#queues[queue] = e;
    }
    e.intr.enable(handler);
  }

  disable(queue: number): void {
    this.#queues[queue]?.intr.disable();
  }

  /** Drop `queue`'s watch; call before closing its fd. */
  release(queue: number): void {
    this.#queues[queue]?.intr.close();
    this.#queues[queue] = undefined;
  }

  /** Drop every watch; call before closing the fds. */
  close(): void {
    for (const e of this.#queues) e?.intr.close();
    this.#queues.length = 0;
  }
}
