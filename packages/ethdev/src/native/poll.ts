import koffi from 'koffi';
import { check, libc } from './libc.js';

const EPOLL_CLOEXEC = 0o2000000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLLIN = 1;

const epollEvent = koffi.pack('netvsc_epoll_event', { events: 'uint32_t', data: 'uint64_t' });
const epoll_create1 = libc().func('int epoll_create1(int flags)');
const epoll_ctl = libc().func('epoll_ctl', 'int', ['int', 'int', 'int', koffi.pointer(epollEvent)]);
let probeFd = -1;

/**
 * koffi's poll aborts the whole process (a fatal N-API error, not an exception) on an fd
 * that epoll refuses: closed numbers, regular files, /dev/null. Ask epoll first, on a
 * private epoll instance, so such an fd becomes an ordinary ErrnoError.
 */
function assertPollable(fd: number): void {
  if (probeFd < 0) probeFd = check(epoll_create1(EPOLL_CLOEXEC) as number, 'epoll_create1');
  check(epoll_ctl(probeFd, EPOLL_CTL_ADD, fd, { events: EPOLLIN, data: 0 }) as number, 'epoll_ctl', `fd ${fd} cannot be watched`);
  epoll_ctl(probeFd, EPOLL_CTL_DEL, fd, null);
}

type Handle = ReturnType<typeof koffi.node.poll>;

const READABLE = { readable: true } as const;

/**
 * Watches with a live handle. A koffi poll handle still open when Node tears the
 * environment down gets its callback run during cleanup, where JS can no longer run, and
 * the process aborts (napi_throw); so whatever is still open is closed on 'exit'.
 */
const live = new Set<FdWatch>();
let exitHook = false;

function closeAllAtExit(): void {
  for (const w of [...live]) w.close();
}

/**
 * Readiness of a file descriptor on the Node event loop (libuv poll), for fds Node's own
 * streams refuse (tap, netlink, packet sockets). koffi's poll is thinly documented: its
 * callback gets `(status, events)` and the handle must stay referenced, so both live here.
 */
export class FdWatch {
  readonly fd: number;
  #handle: Handle | undefined;
  #callback: ((error: boolean) => void) | undefined;
  #active = false;
  /** The native callback, made once: a watch restarted on every Rx wake-up must not allocate. */
  readonly #native: (status: unknown, ev: { readable?: boolean; disconnect?: boolean } | undefined) => void;
  readonly #rearm: () => void;

  constructor(fd: number) {
    this.fd = fd;
    // Two declared parameters, not a rest array: that array would be allocated on every event.
    this.#native = (status: unknown, ev: { readable?: boolean; disconnect?: boolean } | undefined): void => {
      const error = status !== 0;
      if (ev?.readable || ev?.disconnect || error) this.#callback?.(error);
      if (error) setImmediate(this.#rearm);
    };
    this.#rearm = () => {
      if (this.#active && this.#handle) this.#handle.start(READABLE, this.#native as never);
    };
  }

  /**
   * Call `onReadable` every time the fd becomes readable, until `stop()`. `error` is true
   * when libuv reported a poll error (POLLERR, e.g. ENETDOWN on a packet socket): libuv then
   * stops the handle by itself, so the watch re-arms on the next loop turn unless the callback
   * stopped or closed it — a consumer facing a persistent error must do one of those.
   */
  start(onReadable: (error: boolean) => void): void {
    this.#callback = onReadable;
    this.#active = true;
    if (this.#handle) this.#handle.start(READABLE, this.#native as never);
    else {
      assertPollable(this.fd);
      this.#handle = koffi.node.poll(this.fd, READABLE, this.#native as never);
    }
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', closeAllAtExit);
    }
  }

  stop(): void {
    this.#active = false;
    this.#handle?.stop();
  }

  /** Keep (or stop keeping) the process alive while watching. */
  ref(on: boolean): void {
    if (on) this.#handle?.ref();
    else this.#handle?.unref();
  }

  close(): void {
    this.#active = false;
    live.delete(this);
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
