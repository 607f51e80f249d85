import { FdWatch } from '@netvsc/ethdev';

interface Waiter {
  readonly resolve: (ready: boolean) => void;
  readonly timer: NodeJS.Timeout | undefined;
}

interface QueueWait {
  readonly watch: FdWatch;
  readonly waiters: Set<Waiter>;
}

/**
 * Rx interrupt mode (DPDK's tap_intr.c, which arms an eventfd per queue): `wait()` resolves
 * when the queue's fd becomes readable, through one event-loop watch per queue that is
 * stopped whenever nobody waits, so an idle port costs nothing.
 */
export class RxInterrupts {
  readonly #queues = new Map<number, QueueWait>();

  wait(queue: number, fd: number, timeoutMs: number): Promise<boolean> {
    let q = this.#queues.get(queue);
    if (q?.watch.fd !== fd) {
      if (q) this.#cancel(queue, q);
      q = { watch: new FdWatch(fd), waiters: new Set() };
      this.#queues.set(queue, q);
    }
    const entry = q;
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer:
          timeoutMs >= 0
            ? setTimeout(() => {
                entry.waiters.delete(waiter);
                if (entry.waiters.size === 0) entry.watch.stop();
                resolve(false);
              }, timeoutMs)
            : undefined,
      };
      const first = entry.waiters.size === 0;
      entry.waiters.add(waiter);
      if (first) {
        entry.watch.start(() => {
          this.#wake(entry, true);
        });
      }
    });
  }

  /** Wake every waiter of `queue` with false (queue released) and drop its watch. */
  release(queue: number): void {
    const q = this.#queues.get(queue);
    if (q) this.#cancel(queue, q);
  }

  /** Wake everybody with false and drop every watch; call before closing the fds. */
  close(): void {
    for (const [queue, q] of [...this.#queues]) this.#cancel(queue, q);
  }

  #wake(q: QueueWait, ready: boolean): void {
    q.watch.stop();
    const waiters = [...q.waiters];
    q.waiters.clear();
    for (const w of waiters) {
      if (w.timer) clearTimeout(w.timer);
      w.resolve(ready);
    }
  }

  #cancel(queue: number, q: QueueWait): void {
    this.#wake(q, false);
    q.watch.close();
    this.#queues.delete(queue);
  }
}
