import { FdRxIntr, type RxIntrHandler } from '@netvsc/ethdev';
import type { TapQueue } from './rxtx.js';

interface QueueIntr {
  readonly intr: FdRxIntr;
  readonly queue: TapQueue;
  handler: RxIntrHandler | undefined;
  /** What the fd watch calls, made once: tells the queue to read, then the handler. */
  readonly fire: RxIntrHandler;
}

/**
 * Rx interrupt mode (DPDK's tap_intr.c, which arms an eventfd per queue): one event-loop
 * watch per queue fd (ethdev's FdRxIntr), made on first use and kept until the queue is
 * released. It stops by itself when it fires with nobody armed, so an idle port costs nothing.
 * A wake-up also ends the queue's idle skip run, so the woken application reads at once.
 */
export class RxInterrupts {
  readonly #queues: (QueueIntr | undefined)[] = [];

  enable(queue: number, q: TapQueue, handler: RxIntrHandler): void {
    let e = this.#queues[queue];
    if (e?.queue !== q) {
      e?.intr.close();
      const entry: QueueIntr = {
        intr: new FdRxIntr(q.fd, queue),
        queue: q,
        handler: undefined,
        fire: (id) => {
          entry.queue.rxWake();
          const h = entry.handler;
          entry.handler = undefined;
          h?.(id);
        },
      };
      e = entry;
      this.#queues[queue] = e;
    }
    e.handler = handler;
    e.intr.enable(e.fire);
  }

  disable(queue: number): void {
    const e = this.#queues[queue];
    if (e === undefined) return;
    e.handler = undefined;
    e.intr.disable();
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
