import { etherAddrBytes, InvalidArgumentError, type EtherAddr } from '@netvsc/ethdev';
import { decode, encode, nested } from './codec/codec.js';
import * as C from './codec/constants.js';
import { decodeMessage, family, type RawMessage } from './codec/message.js';
import { bpfAttrs, mirredAttrs, tcAttrs, tcmsg, u32Attrs } from './codec/specs.js';
import type { NetlinkTransport } from './transport.js';

export const tcFamily = family(tcmsg, tcAttrs);
const u32Options = nested(u32Attrs);
const bpfOptions = nested(bpfAttrs);
const mirredOptions = nested(mirredAttrs);

/** `major:minor` packed as the kernel does (TC_H_MAKE). */
export function tcHandle(major: number, minor = 0): number {
  return (((major & 0xffff) << 16) | (minor & 0xffff)) >>> 0;
}

/** The tc text form: `ffff:`, `1:2`, `root`, `ingress`. */
export function formatTcHandle(h: number): string {
  if (h === C.TC_H_ROOT) return 'root';
  if (h === C.TC_H_INGRESS) return 'ingress';
  const minor = h & 0xffff;
  return `${(h >>> 16).toString(16)}:${minor ? minor.toString(16) : ''}`;
}

function htons(p: number): number {
  return ((p & 0xff) << 8) | ((p >> 8) & 0xff);
}

// ---------------------------------------------------------------------------------------
// qdiscs

/** `ingress` (filters on `ffff:`), or `clsact` (ingress `ffff:fff2` + egress `ffff:fff3`). */
export type IngressQdiscKind = 'ingress' | 'clsact';

export interface QdiscInfo {
  readonly ifindex: number;
  readonly handle: number;
  readonly parent: number;
  readonly kind: string;
}

function decodeQdisc(m: RawMessage): QdiscInfo | undefined {
  if (m.type !== C.RTM_NEWQDISC) return undefined;
  const { header: h, attrs: a } = decodeMessage(tcFamily, m);
  return { ifindex: h.ifindex, handle: h.handle, parent: h.parent, kind: a.kind ?? '' };
}

export function listQdiscs(t: NetlinkTransport, ifindex?: number): QdiscInfo[] {
  const all = t.dump({ family: tcFamily, type: C.RTM_GETQDISC, header: {}, attrs: {}, op: 'RTM_GETQDISC' }, decodeQdisc);
  return ifindex === undefined ? all : all.filter((q) => q.ifindex === ifindex);
}

export interface IngressQdiscSpec {
  readonly ifindex: number;
  /** Default `ingress`. */
  readonly kind?: IngressQdiscKind;
}

function ingressRequest(spec: IngressQdiscSpec): { header: { ifindex: number; parent: number; handle: number }; attrs: { kind: string }; target: string } {
  checkIfindex(spec.ifindex);
  const kind = spec.kind ?? 'ingress';
  return {
    header: { ifindex: spec.ifindex, parent: C.TC_H_INGRESS, handle: C.TC_H_INGRESS_HANDLE },
    attrs: { kind },
    target: `dev ${spec.ifindex} ${kind}`,
  };
}

/** Add an ingress (or clsact) qdisc; EEXIST when one is already there. */
export function addIngressQdisc(t: NetlinkTransport, spec: IngressQdiscSpec): void {
  const r = ingressRequest(spec);
  t.ack({ family: tcFamily, type: C.RTM_NEWQDISC, flags: C.NLM_F_CREATE | C.NLM_F_EXCL, ...r, op: 'RTM_NEWQDISC' });
}

/** Delete the ingress (or clsact) qdisc and with it every filter hanging off it. */
export function deleteIngressQdisc(t: NetlinkTransport, spec: IngressQdiscSpec): void {
  const r = ingressRequest(spec);
  t.ack({ family: tcFamily, type: C.RTM_DELQDISC, ...r, op: 'RTM_DELQDISC' });
}

// ---------------------------------------------------------------------------------------
// actions

export type MirredDirection = 'egress' | 'ingress';
export type MirredMode = 'redirect' | 'mirror';

export interface Mirred {
  readonly direction: MirredDirection;
  readonly mode: MirredMode;
  /** Target interface. */
  readonly ifindex: number;
  /**
   * Verdict after the action (TC_ACT_*): default STOLEN for redirect (the frame is gone)
   * and PIPE for mirror (the original continues), as iproute2 does.
   */
  readonly verdict?: number;
}

/** An action to attach to a filter. */
export type TcAction = { readonly kind: 'mirred' } & Mirred;

/** An action as found in a dump. */
export interface TcActionInfo {
  readonly kind: string;
  readonly index: number | null;
  /** Decoded parameters when `kind` is `mirred`. */
  readonly mirred: (Mirred & { readonly verdict: number }) | null;
}

const EACTION: Record<MirredDirection, Record<MirredMode, number>> = {
  egress: { redirect: C.TCA_EGRESS_REDIR, mirror: C.TCA_EGRESS_MIRROR },
  ingress: { redirect: C.TCA_INGRESS_REDIR, mirror: C.TCA_INGRESS_MIRROR },
};

function encodeActions(actions: readonly TcAction[]): { kind: string; options: Uint8Array }[] {
  return actions.map((a) => {
    checkIfindex(a.ifindex);
    const verdict = a.verdict ?? (a.mode === 'redirect' ? C.TC_ACT_STOLEN : C.TC_ACT_PIPE);
    const parms = { eaction: EACTION[a.direction][a.mode], ifindex: a.ifindex, action: verdict };
    return { kind: 'mirred', options: encode(mirredOptions, { parms }) };
  });
}

function decodeActions(list: readonly { kind?: string; options?: Uint8Array; index?: number }[] | undefined): TcActionInfo[] {
  return (list ?? []).map((a) => {
    const kind = a.kind ?? '';
    let mirred: TcActionInfo['mirred'] = null;
    let index = a.index ?? null;
    if (kind === 'mirred' && a.options) {
      const p = decode(mirredOptions, a.options).parms;
      if (p) {
        // Dumps carry the action index inside tc_gen, not as TCA_ACT_INDEX.
        index ??= p.index;
        const direction: MirredDirection = p.eaction === C.TCA_INGRESS_REDIR || p.eaction === C.TCA_INGRESS_MIRROR ? 'ingress' : 'egress';
        const mode: MirredMode = p.eaction === C.TCA_EGRESS_REDIR || p.eaction === C.TCA_INGRESS_REDIR ? 'redirect' : 'mirror';
        mirred = { direction, mode, ifindex: p.ifindex, verdict: p.action };
      }
    }
    return { kind, index, mirred };
  });
}

// ---------------------------------------------------------------------------------------
// filters

/**
 * One 32-bit u32 key: `(word_at(off) & mask) == val`, mask/val as unsigned numbers in
 * network order meaning (0xAABBCCDD matches bytes AA BB CC DD). On ingress `off` is
 * relative to the network header, so the Ethernet header is at -14..-1; keep `off` a
 * multiple of 4 (-16 and -12 cover the destination MAC).
 */
export interface U32Key {
  readonly mask: number;
  readonly val: number;
  readonly off: number;
}

interface FilterBase {
  readonly ifindex: number;
  /** Default `ffff:` (ingress). */
  readonly parent?: number;
  /** 1..65535; lower runs first. */
  readonly pref: number;
  /** EtherType in host order; default ETH_P_ALL. */
  readonly protocol?: number;
}

export interface U32FilterSpec extends FilterBase {
  readonly keys: readonly U32Key[];
  /** TC_U32_TERMINAL: needed for the actions to run; default true. */
  readonly terminal?: boolean;
  readonly actions?: readonly TcAction[];
}

export interface BpfFilterSpec extends FilterBase {
  /** A loaded BPF_PROG_TYPE_SCHED_CLS program fd. */
  readonly fd: number;
  /** Shown by `tc filter show` and in dumps; identifies our program. */
  readonly name: string;
  /** Direct-action mode (the program's return is the verdict); default true. */
  readonly directAction?: boolean;
}

/** Identifies one filter instance (a u32 instance owns every key node of its pref). */
export type FilterRef = FilterBase;

export interface FilterInfo {
  readonly ifindex: number;
  readonly parent: number;
  readonly pref: number;
  /** EtherType in host order (3 = ETH_P_ALL). */
  readonly protocol: number;
  readonly handle: number;
  readonly kind: string;
  readonly chain: number | null;
  readonly u32: { readonly keys: U32Key[]; readonly terminal: boolean } | null;
  readonly bpf: { readonly name: string | null; readonly id: number | null; readonly tag: string | null; readonly directAction: boolean } | null;
  readonly actions: TcActionInfo[];
}

function checkIfindex(i: number): void {
  if (!Number.isInteger(i) || i <= 0) throw new InvalidArgumentError(`invalid ifindex ${i}: expected a positive integer`);
}

function filterHeader(f: FilterBase): { ifindex: number; parent: number; info: number } {
  checkIfindex(f.ifindex);
  if (!Number.isInteger(f.pref) || f.pref < 1 || f.pref > 0xffff) {
    throw new InvalidArgumentError(`invalid filter pref ${f.pref}: expected 1-65535`);
  }
  const protocol = f.protocol ?? C.ETH_P_ALL;
  if (!Number.isInteger(protocol) || protocol < 0 || protocol > 0xffff) {
    throw new InvalidArgumentError(`invalid filter protocol ${protocol}: expected an EtherType 0-0xffff`);
  }
  return { ifindex: f.ifindex, parent: f.parent ?? C.TC_H_INGRESS_HANDLE, info: ((f.pref << 16) | htons(protocol)) >>> 0 };
}

function describeFilter(f: FilterBase, kind?: string): string {
  const proto = f.protocol ?? C.ETH_P_ALL;
  return `dev ${f.ifindex} parent ${formatTcHandle(f.parent ?? C.TC_H_INGRESS_HANDLE)} pref ${f.pref} protocol 0x${proto.toString(16).padStart(4, '0')}${kind ? ` ${kind}` : ''}`;
}

function checkKey(k: U32Key): void {
  const u32ok = (x: number): boolean => Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
  if (!u32ok(k.mask) || !u32ok(k.val)) throw new InvalidArgumentError(`invalid u32 key mask/val ${k.mask}/${k.val}: expected unsigned 32-bit integers`);
  if (!Number.isInteger(k.off) || k.off % 4 !== 0 || k.off < -0x8000 || k.off > 0x7fff) {
    throw new InvalidArgumentError(`invalid u32 key offset ${k.off}: expected a multiple of 4 (use -16 masked + -12 for the destination MAC)`);
  }
  if ((k.val & ~k.mask) !== 0) throw new InvalidArgumentError(`u32 key value 0x${k.val.toString(16)} has bits outside its mask 0x${k.mask.toString(16)}`);
}

export function addU32Filter(t: NetlinkTransport, spec: U32FilterSpec): void {
  const header = filterHeader(spec);
  if (spec.keys.length === 0 || spec.keys.length > 128) throw new InvalidArgumentError(`a u32 filter needs 1-128 keys, got ${spec.keys.length}`);
  spec.keys.forEach(checkKey);
  const sel = {
    head: { flags: spec.terminal === false ? 0 : C.TC_U32_TERMINAL, nkeys: spec.keys.length },
    items: spec.keys.map((k) => ({ mask: k.mask, val: k.val & k.mask, off: k.off })),
  };
  const actions = encodeActions(spec.actions ?? []);
  const options = encode(u32Options, { sel, ...(actions.length > 0 && { act: actions }) });
  newFilter(t, spec, header, 'u32', options);
}

export function addBpfFilter(t: NetlinkTransport, spec: BpfFilterSpec): void {
  const header = filterHeader(spec);
  if (!Number.isInteger(spec.fd) || spec.fd < 0) throw new InvalidArgumentError(`invalid BPF program fd ${spec.fd}`);
  if (spec.name.length === 0 || spec.name.length > 255) throw new InvalidArgumentError(`invalid BPF filter name "${spec.name}": expected 1-255 characters`);
  const options = encode(bpfOptions, {
    fd: spec.fd,
    name: spec.name,
    flags: spec.directAction === false ? 0 : C.TCA_BPF_FLAG_ACT_DIRECT,
  });
  newFilter(t, spec, header, 'bpf', options);
}

/** Send one exclusive RTM_NEWTFILTER of classifier `kind` with its encoded options. */
function newFilter(t: NetlinkTransport, spec: FilterRef, header: ReturnType<typeof filterHeader>, kind: 'u32' | 'bpf', options: ReturnType<typeof encode>): void {
  t.ack({
    family: tcFamily,
    type: C.RTM_NEWTFILTER,
    flags: C.NLM_F_CREATE | C.NLM_F_EXCL,
    header,
    attrs: { kind, options },
    op: 'RTM_NEWTFILTER',
    target: describeFilter(spec, kind),
  });
}

/** Delete the whole filter instance at (ifindex, parent, pref, protocol). ENOENT if absent. */
export function deleteFilter(t: NetlinkTransport, ref: FilterRef): void {
  t.ack({ family: tcFamily, type: C.RTM_DELTFILTER, header: filterHeader(ref), attrs: {}, op: 'RTM_DELTFILTER', target: describeFilter(ref) });
}

/**
 * Decode one RTM_NEWTFILTER. Entries that are not filters proper are skipped: the per-pref
 * instance lines (no options) and u32 hash tables (no selector, the `fh 800:` lines of
 * `tc filter show`); each u32 key node is reported with its own handle.
 */
export function decodeFilter(m: RawMessage): FilterInfo | undefined {
  if (m.type !== C.RTM_NEWTFILTER) return undefined;
  const { header: h, attrs: a } = decodeMessage(tcFamily, m);
  const kind = a.kind ?? '';
  // The per-pref instance line (`filter ... pref 5 bpf chain 0` with no handle) has no options.
  if (!a.options) return undefined;
  let u32: FilterInfo['u32'] = null;
  let bpf: FilterInfo['bpf'] = null;
  let actions: TcActionInfo[] = [];
  if (kind === 'u32') {
    const o = decode(u32Options, a.options);
    if (!o.sel) return undefined;
    u32 = {
      keys: o.sel.items.map((k) => ({ mask: k.mask, val: k.val, off: k.off })),
      terminal: (o.sel.head.flags & C.TC_U32_TERMINAL) !== 0,
    };
    actions = decodeActions(o.act);
  } else if (kind === 'bpf') {
    const o = decode(bpfOptions, a.options);
    bpf = {
      name: o.name ?? null,
      id: o.id ?? null,
      tag: o.tag ? Array.from(o.tag, (b) => b.toString(16).padStart(2, '0')).join('') : null,
      directAction: ((o.flags ?? 0) & C.TCA_BPF_FLAG_ACT_DIRECT) !== 0,
    };
    actions = decodeActions(o.act);
  }
  return {
    ifindex: h.ifindex,
    parent: h.parent,
    pref: h.info >>> 16,
    protocol: htons(h.info & 0xffff),
    handle: h.handle,
    kind,
    chain: a.chain ?? null,
    u32,
    bpf,
    actions,
  };
}

export interface FilterQuery {
  readonly ifindex: number;
  /** Default `ffff:` (ingress). */
  readonly parent?: number;
}

export function listFilters(t: NetlinkTransport, q: FilterQuery): FilterInfo[] {
  checkIfindex(q.ifindex);
  const parent = q.parent ?? C.TC_H_INGRESS_HANDLE;
  return t.dump(
    { family: tcFamily, type: C.RTM_GETTFILTER, header: { ifindex: q.ifindex, parent }, attrs: {}, op: 'RTM_GETTFILTER', target: `dev ${q.ifindex} parent ${formatTcHandle(parent)}` },
    decodeFilter,
  );
}

// ---------------------------------------------------------------------------------------
// u32 key builders for Ethernet-header matches at ingress

/**
 * Keys matching the destination MAC (with a mask, default exact) at ingress: a 16-bit
 * half-word in the aligned word at -16 plus the word at -12, as iproute2 encodes
 * `match ether dst`. Mask bytes that are zero are left out of the match.
 */
export function u32EtherDst(mac: EtherAddr, mask: EtherAddr = 'ff:ff:ff:ff:ff:ff' as EtherAddr): U32Key[] {
  const m = etherAddrBytes(mask);
  const v = etherAddrBytes(mac);
  const word = (b: Uint8Array, i: number): number => (((b[i] ?? 0) << 24) | ((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0)) >>> 0;
  const hiMask = ((m[0] ?? 0) << 8) | (m[1] ?? 0);
  const hiVal = (((v[0] ?? 0) << 8) | (v[1] ?? 0)) & hiMask;
  const loMask = word(m, 2);
  const loVal = (word(v, 2) & loMask) >>> 0;
  const keys: U32Key[] = [];
  if (hiMask) keys.push({ mask: hiMask, val: hiVal, off: -16 });
  if (loMask) keys.push({ mask: loMask, val: loVal, off: -12 });
  if (keys.length === 0) keys.push(...u32MatchAll());
  return keys;
}

/** One key that matches every frame (`match u32 0 0`). */
export function u32MatchAll(): U32Key[] {
  return [{ mask: 0, val: 0, off: 0 }];
}
