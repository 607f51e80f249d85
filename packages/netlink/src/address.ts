import { InvalidArgumentError } from '@netvsc/ethdev';
import { parseIp } from './codec/codec.js';
import * as C from './codec/constants.js';
import { decodeMessage, family, type RawMessage } from './codec/message.js';
import { addrAttrs, ifaddrmsg } from './codec/specs.js';
import type { NetlinkTransport } from './transport.js';

export const addrFamily = family(ifaddrmsg, addrAttrs);

/** An interface address as RTM_NEWADDR describes it. */
export interface Address {
  /** AF_INET (2) or AF_INET6 (10). */
  readonly family: number;
  readonly index: number;
  /** The interface's own address (IFA_LOCAL for IPv4, IFA_ADDRESS for IPv6). */
  readonly address: string;
  readonly prefixlen: number;
  /** RT_SCOPE_* (0 universe, 253 link, 254 host). */
  readonly scope: number;
  /** IFA_F_* (the 32-bit IFA_FLAGS when present). */
  readonly flags: number;
  readonly label: string | null;
}

export interface AddressFilter {
  readonly family?: number;
  readonly index?: number;
}

export function decodeAddress(m: RawMessage): Address | undefined {
  if (m.type !== C.RTM_NEWADDR && m.type !== C.RTM_DELADDR) return undefined;
  const { header: h, attrs: a } = decodeMessage(addrFamily, m);
  // On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is always ours when present.
  const address = a.local ?? a.address;
  if (address === undefined) return undefined;
  return {
    family: h.family,
    index: h.index,
    address,
    prefixlen: h.prefixlen,
    scope: h.scope,
    flags: a.flags ?? h.flags,
    label: a.label ?? null,
  };
}

export function listAddresses(t: NetlinkTransport, filter: AddressFilter = {}): Address[] {
  const all = t.dump(
    { family: addrFamily, type: C.RTM_GETADDR, header: { family: filter.family ?? C.AF_UNSPEC }, attrs: {}, op: 'RTM_GETADDR' },
    decodeAddress,
  );
  // Without NETLINK_GET_STRICT_CHK the kernel ignores ifa_index: filter here.
  return all.filter((a) => (filter.index === undefined || a.index === filter.index) && (filter.family === undefined || a.family === filter.family));
}

export interface AddressSpec {
  readonly index: number;
  /** IPv4 or IPv6 text. */
  readonly address: string;
  readonly prefixlen: number;
  /** IFA_F_NODAD and friends. */
  readonly flags?: number;
}

function addrRequest(spec: AddressSpec): { header: { family: number; prefixlen: number; index: number; flags: number }; attrs: { local?: string; address: string } } {
  const v6 = spec.address.includes(':');
  parseIp(spec.address);
  const max = v6 ? 128 : 32;
  if (!Number.isInteger(spec.prefixlen) || spec.prefixlen < 0 || spec.prefixlen > max) {
    throw new InvalidArgumentError(`invalid prefix length ${spec.prefixlen} for ${spec.address}: expected 0-${max}`);
  }
  return {
    header: { family: v6 ? C.AF_INET6 : C.AF_INET, prefixlen: spec.prefixlen, index: spec.index, flags: (spec.flags ?? 0) & 0xff },
    attrs: v6 ? { address: spec.address } : { local: spec.address, address: spec.address },
  };
}

export function addAddress(t: NetlinkTransport, spec: AddressSpec): void {
  const { header, attrs } = addrRequest(spec);
  t.ack({
    family: addrFamily,
    type: C.RTM_NEWADDR,
    flags: C.NLM_F_CREATE | C.NLM_F_EXCL,
    header,
    attrs: { ...attrs, flags: spec.flags },
    op: 'RTM_NEWADDR',
    target: `${spec.address}/${spec.prefixlen} dev ${spec.index}`,
  });
}

export function deleteAddress(t: NetlinkTransport, spec: AddressSpec): void {
  const { header, attrs } = addrRequest(spec);
  t.ack({ family: addrFamily, type: C.RTM_DELADDR, header, attrs, op: 'RTM_DELADDR', target: `${spec.address}/${spec.prefixlen} dev ${spec.index}` });
}
