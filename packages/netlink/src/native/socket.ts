import { check, libc, lastErrno, errnoName, Errno, ErrnoError } from '@netvsc/ethdev';

// The only libc area this package needs: one netlink socket's lifetime and I/O.
// Buffers are passed as pointers (koffi hands a Buffer's memory over without copying).

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOCK_NONBLOCK = 0o4000;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVTIMEO = 20;
const SO_RCVBUFFORCE = 33;
/** Level of the netlink-specific socket options. */
export const SOL_NETLINK = 270;
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_DROP_MEMBERSHIP = 2;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;
const MSG_DONTWAIT = 0x40;
const { EAGAIN, EINTR } = Errno;

const lib = libc();
const socketFn = lib.func('int socket(int domain, int type, int protocol)') as (d: number, t: number, p: number) => number;
const bindFn = lib.func('int bind(int fd, const void *addr, socklen_t len)') as (fd: number, a: Uint8Array, l: number) => number;
const getsocknameFn = lib.func('int getsockname(int fd, _Out_ void *addr, _Inout_ socklen_t *len)') as (
  fd: number,
  a: Uint8Array,
  l: number[],
) => number;
const setsockoptFn = lib.func('int setsockopt(int fd, int level, int name, const void *val, socklen_t len)') as (
  fd: number,
  level: number,
  name: number,
  v: Uint8Array,
  l: number,
) => number;
const sendtoFn = lib.func('ssize_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, socklen_t alen)') as (
  fd: number,
  b: Uint8Array,
  n: number,
  f: number,
  a: Uint8Array,
  al: number,
) => number;
const recvFn = lib.func('ssize_t recv(int fd, _Out_ void *buf, size_t len, int flags)') as (
  fd: number,
  b: Uint8Array,
  n: number,
  f: number,
) => number;
const closeFn = lib.func('int close(int fd)') as (fd: number) => number;

/** struct sockaddr_nl: family u16, pad u16, pid u32, groups u32. */
function sockaddrNl(pid: number, groups: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_NETLINK, true);
  v.setUint32(4, pid, true);
  v.setUint32(8, groups >>> 0, true);
  return b;
}

const KERNEL = sockaddrNl(0, 0);

/** A raw netlink socket fd as the layer above sees it: bytes in, bytes out, typed errors. */
export interface RawNetlinkSocket {
  readonly fd: number;
  /** Port id the kernel assigned at bind. */
  readonly portId: number;
  send(message: Uint8Array): void;
  /**
   * Receive one datagram into `into`; returns its length, or -1 when nothing arrived
   * (non-blocking, or the receive timeout expired). Other failures throw ErrnoError
   * (notably ENOBUFS: the kernel dropped messages for this socket).
   */
  recv(into: Uint8Array, dontWait: boolean): number;
  addMembership(group: number): void;
  setReceiveTimeout(ms: number): void;
  setReceiveBuffer(bytes: number): void;
  close(): void;
}

export interface RawSocketOptions {
  /** NETLINK_ROUTE = 0. */
  readonly protocol: number;
  /** Legacy group bitmask given to bind (RTMGRP_*). */
  readonly groups?: number;
  readonly nonBlocking?: boolean;
}

function setInt(fd: number, level: number, name: number, value: number, what: string): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  check(setsockoptFn(fd, level, name, b, 4), 'setsockopt', what);
}

class NativeNetlinkSocket implements RawNetlinkSocket {
  readonly fd: number;
  readonly portId: number;
  #closed = false;

  constructor(options: RawSocketOptions) {
    const type = SOCK_RAW | SOCK_CLOEXEC | (options.nonBlocking ? SOCK_NONBLOCK : 0);
    this.fd = check(socketFn(AF_NETLINK, type, options.protocol), 'socket', 'AF_NETLINK');
    try {
      const addr = sockaddrNl(0, options.groups ?? 0);
      check(bindFn(this.fd, addr, addr.length), 'bind', 'AF_NETLINK');
      const out = new Uint8Array(12);
      const len = [12];
      check(getsocknameFn(this.fd, out, len), 'getsockname');
      this.portId = new DataView(out.buffer).getUint32(4, true);
      // Best effort: extended acks carry the kernel's reason; capped acks keep errors small.
      for (const opt of [NETLINK_EXT_ACK, NETLINK_CAP_ACK]) {
        const b = new Uint8Array([1, 0, 0, 0]);
        setsockoptFn(this.fd, SOL_NETLINK, opt, b, 4);
      }
    } catch (e) {
      closeFn(this.fd);
      throw e;
    }
  }

  send(message: Uint8Array): void {
    for (;;) {
      const n = sendtoFn(this.fd, message, message.length, 0, KERNEL, KERNEL.length);
      if (n >= 0) return;
      if (lastErrno() !== EINTR) check(n, 'sendto', 'netlink');
    }
  }

  recv(into: Uint8Array, dontWait: boolean): number {
    for (;;) {
      const n = recvFn(this.fd, into, into.length, dontWait ? MSG_DONTWAIT : 0);
      if (n >= 0) return n;
      const e = lastErrno();
      if (e === EAGAIN) return -1;
      if (e !== EINTR) throw new ErrnoError(errnoName(e), e, 'recv', 'netlink');
    }
  }

  addMembership(group: number): void {
    setInt(this.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group, `NETLINK_ADD_MEMBERSHIP ${group}`);
  }

  setReceiveTimeout(ms: number): void {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setBigInt64(0, BigInt(Math.floor(ms / 1000)), true);
    v.setBigInt64(8, BigInt(Math.floor((ms % 1000) * 1000)), true);
    check(setsockoptFn(this.fd, SOL_SOCKET, SO_RCVTIMEO, b, 16), 'setsockopt', 'SO_RCVTIMEO');
  }

  setReceiveBuffer(bytes: number): void {
    // SO_RCVBUFFORCE passes the rmem_max cap (we are root); fall back to the capped option.
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, bytes, true);
    if (setsockoptFn(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, b, 4) < 0) {
      setInt(this.fd, SOL_SOCKET, SO_RCVBUF, bytes, 'SO_RCVBUF');
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFn(this.fd);
  }
}

/** Open and bind a netlink socket (SOCK_CLOEXEC), with extended acks enabled. */
export function openNetlinkSocket(options: RawSocketOptions): RawNetlinkSocket {
  return new NativeNetlinkSocket(options);
}
