import { InvalidArgumentError } from '@netvsc/ethdev';

/**
 * TPACKET_V3 ring layout and geometry (linux/if_packet.h), declared once. Offsets are
 * byte offsets; the Rx path reads them through 32/16-bit views, so every u32 field is
 * 4-aligned and every u16 field 2-aligned (the kernel guarantees TPACKET_ALIGNMENT = 16
 * for block and packet starts).
 */

/** struct tpacket_block_desc + tpacket_hdr_v1. */
export const BlockDesc = {
  version: 0,
  offsetToPriv: 4,
  blockStatus: 8,
  numPkts: 12,
  offsetToFirstPkt: 16,
  blkLen: 20,
  seqNum: 24,
} as const;

/** struct tpacket3_hdr (48 bytes) incl. hv1. */
export const Tpacket3Hdr = {
  nextOffset: 0,
  sec: 4,
  nsec: 8,
  snaplen: 12,
  len: 16,
  status: 20,
  mac: 24,
  net: 26,
  rxhash: 28,
  vlanTci: 32,
  vlanTpid: 36,
  size: 48,
} as const;

export const TPACKET_ALIGNMENT = 16;
/** TPACKET3_HDRLEN: header + struct sockaddr_ll (20); the kernel's minimum frame size. */
export const TPACKET3_HDRLEN = 68;
/** Rx block header as the kernel lays it out: BLK_HDR_LEN = ALIGN(sizeof(tpacket_block_desc), 8). */
export const BLK_HDR_LEN = 48;
/** Space the kernel puts before an Ethernet frame in a V3 Rx block: TPACKET_ALIGN(hdrlen) + 16 - 14 + up to 16 reserve. */
const RX_FRAME_OVERHEAD = 112;

export const TpStatus = {
  KERNEL: 0,
  USER: 1 << 0,
  COPY: 1 << 1,
  LOSING: 1 << 2,
  CSUMNOTREADY: 1 << 3,
  VLAN_VALID: 1 << 4,
  BLK_TMO: 1 << 5,
  VLAN_TPID_VALID: 1 << 6,
  CSUM_VALID: 1 << 7,
} as const;

export const ETHER_HDR_LEN = 14;
/** IPv4's minimum MTU, the smallest the port accepts. */
export const MIN_MTU = 68;
export const VLAN_TAG_LEN = 4;
export const ETH_P_8021Q = 0x8100;

/**
 * Rx ring geometry of one queue, from DPDK's devargs: `framecnt` frames of `framesz` in
 * blocks of `blocksz`. With TPACKET_V3 frames are packed into blocks, so `framesz` only sizes
 * the ring (and must pass the kernel's checks); the block bounds the frame length.
 */
export interface RingGeometry {
  readonly blockSize: number;
  readonly blockNr: number;
  readonly frameSize: number;
  readonly frameNr: number;
  /** Rx block retire timeout, ms. */
  readonly retireTovMs: number;
  /** Bytes of the ring (what is mmap'd). */
  readonly ringBytes: number;
  /** Largest frame an Rx block holds untruncated. */
  readonly maxRxFrame: number;
}

export interface GeometryInput {
  readonly blocksz: number;
  readonly framesz: number;
  readonly framecnt: number;
  readonly retireTovMs: number;
  readonly pageSize: number;
}

/** Largest ring (per direction, per queue) accepted: bounded so a typo cannot pin gigabytes. */
export const MAX_RING_BYTES = 1 << 30;

/**
 * Check a geometry against the rules the kernel applies in packet_set_ring() (DPDK only
 * checks > 0 and lets the setsockopt fail), so a bad devarg is refused with the reason and
 * a value that would work.
 */
export function ringGeometry(driver: string, g: GeometryInput): RingGeometry {
  const { blocksz, framesz, framecnt, pageSize } = g;
  if (blocksz % pageSize !== 0) {
    throw new InvalidArgumentError(`${driver}: blocksz=${blocksz} must be a multiple of the page size ${pageSize} (e.g. ${Math.max(pageSize, Math.ceil(blocksz / pageSize) * pageSize)})`);
  }
  if (framesz % TPACKET_ALIGNMENT !== 0) {
    throw new InvalidArgumentError(`${driver}: framesz=${framesz} must be a multiple of ${TPACKET_ALIGNMENT} (e.g. ${Math.ceil(framesz / TPACKET_ALIGNMENT) * TPACKET_ALIGNMENT})`);
  }
  // The kernel's minimum: a V3 header plus sockaddr_ll, rounded to the alignment.
  const minFrame = Math.ceil(TPACKET3_HDRLEN / TPACKET_ALIGNMENT) * TPACKET_ALIGNMENT;
  if (framesz < minFrame) {
    throw new InvalidArgumentError(`${driver}: framesz=${framesz} is too small; accepted: ${minFrame}..blocksz (${blocksz})`);
  }
  if (framesz > blocksz) {
    throw new InvalidArgumentError(`${driver}: framesz=${framesz} is larger than blocksz=${blocksz}; accepted: framesz <= blocksz`);
  }
  const framesPerBlock = Math.floor(blocksz / framesz);
  const blockNr = Math.floor(framecnt / framesPerBlock);
  if (blockNr < 1) {
    throw new InvalidArgumentError(`${driver}: framecnt=${framecnt} fills no block of ${framesPerBlock} frames (blocksz ${blocksz} / framesz ${framesz}); accepted: a multiple of ${framesPerBlock}`);
  }
  if (blockNr * framesPerBlock !== framecnt) {
    const lower = blockNr * framesPerBlock;
    throw new InvalidArgumentError(
      `${driver}: framecnt=${framecnt} is not a whole number of blocks of ${framesPerBlock} frames (blocksz ${blocksz} / framesz ${framesz}); use ${lower} or ${lower + framesPerBlock}`,
    );
  }
  const ringBytes = blockNr * blocksz;
  if (ringBytes > MAX_RING_BYTES) {
    throw new InvalidArgumentError(`${driver}: ring of ${blockNr} blocks x ${blocksz} bytes = ${ringBytes} bytes exceeds ${MAX_RING_BYTES} per queue`);
  }
  const maxRxFrame = blocksz - BLK_HDR_LEN - RX_FRAME_OVERHEAD;
  if (maxRxFrame < ETHER_HDR_LEN + MIN_MTU + VLAN_TAG_LEN) {
    throw new InvalidArgumentError(`${driver}: blocksz=${blocksz} holds frames of at most ${maxRxFrame} bytes, too small for an MTU of ${MIN_MTU}`);
  }
  return {
    blockSize: blocksz,
    blockNr,
    frameSize: framesz,
    frameNr: framecnt,
    retireTovMs: g.retireTovMs,
    ringBytes,
    maxRxFrame,
  };
}

/** The largest MTU the geometry carries (frame minus Ethernet header and one VLAN tag). */
export function maxMtu(g: RingGeometry): number {
  return g.maxRxFrame - ETHER_HDR_LEN - VLAN_TAG_LEN;
}
