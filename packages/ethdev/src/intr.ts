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
  readonly #onError: (() => void) | undefined;
  readonly #onEvent: (error: boolean) => void;
  #handler: RxIntrHandler | undefined;
  #armed = false;

  /**
   * @param onError called when the poll reports an error (POLLERR: a socket error is pending),
   *                before the handler; the driver reads and clears the error there
   */
  constructor(fd: number, queue: number, onError?: () => void) {
    this.queue = queue;
    this.#watch = new FdWatch(fd);
    this.#onError = onError;
    this.#onEvent = (error) => {
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
    this.#watch.start(this.#onEvent);
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
    if (error) this.#onError?.();
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
