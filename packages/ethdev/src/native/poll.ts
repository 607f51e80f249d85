import koffi from 'koffi';

type Handle = ReturnType<typeof koffi.node.poll>;

/**
 * Readiness of a file descriptor on the Node event loop (libuv poll), for fds Node's own
 * streams refuse (tap, netlink, packet sockets). koffi's poll is thinly documented: its
 * callback gets `(status, events)` and the handle must stay referenced, so both live here.
 */
export class FdWatch {
  readonly fd: number;
  #handle: Handle | undefined;
  #callback: (() => void) | undefined;

  constructor(fd: number) {
    this.fd = fd;
  }

  /** Call `onReadable` every time the fd becomes readable, until `stop()`. */
  start(onReadable: () => void): void {
    this.#callback = onReadable;
    const cb = (...args: unknown[]): void => {
      const ev = args[1] as { readable?: boolean; disconnect?: boolean } | undefined;
      if (ev?.readable || ev?.disconnect || args[0] !== 0) this.#callback?.();
    };
    if (this.#handle) this.#handle.start({ readable: true }, cb as never);
    else this.#handle = koffi.node.poll(this.fd, { readable: true }, cb as never);
  }

  stop(): void {
    this.#handle?.stop();
  }

  /** Keep (or stop keeping) the process alive while watching. */
  ref(on: boolean): void {
    if (on) this.#handle?.ref();
    else this.#handle?.unref();
  }

  close(): void {
    this.#handle?.close();
    this.#handle = undefined;
    this.#callback = undefined;
  }
}

/** Resolve true when `fd` is readable, false after `timeoutMs` (negative: no timeout). */
export function waitReadable(fd: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const w = new FdWatch(fd);
    let timer: NodeJS.Timeout | undefined;
    const done = (v: boolean): void => {
      if (timer) clearTimeout(timer);
      w.close();
      resolve(v);
    };
    w.start(() => {
      done(true);
    });
    if (timeoutMs >= 0) timer = setTimeout(() => {
      done(false);
    }, timeoutMs);
  });
}
