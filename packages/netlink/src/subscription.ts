import { ErrnoError, FdWatch } from '@netvsc/ethdev';
import { decodeAddress, type Address } from './address.js';
import * as C from './codec/constants.js';
import { splitMessages, type RawMessage } from './codec/message.js';
import { decodeLink, type Link } from './link.js';
import { openNetlinkSocket, type RawNetlinkSocket } from './native/socket.js';
import { openIn } from './rtnetlink.js';

/** A decoded multicast notification. */
export type RtEvent =
  | { readonly type: 'newlink'; readonly link: Link }
  | { readonly type: 'dellink'; readonly link: Link }
  | { readonly type: 'newaddr'; readonly address: Address }
  | { readonly type: 'deladdr'; readonly address: Address }
  /** The kernel dropped notifications (ENOBUFS): state must be re-read with a dump. */
  | { readonly type: 'overrun' };

export type RtGroup = 'link' | 'ipv4-addr' | 'ipv6-addr';

const GROUP_BITS: Record<RtGroup, number> = {
  link: C.RTMGRP_LINK,
  'ipv4-addr': C.RTMGRP_IPV4_IFADDR,
  'ipv6-addr': C.RTMGRP_IPV6_IFADDR,
};

/** What the subscription needs from the event loop: a level-triggered readable callback. */
export interface ReadinessWatch {
  /** Begin (or, after the loop stopped it on an error, resume) calling `onReadable`. */
  start(onReadable: () => void): void;
  close(): void;
}

export interface SubscriptionHandlers {
  readonly onEvent: (event: RtEvent) => void;
  /** Socket failures other than overrun; the subscription stays open. Default: rethrown asynchronously. */
  readonly onError?: (error: Error) => void;
}

export interface SubscriptionOptions {
  /** Default: all three. */
  readonly groups?: readonly RtGroup[];
  /** As RtNetlink's `netns`. */
  readonly netns?: string;
  /** SO_RCVBUFFORCE size; default 1 MiB, so bursts of link churn do not overrun. */
  readonly receiveBuffer?: number;
  /** Inject a socket (tests). */
  readonly socket?: RawNetlinkSocket;
  /** Inject the readiness source (tests); default ethdev's FdWatch on the socket fd. */
  readonly watch?: (fd: number) => ReadinessWatch;
  /** Datagrams read per wake-up before yielding back to the event loop; default 64. */
  readonly batch?: number;
}

/**
 * A non-blocking NETLINK_ROUTE socket subscribed to link/address groups. Readiness comes
 * from the event loop (never busy-polled, never blocking); each wake-up drains up to
 * `batch` datagrams and hands every decoded notification to `onEvent`, in kernel order.
 */
export class RtSubscription {
  readonly #sock: RawNetlinkSocket;
  readonly #watch: ReadinessWatch;
  readonly #handlers: SubscriptionHandlers;
  readonly #buf = new Uint8Array(65536);
  readonly #view = new DataView(this.#buf.buffer);
  readonly #batch: number;
  #closed = false;

  private constructor(sock: RawNetlinkSocket, watch: ReadinessWatch, handlers: SubscriptionHandlers, batch: number) {
    this.#sock = sock;
    this.#watch = watch;
    this.#handlers = handlers;
    this.#batch = batch;
  }

  static open(handlers: SubscriptionHandlers, options: SubscriptionOptions = {}): RtSubscription {
    const groups = (options.groups ?? ['link', 'ipv4-addr', 'ipv6-addr']).reduce((m, g) => m | GROUP_BITS[g], 0);
    const sock = options.socket ?? openIn(options.netns, () => openNetlinkSocket({ protocol: C.NETLINK_ROUTE, groups, nonBlocking: true }));
    let watch: ReadinessWatch | undefined;
    try {
      if (!options.socket) sock.setReceiveBuffer(options.receiveBuffer ?? 1 << 20);
      watch = (options.watch ?? ((fd: number) => new FdWatch(fd)))(sock.fd);
      const sub = new RtSubscription(sock, watch, handlers, options.batch ?? 64);
      watch.start(() => {
        sub.#onReadable();
      });
      return sub;
    } catch (e) {
      watch?.close();
      sock.close();
      throw e;
    }
  }

  get fd(): number {
    return this.#sock.fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Read and decode what is queued right now, without blocking. Overrun (ENOBUFS) is
   * returned as an `overrun` event; other socket errors throw ErrnoError.
   */
  drain(max = Infinity): RtEvent[] {
    const out: RtEvent[] = [];
    for (let i = 0; i < max && !this.#closed; i++) {
      let n: number;
      try {
        n = this.#sock.recv(this.#buf, true);
      } catch (e) {
        if (e instanceof ErrnoError && e.code === 'ENOBUFS') {
          out.push({ type: 'overrun' });
          continue;
        }
        throw e;
      }
      if (n < 0) break;
      for (const m of splitMessages(this.#buf, this.#view, n)) {
        const ev = toRtEvent(m);
        if (ev) out.push(ev);
      }
    }
    return out;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch.close();
    this.#sock.close();
  }

  #onReadable(): void {
    if (this.#closed) return;
    let events: RtEvent[];
    try {
      events = this.drain(this.#batch);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (this.#handlers.onError) this.#handlers.onError(err);
      else queueMicrotask(() => { throw err; });
      return;
    }
    // An overrun is signalled as POLLERR, on which libuv stops the poll handle: re-arm it.
    if (events.some((e) => e.type === 'overrun')) {
      this.#watch.start(() => {
        this.#onReadable();
      });
    }
    for (const ev of events) {
      // A handler may close the subscription mid-batch.
      if (this.closed) return;
      this.#handlers.onEvent(ev);
    }
  }
}

/** Decode one notification; other message types (and undecodable ones) give undefined. */
export function toRtEvent(m: RawMessage): RtEvent | undefined {
  switch (m.type) {
    case C.RTM_NEWLINK: {
      const link = decodeLink(m);
      return link && { type: 'newlink', link };
    }
    case C.RTM_DELLINK: {
      const link = decodeLink(m);
      return link && { type: 'dellink', link };
    }
    case C.RTM_NEWADDR: {
      const address = decodeAddress(m);
      return address && { type: 'newaddr', address };
    }
    case C.RTM_DELADDR: {
      const address = decodeAddress(m);
      return address && { type: 'deladdr', address };
    }
    default:
      return undefined;
  }
}
