import { InvalidArgumentError, NoDeviceError, type EtherAddr } from '@netvsc/ethdev';
import * as C from './codec/constants.js';
import { decode, nested } from './codec/codec.js';
import { decodeMessage, family, type RawMessage } from './codec/message.js';
import { ifinfomsg, linkAttrs, tunInfoAttrs } from './codec/specs.js';
import type { NetlinkTransport } from './transport.js';

export const linkFamily = family(ifinfomsg, linkAttrs);
const tunInfo = nested(tunInfoAttrs);

/** A tun/tap device's settings and users, from IFLA_INFO_DATA (kind `tun`). */
export interface TunInfo {
  /** `tun` (IFF_TUN, L3) or `tap` (IFF_TAP, Ethernet). */
  readonly type: 'tun' | 'tap';
  /** Packet-information header on reads/writes (no IFF_NO_PI). */
  readonly pi: boolean;
  readonly vnetHdr: boolean;
  readonly persist: boolean;
  readonly multiQueue: boolean;
  /** Queue fds attached to the device. */
  readonly numQueues: number;
  /** Queue fds open but detached (TUNSETQUEUE IFF_DETACH_QUEUE). */
  readonly numDisabledQueues: number;
  /** Owner uid / group gid when restricted, else null. */
  readonly owner: number | null;
  readonly group: number | null;
}

function decodeTunInfo(data: Uint8Array): TunInfo {
  const t = decode(tunInfo, data);
  return {
    type: t.type === 1 ? 'tun' : 'tap',
    pi: (t.pi ?? 0) !== 0,
    vnetHdr: (t.vnetHdr ?? 0) !== 0,
    persist: (t.persist ?? 0) !== 0,
    multiQueue: (t.multiQueue ?? 0) !== 0,
    numQueues: t.numQueues ?? 0,
    numDisabledQueues: t.numDisabledQueues ?? 0,
    owner: t.owner ?? null,
    group: t.group ?? null,
  };
}

/** A network interface as RTM_NEWLINK describes it. */
export interface Link {
  readonly index: number;
  readonly name: string;
  /** The hardware address when it is a 6-byte (Ethernet-like) address, else null. */
  readonly mac: EtherAddr | null;
  /** ARPHRD_* (1 = Ethernet). */
  readonly type: number;
  /** IFF_* flags. */
  readonly flags: number;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  /**
   * Operationally up: IFLA_OPERSTATE is UP, or UNKNOWN (drivers that do not report it,
   * e.g. loopback) with IFF_UP and IFF_RUNNING set.
   */
  readonly operUp: boolean;
  /** IF_OPER_* value (RFC 2863). */
  readonly operState: number;
  readonly mtu: number;
  /** ifindex of the master (bond, bridge, VRF) or null. */
  readonly master: number | null;
  /** ifindex of the lower/peer link (IFLA_LINK: veth peer, vlan parent) or null. */
  readonly link: number | null;
  /** rtnl_link kind (`veth`, `tun`, `vlan`, ...) or null for hardware/plain devices. */
  readonly kind: string | null;
  /** For kind `tun`: the device's tun settings and how many fds hold it; else null. */
  readonly tun: TunInfo | null;
  /** Permanent hardware address when the driver reports one. */
  readonly permMac: EtherAddr | null;
  /** Parent device name and bus (`0002:00:02.0`, `pci`) when the kernel reports them. */
  readonly parentDev: string | null;
  readonly parentBus: string | null;
}

/** An interface named by ifindex or by name. */
export type LinkRef = number | string;

/** What `setLink` changes; omitted fields are left alone. */
export interface LinkChange {
  readonly up?: boolean;
  readonly mtu?: number;
  readonly mac?: EtherAddr;
  readonly name?: string;
  readonly promisc?: boolean;
  readonly allmulti?: boolean;
}

export function decodeLink(m: RawMessage): Link | undefined {
  if (m.type !== C.RTM_NEWLINK && m.type !== C.RTM_DELLINK) return undefined;
  const { header: h, attrs: a } = decodeMessage(linkFamily, m);
  const operState = a.operstate ?? C.IF_OPER_UNKNOWN;
  const up = (h.flags & C.IFF_UP) !== 0;
  const running = (h.flags & C.IFF_RUNNING) !== 0;
  const link = a.link ?? 0;
  return {
    index: h.index,
    name: a.ifname ?? '',
    mac: a.address ?? null,
    type: h.type,
    flags: h.flags,
    up,
    operUp: operState === C.IF_OPER_UP || (operState === C.IF_OPER_UNKNOWN && up && running),
    operState,
    mtu: a.mtu ?? 0,
    master: a.master === undefined || a.master === 0 ? null : a.master,
    link: link && link !== h.index ? link : null,
    kind: a.linkinfo?.kind ?? null,
    tun: a.linkinfo?.kind === 'tun' && a.linkinfo.data ? decodeTunInfo(a.linkinfo.data) : null,
    permMac: a.permAddress ?? null,
    parentDev: a.parentDevName ?? null,
    parentBus: a.parentDevBusName ?? null,
  };
}

function refHeader(ref: LinkRef): { header: { index: number }; attrs: { ifname?: string } } {
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref <= 0) throw new InvalidArgumentError(`invalid ifindex ${ref}: expected a positive integer`);
    return { header: { index: ref }, attrs: {} };
  }
  validateIfName(ref);
  return { header: { index: 0 }, attrs: { ifname: ref } };
}

/** IFNAMSIZ rules the kernel applies (dev_valid_name), checked before anything is sent. */
export function validateIfName(name: string): void {
  if (name.length === 0 || name.length >= 16 || name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw new InvalidArgumentError(
      `invalid interface name "${name}": expected 1-15 characters without '/', ':' or whitespace, not "." or ".."`,
    );
  }
}

export function listLinks(t: NetlinkTransport): Link[] {
  return t.dump(
    { family: linkFamily, type: C.RTM_GETLINK, header: { family: C.AF_UNSPEC }, attrs: { extMask: C.RTEXT_FILTER_VF }, op: 'RTM_GETLINK' },
    decodeLink,
  );
}

export function getLink(t: NetlinkTransport, ref: LinkRef): Link | null {
  const { header, attrs } = refHeader(ref);
  return t.get(
    { family: linkFamily, type: C.RTM_GETLINK, header, attrs: { ...attrs, extMask: C.RTEXT_FILTER_VF }, op: 'RTM_GETLINK', target: `dev ${ref}` },
    (m) => decodeLink(m) ?? null,
  );
}

/** Resolve a name to its ifindex (numbers pass through after a range check). */
export function resolveIndex(t: NetlinkTransport, ref: LinkRef): number {
  if (typeof ref === 'number') return refHeader(ref).header.index;
  const link = getLink(t, ref);
  if (link === null) throw new NoDeviceError(`no network interface named "${ref}"`);
  return link.index;
}

export function setLink(t: NetlinkTransport, ref: LinkRef, change: LinkChange): void {
  let flags = 0;
  let mask = 0;
  const bit = (on: boolean | undefined, f: number): void => {
    if (on === undefined) return;
    mask |= f;
    if (on) flags |= f;
  };
  bit(change.up, C.IFF_UP);
  bit(change.promisc, C.IFF_PROMISC);
  bit(change.allmulti, C.IFF_ALLMULTI);
  if (change.name !== undefined) validateIfName(change.name);
  if (change.mtu !== undefined && (!Number.isInteger(change.mtu) || change.mtu < 0 || change.mtu > 0xffffffff)) {
    throw new InvalidArgumentError(`invalid MTU ${change.mtu}: expected an unsigned 32-bit integer`);
  }
  const index = resolveIndex(t, ref);
  t.ack({
    family: linkFamily,
    type: C.RTM_SETLINK,
    header: { family: C.AF_UNSPEC, index, flags, change: mask },
    attrs: { mtu: change.mtu, address: change.mac, ifname: change.name },
    op: 'RTM_SETLINK',
    target: `dev ${ref}`,
  });
}

export function deleteLink(t: NetlinkTransport, ref: LinkRef): void {
  const { header, attrs } = refHeader(ref);
  t.ack({ family: linkFamily, type: C.RTM_DELLINK, header, attrs, op: 'RTM_DELLINK', target: `dev ${ref}` });
}
