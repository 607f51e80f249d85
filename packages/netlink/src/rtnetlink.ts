import { addAddress, deleteAddress, listAddresses, type Address, type AddressFilter, type AddressSpec } from './address.js';
import { NETLINK_ROUTE } from './codec/constants.js';
import { deleteLink, getLink, listLinks, resolveIndex, setLink, type Link, type LinkChange, type LinkRef } from './link.js';
import { inNetns } from './native/netns.js';
import { openNetlinkSocket, type RawNetlinkSocket } from './native/socket.js';
import {
  addBpfFilter,
  addIngressQdisc,
  addU32Filter,
  deleteFilter,
  deleteIngressQdisc,
  listFilters,
  listQdiscs,
  type BpfFilterSpec,
  type FilterInfo,
  type FilterQuery,
  type FilterRef,
  type IngressQdiscSpec,
  type QdiscInfo,
  type U32FilterSpec,
} from './tc.js';
import { NetlinkTransport } from './transport.js';

export interface RtNetlinkOptions {
  /** Per-receive timeout of a request; default 5000 ms. */
  readonly timeoutMs?: number;
  /**
   * Open the socket in another network namespace: a name under /run/netns (as `ip netns`
   * creates them) or an absolute path such as `/proc/<pid>/ns/net`. Every request of this
   * handle then acts in that namespace.
   */
  readonly netns?: string;
  /** Use this socket instead of opening one (tests inject fakes here). */
  readonly socket?: RawNetlinkSocket;
}

/** Resolve `ip netns` names to their bind-mount path. */
export function netnsPath(netns: string): string {
  return netns.startsWith('/') ? netns : `/run/netns/${netns}`;
}

/** Run `fn` on a socket created inside `netns` (undefined: the current namespace). */
export function openIn<T>(netns: string | undefined, fn: () => T): T {
  return netns === undefined ? fn() : inNetns(netnsPath(netns), fn);
}

/**
 * A synchronous rtnetlink handle: links, addresses, ingress qdiscs and tc filters.
 * One socket, one outstanding request at a time; close() releases the socket.
 */
export class RtNetlink {
  readonly #t: NetlinkTransport;

  private constructor(t: NetlinkTransport) {
    this.#t = t;
  }

  static open(options: RtNetlinkOptions = {}): RtNetlink {
    const timeoutMs = options.timeoutMs ?? 5000;
    const sock = options.socket ?? openIn(options.netns, () => openNetlinkSocket({ protocol: NETLINK_ROUTE }));
    try {
      if (!options.socket) sock.setReceiveTimeout(timeoutMs);
    } catch (e) {
      sock.close();
      throw e;
    }
    return new RtNetlink(new NetlinkTransport(sock, timeoutMs));
  }

  /** The request layer, for families this class does not wrap. */
  get transport(): NetlinkTransport {
    return this.#t;
  }

  links(): Link[] {
    return listLinks(this.#t);
  }

  /** The link named or numbered `ref`, or null when there is none. */
  link(ref: LinkRef): Link | null {
    return getLink(this.#t, ref);
  }

  /** ifindex of `ref`; NoDeviceError when no such name exists. */
  ifindex(ref: LinkRef): number {
    return resolveIndex(this.#t, ref);
  }

  setLink(ref: LinkRef, change: LinkChange): void {
    setLink(this.#t, ref, change);
  }

  deleteLink(ref: LinkRef): void {
    deleteLink(this.#t, ref);
  }

  addresses(filter?: AddressFilter): Address[] {
    return listAddresses(this.#t, filter);
  }

  addAddress(spec: AddressSpec): void {
    addAddress(this.#t, spec);
  }

  deleteAddress(spec: AddressSpec): void {
    deleteAddress(this.#t, spec);
  }

  qdiscs(ifindex?: number): QdiscInfo[] {
    return listQdiscs(this.#t, ifindex);
  }

  addIngressQdisc(spec: IngressQdiscSpec): void {
    addIngressQdisc(this.#t, spec);
  }

  deleteIngressQdisc(spec: IngressQdiscSpec): void {
    deleteIngressQdisc(this.#t, spec);
  }

  filters(query: FilterQuery): FilterInfo[] {
    return listFilters(this.#t, query);
  }

  addU32Filter(spec: U32FilterSpec): void {
    addU32Filter(this.#t, spec);
  }

  addBpfFilter(spec: BpfFilterSpec): void {
    addBpfFilter(this.#t, spec);
  }

  deleteFilter(ref: FilterRef): void {
    deleteFilter(this.#t, ref);
  }

  close(): void {
    this.#t.close();
  }
}
