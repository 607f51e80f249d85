import { align4, attrsSize, readAttrs, writeAttrs, type AttrsIn, type AttrsOut, type Schema, type StructCodec } from './codec.js';
import { NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_ERROR } from './constants.js';
import { extAckAttrs, nlmsgerr, nlmsghdr } from './specs.js';

/** One rtnetlink message family: its fixed header struct and its attribute schema. */
export interface Family<H, S extends Schema> {
  readonly header: StructCodec<H>;
  readonly attrs: S;
}

export function family<H, S extends Schema>(header: StructCodec<H>, attrs: S): Family<H, S> {
  return { header, attrs };
}

export interface MessageHead {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid?: number;
}

export const NLMSG_HDRLEN = nlmsghdr.bytes;

/** Build one complete netlink message: nlmsghdr + family header + attributes. */
export function encodeMessage<H, S extends Schema>(
  fam: Family<H, S>,
  head: MessageHead,
  header: Partial<H>,
  attrs: AttrsIn<S>,
): Uint8Array {
  const len = NLMSG_HDRLEN + align4(fam.header.bytes) + attrsSize(fam.attrs, attrs);
  const out = new Uint8Array(len);
  const view = new DataView(out.buffer);
  nlmsghdr.write({ len, type: head.type, flags: head.flags, seq: head.seq, pid: head.pid ?? 0 }, out, view, 0);
  fam.header.write(header, out, view, NLMSG_HDRLEN);
  writeAttrs(fam.attrs, attrs, out, view, NLMSG_HDRLEN + align4(fam.header.bytes));
  return out;
}

/** A received message, as a window onto the receive buffer (valid until the next receive). */
export interface RawMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  readonly buf: Uint8Array;
  readonly view: DataView;
  /** Payload start (after nlmsghdr) and length. */
  readonly offset: number;
  readonly length: number;
}

/** Split one datagram into its messages; a truncated tail is ignored. */
export function splitMessages(buf: Uint8Array, view: DataView, length: number): RawMessage[] {
  const out: RawMessage[] = [];
  let o = 0;
  while (o + NLMSG_HDRLEN <= length) {
    const h = nlmsghdr.read(buf, view, o, NLMSG_HDRLEN);
    if (h.len < NLMSG_HDRLEN || o + h.len > length) break;
    out.push({ type: h.type, flags: h.flags, seq: h.seq, pid: h.pid, buf, view, offset: o + NLMSG_HDRLEN, length: h.len - NLMSG_HDRLEN });
    o += align4(h.len);
  }
  return out;
}

export interface Decoded<H, S extends Schema> {
  readonly header: H;
  readonly attrs: AttrsOut<S>;
}

export function decodeMessage<H, S extends Schema>(fam: Family<H, S>, msg: RawMessage): Decoded<H, S> {
  const header = fam.header.read(msg.buf, msg.view, msg.offset, msg.length);
  const at = align4(fam.header.bytes);
  const attrs = readAttrs(fam.attrs, msg.buf, msg.view, msg.offset + at, Math.max(0, msg.length - at));
  return { header, attrs };
}

export interface NetlinkAck {
  /** 0 for a positive ack, otherwise a negative errno. */
  readonly error: number;
  /** The kernel's extended-ack message (NLMSGERR_ATTR_MSG), when it sent one. */
  readonly message?: string;
  /** Byte offset of the offending attribute in the request (NLMSGERR_ATTR_OFFS). */
  readonly offset?: number;
}

/** Decode an NLMSG_ERROR payload, including extended-ack TLVs. */
export function decodeAck(msg: RawMessage): NetlinkAck {
  if (msg.type !== NLMSG_ERROR) throw new RangeError(`message type ${msg.type} is not NLMSG_ERROR`);
  const { error } = nlmsgerr.read(msg.buf, msg.view, msg.offset, msg.length);
  if (!(msg.flags & NLM_F_ACK_TLVS)) return { error };
  // struct nlmsgerr = error + the request's nlmsghdr (+ its payload unless capped).
  let skip = 4 + NLMSG_HDRLEN;
  if (!(msg.flags & NLM_F_CAPPED) && msg.length >= skip) {
    const inner = nlmsghdr.read(msg.buf, msg.view, msg.offset + 4, NLMSG_HDRLEN);
    skip = 4 + align4(inner.len);
  }
  if (skip > msg.length) return { error };
  const tlv = readAttrs(extAckAttrs, msg.buf, msg.view, msg.offset + skip, msg.length - skip);
  return { error, ...(tlv.msg !== undefined && { message: tlv.msg }), ...(tlv.offset !== undefined && { offset: tlv.offset }) };
}
