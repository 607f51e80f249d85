import koffi from 'koffi';
import { Errno, lastErrno, libc, viewOf } from '@netvsc/ethdev';

// io_uring for the Tx path: a tun fd takes one frame per write and has no batching call, so a
// burst of n frames is n system calls — each also a koffi call, which costs ~150-180 ns on its
// own here. One io_uring_enter submits the burst's writes and reaps their completions: the
// kernel does the same per-frame work (tun writes complete inline, no worker thread), the
// per-frame native call is gone. Measured on a tap, 64-byte frames, JS: writev 588-604 ns per
// frame, io_uring batches of 32/64 437-493 ns. The rings are the kernel's shared memory mapped
// into typed arrays; preparing a write is four stores, nothing is allocated per frame.

const NR_IO_URING_SETUP = 425;
const NR_IO_URING_ENTER = 426;
const IORING_ENTER_GETEVENTS = 1;
const IORING_OFF_SQ_RING = 0;
const IORING_OFF_SQES = 0x10000000;
const IORING_FEAT_SINGLE_MMAP = 1 << 0;
const IORING_OP_WRITE = 23;
const PROT_READ_WRITE = 0x3;
const MAP_SHARED_POPULATE = 0x1 | 0x8000;
const { EINTR, EBADF, EOPNOTSUPP } = Errno;
/** What `res` holds for a write not reaped yet (no write returns it). */
export const RES_PENDING = -0x7fffffff;

/** struct io_uring_params (120 bytes): the fields read after setup. */
const Params = { size: 120, sqEntries: 0, cqEntries: 4, features: 20, sqOff: 40, cqOff: 80 } as const;
/** struct io_sqring_offsets / io_cqring_offsets, in 32-bit words from their start. */
const SqOff = { head: 0, tail: 1, ringMask: 2, array: 6 } as const;
const CqOff = { head: 0, tail: 1, ringMask: 2, cqes: 5 } as const;
/** struct io_uring_sqe (64 bytes) and io_uring_cqe (16 bytes), in 32-bit words. */
const Sqe = { words: 16, opcode: 0, fd: 1, offLo: 2, offHi: 3, addrLo: 4, addrHi: 5, len: 6, rwFlags: 7, userData: 8 } as const;
const Cqe = { words: 4, userData: 0, res: 2 } as const;

const lib = libc();
// glibc's syscall() passes its arguments straight to the registers, so fixed prototypes are safe.
const setupFn = lib.func('long syscall(long nr, unsigned int entries, void *params)') as (nr: number, entries: number, params: Uint8Array) => number;
const enterFn = lib.func('long syscall(long nr, int fd, unsigned int toSubmit, unsigned int minComplete, unsigned int flags, void *sig, unsigned long sz)') as (
  nr: number,
  fd: number,
  toSubmit: number,
  minComplete: number,
  flags: number,
  sig: null,
  sz: number,
) => number;
const mmapFn = lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)') as (
  addr: null,
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
) => unknown;
const munmapFn = lib.func('int munmap(void *addr, size_t length)') as (addr: unknown, length: number) => number;
const closeFn = lib.func('int close(int fd)') as (fd: number) => number;

/**
 * Writes to fds, prepared one by one and submitted together (what a Tx queue uses when the
 * kernel offers io_uring). Nothing throws or allocates after `openWriteRing`.
 */
export interface WriteRing {
  /** Most writes one submission takes. */
  readonly depth: number;
  /** Prepare write `slot` (0..depth-1) of the next submission: `len` bytes at native address hi:lo. */
  prep(slot: number, fd: number, addrLo: number, addrHi: number, len: number): void;
  /**
   * Submit slots 0..n-1 and wait until all have completed; `res[slot]` gets each write's result
   * (bytes written, or -errno). Returns n, or -errno when the submission itself failed (then no
   * write was made).
   */
  submit(n: number, res: Int32Array): number;
  close(): void;
}

interface Mapping {
  readonly pointer: unknown;
  readonly length: number;
}

const MAP_FAILED = 0xffffffffffffffffn;

function map(fd: number, length: number, offset: number): Mapping | undefined {
  const pointer = mmapFn(null, length, PROT_READ_WRITE, MAP_SHARED_POPULATE, fd, offset);
  const address = typeof pointer === 'bigint' ? pointer : pointer === null ? 0n : koffi.address(pointer);
  if (address === 0n || address === MAP_FAILED) return undefined;
  return { pointer, length };
}

class KernelWriteRing implements WriteRing {
  readonly depth: number;
  readonly #fd: number;
  readonly #maps: Mapping[];
  readonly #ring: Int32Array;
  readonly #sqes: Int32Array;
  readonly #sqTail: number;
  readonly #sqMask: number;
  readonly #cqHead: number;
  readonly #cqTail: number;
  readonly #cqMask: number;
  readonly #cqes: number;
  #closed = false;

  constructor(fd: number, depth: number, maps: Mapping[], ring: ArrayBuffer, sqes: ArrayBuffer, params: DataView) {
    this.#fd = fd;
    this.depth = depth;
    this.#maps = maps;
    this.#ring = new Int32Array(ring);
    this.#sqes = new Int32Array(sqes);
    const sq = (k: number): number => params.getUint32(Params.sqOff + k * 4, true) >> 2;
    const cq = (k: number): number => params.getUint32(Params.cqOff + k * 4, true) >> 2;
    this.#sqTail = sq(SqOff.tail);
    this.#sqMask = this.#ring[sq(SqOff.ringMask)] ?? 0;
    this.#cqHead = cq(CqOff.head);
    this.#cqTail = cq(CqOff.tail);
    this.#cqMask = this.#ring[cq(CqOff.ringMask)] ?? 0;
    this.#cqes = cq(CqOff.cqes);
    // Identity index array and the fields every write shares, filled once.
    const array = sq(SqOff.array);
    for (let i = 0; i <= this.#sqMask; i++) {
      this.#ring[array + i] = i;
      const e = i * Sqe.words;
      this.#sqes.fill(0, e, e + Sqe.words);
      this.#sqes[e + Sqe.opcode] = IORING_OP_WRITE;
      // Offset -1: the file's own position (a tun fd is a stream).
      this.#sqes[e + Sqe.offLo] = -1;
      this.#sqes[e + Sqe.offHi] = -1;
    }
  }

  prep(slot: number, fd: number, addrLo: number, addrHi: number, len: number): void {
    const tail = this.#ring[this.#sqTail] ?? 0;
    const e = ((tail + slot) & this.#sqMask) * Sqe.words;
    const s = this.#sqes;
    s[e + Sqe.fd] = fd;
    s[e + Sqe.addrLo] = addrLo;
    s[e + Sqe.addrHi] = addrHi;
    s[e + Sqe.len] = len;
    s[e + Sqe.userData] = slot;
  }

  submit(n: number, res: Int32Array): number {
    if (this.#closed) return -EBADF;
    res.fill(RES_PENDING, 0, n);
    const ring = this.#ring;
    // The kernel reads the entries after it sees the new tail: a sequentially consistent store.
    Atomics.store(ring, this.#sqTail, ((ring[this.#sqTail] ?? 0) + n) | 0);
    let unsubmitted = n;
    let reaped = 0;
    while (reaped < n) {
      const r = enterFn(NR_IO_URING_ENTER, this.#fd, unsubmitted, n - reaped, IORING_ENTER_GETEVENTS, null, 0);
      if (r >= 0) unsubmitted -= Math.min(r, unsubmitted);
      else {
        const e = lastErrno();
        if (unsubmitted === n) {
          if (e === EINTR) continue;
          // Nothing was taken: take the entries back.
          Atomics.store(ring, this.#sqTail, ((ring[this.#sqTail] ?? 0) - n) | 0);
          return -e;
        }
        if (e !== EINTR) {
          // Cannot happen with a live ring; never spin on it: what is not reaped counts as failed.
          for (let i = 0; i < n; i++) if (res[i] === RES_PENDING) res[i] = -e;
          return n;
        }
      }
      let head = ring[this.#cqHead] ?? 0;
      const tail = Atomics.load(ring, this.#cqTail);
      for (; head !== tail; head = (head + 1) | 0) {
        const c = this.#cqes + (head & this.#cqMask) * Cqe.words;
        res[ring[c + Cqe.userData] ?? 0] = ring[c + Cqe.res] ?? 0;
        reaped++;
      }
      Atomics.store(ring, this.#cqHead, head);
    }
    return n;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const m of this.#maps) munmapFn(m.pointer, m.length);
    closeFn(this.#fd);
  }
}

/**
 * An io_uring of `depth` entries for writes, or the errno that refused it (ENOSYS: no
 * io_uring; EPERM: disabled by sysctl kernel.io_uring_disabled or a seccomp profile, as in
 * containers; ENOMEM: locked-memory limit). The caller falls back to one writev per frame.
 */
export function openWriteRing(depth: number): WriteRing | { errno: number } {
  const params = new Uint8Array(Params.size);
  const fd = setupFn(NR_IO_URING_SETUP, depth, params);
  if (fd < 0) return { errno: lastErrno() };
  const v = new DataView(params.buffer);
  const sqEntries = v.getUint32(Params.sqEntries, true);
  const cqEntries = v.getUint32(Params.cqEntries, true);
  const single = (v.getUint32(Params.features, true) & IORING_FEAT_SINGLE_MMAP) !== 0;
  const sqBytes = v.getUint32(Params.sqOff + SqOff.array * 4, true) + sqEntries * 4;
  const cqBytes = v.getUint32(Params.cqOff + CqOff.cqes * 4, true) + cqEntries * Cqe.words * 4;
  const maps: Mapping[] = [];
  const fail = (): { errno: number } => {
    const e = lastErrno();
    for (const m of maps) munmapFn(m.pointer, m.length);
    closeFn(fd);
    return { errno: e };
  };
  // Kernels before 5.4 map the completion ring apart; not worth a second path: writev it is.
  if (!single) {
    closeFn(fd);
    return { errno: EOPNOTSUPP };
  }
  const ringBytes = Math.max(sqBytes, cqBytes);
  const ring = map(fd, ringBytes, IORING_OFF_SQ_RING);
  if (ring === undefined) return fail();
  maps.push(ring);
  const sqes = map(fd, sqEntries * Sqe.words * 4, IORING_OFF_SQES);
  if (sqes === undefined) return fail();
  maps.push(sqes);
  return new KernelWriteRing(fd, Math.min(depth, sqEntries), maps, viewOf(ring.pointer, ringBytes), viewOf(sqes.pointer, sqes.length), v);
}
