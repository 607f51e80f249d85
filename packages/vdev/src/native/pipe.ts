import { check, Errno, errnoName, lastErrno, libc, ErrnoError } from '@netvsc/ethdev';

// The only libc area this package needs: the control pipe between vdev_netvsc and the
// fail-safe's fd() sub-device (create, one non-blocking write per line, close).

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const { EAGAIN, EINTR } = Errno;

const lib = libc();
const pipe2Fn = lib.func('int pipe2(void *fds, int flags)') as (fds: Int32Array, flags: number) => number;
const writeFn = lib.func('ssize_t write(int fd, const void *buf, size_t n)') as (fd: number, buf: Uint8Array, n: number) => number;
const closeFn = lib.func('int close(int fd)') as (fd: number) => number;

/** The two ends of a pipe, as raw descriptors. */
export interface PipeFds {
  readonly read: number;
  readonly write: number;
}

/**
 * Result of one non-blocking write: the byte count written, or `'again'` when the pipe is
 * full (or the call was interrupted): the caller decides whether that matters.
 */
export type WriteResult = number | 'again';

/** What the control logic needs from the kernel; the real shim by default, a fake in unit tests. */
export interface PipeOps {
  open(): PipeFds;
  write(fd: number, bytes: Uint8Array): WriteResult;
  close(fd: number): void;
}

/**
 * Both ends non-blocking (the reader is the fail-safe's fd() poll, the writer must never stall the
 * event loop), both close-on-exec so a child process (exec() sub-devices, the demo's peer)
 * cannot keep the pipe alive.
 */
function open(): PipeFds {
  const fds = new Int32Array(2);
  check(pipe2Fn(fds, O_NONBLOCK | O_CLOEXEC), 'pipe2');
  return { read: fds[0] ?? -1, write: fds[1] ?? -1 };
}

function write(fd: number, bytes: Uint8Array): WriteResult {
  const n = writeFn(fd, bytes, bytes.length);
  if (n >= 0) return n;
  const e = lastErrno();
  if (e === EAGAIN || e === EINTR) return 'again';
  throw new ErrnoError(errnoName(e), e, 'write', `control pipe fd ${fd}`);
}

function close(fd: number): void {
  check(closeFn(fd), 'close', `control pipe fd ${fd}`);
}

export const pipeOps: PipeOps = { open, write, close };
