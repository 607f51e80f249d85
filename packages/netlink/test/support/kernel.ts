import { encode, nested } from '../../src/codec/codec.js';
import { extAckAttrs, nlmsghdr } from '../../src/codec/specs.js';
import { nl as C } from '../../src/index.js';

/** Build a kernel NLMSG_ERROR reply (capped, with extended-ack TLVs when `text` is given). */
export function ackReply(seq: number, errno: number, text?: string): Uint8Array {
  const tlv = text === undefined ? new Uint8Array(0) : encode(nested(extAckAttrs), { msg: text });
  const len = 16 + 4 + 16 + tlv.length;
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  const flags = C.NLM_F_CAPPED | (text === undefined ? 0 : C.NLM_F_ACK_TLVS);
  nlmsghdr.write({ len, type: C.NLMSG_ERROR, flags, seq, pid: 4242 }, out, v, 0);
  v.setInt32(16, -errno, true);
  nlmsghdr.write({ len: 32, type: C.RTM_NEWLINK, flags: 5, seq, pid: 4242 }, out, v, 20);
  out.set(tlv, 36);
  return out;
}

export function doneReply(seq: number, flags = C.NLM_F_MULTI, error = 0): Uint8Array {
  const out = new Uint8Array(20);
  const v = new DataView(out.buffer);
  nlmsghdr.write({ len: 20, type: C.NLMSG_DONE, flags, seq, pid: 4242 }, out, v, 0);
  v.setInt32(16, error, true);
  return out;
}
