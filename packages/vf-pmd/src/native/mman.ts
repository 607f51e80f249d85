import koffi from 'koffi';
import { libc, throwErrno, viewOf } from '@netvsc/ethdev';

/**
 * Memory: mapping a packet socket's Rx ring into the process (mmap/munmap), and the native
 * address of a JS buffer so the kernel can read frames straight out of a mempool (sendmmsg).
 */

const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
const MAP_SHARED = 0x01;
const MAP_FAILED = 0xffffffffffffffffn;

const lib = libc();
const mmapFn = lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)') as (
  addr: null,
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
) => unknown;
const munmapFn = lib.func('int munmap(void *addr, size_t length)') as (addr: unknown, length: number) => number;

/** A shared mapping of a socket's rings. */
export interface Mapping {
  readonly buffer: ArrayBuffer;
  readonly length: number;
  /** The pointer as koffi returned it, for munmap. */
  readonly pointer: unknown;
}

export function mapShared(fd: number, length: number): Mapping {
  const pointer = mmapFn(null, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const address = typeof pointer === 'bigint' ? pointer : pointer === null ? 0n : koffi.address(pointer);
  if (address === 0n || address === MAP_FAILED) throwErrno('mmap', `${length} bytes of packet ring on fd ${fd}`);
  return { buffer: viewOf(pointer, length), length, pointer };
}

export function unmap(m: Mapping): void {
  if (munmapFn(m.pointer, m.length) < 0) throwErrno('munmap', `${m.length} bytes`);
}

/**
 * Native address of `bytes`' first byte, for iovecs. Reading `.buffer` first makes V8 move
 * a small on-heap typed array to a fixed backing store; off-heap backing stores never move,
 * so the address stays valid while `bytes` is referenced.
 */
export function addressOf(bytes: Uint8Array): number {
  if (bytes.buffer.byteLength === 0) throw new RangeError('an empty buffer has no address');
  return Number(koffi.address(bytes));
}
