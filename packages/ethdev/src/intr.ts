import { FdWatch } from './native/poll.js';
import type { RxIntrHandler } from './types.js';

/**
 * One Rx queue's interrupt over a pollable file descriptor, for drivers whose queue is an fd
 * (tap, packet socket). DPDK arms an eventfd in an epoll set per queue; here it is a libuv poll
 * on the fd itself, which is level-triggered. The watch stays armed after it fires and is only
 * stopped when it fires with nobody waiting: an Rx-interrupt loop (wake, drain, re-arm) then
 * costs no epoll_ctl and no allocation per wake-up.
 */
export class FdRxIntr {
  readonly queue: number;
  readonly #watch: FdWatch;
  readonly #onEvent: ((error: boolean) => void) | undefined;
  readonly #onPoll: (error: boolean) => void;
  #handler: RxIntrHandler | undefined;
  #armed = false;

  /**
   * @param onEvent called on every event of the fd, before the handler: `error` when the poll
   *                reports one (POLLERR: a socket error is pending, the driver reads and clears it
   *                there); otherwise the fd is readable (a driver that skips reads learns to read)
   */
  constructor(fd: number, queue: number, onEvent?: (error: boolean) => void) {
    this.queue = queue;
    this.#watch = new FdWatch(fd);
    this.#onEvent = onEvent;
    this.#onPoll = (error) => {
      this.#event(error);
    };
  }

  get fd(): number {
    return this.#watch.fd;
  }

  /** Whether a handler is waiting. */
  get enabled(): boolean {
    return this.#handler !== undefined;
  }

  enable(handler: RxIntrHandler): void {
    this.#handler = handler;
    if (this.#armed) return;
    this.#armed = true;
    this.#watch.start(this.#onPoll);
  }

  /** The watch itself is stopped lazily, at its next event: re-enabling soon after is then free. */
  disable(): void {
    this.#handler = undefined;
  }

  close(): void {
    this.#handler = undefined;
    this.#armed = false;
    this.#watch.close();
  }

  #event(error: boolean): void {
    this.#onEvent?.(error);
    const h = this.#handler;
    if (h === undefined) {
      this.#armed = false;
      this.#watch.stop();
      return;
    }
    this.#handler = undefined;
    h(this.queue);
  }
}
