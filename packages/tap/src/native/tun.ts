import koffi from 'koffi';
import { check, ErrnoError, errnoName, lastErrno, libc } from '@netvsc/ethdev';
import { inNetns } from '@netvsc/netlink';
import { openWriteRing, type WriteRing } from './uring.js';

// The tun/tap character device: open + TUN* ioctls for the control path, and the three calls
// of the data path (readv, writev, errno). The data path passes only small integers and one
// preallocated iovec array per queue: the mbuf's address (pool base, computed once per pool,
// plus its offset) is written into that array, and the array goes to the kernel as `void *`.
// Measured here: passing the address itself as a `uintptr_t` argument costs the same time
// (~290 ns per empty read, the syscall dominates) but V8 boxes every address above 2^31 into a
// fresh HeapNumber at the call boundary (~12-16 bytes of garbage per packet); the iovec form
// allocates nothing.

const O_RDONLY = 0o0;
const O_RDWR = 0o2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

/** _IOW('T', nr, int) / _IOR('T', nr, unsigned int) request numbers from linux/if_tun.h. */
const TUNSETIFF = 0x400454ca;
const TUNSETPERSIST = 0x400454cb;
const TUNGETFEATURES = 0x800454cf;
const TUNSETQUEUE = 0x400454d9;
const TUNSETCARRIER = 0x400454e2;

/** ifr_flags bits (linux/if_tun.h). */
export const IFF_TUN = 0x0001;
export const IFF_TAP = 0x0002;
export const IFF_MULTI_QUEUE = 0x0100;
export const IFF_ATTACH_QUEUE = 0x0200;
export const IFF_DETACH_QUEUE = 0x0400;
export const IFF_NO_PI = 0x1000;
/** Fail with EBUSY instead of attaching when a device of that name exists. */
export const IFF_TUN_EXCL = 0x8000;

export const TUN_DEVICE = '/dev/net/tun';

/** struct ifreq: char ifr_name[IFNAMSIZ]; then a 24-byte union whose first member is short ifr_flags. */
const IFNAMSIZ = 16;
const IFREQ_SIZE = 40;
const IFR_FLAGS = 16;
/** struct iovec: void *iov_base; size_t iov_len. */
export const IOVEC_SIZE = 16;

const lib = libc();
const openFn = lib.func('int open(const char *path, int flags)') as (path: string, flags: number) => number;
const closeFn = lib.func('int close(int fd)') as (fd: number) => number;
const ioctlPtrFn = lib.func('int ioctl(int fd, unsigned long req, void *arg)') as (fd: number, req: number, arg: Uint8Array) => number;
const ioctlIntFn = lib.func('int ioctl(int fd, unsigned long req, uintptr_t arg)') as (fd: number, req: number, arg: number) => number;
const readvFn = lib.func('ssize_t readv(int fd, void *iov, int iovcnt)') as (fd: number, iov: Uint8Array, iovcnt: number) => number;
const writevFn = lib.func('ssize_t writev(int fd, void *iov, int iovcnt)') as (fd: number, iov: Uint8Array, iovcnt: number) => number;

/**
 * What the driver needs from the tun device, so its logic can be tested with a fake.
 * `readv` and `writev` are the hot path: an fd, a struct iovec array (in a typed array whose
 * iov_base fields hold addresses from `addressOf`) and a count in; bytes moved out, -1 on
 * failure with the reason in `errno()`; they never throw.
 */
export interface TunNative {
  /** TUNGETFEATURES: the IFF_* flags this kernel's tun driver accepts. */
  features(): number;
  /**
   * open(/dev/net/tun, O_RDWR|O_NONBLOCK|O_CLOEXEC) + TUNSETIFF. `name` may hold a `%d`
   * template. TUNSETIFF finds and creates devices in the network namespace the fd was opened
   * in, so with `netns` (a namespace fd from `captureNetns`) the open happens in there.
   * Returns the fd and the name the kernel chose; throws ErrnoError (`open` or `TUNSETIFF`)
   * with nothing left open.
   */
  open(name: string, flags: number, netns?: number): { fd: number; name: string };
  /** An fd on the calling thread's network namespace (close it with `close`). */
  captureNetns(): number;
  /** TUNSETPERSIST. */
  setPersist(fd: number, on: boolean): void;
  /** TUNSETQUEUE with IFF_ATTACH_QUEUE / IFF_DETACH_QUEUE. */
  setQueue(fd: number, attach: boolean): void;
  /** TUNSETCARRIER; false when this kernel lacks the ioctl. */
  setCarrier(fd: number, on: boolean): boolean;
  close(fd: number): void;
  /** Address of a typed array's first byte; stable for the array's lifetime. */
  addressOf(buf: Uint8Array): number;
  readv(fd: number, iov: Uint8Array, iovcnt: number): number;
  writev(fd: number, iov: Uint8Array, iovcnt: number): number;
  errno(): number;
  /** An io_uring for Tx writes of up to `depth` frames per submission, or the errno that refused it. */
  openWriteRing(depth: number): WriteRing | { errno: number };
}

function ifreq(name: string, flags: number): Uint8Array {
  const b = new Uint8Array(IFREQ_SIZE);
  const n = new TextEncoder().encode(name);
  b.set(n.subarray(0, IFNAMSIZ - 1));
  new DataView(b.buffer).setUint16(IFR_FLAGS, flags, true);
  return b;
}

function ifreqName(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder().decode(b.subarray(0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end));
}

export const tunNative: TunNative = {
  features() {
    const fd = check(openFn(TUN_DEVICE, O_RDWR | O_CLOEXEC), 'open', TUN_DEVICE);
    try {
      const out = new Uint8Array(4);
      check(ioctlPtrFn(fd, TUNGETFEATURES, out), 'ioctl', 'TUNGETFEATURES');
      return new DataView(out.buffer).getUint32(0, true);
    } finally {
      closeFn(fd);
    }
  },

  open(name, flags, netns) {
    if (netns !== undefined) return inNetns(`/proc/self/fd/${netns}`, () => tunNative.open(name, flags));
    const fd = check(openFn(TUN_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC), 'open', TUN_DEVICE);
    const req = ifreq(name, flags);
    if (ioctlPtrFn(fd, TUNSETIFF, req) < 0) {
      const e = lastErrno();
      closeFn(fd);
      // The errno saved before close(), which may overwrite it.
      throw new ErrnoError(errnoName(e), e, 'ioctl', `TUNSETIFF ${name}`);
    }
    return { fd, name: ifreqName(req) };
  },

  captureNetns() {
    return check(openFn('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC), 'open', '/proc/thread-self/ns/net');
  },

  setPersist(fd, on) {
    check(ioctlIntFn(fd, TUNSETPERSIST, on ? 1 : 0), 'ioctl', 'TUNSETPERSIST');
  },

  setQueue(fd, attach) {
    check(ioctlPtrFn(fd, TUNSETQUEUE, ifreq('', attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE)), 'ioctl', attach ? 'TUNSETQUEUE attach' : 'TUNSETQUEUE detach');
  },

  setCarrier(fd, on) {
    const arg = new Uint8Array(4);
    arg[0] = on ? 1 : 0;
    return ioctlPtrFn(fd, TUNSETCARRIER, arg) >= 0;
  },

  close(fd) {
    closeFn(fd);
  },

  addressOf(buf) {
    return Number(koffi.address(buf));
  },

  readv: readvFn,
  writev: writevFn,
  errno: lastErrno,
  openWriteRing,
};
