import { ErrnoError, formatEtherAddr, type EtherAddr } from '@netvsc/ethdev';
import type { FilterInfo, FilterRef, IngressQdiscSpec, Link, LinkChange, LinkRef, QdiscInfo, U32FilterSpec, U32Key } from '@netvsc/netlink';
import type { TapLinkEvent as LinkEvent, LinkWatch, TapControl, TunNative, TunUsers } from '../../src/index.js';
import type { WriteRing } from '../../src/native/uring.js';

// A small in-memory model of the kernel objects the TAP PMD touches: links (veth-like
// remotes and tun/tap devices with their queue fds), ingress qdiscs, u32+mirred filters,
// and the frames crossing tap fds. It implements both of the driver's seams, TapControl
// (rtnetlink) and TunNative (/dev/net/tun), over one shared state, so unit tests exercise
// the real driver logic anywhere, without root.

const ERRNO: Record<string, number> = { ENOENT: 2, EIO: 5, EAGAIN: 11, EACCES: 13, EBUSY: 16, EEXIST: 17, ENODEV: 19, EINVAL: 22, EBADFD: 77, EOPNOTSUPP: 95, EPERM: 1 };

function fail(code: string, syscall: string, detail?: string): never {
  throw new ErrnoError(code, ERRNO[code] ?? 0, syscall, detail);
}

const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;
const IFF_TAP = 0x2;
const IFF_MULTI_QUEUE = 0x100;
const IFF_ATTACH_QUEUE = 0x200;
const IFF_TUN_EXCL = 0x8000;

export interface FakeTun {
  persist: boolean;
  flags: number;
  attached: Set<number>;
  detached: Set<number>;
}

export interface FakeFilter {
  pref: number;
  handle: number;
  kind: string;
  keys: U32Key[];
  mirred: { mode: 'redirect' | 'mirror'; ifindex: number } | null;
}

export interface FakeLink {
  index: number;
  name: string;
  mac: EtherAddr;
  mtu: number;
  flags: number;
  kind: string | null;
  tun: FakeTun | null;
  ingress: boolean;
  filters: FakeFilter[];
}

interface FakeFd {
  link: FakeLink | null;
  /** Frames the kernel has for the application (tap egress). */
  rx: Uint8Array[];
  /** errno to fail the next write with. */
  writeErrno: string | undefined;
  /** errnos for the next writes, one each, in order ('' lets that write through). */
  writeErrnos: string[];
}

export interface Written {
  readonly ifindex: number;
  readonly queueFd: number;
  readonly frame: Uint8Array;
}

export class FakeKernel implements TapControl, TunNative {
  readonly links = new Map<number, FakeLink>();
  readonly fds = new Map<number, FakeFd>();
  readonly written: Written[] = [];
  readonly ipv6Disabled: string[] = [];
  /** Kernel features; switch one off to model a kernel without it. */
  readonly has = { tun: true, multiQueue: true, ingress: true, u32: true, mirred: true, ioUring: true };
  /** io_uring write rings open, and submissions made through them. */
  ringsOpen = 0;
  submissions = 0;
  /** Fail TUNSETIFF / netlink writes with EPERM (no CAP_NET_ADMIN). */
  unprivileged = false;
  /** Fail the next call of a named operation with an errno (e.g. `setLink` -> `EPERM`). */
  readonly failNext = new Map<string, string>();
  /** Calls, in order, for asserting on the control sequence. */
  readonly log: string[] = [];
  closed = false;
  #nextIndex = 1;
  #nextFd = 100;
  #nextHandle = 0x800;
  #errno = 0;
  #memory: { base: number; buf: Uint8Array }[] = [];
  #nextBase = 0x10000000;
  #watchers = new Set<{ ifs: Set<number>; cb: (ev: LinkEvent) => void }>();

  // ---- helpers for tests ----

  addLink(name: string, mac: string, options: Partial<Pick<FakeLink, 'mtu' | 'flags' | 'kind'>> = {}): FakeLink {
    const l: FakeLink = {
      index: this.#nextIndex++,
      name,
      mac: mac as EtherAddr,
      mtu: options.mtu ?? 1500,
      flags: options.flags ?? IFF_UP | IFF_RUNNING | 0x1002,
      kind: options.kind ?? 'veth',
      tun: null,
      ingress: false,
      filters: [],
    };
    this.links.set(l.index, l);
    return l;
  }

  byName(name: string): FakeLink | undefined {
    return [...this.links.values()].find((l) => l.name === name);
  }

  removeLink(index: number): void {
    const l = this.links.get(index);
    if (!l) return;
    this.links.delete(index);
    for (const f of this.fds.values()) if (f.link === l) f.link = null;
    this.#emit('del', l);
  }

  /** Change a link and notify watchers, as RTM_NEWLINK would. */
  changeLink(index: number, change: Partial<Pick<FakeLink, 'flags' | 'mtu' | 'name'>>): void {
    const l = this.links.get(index);
    if (!l) return;
    Object.assign(l, change);
    this.#emit('new', l);
  }

  /** Queue a frame for the application on tap queue fd `fd`. */
  deliver(fd: number, frame: ArrayLike<number>): void {
    const f = this.fds.get(fd);
    if (!f) throw new Error(`no fd ${fd}`);
    f.rx.push(Uint8Array.from(frame));
  }

  failWrite(fd: number, errno: string): void {
    const f = this.fds.get(fd);
    if (f) f.writeErrno = errno;
  }

  /** Fail the next writes on `fd` with these errnos, one each ('' lets that one through). */
  failWrites(fd: number, ...errnos: string[]): void {
    const f = this.fds.get(fd);
    if (f) f.writeErrnos.push(...errnos);
  }

  /** Queue fds attached to a tap, in open order. */
  queueFds(link: FakeLink): number[] {
    return [...(link.tun?.attached ?? [])];
  }

  remoteRules(index: number): { pref: number; mode: string | undefined; target: number | undefined; keys: U32Key[] }[] {
    return (this.links.get(index)?.filters ?? []).map((f) => ({ pref: f.pref, mode: f.mirred?.mode, target: f.mirred?.ifindex, keys: f.keys }));
  }

  // ---- TapControl ----

  link(ref: LinkRef): Link | null {
    this.log.push(`link(${ref})`);
    const l = typeof ref === 'number' ? this.links.get(ref) : this.byName(ref);
    return l ? this.#toLink(l) : null;
  }

  setLink(ref: LinkRef, change: LinkChange): void {
    this.#maybeFail('setLink');
    if (this.unprivileged) fail('EPERM', 'RTM_SETLINK');
    const l = typeof ref === 'number' ? this.links.get(ref) : this.byName(ref);
    if (!l) fail('ENODEV', 'RTM_SETLINK');
    this.log.push(`setLink(${l.name},${JSON.stringify(change)})`);
    const bit = (on: boolean | undefined, b: number): void => {
      if (on === undefined) return;
      l.flags = on ? l.flags | b : l.flags & ~b;
    };
    bit(change.up, IFF_UP);
    bit(change.promisc, 0x100);
    bit(change.allmulti, 0x200);
    if (change.mtu !== undefined) l.mtu = change.mtu;
    if (change.mac !== undefined) l.mac = change.mac;
    if (change.name !== undefined) l.name = change.name;
    this.#emit('new', l);
  }

  qdiscs(ifindex?: number): QdiscInfo[] {
    return [...this.links.values()]
      .filter((l) => l.ingress && (ifindex === undefined || l.index === ifindex))
      .map((l) => ({ ifindex: l.index, handle: 0xffff0000, parent: 0xfffffff1, kind: 'ingress' }));
  }

  addIngressQdisc(spec: IngressQdiscSpec): void {
    this.#maybeFail('addIngressQdisc');
    if (!this.has.ingress) fail('ENOENT', 'RTM_NEWQDISC', 'Specified qdisc kind is unknown.');
    const l = this.#need(spec.ifindex, 'RTM_NEWQDISC');
    if (l.ingress) fail('EEXIST', 'RTM_NEWQDISC');
    l.ingress = true;
    this.log.push(`addIngressQdisc(${l.name})`);
  }

  deleteIngressQdisc(spec: IngressQdiscSpec): void {
    const l = this.#need(spec.ifindex, 'RTM_DELQDISC');
    if (!l.ingress) fail('EINVAL', 'RTM_DELQDISC');
    l.ingress = false;
    l.filters = [];
    this.log.push(`deleteIngressQdisc(${l.name})`);
  }

  filters(query: { ifindex: number }): FilterInfo[] {
    const l = this.#need(query.ifindex, 'RTM_GETTFILTER');
    return l.filters.map((f) => ({
      ifindex: l.index,
      parent: 0xffff0000,
      pref: f.pref,
      protocol: 3,
      handle: f.handle,
      kind: f.kind,
      chain: 0,
      u32: f.kind === 'u32' ? { keys: f.keys, terminal: true } : null,
      bpf: null,
      actions: f.mirred
        ? [{ kind: 'mirred', index: 1, mirred: { direction: 'egress', mode: f.mirred.mode, ifindex: f.mirred.ifindex, verdict: f.mirred.mode === 'redirect' ? 4 : 3 } }]
        : [],
    }));
  }

  addU32Filter(spec: U32FilterSpec): void {
    this.#maybeFail('addU32Filter');
    const l = this.#need(spec.ifindex, 'RTM_NEWTFILTER');
    if (!l.ingress) fail('EINVAL', 'RTM_NEWTFILTER', "Parent Qdisc doesn't exists");
    if (!this.has.u32) fail('ENOENT', 'RTM_NEWTFILTER', 'TC classifier not found.');
    const a = spec.actions?.[0];
    if (a && !this.has.mirred) fail('ENOENT', 'RTM_NEWTFILTER', 'Failed to load TC action module.');
    l.filters.push({ pref: spec.pref, handle: this.#nextHandle++, kind: 'u32', keys: [...spec.keys], mirred: a ? { mode: a.mode, ifindex: a.ifindex } : null });
    l.filters.sort((x, y) => x.pref - y.pref);
    this.log.push(`addU32Filter(${l.name},${spec.pref})`);
  }

  /** A filter of another kind or owner, for foreign-rule tests. */
  addRawFilter(ifindex: number, f: Omit<FakeFilter, 'handle'>): void {
    const l = this.#need(ifindex, 'RTM_NEWTFILTER');
    l.ingress = true;
    l.filters.push({ ...f, handle: this.#nextHandle++ });
    l.filters.sort((x, y) => x.pref - y.pref);
  }

  deleteFilter(ref: FilterRef): void {
    const l = this.#need(ref.ifindex, 'RTM_DELTFILTER');
    if (!l.ingress) fail('EINVAL', 'RTM_DELTFILTER', "Parent Qdisc doesn't exists");
    const before = l.filters.length;
    l.filters = l.filters.filter((f) => f.pref !== ref.pref);
    if (l.filters.length === before) fail('ENOENT', 'RTM_DELTFILTER', 'Cannot find specified filter chain');
    this.log.push(`deleteFilter(${l.name},${ref.pref})`);
  }

  tunUsers(ifindex: number): TunUsers | null {
    const t = this.links.get(ifindex)?.tun;
    return t ? { attached: t.attached.size, detached: t.detached.size, persist: t.persist } : null;
  }

  watchLinks(ifindexes: readonly number[], onEvent: (ev: LinkEvent) => void): LinkWatch {
    this.#maybeFail('watchLinks');
    const w = { ifs: new Set(ifindexes), cb: onEvent };
    this.#watchers.add(w);
    return {
      close: () => {
        this.#watchers.delete(w);
      },
    };
  }

  get watcherCount(): number {
    return this.#watchers.size;
  }

  disableIpv6(ifName: string): void {
    this.ipv6Disabled.push(ifName);
  }

  // ---- TunNative ----

  features(): number {
    if (!this.has.tun) fail('ENOENT', 'open', '/dev/net/tun');
    return 0x7173 & (this.has.multiQueue ? ~0 : ~IFF_MULTI_QUEUE);
  }

  open(name: string, flags: number): { fd: number; name: string } {
    if (!this.has.tun) fail('ENOENT', 'open', '/dev/net/tun');
    let l = name.includes('%') ? undefined : this.byName(name);
    if (l) {
      if (flags & IFF_TUN_EXCL) fail('EBUSY', 'ioctl', `TUNSETIFF ${name}`);
      if (!l.tun || (l.tun.flags & ~IFF_TUN_EXCL) !== (flags & ~IFF_TUN_EXCL)) fail('EINVAL', 'ioctl', `TUNSETIFF ${name}`);
    } else {
      if (this.unprivileged) fail('EPERM', 'ioctl', `TUNSETIFF ${name}`);
      let n = name;
      if (name.includes('%d')) {
        for (let k = 0; ; k++) {
          n = name.replace('%d', String(k));
          if (!this.byName(n)) break;
        }
      }
      l = this.addLink(n, formatEtherAddr([0x5e, 0, 0, 0, 0, this.#nextIndex]), { kind: 'tun', flags: 0x1002 });
      l.tun = { persist: false, flags: flags & ~IFF_TUN_EXCL, attached: new Set(), detached: new Set() };
    }
    const fd = this.#nextFd++;
    this.fds.set(fd, { link: l, rx: [], writeErrno: undefined, writeErrnos: [] });
    l.tun.attached.add(fd);
    this.#carrier(l);
    this.log.push(`open(${l.name})=${fd}`);
    return { fd, name: l.name };
  }

  /** Namespace fds handed out (the fake has one namespace; they only need closing). */
  readonly netnsFds = new Set<number>();

  captureNetns(): number {
    const fd = this.#nextFd++;
    this.netnsFds.add(fd);
    return fd;
  }

  setPersist(fd: number, on: boolean): void {
    const t = this.fds.get(fd)?.link?.tun;
    if (!t) fail('EBADFD', 'ioctl', 'TUNSETPERSIST');
    t.persist = on;
    this.log.push(`setPersist(${fd},${on})`);
  }

  setQueue(fd: number, attach: boolean): void {
    const l = this.fds.get(fd)?.link;
    if (!l?.tun) fail('EBADFD', 'ioctl', 'TUNSETQUEUE');
    if (attach) {
      l.tun.detached.delete(fd);
      l.tun.attached.add(fd);
    } else {
      l.tun.attached.delete(fd);
      l.tun.detached.add(fd);
    }
    this.#carrier(l);
  }

  setCarrier(_fd: number, _on: boolean): boolean {
    return true;
  }

  /** TapControl.close() (no fd) and TunNative.close(fd) share this name. */
  close(fd?: number): void {
    if (fd === undefined) {
      this.closed = true;
      return;
    }
    if (this.netnsFds.delete(fd)) return;
    const f = this.fds.get(fd);
    if (!f) return;
    this.fds.delete(fd);
    this.log.push(`close(${fd})`);
    const l = f.link;
    if (!l?.tun) return;
    l.tun.attached.delete(fd);
    l.tun.detached.delete(fd);
    if (l.tun.attached.size + l.tun.detached.size === 0 && !l.tun.persist) this.removeLink(l.index);
    else this.#carrier(l);
  }

  addressOf(buf: Uint8Array): number {
    const hit = this.#memory.find((m) => m.buf.buffer === buf.buffer && m.buf.byteOffset === buf.byteOffset);
    if (hit) return hit.base;
    const base = this.#nextBase;
    this.#nextBase += 0x10000000;
    this.#memory.push({ base, buf });
    return base;
  }

  /** readv calls made, empty ones included. */
  reads = 0;

  readv(fd: number, iov: Uint8Array, iovcnt: number): number {
    this.reads++;
    const f = this.fds.get(fd);
    if (!f) return this.#err('EBADF');
    if (f.link === null) return this.#err('EBADFD');
    const frame = f.rx.shift();
    if (frame === undefined) return this.#err('EAGAIN');
    let copied = 0;
    for (const v of this.#iovecs(iov, iovcnt)) {
      const n = Math.min(v.len, frame.length - copied);
      this.#resolve(v.base, n).set(frame.subarray(copied, copied + n));
      copied += n;
      if (copied === frame.length) break;
    }
    return copied;
  }

  writev(fd: number, iov: Uint8Array, iovcnt: number): number {
    const parts = this.#iovecs(iov, iovcnt).map((v) => this.#resolve(v.base, v.len));
    const frame = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      frame.set(p, o);
      o += p.length;
    }
    return this.#write(fd, frame);
  }

  openWriteRing(depth: number): WriteRing | { errno: number } {
    if (!this.has.ioUring) return { errno: ERRNO.EPERM ?? 1 };
    this.ringsOpen++;
    const slots: { fd: number; addr: number; len: number }[] = [];
    let closed = false;
    return {
      depth,
      prep: (slot, fd, lo, hi, len) => {
        if (slot >= depth) throw new Error(`fake ring: slot ${slot} >= depth ${depth}`);
        slots[slot] = { fd, addr: lo + hi * 0x100000000, len };
      },
      submit: (n, res) => {
        if (closed) return -(ERRNO.EBADF ?? 9);
        const fail = this.failNext.get('io_uring_enter');
        if (fail !== undefined) {
          this.failNext.delete('io_uring_enter');
          return -(ERRNO[fail] ?? 5);
        }
        this.submissions++;
        for (let i = 0; i < n; i++) {
          const w = slots[i];
          if (w === undefined) throw new Error(`fake ring: slot ${i} submitted unprepared`);
          const r = this.#write(w.fd, Uint8Array.from(this.#resolve(w.addr, w.len)));
          res[i] = r < 0 ? -this.#errno : r;
        }
        return n;
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.ringsOpen--;
      },
    };
  }

  #iovecs(iov: Uint8Array, iovcnt: number): { base: number; len: number }[] {
    const words = new DataView(iov.buffer, iov.byteOffset, iov.byteLength);
    return Array.from({ length: iovcnt }, (_, i) => ({
      base: words.getUint32(16 * i, true) + words.getUint32(16 * i + 4, true) * 0x100000000,
      len: words.getUint32(16 * i + 8, true),
    }));
  }

  #write(fd: number, frame: Uint8Array): number {
    const f = this.fds.get(fd);
    if (!f) return this.#err('EBADF');
    if (f.link === null) return this.#err('EBADFD');
    if (f.writeErrno !== undefined) {
      const e = f.writeErrno;
      f.writeErrno = undefined;
      return this.#err(e);
    }
    const queued = f.writeErrnos.shift();
    if (queued !== undefined && queued !== '') return this.#err(queued);
    if ((f.link.flags & IFF_UP) === 0) return this.#err('EIO');
    if (frame.length < 14) return this.#err('EINVAL');
    this.written.push({ ifindex: f.link.index, queueFd: fd, frame });
    return frame.length;
  }

  errno(): number {
    return this.#errno;
  }

  // ---- internals ----

  #err(code: string): number {
    this.#errno = ERRNO[code] ?? 9;
    return -1;
  }

  #resolve(addr: number, len: number): Uint8Array {
    for (const m of this.#memory) {
      if (addr >= m.base && addr + len <= m.base + m.buf.length) return m.buf.subarray(addr - m.base, addr - m.base + len);
    }
    throw new Error(`fake kernel: address 0x${addr.toString(16)}+${len} is not in any registered buffer`);
  }

  #need(ifindex: number, op: string): FakeLink {
    const l = this.links.get(ifindex);
    if (!l) fail('ENODEV', op);
    return l;
  }

  #maybeFail(op: string): void {
    const e = this.failNext.get(op);
    if (e !== undefined) {
      this.failNext.delete(op);
      fail(e, op);
    }
  }

  #carrier(l: FakeLink): void {
    if (!l.tun) return;
    l.flags = l.tun.attached.size > 0 || l.tun.detached.size > 0 ? l.flags | IFF_RUNNING : l.flags & ~IFF_RUNNING;
  }

  #toLink(l: FakeLink): Link {
    const up = (l.flags & IFF_UP) !== 0;
    const running = (l.flags & IFF_RUNNING) !== 0;
    return {
      index: l.index,
      name: l.name,
      mac: l.mac,
      type: 1,
      flags: l.flags,
      up,
      operUp: up && running,
      operState: up && running ? 6 : 2,
      mtu: l.mtu,
      master: null,
      link: null,
      kind: l.kind,
      tun: l.tun
        ? {
            type: l.tun.flags & IFF_TAP ? 'tap' : 'tun',
            pi: false,
            vnetHdr: false,
            persist: l.tun.persist,
            multiQueue: (l.tun.flags & IFF_MULTI_QUEUE) !== 0,
            numQueues: l.tun.attached.size,
            numDisabledQueues: l.tun.detached.size,
            owner: null,
            group: null,
          }
        : null,
      permMac: null,
      parentDev: null,
      parentBus: null,
    };
  }

  #emit(type: 'new' | 'del', l: FakeLink): void {
    const link = this.#toLink(l);
    for (const w of [...this.#watchers]) if (w.ifs.has(l.index)) w.cb({ type, link });
  }
}

export const IFF = { UP: IFF_UP, RUNNING: IFF_RUNNING, TAP: IFF_TAP, MULTI_QUEUE: IFF_MULTI_QUEUE, ATTACH_QUEUE: IFF_ATTACH_QUEUE };
