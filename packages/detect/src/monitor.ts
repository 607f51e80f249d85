import { now, TypedEmitter, type EtherAddr } from '@netvsc/ethdev';
import { RtNetlink, RtSubscription, type Address, type Link, type RtEvent, type RtGroup } from '@netvsc/netlink';
import { MonitorClosedError } from './errors.js';

/** Every monitor event carries `at`: wall-clock milliseconds (ethdev's `now()`). */
export type MonitorEvent =
  | { readonly type: 'link-added'; readonly at: number; readonly link: Link }
  | { readonly type: 'link-removed'; readonly at: number; readonly link: Link }
  | { readonly type: 'link-renamed'; readonly at: number; readonly link: Link; readonly oldName: string }
  | { readonly type: 'mac-changed'; readonly at: number; readonly link: Link; readonly oldMac: EtherAddr | null }
  /** Operational state went up (`link.operUp` became true). */
  | { readonly type: 'link-up'; readonly at: number; readonly link: Link }
  | { readonly type: 'link-down'; readonly at: number; readonly link: Link }
  | { readonly type: 'address-added'; readonly at: number; readonly address: Address }
  | { readonly type: 'address-removed'; readonly at: number; readonly address: Address }
  /** The kernel dropped notifications (ENOBUFS); a resync follows at once. */
  | { readonly type: 'overrun'; readonly at: number }
  /** Tables re-read by a fresh dump; the differences were reported as ordinary events before this. */
  | { readonly type: 'resync'; readonly at: number; readonly links: number; readonly addresses: number }
  /**
   * The monitor's own socket or dump failed; it keeps running. (Not named `error`: an
   * EventEmitter `error` without listener would crash the process.)
   */
  | { readonly type: 'socket-error'; readonly at: number; readonly error: Error };

export type MonitorEventType = MonitorEvent['type'];
type EventMap = { [K in MonitorEventType]: Extract<MonitorEvent, { type: K }> } & { event: MonitorEvent };

/** Where the monitor gets its state and notifications (the kernel by default; fakes in tests). */
export interface MonitorSource {
  dumpLinks(): Link[];
  dumpAddresses(): Address[];
  subscribe(onEvent: (e: RtEvent) => void, onError: (e: Error) => void): { close(): void };
  close(): void;
}

export interface MonitorOptions {
  /** Network namespace (name under /run/netns or a path). */
  readonly netns?: string;
  /** Also watch addresses (default true). */
  readonly addresses?: boolean;
  /** Replace the kernel (tests). */
  readonly source?: MonitorSource;
}

function netlinkSource(options: MonitorOptions): MonitorSource {
  const ns = options.netns === undefined ? {} : { netns: options.netns };
  const groups: RtGroup[] = options.addresses === false ? ['link'] : ['link', 'ipv4-addr', 'ipv6-addr'];
  const rt = RtNetlink.open(ns);
  return {
    dumpLinks: () => rt.links(),
    dumpAddresses: () => (options.addresses === false ? [] : rt.addresses()),
    subscribe: (onEvent, onError) => RtSubscription.open({ onEvent, onError }, { ...ns, groups }),
    close: () => {
      rt.close();
    },
  };
}

const addrKey = (a: Address): string => `${a.index}|${a.family}|${a.address}|${a.prefixlen}`;

/**
 * Live link/address events from rtnetlink, derived against a link table (so a NEWLINK
 * becomes added / renamed / mac-changed / up / down). Delivered through the emitter
 * (`on('event')` or per type) and through async iteration; never blocks the event loop,
 * never polls. An overrun is reported and repaired by a fresh dump. `close()` ends every
 * iterator at once (events an iterator had not taken yet are dropped).
 */
export class LinkMonitor extends TypedEmitter<EventMap> implements AsyncIterable<MonitorEvent> {
  readonly #source: MonitorSource;
  readonly #links = new Map<number, Link>();
  readonly #addrs = new Map<string, Address>();
  readonly #waiters = new Set<Queue>();
  #sub: { close(): void } | undefined;
  #closed = false;

  private constructor(source: MonitorSource) {
    super();
    this.#source = source;
  }

  /** Subscribe, then read the initial tables (so nothing between the two is missed). */
  static start(options: MonitorOptions = {}): LinkMonitor {
    const source = options.source ?? netlinkSource(options);
    const m = new LinkMonitor(source);
    try {
      m.#sub = source.subscribe(
        (e) => {
          m.#onRt(e);
        },
        (e) => {
          m.#deliver({ type: 'socket-error', at: now(), error: e });
        },
      );
      for (const l of source.dumpLinks()) m.#links.set(l.index, l);
      for (const a of source.dumpAddresses()) m.#addrs.set(addrKey(a), a);
    } catch (e) {
      m.#sub?.close();
      source.close();
      throw e;
    }
    return m;
  }

  /** The current link table (ifindex -> link). */
  get links(): ReadonlyMap<number, Link> {
    return this.#links;
  }

  get addresses(): readonly Address[] {
    return [...this.#addrs.values()];
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Events from now on, until close(). Each iterator has its own queue. */
  [Symbol.asyncIterator](): AsyncIterator<MonitorEvent> {
    return this.events();
  }

  events(): AsyncIterableIterator<MonitorEvent> {
    const q = new Queue();
    if (this.#closed) q.end();
    else this.#waiters.add(q);
    const iter: AsyncIterableIterator<MonitorEvent> = {
      next: () => q.next(),
      return: () => {
        this.#waiters.delete(q);
        q.end();
        return Promise.resolve({ done: true, value: undefined });
      },
      [Symbol.asyncIterator]: () => iter,
    };
    return iter;
  }

  /** Re-read both tables now and report the differences (also done after an overrun). */
  resync(): void {
    if (this.#closed) throw new MonitorClosedError();
    let links: Link[];
    let addrs: Address[];
    try {
      links = this.#source.dumpLinks();
      addrs = this.#source.dumpAddresses();
    } catch (e) {
      this.#deliver({ type: 'socket-error', at: now(), error: e instanceof Error ? e : new Error(String(e)) });
      return;
    }
    const seen = new Set<number>();
    for (const l of links) {
      seen.add(l.index);
      this.#newLink(l);
    }
    for (const [index, old] of [...this.#links]) {
      if (!seen.has(index)) {
        this.#links.delete(index);
        this.#deliver({ type: 'link-removed', at: now(), link: old });
      }
    }
    const fresh = new Map(addrs.map((a) => [addrKey(a), a]));
    for (const [k, a] of [...this.#addrs]) {
      if (!fresh.has(k)) {
        this.#addrs.delete(k);
        this.#deliver({ type: 'address-removed', at: now(), address: a });
      }
    }
    for (const a of addrs) this.#newAddr(a);
    this.#deliver({ type: 'resync', at: now(), links: this.#links.size, addresses: this.#addrs.size });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sub?.close();
    this.#source.close();
    for (const q of this.#waiters) q.end();
    this.#waiters.clear();
  }

  #onRt(e: RtEvent): void {
    if (this.#closed) return;
    switch (e.type) {
      case 'newlink':
        this.#newLink(e.link);
        break;
      case 'dellink':
        this.#links.delete(e.link.index);
        this.#deliver({ type: 'link-removed', at: now(), link: e.link });
        break;
      case 'newaddr':
        this.#newAddr(e.address);
        break;
      case 'deladdr': {
        this.#addrs.delete(addrKey(e.address));
        this.#deliver({ type: 'address-removed', at: now(), address: e.address });
        break;
      }
      case 'overrun':
        this.#deliver({ type: 'overrun', at: now() });
        this.resync();
        break;
    }
  }

  #newLink(link: Link): void {
    const old = this.#links.get(link.index);
    this.#links.set(link.index, link);
    const at = now();
    if (old === undefined) {
      this.#deliver({ type: 'link-added', at, link });
      if (link.operUp) this.#deliver({ type: 'link-up', at, link });
      return;
    }
    if (old.name !== link.name) this.#deliver({ type: 'link-renamed', at, link, oldName: old.name });
    if (old.mac !== link.mac) this.#deliver({ type: 'mac-changed', at, link, oldMac: old.mac });
    if (old.operUp !== link.operUp) this.#deliver({ type: link.operUp ? 'link-up' : 'link-down', at, link });
  }

  #newAddr(a: Address): void {
    const k = addrKey(a);
    const known = this.#addrs.has(k);
    this.#addrs.set(k, a);
    // NEWADDR also reports updates (DAD done, lifetimes): only the first one is "added".
    if (!known) this.#deliver({ type: 'address-added', at: now(), address: a });
  }

  #deliver(ev: MonitorEvent): void {
    if (this.#closed) return;
    for (const q of this.#waiters) q.push(ev);
    this.emit(ev.type, ev);
    this.emit('event', ev);
  }
}

/** An unbounded single-consumer queue behind one async iterator. */
class Queue {
  readonly #items: MonitorEvent[] = [];
  readonly #pending: ((r: IteratorResult<MonitorEvent>) => void)[] = [];
  #ended = false;

  push(ev: MonitorEvent): void {
    const p = this.#pending.shift();
    if (p) p({ done: false, value: ev });
    else this.#items.push(ev);
  }

  /** Finish: waiting and later next() calls get done; events not yet taken are dropped. */
  end(): void {
    this.#ended = true;
    this.#items.length = 0;
    for (const p of this.#pending.splice(0)) p({ done: true, value: undefined });
  }

  next(): Promise<IteratorResult<MonitorEvent>> {
    const ev = this.#items.shift();
    if (ev !== undefined) return Promise.resolve({ done: false, value: ev });
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => this.#pending.push(resolve));
  }
}
