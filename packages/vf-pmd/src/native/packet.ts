import koffi from 'koffi';
import { check, lastErrno, libc } from '@netvsc/ethdev';

/**
 * AF_PACKET sockets (linux/if_packet.h, packet(7)): open, the Rx ring, bind, fanout,
 * memberships, statistics and batched send (sendmmsg). The only file of this package that
 * talks to the socket layer; everything it returns is a number or a plain object.
 */

export const AF_PACKET = 17;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_ERROR = 4;
const SO_ATTACH_FILTER = 26;
const SO_DETACH_FILTER = 27;
const SOL_PACKET = 263;
const MSG_DONTWAIT = 0x40;

/** Ethertype that makes a packet socket a "tap": served before tc ingress and rx_handlers. */
export const ETH_P_ALL = 0x0003;

export const PacketOpt = {
  ADD_MEMBERSHIP: 1,
  DROP_MEMBERSHIP: 2,
  RX_RING: 5,
  STATISTICS: 6,
  VERSION: 10,
  FANOUT: 18,
  QDISC_BYPASS: 20,
  IGNORE_OUTGOING: 23,
} as const;

export const TPACKET_V3 = 2;

export const PACKET_MR_MULTICAST = 0;
export const PACKET_MR_PROMISC = 1;
export const PACKET_MR_ALLMULTI = 2;

export const FanoutFlag = {
  ROLLOVER: 0x1000,
  UNIQUEID: 0x2000,
  /** Newer than the uapi headers here (Linux 6.x); refused with EINVAL by older kernels. */
  IGNORE_OUTGOING: 0x4000,
  DEFRAG: 0x8000,
} as const;

export const POLLERR = 0x8;

/** struct tpacket_req3 (a superset of tpacket_req: V1/V2 ignore the last three fields). */
const TpacketReq3 = koffi.struct('nvpmd_tpacket_req3', {
  tp_block_size: 'uint32_t',
  tp_block_nr: 'uint32_t',
  tp_frame_size: 'uint32_t',
  tp_frame_nr: 'uint32_t',
  tp_retire_blk_tov: 'uint32_t',
  tp_sizeof_priv: 'uint32_t',
  tp_feature_req_word: 'uint32_t',
});

const SockaddrLl = koffi.struct('nvpmd_sockaddr_ll', {
  sll_family: 'uint16_t',
  sll_protocol: 'uint16_be_t',
  sll_ifindex: 'int32_t',
  sll_hatype: 'uint16_t',
  sll_pkttype: 'uint8_t',
  sll_halen: 'uint8_t',
  sll_addr: koffi.array('uint8_t', 8),
});

const PacketMreq = koffi.struct('nvpmd_packet_mreq', {
  mr_ifindex: 'int32_t',
  mr_type: 'uint16_t',
  mr_alen: 'uint16_t',
  mr_address: koffi.array('uint8_t', 8),
});

const TpacketStatsV3 = koffi.struct('nvpmd_tpacket_stats_v3', {
  tp_packets: 'uint32_t',
  tp_drops: 'uint32_t',
  tp_freeze_q_cnt: 'uint32_t',
});

/** Classic BPF (linux/filter.h): one `ret #0` instruction accepts nothing. */
const SockFilter = koffi.struct('nvpmd_sock_filter', { code: 'uint16_t', jt: 'uint8_t', jf: 'uint8_t', k: 'uint32_t' });
const SockFprog = koffi.struct('nvpmd_sock_fprog', { len: 'uint16_t', filter: koffi.pointer(SockFilter) });
const BPF_RET_K = 0x06;

const PollFd = koffi.struct('nvpmd_pollfd', { fd: 'int', events: 'short', revents: 'short' });

export interface TpacketReq3 {
  readonly blockSize: number;
  readonly blockNr: number;
  readonly frameSize: number;
  readonly frameNr: number;
  /** Block retire timeout in ms. */
  readonly retireBlkTov: number;
}

export interface PacketStats {
  readonly packets: number;
  readonly drops: number;
  readonly freezeQueueCount: number;
}

interface StatsOut {
  tp_packets?: number;
  tp_drops?: number;
  tp_freeze_q_cnt?: number;
}

const lib = libc();
const socketFn = lib.func('int socket(int domain, int type, int protocol)') as (d: number, t: number, p: number) => number;
const closeFn = lib.func('int close(int fd)') as (fd: number) => number;
const setsockoptInt = lib.func('setsockopt', 'int', ['int', 'int', 'int', '_In_ int *', 'socklen_t']) as (fd: number, level: number, opt: number, value: number[], len: number) => number;
const setsockoptReq = lib.func('setsockopt', 'int', ['int', 'int', 'int', koffi.pointer(TpacketReq3), 'socklen_t']) as (fd: number, level: number, opt: number, value: object, len: number) => number;
const setsockoptMreq = lib.func('setsockopt', 'int', ['int', 'int', 'int', koffi.pointer(PacketMreq), 'socklen_t']) as (fd: number, level: number, opt: number, value: object, len: number) => number;
const getsockoptInt = lib.func('getsockopt', 'int', ['int', 'int', 'int', '_Out_ int *', '_Inout_ socklen_t *']) as (fd: number, level: number, opt: number, value: number[], len: number[]) => number;
const getsockoptStats = lib.func('getsockopt', 'int', ['int', 'int', 'int', koffi.out(koffi.pointer(TpacketStatsV3)), '_Inout_ socklen_t *']) as (fd: number, level: number, opt: number, value: StatsOut, len: number[]) => number;
const setsockoptFprog = lib.func('setsockopt', 'int', ['int', 'int', 'int', koffi.pointer(SockFprog), 'socklen_t']) as (fd: number, level: number, opt: number, value: object, len: number) => number;
const bindFn = lib.func('bind', 'int', ['int', koffi.pointer(SockaddrLl), 'socklen_t']) as (fd: number, addr: object, len: number) => number;
const sendmmsgFn = lib.func('int sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags)') as (fd: number, msgvec: Uint8Array, vlen: number, flags: number) => number;
const pollFn = lib.func('poll', 'int', [koffi.inout(koffi.pointer(PollFd)), 'unsigned long', 'int']) as (fds: { fd: number; events: number; revents: number }, n: number, timeout: number) => number;

const SIZEOF_INT = 4;
const SIZEOF_REQ3 = koffi.sizeof(TpacketReq3);
const SIZEOF_SLL = koffi.sizeof(SockaddrLl);
const SIZEOF_MREQ = koffi.sizeof(PacketMreq);
const SIZEOF_STATS = koffi.sizeof(TpacketStatsV3);

/** A non-blocking, close-on-exec AF_PACKET raw socket that receives nothing until bound. */
export function packetSocket(): number {
  // Protocol 0: the socket is not hooked into the receive path until bind() names one.
  return check(socketFn(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), 'socket(AF_PACKET, SOCK_RAW)');
}

export function closeFd(fd: number): void {
  check(closeFn(fd), 'close');
}

const closeAsync = (closeFn as unknown as { async: (fd: number, cb: (err: unknown, res: number) => void) => void }).async;
let closing = 0;

/**
 * close() on the libuv thread pool. Closing a packet socket waits for an RCU grace period
 * (synchronize_net in packet_release, once more with a ring): 8-35 ms measured here, too long
 * to block the event loop while the application is failing over. The fd stays allocated until
 * the close completes; an error then (EIO at worst) has nobody left to report to.
 */
export function closeFdLater(fd: number): void {
  closing++;
  closeAsync(fd, () => {
    closing--;
  });
}

/** Closes started by closeFdLater and not finished yet. */
export function pendingCloses(): number {
  return closing;
}

export function setPacketInt(fd: number, opt: number, value: number, name: string): void {
  check(setsockoptInt(fd, SOL_PACKET, opt, [value], SIZEOF_INT), `setsockopt(SOL_PACKET, ${name}=${value})`);
}

/** PACKET_RX_RING with a TPACKET_V3 request (the socket must be at TPACKET_V3 already). */
export function setRxRing(fd: number, req: TpacketReq3): void {
  const value = {
    tp_block_size: req.blockSize,
    tp_block_nr: req.blockNr,
    tp_frame_size: req.frameSize,
    tp_frame_nr: req.frameNr,
    tp_retire_blk_tov: req.retireBlkTov,
    tp_sizeof_priv: 0,
    tp_feature_req_word: 0,
  };
  check(
    setsockoptReq(fd, SOL_PACKET, PacketOpt.RX_RING, value, SIZEOF_REQ3),
    'setsockopt(SOL_PACKET, PACKET_RX_RING)',
    `block_size=${req.blockSize} block_nr=${req.blockNr} frame_size=${req.frameSize} frame_nr=${req.frameNr}`,
  );
}

/** bind(2) to `ifindex`; protocol ETH_P_ALL hooks the socket in, 0 only names the device (Tx). */
export function bindPacket(fd: number, ifindex: number, protocol: number): void {
  const addr = { sll_family: AF_PACKET, sll_protocol: protocol, sll_ifindex: ifindex, sll_hatype: 0, sll_pkttype: 0, sll_halen: 0, sll_addr: [0, 0, 0, 0, 0, 0, 0, 0] };
  check(bindFn(fd, addr, SIZEOF_SLL), 'bind(AF_PACKET)', `ifindex ${ifindex}`);
}

/**
 * Make a socket accept nothing (SO_ATTACH_FILTER `ret #0`) or everything again
 * (SO_DETACH_FILTER). A socket bound while muted and unmuted only after the own_rx tc program
 * is in place never sees a frame the kernel also passes on to the NetVSC.
 */
export function setMuted(fd: number, muted: boolean): void {
  if (muted) {
    const prog = { len: 1, filter: [{ code: BPF_RET_K, jt: 0, jf: 0, k: 0 }] };
    check(setsockoptFprog(fd, SOL_SOCKET, SO_ATTACH_FILTER, prog, koffi.sizeof(SockFprog)), 'setsockopt(SOL_SOCKET, SO_ATTACH_FILTER)');
  } else {
    check(setsockoptInt(fd, SOL_SOCKET, SO_DETACH_FILTER, [0], SIZEOF_INT), 'setsockopt(SOL_SOCKET, SO_DETACH_FILTER)');
  }
}

/** Join (or, with UNIQUEID and id 0, create) a fanout group: `arg = id | (mode | flags) << 16`. */
export function setFanout(fd: number, arg: number): void {
  check(setsockoptInt(fd, SOL_PACKET, PacketOpt.FANOUT, [arg], SIZEOF_INT), 'setsockopt(SOL_PACKET, PACKET_FANOUT)', `arg 0x${arg.toString(16)}`);
}

/** The fanout group of a socket: `id | type << 16 | flags << 24` as the kernel reports it. */
export function getFanout(fd: number): number {
  const out = [0];
  check(getsockoptInt(fd, SOL_PACKET, PacketOpt.FANOUT, out, [SIZEOF_INT]), 'getsockopt(SOL_PACKET, PACKET_FANOUT)');
  return out[0] ?? 0;
}

/** PACKET_ADD/DROP_MEMBERSHIP; `address` (6 bytes) only for PACKET_MR_MULTICAST. */
export function setMembership(fd: number, add: boolean, ifindex: number, type: number, address?: Uint8Array): void {
  const addr = [0, 0, 0, 0, 0, 0, 0, 0];
  if (address) for (let i = 0; i < address.length && i < 8; i++) addr[i] = address[i] ?? 0;
  const mreq = { mr_ifindex: ifindex, mr_type: type, mr_alen: address?.length ?? 0, mr_address: addr };
  const opt = add ? PacketOpt.ADD_MEMBERSHIP : PacketOpt.DROP_MEMBERSHIP;
  check(setsockoptMreq(fd, SOL_PACKET, opt, mreq, SIZEOF_MREQ), `setsockopt(SOL_PACKET, PACKET_${add ? 'ADD' : 'DROP'}_MEMBERSHIP)`, `ifindex ${ifindex} type ${type}`);
}

/** PACKET_STATISTICS: the kernel resets the counters on every read. */
export function packetStats(fd: number): PacketStats {
  const out: StatsOut = {};
  check(getsockoptStats(fd, SOL_PACKET, PacketOpt.STATISTICS, out, [SIZEOF_STATS]), 'getsockopt(SOL_PACKET, PACKET_STATISTICS)');
  return { packets: out.tp_packets ?? 0, drops: out.tp_drops ?? 0, freezeQueueCount: out.tp_freeze_q_cnt ?? 0 };
}

/** Pending socket error (SO_ERROR, cleared by the read); 0 when none. */
export function socketError(fd: number): number {
  const out = [0];
  check(getsockoptInt(fd, SOL_SOCKET, SO_ERROR, out, [SIZEOF_INT]), 'getsockopt(SOL_SOCKET, SO_ERROR)');
  return out[0] ?? 0;
}

/**
 * struct mmsghdr (msghdr + msg_len, padded) and struct iovec, for sendmmsg. A Tx queue
 * builds an array of these once and only rewrites the iovecs' base/len per burst.
 */
export const MmsgHdr = {
  size: 64,
  msgName: 0,
  msgNameLen: 8,
  msgIov: 16,
  msgIovLen: 24,
  msgControl: 32,
  msgControlLen: 40,
  msgFlags: 48,
  msgLen: 56,
} as const;
export const Iovec = { size: 16, base: 0, len: 8 } as const;

/**
 * Hot path: send `n` prepared messages of `msgvec` on a bound socket, without blocking.
 * Returns how many the kernel took (it stops at the first it refuses), or -errno when it
 * took none. Never throws, allocates nothing.
 */
export function sendBatch(fd: number, msgvec: Uint8Array, n: number): number {
  const r = sendmmsgFn(fd, msgvec, n, MSG_DONTWAIT);
  return r < 0 ? -lastErrno() : r;
}

const pollFdScratch = { fd: -1, events: 0, revents: 0 };

/** poll(2) one fd without waiting; returns its revents (POLLIN/POLLERR/...). */
export function pollNow(fd: number, events: number): number {
  pollFdScratch.fd = fd;
  pollFdScratch.events = events;
  pollFdScratch.revents = 0;
  check(pollFn(pollFdScratch, 1, 0), 'poll');
  return pollFdScratch.revents;
}
