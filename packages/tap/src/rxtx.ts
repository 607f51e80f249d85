import { Errno, QueueStats, type EtherAddr, etherAddrBytes, type Mempool } from '@netvsc/ethdev';
import { IOVEC_SIZE, type TunNative } from './native/tun.js';
import type { WriteRing } from './native/uring.js';

// The data path (DPDK's pmd_rx_burst / pmd_tx_burst). The tun driver moves one frame per
// read/write, with no batching call (no recvmmsg on a tun fd), so each frame costs one system
// call; on Tx one io_uring submission per burst carries those writes instead. Everything else
// is arranged so a burst allocates nothing: mbufs come from the pool's free stack, the kernel
// copies straight into / out of the mbuf's room through an address computed from the pool's
// base address, written into a per-queue iovec array (or io_uring entry) in place, and only
// small integers and that array cross into native code (no number is boxed per packet).

const { EAGAIN, EINVAL, EBADFD } = Errno;
/** Bytes Ethernet adds around the MTU on the wire as DPDK counts them: header + CRC + one VLAN tag. */
export const L2_OVERHEAD = 14 + 4 + 4;
/** Room after the mbuf: a frame that reaches it did not fit and is counted, not delivered. */
const OVERFLOW_BYTES = 64;

/**
 * Longest run of rxBurst calls answered "empty" without a read after the queue was found empty
 * (the run doubles from 1 while it stays empty). An empty read costs a system call (~0.7 µs
 * here), which a fail-safe port polling a busy VF and an idle TAP in turn would pay on every
 * burst; skipping costs nothing. A frame then waits at most this many polls, and none once the
 * queue's Rx interrupt has seen the fd readable.
 */
export const RX_IDLE_SKIP_MAX = 32;

/** Addresses of pools' buffers, computed once per pool. */
const poolBases = new WeakMap<Mempool, number>();

function poolBase(native: TunNative, pool: Mempool): number {
  let base = poolBases.get(pool);
  if (base === undefined) {
    base = native.addressOf(pool.buf);
    poolBases.set(pool, base);
  }
  return base;
}

/** One queue pair's fd and per-direction state (DPDK shares one fd per queue id). */
export class TapQueue {
  readonly id: number;
  readonly fd: number;
  rxPool: Mempool | undefined;
  rxBase = 0;
  /** The mbuf the next frame is read into; always held while an Rx pool is set. */
  spare = -1;
  txPool: Mempool | undefined;
  txBase = 0;
  /** Rx iovecs: [0] the mbuf room, [1] the overflow room that follows them in this array. */
  readonly rxIovMem: Uint8Array;
  /** As u32 words: base lo, base hi, len lo, len hi per iovec. */
  readonly rxIov: Uint32Array;
  /** Tx iovec: [0] the mbuf's data. */
  readonly txIovMem: Uint8Array;
  readonly txIov: Uint32Array;
  /** Tx through io_uring (one system call per burst) when the kernel allows; else one writev per frame. */
  txRing: WriteRing | undefined;
  /** Per ring slot: the write's result. */
  txRes: Int32Array = new Int32Array(0);
  /** Per frame of the chunk being sent: its ring slot, or -1 when it is dropped without a write. */
  txSlot: Int32Array = new Int32Array(0);
  /** Polls still to answer "empty" without reading (see RX_IDLE_SKIP_MAX). */
  rxSkip = 0;
  /** Length of the current skip run; 0 while frames are coming. */
  rxBackoff = 0;

  constructor(id: number, fd: number, native: TunNative) {
    this.id = id;
    this.fd = fd;
    // Larger than V8's 64-byte on-heap limit, so the overflow room's address stays valid.
    this.rxIovMem = new Uint8Array(2 * IOVEC_SIZE + OVERFLOW_BYTES);
    this.rxIov = new Uint32Array(this.rxIovMem.buffer, 0, 8);
    const overflow = native.addressOf(this.rxIovMem) + 2 * IOVEC_SIZE;
    this.rxIov[4] = overflow >>> 0;
    this.rxIov[5] = Math.floor(overflow / 0x100000000);
    this.rxIov[6] = OVERFLOW_BYTES;
    this.txIovMem = new Uint8Array(IOVEC_SIZE);
    this.txIov = new Uint32Array(this.txIovMem.buffer, 0, 4);
  }

  setRxPool(native: TunNative, pool: Mempool): boolean {
    this.releaseRx();
    const m = pool.alloc();
    if (m < 0) return false;
    this.rxPool = pool;
    this.rxBase = poolBase(native, pool);
    this.spare = m;
    this.rxIov[2] = pool.dataRoomSize - pool.headroom;
    return true;
  }

  setTxPool(native: TunNative, pool: Mempool): void {
    this.txPool = pool;
    this.txBase = poolBase(native, pool);
  }

  /** Send through `ring` from now on (undefined: writev). The queue owns it and closes it. */
  setTxRing(ring: WriteRing | undefined): void {
    this.txRing?.close();
    this.txRing = ring;
    const depth = ring?.depth ?? 0;
    this.txRes = new Int32Array(depth);
    this.txSlot = new Int32Array(depth);
  }

  /** The fd is known readable (its Rx interrupt fired): read at the next poll. */
  rxWake(): void {
    this.rxSkip = 0;
    this.rxBackoff = 0;
  }

  /** Give the spare mbuf back to its pool. */
  releaseRx(): void {
    if (this.rxPool !== undefined && this.spare >= 0) this.rxPool.free(this.spare);
    this.spare = -1;
    this.rxPool = undefined;
  }
}

/**
 * DPDK's software MAC filter (tap_mac_filter_match), applied on Rx when the port is a TAP
 * and not promiscuous: unicast only to the port MAC, multicast only when all-multicast,
 * broadcast, or in the multicast list.
 */
export class RxMacFilter {
  /** False for TUN (no Ethernet header) and in promiscuous mode. */
  enabled = true;
  allmulti = false;
  m0 = 0;
  m1 = 0;
  m2 = 0;
  m3 = 0;
  m4 = 0;
  m5 = 0;
  mc: Uint8Array = new Uint8Array(0);
  mcCount = 0;

  setMac(mac: EtherAddr): void {
    const b = etherAddrBytes(mac);
    [this.m0, this.m1, this.m2, this.m3, this.m4, this.m5] = [b[0] ?? 0, b[1] ?? 0, b[2] ?? 0, b[3] ?? 0, b[4] ?? 0, b[5] ?? 0];
  }

  setMcList(list: readonly EtherAddr[]): void {
    const mc = new Uint8Array(6 * list.length);
    list.forEach((a, i) => {
      mc.set(etherAddrBytes(a), 6 * i);
    });
    this.mc = mc;
    this.mcCount = list.length;
  }

  /** Whether the frame whose destination MAC starts at `buf[o]` is for us. */
  accept(buf: Uint8Array, o: number): boolean {
    const b0 = buf[o] ?? 0;
    if ((b0 & 1) === 0) {
      return b0 === this.m0 && buf[o + 1] === this.m1 && buf[o + 2] === this.m2 && buf[o + 3] === this.m3 && buf[o + 4] === this.m4 && buf[o + 5] === this.m5;
    }
    if (this.allmulti) return true;
    if (b0 === 0xff && buf[o + 1] === 0xff && buf[o + 2] === 0xff && buf[o + 3] === 0xff && buf[o + 4] === 0xff && buf[o + 5] === 0xff) return true;
    const mc = this.mc;
    for (let i = 0, j = 0; i < this.mcCount; i++, j += 6) {
      if (mc[j] === b0 && mc[j + 1] === buf[o + 1] && mc[j + 2] === buf[o + 2] && mc[j + 3] === buf[o + 3] && mc[j + 4] === buf[o + 4] && mc[j + 5] === buf[o + 5]) return true;
    }
    return false;
  }
}

/** Counters DPDK's tap does not have, kept per queue and shown as xstats. */
export class TapQueueCounters {
  readonly rxFiltered: Float64Array;
  readonly rxTruncated: Float64Array;
  readonly txOversize: Float64Array;
  readonly txInvalid: Float64Array;

  constructor(nb: number) {
    this.rxFiltered = new Float64Array(nb);
    this.rxTruncated = new Float64Array(nb);
    this.txOversize = new Float64Array(nb);
    this.txInvalid = new Float64Array(nb);
  }

  reset(): void {
    for (const a of [this.rxFiltered, this.rxTruncated, this.txOversize, this.txInvalid]) a.fill(0);
  }
}

/** The bursts of one port: queues, counters and the settings the hot path reads. */
export class TapRxTx {
  readonly native: TunNative;
  queues: (TapQueue | undefined)[] = [];
  stats = new QueueStats(0, 0);
  counters = new TapQueueCounters(0);
  readonly filter = new RxMacFilter();
  portId = 0;
  running = false;
  /** Largest frame txBurst writes (MTU + L2_OVERHEAD); bigger ones are dropped and counted. */
  maxFrame = 1500 + L2_OVERHEAD;
  /** Called (once, later) when the kernel says the tap itself is gone. */
  onGone: ((reason: string) => void) | undefined;
  #goneReported = false;

  constructor(native: TunNative) {
    this.native = native;
  }

  resize(nb: number): void {
    this.stats = new QueueStats(nb, nb);
    this.counters = new TapQueueCounters(nb);
  }

  rxBurst(queue: number, out: Uint32Array, max: number): number {
    const q = this.queues[queue];
    if (!this.running || q === undefined) return 0;
    const pool = q.rxPool;
    if (pool === undefined) return 0;
    if (q.rxSkip > 0) {
      q.rxSkip--;
      return 0;
    }
    const native = this.native;
    const filter = this.filter;
    const buf = pool.buf;
    const room = pool.dataRoomSize;
    const headroom = pool.headroom;
    const cap = room - headroom;
    const iov = q.rxIov;
    const iovMem = q.rxIovMem;
    let n = 0;
    let bytes = 0;
    let dropped = 0;
    let truncated = 0;
    let nombuf = 0;
    // Dropped frames use up the budget too, so a flood of unwanted frames cannot pin a burst.
    for (let budget = max; budget > 0; budget--) {
      const m = q.spare;
      const off = m * room + headroom;
      const addr = q.rxBase + off;
      iov[0] = addr >>> 0;
      iov[1] = Math.floor(addr / 0x100000000);
      const r = native.readv(q.fd, iovMem, 2);
      if (r < 0) {
        if (native.errno() === EBADFD) this.#gone('the tap device was deleted (read: EBADFD)');
        else if (budget === max) {
          // Empty at the first read: skip the next 1, 2, 4, ... polls (RX_IDLE_SKIP_MAX).
          q.rxBackoff = q.rxBackoff === 0 ? 1 : Math.min(q.rxBackoff * 2, RX_IDLE_SKIP_MAX);
          q.rxSkip = q.rxBackoff;
        }
        break;
      }
      q.rxBackoff = 0;
      if (r > cap) {
        truncated++;
        continue;
      }
      if (filter.enabled && !filter.accept(buf, off)) {
        dropped++;
        continue;
      }
      const next = pool.alloc();
      if (next < 0) {
        // No replacement for the spare: drop this frame and keep its mbuf (a NIC with no free descriptor).
        nombuf++;
        continue;
      }
      pool.dataOff[m] = headroom;
      pool.dataLen[m] = r;
      pool.port[m] = this.portId;
      out[n++] = m;
      bytes += r;
      q.spare = next;
    }
    const s = this.stats;
    s.rxPackets[queue] = (s.rxPackets[queue] ?? 0) + n;
    s.rxBytes[queue] = (s.rxBytes[queue] ?? 0) + bytes;
    if (truncated) {
      s.rxErrors[queue] = (s.rxErrors[queue] ?? 0) + truncated;
      this.counters.rxTruncated[queue] = (this.counters.rxTruncated[queue] ?? 0) + truncated;
    }
    if (nombuf) s.rxNombuf[queue] = (s.rxNombuf[queue] ?? 0) + nombuf;
    if (dropped) this.counters.rxFiltered[queue] = (this.counters.rxFiltered[queue] ?? 0) + dropped;
    return n;
  }

  txBurst(queue: number, mbufs: Uint32Array, n: number, first: number): number {
    const q = this.queues[queue];
    if (!this.running || q === undefined) return 0;
    const pool = q.txPool;
    if (pool === undefined) return 0;
    if (q.txRing !== undefined) return this.#txBurstRing(q, q.txRing, pool, queue, mbufs, n, first);
    const native = this.native;
    const room = pool.dataRoomSize;
    const maxFrame = this.maxFrame;
    const iov = q.txIov;
    const iovMem = q.txIovMem;
    let i = 0;
    let sent = 0;
    let bytes = 0;
    let errors = 0;
    let oversize = 0;
    let invalid = 0;
    for (; i < n; i++) {
      const m = mbufs[first + i] ?? 0;
      const len = pool.dataLen[m] ?? 0;
      if (len > maxFrame) {
        // DPDK stops the burst here, which leaves the caller retrying the same frame forever;
        // it can never be sent, so drop it (counted) and go on.
        oversize++;
        pool.free(m);
        continue;
      }
      const addr = q.txBase + m * room + (pool.dataOff[m] ?? 0);
      iov[0] = addr >>> 0;
      iov[1] = Math.floor(addr / 0x100000000);
      iov[2] = len;
      const r = native.writev(q.fd, iovMem, 1);
      if (r < 0) {
        const e = native.errno();
        if (e === EINVAL) {
          // The kernel refuses this frame for good (shorter than an Ethernet header...).
          invalid++;
          pool.free(m);
          continue;
        }
        if (e !== EAGAIN) errors++;
        if (e === EBADFD) this.#gone('the tap device was deleted (write: EBADFD)');
        break;
      }
      pool.free(m);
      sent++;
      bytes += len;
    }
    this.#countTx(queue, sent, bytes, errors, oversize, invalid);
    return i;
  }

  /**
   * txBurst through io_uring: the frames of a chunk (up to the ring's depth) are written with one
   * submission. The writes are not linked (a chain costs ~30 % more per frame), so a frame may
   * fail while later ones go out; what the burst reports consumed must stay a prefix, so: every
   * frame up to the last one written or dropped for good (oversize, EINVAL) is consumed (a
   * failed one among them is dropped and counted), the failed frames after it stay the
   * caller's, as with writev stopping at the first failure.
   */
  #txBurstRing(q: TapQueue, ring: WriteRing, pool: Mempool, queue: number, mbufs: Uint32Array, n: number, first: number): number {
    const room = pool.dataRoomSize;
    const maxFrame = this.maxFrame;
    const res = q.txRes;
    const slotOf = q.txSlot;
    let done = 0;
    let sent = 0;
    let bytes = 0;
    let errors = 0;
    let oversize = 0;
    let invalid = 0;
    let stopErrno = 0;
    while (done < n && stopErrno === 0) {
      const chunk = Math.min(n - done, ring.depth);
      let writes = 0;
      for (let k = 0; k < chunk; k++) {
        const m = mbufs[first + done + k] ?? 0;
        const len = pool.dataLen[m] ?? 0;
        if (len > maxFrame) {
          slotOf[k] = -1;
          continue;
        }
        const addr = q.txBase + m * room + (pool.dataOff[m] ?? 0);
        ring.prep(writes, q.fd, addr >>> 0, Math.floor(addr / 0x100000000), len);
        slotOf[k] = writes++;
      }
      const r = writes > 0 ? ring.submit(writes, res) : 0;
      if (r < 0) {
        // The submission itself failed: nothing was written; the chunk stays the caller's.
        stopErrno = -r;
        break;
      }
      // The last frame of the chunk that is consumed whatever happens to the frames after it.
      let last = -1;
      for (let k = chunk - 1; k >= 0 && last < 0; k--) {
        const slot = slotOf[k] ?? -1;
        const rk = slot < 0 ? 0 : (res[slot] ?? 0);
        if (slot < 0 || rk >= 0 || rk === -EINVAL) last = k;
      }
      for (let k = 0; k <= last; k++) {
        const m = mbufs[first + done + k] ?? 0;
        const slot = slotOf[k] ?? -1;
        const rk = slot < 0 ? 0 : (res[slot] ?? 0);
        if (slot < 0) oversize++;
        else if (rk >= 0) {
          sent++;
          bytes += pool.dataLen[m] ?? 0;
        } else if (rk === -EINVAL) invalid++;
        else errors++;
        pool.free(m);
      }
      done += last + 1;
      if (last < chunk - 1) {
        const slot = slotOf[last + 1] ?? 0;
        stopErrno = -(res[slot] ?? -EAGAIN);
      }
    }
    if (stopErrno !== 0) {
      if (stopErrno !== EAGAIN) errors++;
      if (stopErrno === EBADFD) this.#gone('the tap device was deleted (write: EBADFD)');
    }
    this.#countTx(queue, sent, bytes, errors, oversize, invalid);
    return done;
  }

  #countTx(queue: number, sent: number, bytes: number, errors: number, oversize: number, invalid: number): void {
    const s = this.stats;
    s.txPackets[queue] = (s.txPackets[queue] ?? 0) + sent;
    s.txBytes[queue] = (s.txBytes[queue] ?? 0) + bytes;
    if (errors + oversize + invalid) s.txErrors[queue] = (s.txErrors[queue] ?? 0) + errors + oversize + invalid;
    if (oversize) this.counters.txOversize[queue] = (this.counters.txOversize[queue] ?? 0) + oversize;
    if (invalid) this.counters.txInvalid[queue] = (this.counters.txInvalid[queue] ?? 0) + invalid;
  }

  #gone(reason: string): void {
    if (this.#goneReported) return;
    this.#goneReported = true;
    const cb = this.onGone;
    // Never run listeners inside a burst: report from the event loop.
    if (cb) setImmediate(() => {
      cb(reason);
    });
  }
}
