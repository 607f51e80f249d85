import { FdRxIntr, type RxIntrHandler } from '@netvsc/ethdev';

/**
 * Rx interrupt mode (DPDK's tap_intr.c, which arms an eventfd per queue): one event-loop
 * watch per queue fd (ethdev's FdRxIntr), made on first use and kept until the queue is
 * released. It stops by itself when it fires with nobody armed, so an idle port costs nothing.
 */
export class RxInterrupts {
  readonly #queues: (FdRxIntr | undefined)[] = [];

  enable(queue: number, fd: number, handler: RxIntrHandler): void {
    let q = this.#queues[queue];
    if (q?.fd !== fd) {
      q?.close();
      q = new FdRxIntr(fd, queue);
      this.#queues[queue] = q;
    }
    q.enable(handler);
  }

  disable(queue: number): void {
    this.#queues[queue]?.disable();
  }

  /** Drop `queue`'s watch; call before closing its fd. */
  release(queue: number): void {
    this.#queues[queue]?.close();
    this.#queues[queue] = undefined;
  }

  /** Drop every watch; call before closing the fds. */
  close(): void {
    for (const q of this.#queues) q?.close();
    this.#queues.length = 0;
  }
}
