import { ErrnoError, errnoName, lastErrno, libc } from '@netvsc/ethdev';

// Linux generic values (x86-64 and arm64 agree).
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

const lib = libc();
const fcntl = lib.func('int fcntl(int fd, int cmd, ...)');
const read = lib.func('ssize_t read(int fd, _Out_ uint8_t *buf, size_t count)');
const pipe2 = lib.func('int pipe2(_Out_ int *fds, int flags)');
const close = lib.func('int close(int fd)');

function errnoError(syscall: string, detail: string): ErrnoError {
  const e = lastErrno();
  return new ErrnoError(errnoName(e), e, syscall, detail);
}

/**
 * Put `fd` in non-blocking mode. The flag lives on the open file description, so the
 * writer's copy of a pipe read end is affected too; DPDK's fail-safe does the same.
 */
export function setNonBlocking(fd: number): void {
  const flags = fcntl(fd, F_GETFL, 'int', 0) as number;
  if (flags < 0) throw errnoError('fcntl', `F_GETFL on fd ${fd}`);
  if ((flags & O_NONBLOCK) !== 0) return;
  if ((fcntl(fd, F_SETFL, 'int', flags | O_NONBLOCK) as number) < 0) throw errnoError('fcntl', `F_SETFL O_NONBLOCK on fd ${fd}`);
}

/** What one non-blocking read gave: bytes (> 0), end of file (0), or nothing pending. */
export const READ_AGAIN = -1;

/**
 * One `read(2)` into `buf`: the byte count, 0 at end of file, `READ_AGAIN` when nothing is
 * pending (EAGAIN/EINTR). Other errors throw `ErrnoError` (EBADF for a closed fd).
 */
export function readNonBlocking(fd: number, buf: Uint8Array): number {
  const n = read(fd, buf, buf.length) as number;
  if (n >= 0) return n;
  const e = lastErrno();
  const name = errnoName(e);
  if (name === 'EAGAIN' || name === 'EWOULDBLOCK' || name === 'EINTR') return READ_AGAIN;
  throw new ErrnoError(name, e, 'read', `fd ${fd}`);
}

/** A close-on-exec pipe, `[readEnd, writeEnd]`; the read end is non-blocking (tests, tools). */
export function openPipe(): [number, number] {
  const fds = new Int32Array(2);
  if ((pipe2(fds, O_CLOEXEC) as number) < 0) throw errnoError('pipe2', 'creating a pipe');
  const [r = -1, w = -1] = fds;
  setNonBlocking(r);
  return [r, w];
}

export function closeFd(fd: number): void {
  if ((close(fd) as number) < 0) throw errnoError('close', `fd ${fd}`);
}
