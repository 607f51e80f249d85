import koffi from 'koffi';
import { Errno, ErrnoError, errnoName, libc, lastErrno, throwErrno, type KoffiFunction } from '@netvsc/ethdev';

/**
 * AF_PACKET sockets for the simulator: the host-side vSwitch peer and tests that watch a
 * guest interface. One socket per interface, bound with ETH_P_ALL (so it sees a frame before
 * tc ingress, like a PMD would), batches through sendmmsg/recvmmsg over buffers built once.
 */

const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const ETH_P_ALL = 0x0003;
const SOL_PACKET = 263;
const SOL_SOCKET = 1;
const SO_RCVBUFFORCE = 33;
const PACKET_IGNORE_OUTGOING = 23;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const SIOCGIFFLAGS = 0x8913;
const SIOCGIFINDEX = 0x8933;
const IFNAMSIZ = 16;
const IFREQ_SIZE = 40;
const SOCKADDR_LL_SIZE = 20;
// struct msghdr on LP64: name(8) namelen(4)+pad(4) iov(8) iovlen(8) control(8) controllen(8) flags(4)+pad(4)
const MSGHDR_SIZE = 56;
const MMSGHDR_SIZE = 64;
const IOVEC_SIZE = 16;
const { EAGAIN, ENOBUFS } = Errno;

/** IFF_UP / IFF_RUNNING (carrier) bits of SIOCGIFFLAGS. */
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;

const lib = libc();
const socketFn = lib.func('int socket(int domain, int type, int protocol)');
const bindFn = lib.func('int bind(int fd, const void *addr, socklen_t len)');
const setsockoptFn = lib.func('int setsockopt(int fd, int level, int name, const void *value, socklen_t len)');
const closeFn = lib.func('int close(int fd)');
const ioctlFn = lib.func('int ioctl(int fd, unsigned long request, void *arg)');
const nametoindexFn = lib.func('unsigned int if_nametoindex(const char *name)');
const sendmmsgFn = lib.func('int sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags)');
const recvmmsgFn = lib.func('int recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags, void *timeout)');

function call(fn: KoffiFunction, ...args: unknown[]): number {
  return fn(...args) as number;
}

function htons(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}

/** ifindex of `name` in the calling thread's namespace, or 0 if there is no such link. */
export function ifIndex(name: string): number {
  return call(nametoindexFn, name);
}

export interface PacketSocketOptions {
  /** Frames per sendmmsg/recvmmsg call; default 64. */
  readonly batch?: number;
  /** Bytes per Rx/Tx slot; default 2048 (larger frames are truncated on receive). */
  readonly slotSize?: number;
  /** Do not receive this socket's own outgoing frames; default true. */
  readonly ignoreOutgoing?: boolean;
  /** Tx slots; default = batch. */
  readonly txSlots?: number;
  /**
   * Receive buffer in bytes (SO_RCVBUFFORCE, root); default 8 MiB, so a test that reads after
   * a burst does not lose frames to the default ~200 KiB. 0 keeps the kernel default.
   */
  readonly rcvbuf?: number;
}

/** Build `count` mmsghdrs each with one iovec over its own `slotSize` slot of `data`. */
function buildVector(count: number, slotSize: number): { data: Buffer; iov: Buffer; msgs: Buffer; views: Uint8Array[] } {
  const data = Buffer.alloc(count * slotSize);
  const iov = Buffer.alloc(count * IOVEC_SIZE);
  const msgs = Buffer.alloc(count * MMSGHDR_SIZE);
  const base = koffi.address(data);
  const iovBase = koffi.address(iov);
  const views: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    iov.writeBigUInt64LE(base + BigInt(i * slotSize), i * IOVEC_SIZE);
    iov.writeBigUInt64LE(BigInt(slotSize), i * IOVEC_SIZE + 8);
    msgs.writeBigUInt64LE(iovBase + BigInt(i * IOVEC_SIZE), i * MMSGHDR_SIZE + 16);
    msgs.writeBigUInt64LE(1n, i * MMSGHDR_SIZE + 24);
    views.push(new Uint8Array(data.buffer, data.byteOffset + i * slotSize, slotSize));
  }
  return { data, iov, msgs, views };
}

/** A non-blocking AF_PACKET socket bound (ETH_P_ALL) to one interface of the calling thread's namespace. */
export class PacketSocket {
  readonly fd: number;
  readonly ifname: string;
  readonly ifindex: number;
  readonly batch: number;
  readonly slotSize: number;
  readonly #tx: ReturnType<typeof buildVector>;
  readonly #rx: ReturnType<typeof buildVector>;
  readonly #ifreq = Buffer.alloc(IFREQ_SIZE);
  readonly #msgsAt = new Map<number, Buffer>();
  #closed = false;
  /** Frames received larger than a slot (cut to `slotSize`). */
  truncated = 0;

  private constructor(fd: number, ifname: string, ifindex: number, batch: number, slotSize: number, txSlots: number) {
    this.fd = fd;
    this.ifname = ifname;
    this.ifindex = ifindex;
    this.batch = batch;
    this.slotSize = slotSize;
    this.#tx = buildVector(txSlots, slotSize);
    this.#rx = buildVector(batch, slotSize);
    this.#ifreq.write(ifname, 0, IFNAMSIZ - 1, 'latin1');
  }

  static open(ifname: string, options: PacketSocketOptions = {}): PacketSocket {
    const batch = options.batch ?? 64;
    const slotSize = options.slotSize ?? 2048;
    const ifindex = ifIndex(ifname);
    if (ifindex === 0) throwErrno('if_nametoindex', ifname);
    // Protocol 0: no frame reaches the socket until bind() names the interface. Opened with
    // ETH_P_ALL it would take in what every interface receives until then.
    const fd = call(socketFn, AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throwErrno('socket', `AF_PACKET for ${ifname}`);
    try {
      if (options.ignoreOutgoing ?? true) {
        const one = Buffer.alloc(4);
        one.writeInt32LE(1);
        if (call(setsockoptFn, fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, one, 4) < 0) throwErrno('setsockopt', 'PACKET_IGNORE_OUTGOING');
      }
      const rcvbuf = options.rcvbuf ?? 8 << 20;
      if (rcvbuf > 0) {
        const v = Buffer.alloc(4);
        v.writeInt32LE(rcvbuf);
        if (call(setsockoptFn, fd, SOL_SOCKET, SO_RCVBUFFORCE, v, 4) < 0) throwErrno('setsockopt', 'SO_RCVBUFFORCE');
      }
      const sll = Buffer.alloc(SOCKADDR_LL_SIZE);
      sll.writeUInt16LE(AF_PACKET, 0);
      sll.writeUInt16LE(htons(ETH_P_ALL), 2);
      sll.writeInt32LE(ifindex, 4);
      if (call(bindFn, fd, sll, SOCKADDR_LL_SIZE) < 0) throwErrno('bind', ifname);
      return new PacketSocket(fd, ifname, ifindex, batch, slotSize, options.txSlots ?? batch);
    } catch (error) {
      call(closeFn, fd);
      throw error;
    }
  }

  /** Number of Tx slots (`txSlots` option; default = batch). */
  get txSlots(): number {
    return this.#tx.views.length;
  }

  /** Tx slot `i`: write a frame into it, then `sendSlots`. */
  txSlot(i: number): Uint8Array {
    const v = this.#tx.views[i];
    if (!v) throw new RangeError(`tx slot ${i} out of range 0..${this.#tx.views.length - 1}`);
    return v;
  }

  /** Set the length of the frame in Tx slot `i` (default: the whole slot). */
  setTxLength(i: number, length: number): void {
    this.#tx.iov.writeBigUInt64LE(BigInt(length), i * IOVEC_SIZE + 8);
  }

  /**
   * Send the frames in Tx slots `first..first+n-1` in one sendmmsg. Returns how many the kernel
   * took (0 when its queue is full), or a negative errno (`-ENXIO` when the link is gone).
   * Never throws.
   */
  sendSlots(n: number, first = 0): number {
    if (this.#closed) return -9;
    let msgs = this.#msgsAt.get(first);
    if (!msgs) {
      msgs = this.#tx.msgs.subarray(first * MMSGHDR_SIZE);
      this.#msgsAt.set(first, msgs);
    }
    const r = call(sendmmsgFn, this.fd, msgs, Math.max(0, Math.min(n, this.#tx.views.length - first)), 0);
    if (r >= 0) return r;
    const e = lastErrno();
    return e === EAGAIN || e === ENOBUFS ? 0 : -e;
  }

  /** Send one frame (allocation-free apart from the call); same return as `sendSlots`. */
  send(frame: Uint8Array): number {
    if (frame.length > this.slotSize) throw new RangeError(`frame of ${frame.length} bytes exceeds the ${this.slotSize}-byte slot`);
    this.txSlot(0).set(frame);
    this.setTxLength(0, frame.length);
    return this.sendSlots(1);
  }

  /**
   * Receive up to `max` frames (one recvmmsg per batch) and hand each to `onFrame` as a view
   * valid only during the call. Returns the number received; stops at an empty queue.
   * Throws ErrnoError on a hard socket error (e.g. ENETDOWN).
   */
  receive(onFrame: (frame: Uint8Array, length: number) => void, max = Number.POSITIVE_INFINITY): number {
    let total = 0;
    while (total < max && !this.#closed) {
      const want = Math.min(this.batch, max - total);
      // The kernel fills msg_len/msg_flags only, so the slots keep their full size across calls.
      const r = call(recvmmsgFn, this.fd, this.#rx.msgs, want, MSG_DONTWAIT, null);
      if (r < 0) {
        const e = lastErrno();
        if (e === EAGAIN) break;
        throw new ErrnoError(errnoName(e), e, 'recvmmsg', this.ifname);
      }
      for (let i = 0; i < r; i++) {
        const len = this.#rx.msgs.readUInt32LE(i * MMSGHDR_SIZE + MSGHDR_SIZE);
        if ((this.#rx.msgs.readInt32LE(i * MMSGHDR_SIZE + 48) & MSG_TRUNC) !== 0) this.truncated++;
        const view = this.#rx.views[i];
        if (view) onFrame(view, Math.min(len, this.slotSize));
      }
      total += r;
      if (r < want) break;
    }
    return total;
  }

  /** SIOCGIFFLAGS of the bound interface (by name, in the socket's namespace), or -errno (`-ENODEV` once it is gone). */
  linkFlags(): number {
    if (call(ioctlFn, this.fd, SIOCGIFFLAGS, this.#ifreq) < 0) return -lastErrno();
    return this.#ifreq.readInt16LE(IFNAMSIZ) & 0xffff;
  }

  /**
   * Current ifindex of the interface name this socket was opened on, or -errno. Differs from
   * `ifindex` once the link was deleted and re-created under the same name (reopen then).
   */
  linkIndex(): number {
    if (call(ioctlFn, this.fd, SIOCGIFINDEX, this.#ifreq) < 0) return -lastErrno();
    return this.#ifreq.readInt32LE(IFNAMSIZ);
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    call(closeFn, this.fd);
  }
}
