import { InvalidArgumentError, etherAddrBytes, formatEtherAddr, parseEtherAddr } from '@netvsc/ethdev';

/**
 * The simulator's numbered test frame (all fields big-endian):
 *
 * | offset | size | field                                                    |
 * |-------:|-----:|----------------------------------------------------------|
 * |      0 |    6 | destination MAC                                          |
 * |      6 |    6 | source MAC                                               |
 * |     12 |    2 | EtherType 0x88b5 (IEEE 802 local experimental 1)         |
 * |     14 |    4 | magic 0x4e56534d ("NVSM")                                |
 * |     18 |    1 | version (1)                                              |
 * |     19 |    1 | flags: bit 0 = echoed back by the peer                   |
 * |     20 |    2 | flow id                                                  |
 * |     22 |    4 | sequence number                                          |
 * |     26 |    8 | sender's monotonic clock, ns (0 if unused)               |
 * |     34 |    … | zero padding up to the requested size                    |
 *
 * Sizes count the Ethernet header and exclude the FCS: 60 (the minimum) to 65535.
 */
export const TEST_ETHERTYPE = 0x88b5;
export const TEST_MAGIC = 0x4e56534d;
export const TEST_VERSION = 1;
export const TEST_HEADER_LEN = 34;
export const TEST_MIN_FRAME = 60;
export const TEST_MAX_FRAME = 65535;
/** flags bit: the frame was reflected by the peer's echo mode. */
export const TEST_FLAG_ECHO = 0x01;

export interface TestFrameFields {
  readonly dst: string;
  readonly src: string;
  readonly flow: number;
  readonly seq: number;
  readonly flags?: number;
  /** Sender's clock in ns; default 0. */
  readonly time?: bigint;
  /** Total frame size; default 60. */
  readonly size?: number;
}

export interface TestFrame {
  readonly dst: string;
  readonly src: string;
  readonly flow: number;
  readonly seq: number;
  readonly flags: number;
  readonly time: bigint;
  readonly length: number;
}

export function checkFrameSize(size: number): number {
  if (!Number.isInteger(size) || size < TEST_MIN_FRAME || size > TEST_MAX_FRAME) {
    throw new InvalidArgumentError(`test frame size ${size} out of range: ${TEST_MIN_FRAME}..${TEST_MAX_FRAME} bytes (Ethernet header included, FCS excluded)`);
  }
  return size;
}

/**
 * Write a test frame's header into `buf` at `offset` (the padding is left as it is: zero it
 * once when the buffer is made). For hot loops: write once, then only `setTestSeq`.
 */
export function writeTestFrame(buf: Uint8Array, offset: number, f: TestFrameFields): void {
  buf.set(etherAddrBytes(parseEtherAddr(f.dst)), offset);
  buf.set(etherAddrBytes(parseEtherAddr(f.src)), offset + 6);
  const v = new DataView(buf.buffer, buf.byteOffset + offset, TEST_HEADER_LEN);
  v.setUint16(12, TEST_ETHERTYPE);
  v.setUint32(14, TEST_MAGIC);
  v.setUint8(18, TEST_VERSION);
  v.setUint8(19, f.flags ?? 0);
  v.setUint16(20, f.flow & 0xffff);
  v.setUint32(22, f.seq >>> 0);
  v.setBigUint64(26, f.time ?? 0n);
}

/** A fresh frame (allocates; for tests and one-off sends). */
export function encodeTestFrame(f: TestFrameFields): Uint8Array {
  const buf = new Uint8Array(checkFrameSize(f.size ?? TEST_MIN_FRAME));
  writeTestFrame(buf, 0, f);
  return buf;
}

/** Set the sequence number of the frame at `offset` (no allocation). */
export function setTestSeq(buf: Uint8Array, offset: number, seq: number): void {
  buf[offset + 22] = (seq >>> 24) & 0xff;
  buf[offset + 23] = (seq >>> 16) & 0xff;
  buf[offset + 24] = (seq >>> 8) & 0xff;
  buf[offset + 25] = seq & 0xff;
}

/** Whether `length` bytes at `offset` are a test frame (no allocation). */
export function isTestFrame(buf: Uint8Array, offset: number, length: number): boolean {
  return (
    length >= TEST_HEADER_LEN &&
    buf[offset + 12] === 0x88 &&
    buf[offset + 13] === 0xb5 &&
    buf[offset + 14] === 0x4e &&
    buf[offset + 15] === 0x56 &&
    buf[offset + 16] === 0x53 &&
    buf[offset + 17] === 0x4d
  );
}

/** Sequence number of a test frame (no allocation). */
export function testFrameSeq(buf: Uint8Array, offset: number): number {
  return (((buf[offset + 22] ?? 0) << 24) | ((buf[offset + 23] ?? 0) << 16) | ((buf[offset + 24] ?? 0) << 8) | (buf[offset + 25] ?? 0)) >>> 0;
}

/** Flow id of a test frame (no allocation). */
export function testFrameFlow(buf: Uint8Array, offset: number): number {
  return ((buf[offset + 20] ?? 0) << 8) | (buf[offset + 21] ?? 0);
}

export function testFrameFlags(buf: Uint8Array, offset: number): number {
  return buf[offset + 19] ?? 0;
}

/** Decode a test frame, or null if `buf` is not one. */
export function decodeTestFrame(buf: Uint8Array, length = buf.length): TestFrame | null {
  if (!isTestFrame(buf, 0, length)) return null;
  const v = new DataView(buf.buffer, buf.byteOffset, TEST_HEADER_LEN);
  return {
    dst: formatEtherAddr(buf.subarray(0, 6)),
    src: formatEtherAddr(buf.subarray(6, 12)),
    flow: v.getUint16(20),
    seq: v.getUint32(22),
    flags: v.getUint8(19),
    time: v.getBigUint64(26),
    length,
  };
}
