import type { FilterInfo, FilterRef, IngressQdiscSpec, Link, LinkChange, LinkRef, QdiscInfo, U32FilterSpec } from '@netvsc/netlink';

/**
 * The rtnetlink operations the TAP PMD uses (DPDK's tap_netlink.c + tap_tcmsgs.c), as a
 * narrow interface: `RtNetlink` from @netvsc/netlink satisfies it, unit tests pass a fake.
 */
export interface TapNetlink {
  link(ref: LinkRef): Link | null;
  setLink(ref: LinkRef, change: LinkChange): void;
  qdiscs(ifindex?: number): QdiscInfo[];
  addIngressQdisc(spec: IngressQdiscSpec): void;
  deleteIngressQdisc(spec: IngressQdiscSpec): void;
  filters(query: { ifindex: number; parent?: number }): FilterInfo[];
  addU32Filter(spec: U32FilterSpec): void;
  deleteFilter(ref: FilterRef): void;
  close(): void;
}

/** How many file descriptors hold a tun/tap device (attached and detached queues). */
export interface TunUsers {
  readonly attached: number;
  readonly detached: number;
  readonly persist: boolean;
}

/** A link notification, from an rtnetlink subscription or a poll. */
export interface LinkEvent {
  readonly type: 'new' | 'del';
  readonly link: Link;
}

export interface LinkWatch {
  close(): void;
}

/** Everything the port needs besides plain rtnetlink requests. */
export interface TapControl extends TapNetlink {
  /** Users of a tun/tap device, or null when `ifindex` is not a tun/tap device. */
  tunUsers(ifindex: number): TunUsers | null;
  /** Call `onEvent` for link changes of the given interfaces (RTM_NEWLINK / RTM_DELLINK). */
  watchLinks(ifindexes: readonly number[], onEvent: (ev: LinkEvent) => void): LinkWatch;
  /** Stop the tap's own IPv6 stack (no link-local address, no RS/DAD/MLD of its own). */
  disableIpv6(ifName: string): void;
}
