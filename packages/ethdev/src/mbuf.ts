import { InvalidArgumentError, StateError } from './errors.js';

export interface MempoolOptions {
  /** Number of mbufs. */
  readonly size: number;
  /** Bytes per mbuf including headroom (DPDK's RTE_MBUF_DEFAULT_BUF_SIZE: 2048 + 128). */
  readonly dataRoomSize?: number;
  /** Bytes reserved in front of the data (RTE_PKTMBUF_HEADROOM). */
  readonly headroom?: number;
  readonly name?: string;
}

export const MBUF_DEFAULT_HEADROOM = 128;
export const MBUF_DEFAULT_DATAROOM = 2048 + MBUF_DEFAULT_HEADROOM;

/** `olFlags` bits. */
export const MbufFlag = {
  /** The VLAN TCI field holds a stripped tag. */
  VLAN_STRIPPED: 1 << 0,
} as const;

/**
 * A pool of fixed-size packet buffers, DPDK's rte_pktmbuf pool in JS terms: one
 * ArrayBuffer holding every data room back to back, metadata as parallel typed arrays
 * (struct of arrays, indexed by mbuf id) and a free stack. Bursts are arrays of mbuf ids.
 * Nothing here allocates after construction.
 */
export class Mempool {
  readonly name: string;
  readonly size: number;
  readonly dataRoomSize: number;
  readonly headroom: number;
  /** All data rooms; mbuf `m` occupies `[m * dataRoomSize, (m + 1) * dataRoomSize)`. */
  readonly buf: Uint8Array;
  /** Offset of the packet data from the start of the mbuf's room. */
  readonly dataOff: Uint16Array;
  /** Packet length in bytes (single segment). */
  readonly dataLen: Uint32Array;
  /** Port id the packet was received on (set by Rx). */
  readonly port: Uint16Array;
  readonly olFlags: Uint32Array;
  readonly vlanTci: Uint16Array;
  /** Flow hash when the driver knows one (TPACKET_V3 gives it). */
  readonly hash: Uint32Array;
  /** One view per mbuf over its whole room, made once so the hot path never allocates. */
  readonly rooms: readonly Uint8Array[];
  readonly #free: Uint32Array;
  readonly #inUse: Uint8Array;
  #top: number;

  constructor(options: MempoolOptions) {
    const { size } = options;
    const dataRoomSize = options.dataRoomSize ?? MBUF_DEFAULT_DATAROOM;
    const headroom = options.headroom ?? MBUF_DEFAULT_HEADROOM;
    if (!Number.isInteger(size) || size < 1 || size > 1 << 24) {
      throw new InvalidArgumentError(`mempool size ${size} is invalid; accepted: 1..${1 << 24}`);
    }
    if (!Number.isInteger(dataRoomSize) || dataRoomSize < 64 || dataRoomSize > 65535 + headroom) {
      throw new InvalidArgumentError(`mempool dataRoomSize ${dataRoomSize} is invalid; accepted: 64..${65535 + headroom}`);
    }
    if (!Number.isInteger(headroom) || headroom < 0 || headroom >= dataRoomSize) {
      throw new InvalidArgumentError(`mempool headroom ${headroom} must be an integer in 0..${dataRoomSize - 1}`);
    }
    this.name = options.name ?? 'mbuf_pool';
    this.size = size;
    this.dataRoomSize = dataRoomSize;
    this.headroom = headroom;
    this.buf = new Uint8Array(size * dataRoomSize);
    this.dataOff = new Uint16Array(size);
    this.dataLen = new Uint32Array(size);
    this.port = new Uint16Array(size);
    this.olFlags = new Uint32Array(size);
    this.vlanTci = new Uint16Array(size);
    this.hash = new Uint32Array(size);
    this.rooms = Array.from({ length: size }, (_, m) => this.buf.subarray(m * dataRoomSize, (m + 1) * dataRoomSize));
    this.#free = new Uint32Array(size);
    this.#inUse = new Uint8Array(size);
    // Low ids on top so a fresh pool hands out 0, 1, 2, ... (helps debugging, costs nothing).
    for (let i = 0; i < size; i++) this.#free[i] = size - 1 - i;
    this.#top = size;
  }

  /** Free mbufs left. */
  avail(): number {
    return this.#top;
  }

  inUse(): number {
    return this.size - this.#top;
  }

  /** Take one mbuf, reset to empty; -1 when the pool is exhausted. */
  alloc(): number {
    if (this.#top === 0) return -1;
    const m = this.#free[--this.#top] ?? 0;
    this.#inUse[m] = 1;
    this.#reset(m);
    return m;
  }

  /**
   * Take one mbuf without resetting it (rte_mbuf_raw_alloc); -1 when the pool is exhausted.
   * For drivers that write every field themselves (dataOff, dataLen, port, olFlags, vlanTci,
   * hash): the Rx hot path then stores each field once instead of twice.
   */
  rawAlloc(): number {
    if (this.#top === 0) return -1;
    const m = this.#free[--this.#top] ?? 0;
    this.#inUse[m] = 1;
    return m;
  }

  /** Take `n` mbufs into `out[first..]`, all or nothing (rte_pktmbuf_alloc_bulk). */
  allocBulk(out: Uint32Array, n: number, first = 0): boolean {
    if (n > this.#top) return false;
    for (let i = 0; i < n; i++) {
      const m = this.#free[--this.#top] ?? 0;
      this.#inUse[m] = 1;
      this.#reset(m);
      out[first + i] = m;
    }
    return true;
  }

  free(m: number): void {
    if (this.#inUse[m] !== 1) {
      throw new StateError(`mempool ${this.name}: mbuf ${m} freed twice or not from this pool (size ${this.size})`);
    }
    this.#inUse[m] = 0;
    this.#free[this.#top++] = m;
  }

  freeBulk(mbufs: ArrayLike<number>, n: number, first = 0): void {
    for (let i = first; i < first + n; i++) this.free(mbufs[i] ?? -1);
  }

  /** Byte offset of `m`'s packet data in `buf`. */
  dataOffset(m: number): number {
    return m * this.dataRoomSize + (this.dataOff[m] ?? 0);
  }

  /** Bytes available for packet data after the current data offset. */
  tailroom(m: number): number {
    return this.dataRoomSize - (this.dataOff[m] ?? 0) - (this.dataLen[m] ?? 0);
  }

  /** A view of `m`'s packet data (allocates a view: for tests and control paths, not per packet). */
  data(m: number): Uint8Array {
    const off = this.dataOffset(m);
    return this.buf.subarray(off, off + (this.dataLen[m] ?? 0));
  }

  /** Copy `bytes` in as the packet of `m` (after the headroom). */
  write(m: number, bytes: ArrayLike<number>): void {
    if (bytes.length > this.dataRoomSize - this.headroom) {
      throw new InvalidArgumentError(`packet of ${bytes.length} bytes does not fit an mbuf of ${this.dataRoomSize - this.headroom}`);
    }
    this.dataOff[m] = this.headroom;
    this.dataLen[m] = bytes.length;
    this.buf.set(bytes, m * this.dataRoomSize + this.headroom);
  }

  #reset(m: number): void {
    this.dataOff[m] = this.headroom;
    this.dataLen[m] = 0;
    this.olFlags[m] = 0;
    this.vlanTci[m] = 0;
    this.hash[m] = 0;
  }
}
