import { Errno, type Mempool, type QueueStats } from '@netvsc/ethdev';
import { Iovec, MmsgHdr } from './native/packet.js';
import {
  BlockDesc,
  ETH_P_8021Q,
  ETHER_HDR_LEN,
  Tpacket3Hdr,
  TpStatus,
  VLAN_TAG_LEN,
  type RingGeometry,
} from './ring.js';

/**
 * The data path: TPACKET_V3 Rx blocks walked through typed views over the mmap'd ring,
 * and sendmmsg of the mbufs in place for Tx. Nothing here allocates or throws once a queue
 * is built; the only native call is one sendmmsg per Tx burst (of up to TX_BATCH frames).
 */

/** One side of a copy: byte and 32-bit views from the same start. */
export interface Memory {
  readonly u8: Uint8Array;
  /** null when the start is not 4-aligned: copies then go byte by byte. */
  readonly i32: Int32Array | null;
}

export function memoryOf(u8: Uint8Array): Memory {
  const i32 = u8.byteOffset % 4 === 0 ? new Int32Array(u8.buffer, u8.byteOffset, u8.byteLength >> 2) : null;
  return { u8, i32 };
}

/**
 * Copy `len` bytes from `src[s]` to `dst[d]` in JS, 4 bytes at a time when both offsets
 * have the same alignment modulo 4 (the Rx and Tx paths arrange that), byte by byte
 * otherwise. No view object and no native call per frame: both would allocate (a typed
 * array, or a boxed 64-bit address for an FFI memcpy) on every packet. See the README
 * ("Copy") for the measured cost against memcpy.
 */
export function copyBytes(src: Memory, s: number, dst: Memory, d: number, len: number): void {
  const s8 = src.u8;
  const d8 = dst.u8;
  const s32 = src.i32;
  const d32 = dst.i32;
  if (((s ^ d) & 3) !== 0 || s32 === null || d32 === null) {
    for (let i = 0; i < len; i++) d8[d + i] = s8[s + i] ?? 0;
    return;
  }
  while ((s & 3) !== 0 && len > 0) {
    d8[d++] = s8[s++] ?? 0;
    len--;
  }
  let si = s >> 2;
  let di = d >> 2;
  const end = si + (len >> 2);
  while (si + 8 <= end) {
    d32[di] = s32[si] ?? 0;
    d32[di + 1] = s32[si + 1] ?? 0;
    d32[di + 2] = s32[si + 2] ?? 0;
    d32[di + 3] = s32[si + 3] ?? 0;
    d32[di + 4] = s32[si + 4] ?? 0;
    d32[di + 5] = s32[si + 5] ?? 0;
    d32[di + 6] = s32[si + 6] ?? 0;
    d32[di + 7] = s32[si + 7] ?? 0;
    si += 8;
    di += 8;
  }
  while (si < end) d32[di++] = s32[si++] ?? 0;
  s = si << 2;
  d = di << 2;
  len &= 3;
  while (len-- > 0) d8[d++] = s8[s++] ?? 0;
}

/**
 * Copy the 32-bit words that hold bytes `[s, s + len)` of `src` to the same positions modulo 4
 * at `d` in `dst`: up to 3 bytes before and after the range go along. For a destination with
 * room around the data (an mbuf's headroom and tailroom) that is cheaper than copyBytes, whose
 * byte loops for the unaligned head and tail cost as much as the words of a small frame.
 * Both offsets must be congruent modulo 4 and both memories word-viewable.
 */
export function copyWords(src: Int32Array, s: number, dst: Int32Array, d: number, len: number): void {
  if (len <= 0) return;
  let si = s >> 2;
  let di = d >> 2;
  const end = (s + len + 3) >> 2;
  while (si + 4 <= end) {
    dst[di] = src[si] ?? 0;
    dst[di + 1] = src[si + 1] ?? 0;
    dst[di + 2] = src[si + 2] ?? 0;
    dst[di + 3] = src[si + 3] ?? 0;
    si += 4;
    di += 4;
  }
  while (si < end) dst[di++] = src[si++] ?? 0;
}

/**
 * Frames at least this long go through a cached view (one native copy by TypedArray.set);
 * shorter ones through the JS word loop, which is cheaper below it (README, "Copy").
 */
export const VIEW_COPY_MIN = 768;

/**
 * Fixed-length views into `u8`, made on first use of a start offset and kept. A large frame
 * is then copied with one `set()` of `span` bytes (the frame plus don't-care tail) instead
 * of a view made per frame, so the copy is native and allocation-free once warm. The number
 * of views is bounded by `slots` (ring size / 16, or mbufs x 4).
 */
export class ViewCache {
  readonly span: number;
  readonly #u8: Uint8Array;
  readonly #views: (Uint8Array | undefined)[];

  constructor(u8: Uint8Array, span: number, slots: number) {
    this.#u8 = u8;
    this.span = span;
    this.#views = new Array<Uint8Array | undefined>(span >= VIEW_COPY_MIN ? slots : 0).fill(undefined);
  }

  /** The view of `span` bytes at `offset`, kept in `slot`; undefined when it would leave `u8`. */
  at(slot: number, offset: number): Uint8Array | undefined {
    if (slot >= this.#views.length || offset + this.span > this.#u8.length) return undefined;
    let v = this.#views[slot];
    if (v?.byteOffset !== this.#u8.byteOffset + offset) {
      v = this.#u8.subarray(offset, offset + this.span);
      this.#views[slot] = v;
    }
    return v;
  }
}

/** A ring inside a mapping: `offset` is where it starts in `mem`. */
export interface RingView {
  readonly mem: Memory;
  readonly offset: number;
  readonly geometry: RingGeometry;
}

function u16View(mem: Memory): Uint16Array {
  return new Uint16Array(mem.u8.buffer, mem.u8.byteOffset, mem.u8.byteLength >> 1);
}

function u32View(mem: Memory): Uint32Array {
  return new Uint32Array(mem.u8.buffer, mem.u8.byteOffset, mem.u8.byteLength >> 2);
}

/**
 * One Rx queue: a cursor over the V3 block ring. A block is handed back to the kernel as
 * soon as its last packet is copied out; a burst that ends mid-block keeps its place.
 */
export class RxQueue {
  readonly queueId: number;
  readonly #ring: Memory;
  readonly #u32: Uint32Array;
  readonly #u16: Uint16Array;
  readonly #base: number;
  readonly #blockSize: number;
  readonly #blockNr: number;
  readonly #pool: Mempool;
  readonly #poolMem: Memory;
  /** Both memories have word views: small frames are copied by copyWords. */
  readonly #words: boolean;
  readonly #ring32: Int32Array;
  readonly #pool32: Int32Array;
  /** Views into the ring, one per 16-byte packet position (packet starts are 16-aligned). */
  readonly #ringViews: ViewCache;
  readonly #portId: number;
  readonly #stats: QueueStats;
  #block = 0;
  #open = false;
  #left = 0;
  #pkt = 0;
  /** The mbuf the last successful #take() filled. */
  #last = 0;
  /** Frames dropped because they were truncated or do not fit an mbuf. */
  oversize = 0;

  constructor(queueId: number, ring: RingView, pool: Mempool, poolMem: Memory, portId: number, stats: QueueStats) {
    this.queueId = queueId;
    this.#ring = ring.mem;
    this.#u32 = u32View(ring.mem);
    this.#u16 = u16View(ring.mem);
    this.#base = ring.offset;
    this.#blockSize = ring.geometry.blockSize;
    this.#blockNr = ring.geometry.blockNr;
    this.#pool = pool;
    this.#poolMem = poolMem;
    this.#words = ring.mem.i32 !== null && poolMem.i32 !== null;
    this.#ring32 = ring.mem.i32 ?? new Int32Array(0);
    this.#pool32 = poolMem.i32 ?? new Int32Array(0);
    // Spans end where the mbuf room does, whatever the 0..3 bytes of alignment shift.
    this.#ringViews = new ViewCache(ring.mem.u8, pool.dataRoomSize - pool.headroom - 3, Math.ceil(ring.mem.u8.length / 16));
    this.#portId = portId;
    this.#stats = stats;
  }

  /** A retired block is waiting (what poll() reports as readable), checked without a syscall. */
  ready(): boolean {
    if (this.#open) return true;
    const b = this.#base + this.#block * this.#blockSize;
    return ((this.#u32[(b + BlockDesc.blockStatus) >> 2] ?? 0) & TpStatus.USER) !== 0;
  }

  burst(out: Uint32Array, max: number): number {
    const u32 = this.#u32;
    const q = this.queueId;
    let n = 0;
    let bytes = 0;
    for (;;) {
      const b = this.#base + this.#block * this.#blockSize;
      if (!this.#open) {
        if (((u32[(b + BlockDesc.blockStatus) >> 2] ?? 0) & TpStatus.USER) === 0) break;
        this.#open = true;
        this.#left = u32[(b + BlockDesc.numPkts) >> 2] ?? 0;
        this.#pkt = b + (u32[(b + BlockDesc.offsetToFirstPkt) >> 2] ?? 0);
      }
      while (this.#left > 0 && n < max) {
        const len = this.#take();
        if (len < 0) break; // no mbuf: the packet stays for the next burst
        if (len === 0) continue;
        out[n++] = this.#last;
        bytes += len;
      }
      if (this.#left > 0) break;
      u32[(b + BlockDesc.blockStatus) >> 2] = TpStatus.KERNEL;
      this.#open = false;
      this.#block = this.#block + 1 === this.#blockNr ? 0 : this.#block + 1;
      if (n >= max) break;
    }
    if (n > 0) {
      this.#stats.rxPackets[q] = (this.#stats.rxPackets[q] ?? 0) + n;
      this.#stats.rxBytes[q] = (this.#stats.rxBytes[q] ?? 0) + bytes;
    }
    return n;
  }

  /**
   * Copy the packet under the cursor into a fresh mbuf (left in #last). Returns its length,
   * 0 when it was dropped (and the cursor moved on), -1 when no mbuf was available.
   */
  #take(): number {
    const u32 = this.#u32;
    const h = this.#pkt;
    const snap = u32[(h + Tpacket3Hdr.snaplen) >> 2] ?? 0;
    const wire = u32[(h + Tpacket3Hdr.len) >> 2] ?? 0;
    const status = u32[(h + Tpacket3Hdr.status) >> 2] ?? 0;
    const vlan = (status & TpStatus.VLAN_VALID) !== 0;
    const len = vlan ? snap + VLAN_TAG_LEN : snap;
    const pool = this.#pool;
    const room = pool.dataRoomSize;
    if (snap !== wire || snap < ETHER_HDR_LEN || pool.headroom + len > room) {
      this.#advance(h);
      this.oversize++;
      this.#stats.rxErrors[this.queueId] = (this.#stats.rxErrors[this.queueId] ?? 0) + 1;
      return 0;
    }
    const m = pool.rawAlloc();
    if (m < 0) {
      this.#stats.rxNombuf[this.queueId] = (this.#stats.rxNombuf[this.queueId] ?? 0) + 1;
      return -1;
    }
    this.#advance(h);
    const src = h + (this.#u16[(h + Tpacket3Hdr.mac) >> 1] ?? 0);
    const start = m * room;
    // Start the data where its alignment matches the ring's, so the copy can go by words.
    let off = pool.headroom + ((src - start - pool.headroom) & 3);
    if (off + len > room) off = pool.headroom;
    const dst = start + off;
    if (vlan) {
      this.#copy12AndTag(src, dst, h, status);
      copyBytes(this.#ring, src + 12, this.#poolMem, dst + 12 + VLAN_TAG_LEN, snap - 12);
      pool.vlanTci[m] = (u32[(h + Tpacket3Hdr.vlanTci) >> 2] ?? 0) & 0xffff;
    } else {
      pool.vlanTci[m] = 0;
      const v = snap >= VIEW_COPY_MIN ? this.#ringViews.at(src >> 4, src) : undefined;
      if (v !== undefined && snap <= v.length) pool.buf.set(v, dst);
      else if (this.#words && ((src ^ dst) & 3) === 0 && dst - (dst & 3) >= start && ((dst + snap + 3) & ~3) <= start + room) {
        copyWords(this.#ring32, src, this.#pool32, dst, snap);
      } else copyBytes(this.#ring, src, this.#poolMem, dst, snap);
    }
    // rawAlloc left the mbuf as its last user did: every field is written here. The tag is
    // back in the data, so nothing is flagged as stripped.
    pool.olFlags[m] = 0;
    pool.dataOff[m] = off;
    pool.dataLen[m] = len;
    pool.port[m] = this.#portId;
    pool.hash[m] = u32[(h + Tpacket3Hdr.rxhash) >> 2] ?? 0;
    this.#last = m;
    return len;
  }

  /** The kernel strips the VLAN tag before packet sockets see a frame: put it back in place. */
  #copy12AndTag(src: number, dst: number, h: number, status: number): void {
    const s8 = this.#ring.u8;
    const d8 = this.#poolMem.u8;
    for (let i = 0; i < 12; i++) d8[dst + i] = s8[src + i] ?? 0;
    const tpid = (status & TpStatus.VLAN_TPID_VALID) !== 0 ? (this.#u16[(h + Tpacket3Hdr.vlanTpid) >> 1] ?? ETH_P_8021Q) : ETH_P_8021Q;
    const tci = (this.#u32[(h + Tpacket3Hdr.vlanTci) >> 2] ?? 0) & 0xffff;
    d8[dst + 12] = tpid >> 8;
    d8[dst + 13] = tpid & 0xff;
    d8[dst + 14] = tci >> 8;
    d8[dst + 15] = tci & 0xff;
  }

  #advance(h: number): void {
    this.#left--;
    this.#pkt = h + (this.#u32[(h + Tpacket3Hdr.nextOffset) >> 2] ?? 0);
  }

  /** Hand every retired block back without delivering it (used when the queue stops). */
  drain(): number {
    let dropped = 0;
    for (let i = 0; i < this.#blockNr; i++) {
      const b = this.#base + this.#block * this.#blockSize;
      const st = (this.#u32[(b + BlockDesc.blockStatus) >> 2] ?? 0) & TpStatus.USER;
      if (st === 0 && !this.#open) break;
      dropped += this.#open ? this.#left : (this.#u32[(b + BlockDesc.numPkts) >> 2] ?? 0);
      this.#u32[(b + BlockDesc.blockStatus) >> 2] = TpStatus.KERNEL;
      this.#open = false;
      this.#left = 0;
      this.#block = this.#block + 1 === this.#blockNr ? 0 : this.#block + 1;
    }
    return dropped;
  }
}

/** What a Tx queue reports when the kernel refuses a send for a reason that is not the frame's. */
export type TxErrorHandler = (queue: number, errno: number) => void;

/** sendmmsg on a socket: count taken, or -errno when none was (the native shim's sendBatch). */
export type SendFn = (fd: number, msgvec: Uint8Array, n: number) => number;

/** Messages per sendmmsg call; a longer burst takes several calls. */
export const TX_BATCH = 64;

/**
 * One Tx queue: the mbufs' data go to the kernel in place, one sendmmsg per burst (per
 * TX_BATCH frames). The message array is built once; a burst only writes each iovec's
 * address and length into it, so nothing is allocated and nothing is copied in JS (the
 * kernel copies into its skb). Measured cheaper per packet than filling a TPACKET Tx ring
 * from JS and kicking it (README, "Tx: sendmmsg, not a Tx ring").
 */
export class TxQueue {
  readonly queueId: number;
  readonly #fd: number;
  readonly #pool: Mempool;
  readonly #stats: QueueStats;
  readonly #send: SendFn;
  readonly #onError: TxErrorHandler;
  readonly #msgs: Uint8Array;
  readonly #u32: Uint32Array;
  /** The mempool's native address as two 32-bit halves (iovec bases are written by halves). */
  readonly #poolLo: number;
  readonly #poolHi: number;
  /** Frames refused because of themselves (runt, longer than the device takes). */
  oversize = 0;

  /**
   * @param poolAddress native address of `pool.buf` (mman's addressOf)
   * @param msgs        TX_BATCH mmsghdrs followed by TX_BATCH iovecs
   * @param msgsAddress native address of `msgs`
   */
  constructor(queueId: number, fd: number, pool: Mempool, poolAddress: number, msgs: Uint8Array, msgsAddress: number, stats: QueueStats, send: SendFn, onError: TxErrorHandler) {
    if (msgs.byteLength < TX_BATCH * (MmsgHdr.size + Iovec.size) || msgs.byteOffset % 8 !== 0) {
      throw new RangeError(`Tx queue ${queueId}: message array of ${msgs.byteLength} bytes at offset ${msgs.byteOffset}; needs ${TX_BATCH * (MmsgHdr.size + Iovec.size)}, 8-aligned`);
    }
    this.queueId = queueId;
    this.#fd = fd;
    this.#pool = pool;
    this.#stats = stats;
    this.#send = send;
    this.#onError = onError;
    this.#msgs = msgs;
    this.#u32 = new Uint32Array(msgs.buffer, msgs.byteOffset, msgs.byteLength >> 2);
    this.#poolLo = poolAddress % 0x100000000;
    this.#poolHi = Math.floor(poolAddress / 0x100000000);
    msgs.fill(0);
    const iovs = TX_BATCH * MmsgHdr.size;
    for (let i = 0; i < TX_BATCH; i++) {
      const iov = msgsAddress + iovs + i * Iovec.size;
      const h = (i * MmsgHdr.size) >> 2;
      this.#u32[h + (MmsgHdr.msgIov >> 2)] = iov % 0x100000000;
      this.#u32[h + (MmsgHdr.msgIov >> 2) + 1] = Math.floor(iov / 0x100000000);
      this.#u32[h + (MmsgHdr.msgIovLen >> 2)] = 1;
    }
  }

  burst(mbufs: Uint32Array, n: number, first: number): number {
    const pool = this.#pool;
    let done = 0;
    let bytes = 0;
    let packets = 0;
    let dropped = 0;
    while (done < n) {
      const count = Math.min(n - done, TX_BATCH);
      this.#fill(mbufs, first + done, count);
      const r = this.#send(this.#fd, this.#msgs, count);
      if (r > 0) {
        for (let i = 0; i < r; i++) bytes += pool.dataLen[mbufs[first + done + i] ?? 0] ?? 0;
        pool.freeBulk(mbufs, r, first + done);
        done += r;
        packets += r;
        continue;
      }
      const errno = -r;
      if (errno === Errno.EMSGSIZE || errno === Errno.EINVAL) {
        // The first frame is one the device cannot take (runt, above MTU): it is consumed
        // and counted, as a NIC drops a bad descriptor, and the rest go on.
        pool.free(mbufs[first + done] ?? 0);
        done++;
        dropped++;
        continue;
      }
      // EAGAIN/ENOBUFS: the socket is full for now; what is left stays the caller's.
      if (errno !== Errno.EAGAIN && errno !== Errno.ENOBUFS) this.#onError(this.queueId, errno);
      break;
    }
    const q = this.queueId;
    const s = this.#stats;
    if (packets > 0) {
      s.txPackets[q] = (s.txPackets[q] ?? 0) + packets;
      s.txBytes[q] = (s.txBytes[q] ?? 0) + bytes;
    }
    if (dropped > 0) {
      s.txErrors[q] = (s.txErrors[q] ?? 0) + dropped;
      this.oversize += dropped;
    }
    return done;
  }

  /** Point iovec i at mbuf `mbufs[from + i]`'s data. */
  #fill(mbufs: Uint32Array, from: number, count: number): void {
    const pool = this.#pool;
    const u32 = this.#u32;
    const iovs = (TX_BATCH * MmsgHdr.size) >> 2;
    for (let i = 0; i < count; i++) {
      const m = mbufs[from + i] ?? 0;
      let lo = this.#poolLo + pool.dataOffset(m);
      let hi = this.#poolHi;
      if (lo >= 0x100000000) {
        lo -= 0x100000000;
        hi++;
      }
      const v = iovs + ((i * Iovec.size) >> 2);
      u32[v] = lo;
      u32[v + 1] = hi;
      u32[v + 2] = pool.dataLen[m] ?? 0;
      u32[v + 3] = 0;
    }
  }
}
