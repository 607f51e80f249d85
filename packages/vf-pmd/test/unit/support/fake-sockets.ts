import type { LinkChange, LinkRef, Link } from '@netvsc/netlink';
import type { EtherAddr } from '@netvsc/ethdev';
import type { Mapping } from '../../../src/native/mman.js';
import type { PacketStats, TpacketReq3 } from '../../../src/native/packet.js';
import type { LinkOps, SocketLayer } from '../../../src/ops.js';
import { FakeTc } from './fake-tc.js';

/** The kernel side of packet sockets, in memory: fds, rings, memberships, errors on demand. */
export class FakeSockets implements SocketLayer {
  next = 100;
  readonly open_ = new Set<number>();
  readonly mapped = new Set<Mapping>();
  readonly log: string[] = [];
  readonly maps = new Map<number, Mapping>();
  /** What sendmmsg answers: taken count, or -errno; null takes everything. */
  sendResult: number | null = null;
  /** (fd, messages) per sendmmsg call. */
  readonly sends: [number, number][] = [];
  drops = new Map<number, number>();
  readonly memberships: string[] = [];
  ifindexGone = false;
  pollErr = 0;
  sockErr = 0;
  fanoutId = 0x1234;

  open(): number {
    const fd = this.next++;
    this.open_.add(fd);
    return fd;
  }
  close(fd: number): void {
    if (!this.open_.delete(fd)) throw new Error(`close of fd ${fd} that is not open`);
  }
  /** Closed at once here; the log says which way it went. */
  closeLater(fd: number): void {
    this.log.push(`${fd} close later`);
    this.close(fd);
  }
  setInt(fd: number, _opt: number, value: number, name: string): void {
    this.log.push(`${fd} ${name}=${value}`);
  }
  setRxRing(fd: number, req: TpacketReq3): void {
    this.log.push(`${fd} RX_RING ${req.blockSize}x${req.blockNr} ${req.frameSize}x${req.frameNr} tov=${req.retireBlkTov}`);
  }
  bind(fd: number, ifindex: number, protocol: number): void {
    this.log.push(`${fd} bind ${ifindex} proto ${protocol}`);
  }
  setFanout(fd: number, arg: number): void {
    this.log.push(`${fd} fanout 0x${arg.toString(16)}`);
  }
  getFanout(): number {
    return this.fanoutId;
  }
  membership(fd: number, add: boolean, ifindex: number, type: number, address?: Uint8Array): void {
    this.memberships.push(`${fd} ${add ? 'add' : 'drop'} ${ifindex} type ${type}${address ? ` ${[...address].map((b) => b.toString(16)).join(':')}` : ''}`);
  }
  stats(fd: number): PacketStats {
    const drops = this.drops.get(fd) ?? 0;
    this.drops.set(fd, 0);
    return { packets: 0, drops, freezeQueueCount: 0 };
  }
  socketError(): number {
    return this.sockErr;
  }
  pollNow(): number {
    return this.pollErr;
  }
  send = (fd: number, _msgs: Uint8Array, n: number): number => {
    this.sends.push([fd, n]);
    return this.sendResult ?? n;
  };
  addressOf(): number {
    return 0x7f0000000000;
  }
  map(fd: number, length: number): Mapping {
    const m: Mapping = { buffer: new ArrayBuffer(length), length, pointer: null };
    this.mapped.add(m);
    this.maps.set(fd, m);
    return m;
  }
  unmap(m: Mapping): void {
    if (!this.mapped.delete(m)) throw new Error('unmap of a mapping that is not mapped');
  }
  /** Socket fds currently muted (accepting nothing), and every mute/unmute in order. */
  readonly muted = new Set<number>();
  readonly muteLog: string[] = [];
  setMuted(fd: number, muted: boolean): void {
    this.muteLog.push(`${muted ? 'mute' : 'unmute'} ${fd}`);
    if (muted) this.muted.add(fd);
    else this.muted.delete(fd);
  }
  ifIndexToName(): string | undefined {
    return this.ifindexGone ? undefined : 'vf0';
  }
  linkSpeed(): number {
    return 10000;
  }
}

export const VF_MAC = '00:15:5d:10:00:01' as EtherAddr;

export function link(over: Partial<Link> = {}): Link {
  return {
    index: 9,
    name: 'vf0',
    mac: VF_MAC,
    type: 1,
    flags: 0x1043,
    up: true,
    operUp: true,
    operState: 6,
    mtu: 1500,
    master: null,
    link: null,
    kind: 'veth',
    permMac: null,
    parentDev: null,
    parentBus: null,
    tun: null,
    ...over,
  };
}

/** rtnetlink for one link plus the tc part. */
export class FakeRtnl extends FakeTc implements LinkOps {
  current: Link | null = link();
  readonly changes: LinkChange[] = [];
  closed = 0;

  link(ref: LinkRef): Link | null {
    const l = this.current;
    return l !== null && (ref === l.index || ref === l.name) ? l : null;
  }
  setLink(_ref: LinkRef, change: LinkChange): void {
    this.changes.push(change);
    if (this.current && change.mtu !== undefined) this.current = { ...this.current, mtu: change.mtu };
  }
  close(): void {
    this.closed++;
  }
}
