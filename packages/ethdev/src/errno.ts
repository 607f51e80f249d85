/**
 * The errno numbers drivers test for on their hot and teardown paths, as Linux defines them
 * (asm-generic, the same on x86-64 and arm64). Plain numbers rather than a lookup through the
 * FFI: a burst compares a native call's `-errno` against these without a call or a string.
 * `errnoName` gives the name of any errno, these included.
 */
export const Errno = {
  EINTR: 4,
  ENXIO: 6,
  EBADF: 9,
  EAGAIN: 11,
  ENODEV: 19,
  EINVAL: 22,
  EBADFD: 77,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  ENETDOWN: 100,
  ENOBUFS: 105,
  ETIMEDOUT: 110,
} as const;

export type ErrnoName = keyof typeof Errno;
