import { ErrnoError } from '@netvsc/ethdev';
import { TapError, TapErrorCode } from './errors.js';
import type { TapControl } from './netlink.js';
import { IFF_MULTI_QUEUE, IFF_NO_PI, IFF_TAP, IFF_TUN, IFF_TUN_EXCL, TUN_DEVICE, type TunNative } from './native/tun.js';

// The tun/tap netdev and its file descriptors (DPDK's tun_alloc / tap_setup_queue): one
// keep-alive fd that holds the device while queues come and go, plus one fd per queue pair.

/** DPDK's RTE_PMD_TAP_MAX_QUEUES. */
export const MAX_QUEUES = 64;

export interface TunDeviceOptions {
  /** Name or kernel template (`dtap%d`). */
  readonly name: string;
  /** L3 tun (IFF_TUN) instead of an Ethernet tap. */
  readonly l3: boolean;
  readonly persist: boolean;
  /** Port name, for messages. */
  readonly port: string;
}

function isTemplate(name: string): boolean {
  return name.includes('%');
}

function code(e: unknown): string | undefined {
  return e instanceof ErrnoError ? e.code : undefined;
}

/** Turn the kernel's answer to open/TUNSETIFF into the error a user can act on. */
function openError(e: unknown, o: TunDeviceOptions): unknown {
  const c = code(e);
  const what = `${o.port}: cannot create ${o.l3 ? 'tun' : 'tap'} ${o.name}`;
  if (e instanceof ErrnoError && e.syscall === 'open') {
    if (c === 'ENOENT' || c === 'ENODEV' || c === 'ENXIO') {
      return new TapError(TapErrorCode.TUN_UNAVAILABLE, `${what}: ${TUN_DEVICE} is missing (kernel built without CONFIG_TUN, module not loaded, or no device node: mknod ${TUN_DEVICE} c 10 200)`, { cause: e });
    }
    if (c === 'EACCES' || c === 'EPERM') return new TapError(TapErrorCode.PERMISSION, `${what}: no permission to open ${TUN_DEVICE}`, { cause: e });
  }
  if (c === 'EPERM' || c === 'EACCES') return new TapError(TapErrorCode.PERMISSION, `${what}: creating a tap needs CAP_NET_ADMIN (run as root or grant the capability)`, { cause: e });
  if (c === 'EBUSY') return new TapError(TapErrorCode.IFACE_IN_USE, `${what}: a network interface named ${o.name} already exists`, { cause: e });
  if (c === 'EINVAL') {
    return new TapError(TapErrorCode.IFACE_IN_USE, `${what}: ${o.name} exists and is not a ${o.l3 ? 'tun' : 'tap'} device with the same settings (multi-queue, no packet info)`, { cause: e });
  }
  return e;
}

export class TunDevice {
  readonly name: string;
  readonly ifindex: number;
  readonly maxQueues: number;
  /** The device existed (persistent, unused) before us; a failed creation leaves it as found. */
  readonly adopted: boolean;
  readonly #native: TunNative;
  readonly #control: TapControl;
  readonly #flags: number;
  readonly #keepAlive: number;
  /** The namespace the device lives in: later queue fds must be opened there. */
  readonly #netns: number;
  readonly #mq: boolean;
  #persist: boolean;
  #queueFds = new Set<number>();
  #keepAliveIsQueue: boolean;
  #closed = false;

  private constructor(native: TunNative, control: TapControl, init: { name: string; ifindex: number; flags: number; keepAlive: number; netns: number; mq: boolean; persist: boolean; adopted: boolean }) {
    this.#native = native;
    this.#control = control;
    this.name = init.name;
    this.ifindex = init.ifindex;
    this.#flags = init.flags;
    this.#keepAlive = init.keepAlive;
    this.#netns = init.netns;
    this.#mq = init.mq;
    this.#persist = init.persist;
    this.adopted = init.adopted;
    this.maxQueues = init.mq ? MAX_QUEUES : 1;
    // Without multi-queue support the keep-alive fd is the only queue.
    this.#keepAliveIsQueue = !init.mq;
  }

  /**
   * Create the device, or adopt a persistent one of that name that nobody holds. A name
   * used by any other device, or by a tap with open fds, is refused up front (the kernel
   * would otherwise silently add our fds as extra queues of someone else's tap).
   */
  static create(native: TunNative, control: TapControl, o: TunDeviceOptions): TunDevice {
    let features: number;
    try {
      features = native.features();
    } catch (e) {
      throw openError(e, o);
    }
    const mq = (features & IFF_MULTI_QUEUE) !== 0;
    const flags = (o.l3 ? IFF_TUN : IFF_TAP) | IFF_NO_PI | (mq ? IFF_MULTI_QUEUE : 0);
    let adopt = false;
    if (!isTemplate(o.name)) {
      const existing = control.link(o.name);
      if (existing !== null) {
        const users = control.tunUsers(existing.index);
        if (users === null) {
          throw new TapError(TapErrorCode.IFACE_IN_USE, `${o.port}: iface=${o.name} is taken by an existing ${existing.kind ?? 'network'} interface (ifindex ${existing.index})`);
        }
        if (users.attached + users.detached > 0 || !users.persist) {
          throw new TapError(
            TapErrorCode.IFACE_IN_USE,
            `${o.port}: iface=${o.name} is a tun/tap device in use (${users.attached + users.detached} open queue fds); choose another name`,
          );
        }
        adopt = true;
      }
    }
    let opened: { fd: number; name: string };
    try {
      opened = native.open(o.name, flags | (adopt ? 0 : IFF_TUN_EXCL));
    } catch (e) {
      throw openError(e, o);
    }
    const fd = opened.fd;
    let persistSet = adopt;
    let netns: number | undefined;
    try {
      netns = native.captureNetns();
      if (o.persist !== persistSet) {
        native.setPersist(fd, o.persist);
        persistSet = o.persist;
      }
      if (mq) native.setQueue(fd, false);
      const link = control.link(opened.name);
      if (link === null) throw new ErrnoError('ENODEV', 19, 'RTM_GETLINK', `the new device ${opened.name} vanished`);
      return new TunDevice(native, control, { name: opened.name, ifindex: link.index, flags, keepAlive: fd, netns, mq, persist: o.persist, adopted: adopt });
    } catch (e) {
      // Leave the name as we found it: gone if we created it, persistent if we adopted it.
      try {
        if (persistSet !== adopt) native.setPersist(fd, adopt);
      } finally {
        native.close(fd);
        if (netns !== undefined) native.close(netns);
      }
      throw e;
    }
  }

  get persist(): boolean {
    return this.#persist;
  }

  /** Open one more queue fd on this device (found by ifindex, so a rename does not matter). */
  openQueue(): number {
    if (this.#keepAliveIsQueue) {
      this.#keepAliveIsQueue = false;
      this.#queueFds.add(this.#keepAlive);
      return this.#keepAlive;
    }
    if (!this.#mq) throw new TapError(TapErrorCode.IFACE_IN_USE, `${this.name}: this kernel's tun driver has no multi-queue support; only one queue is possible`);
    const name = this.#control.link(this.ifindex)?.name ?? this.name;
    const { fd } = this.#native.open(name, this.#flags, this.#netns);
    this.#queueFds.add(fd);
    return fd;
  }

  closeQueue(fd: number): void {
    if (!this.#queueFds.delete(fd)) return;
    if (fd === this.#keepAlive) this.#keepAliveIsQueue = true;
    else this.#native.close(fd);
  }

  setCarrier(on: boolean): void {
    this.#native.setCarrier(this.#keepAlive, on);
  }

  /** Close every fd; the kernel deletes the device unless it is persistent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fd of this.#queueFds) if (fd !== this.#keepAlive) this.#native.close(fd);
    this.#queueFds.clear();
    this.#native.close(this.#keepAlive);
    this.#native.close(this.#netns);
  }

  /** Change persistence now (TUNSETPERSIST on the keep-alive fd). */
  setPersist(on: boolean): void {
    if (on === this.#persist) return;
    this.#native.setPersist(this.#keepAlive, on);
    this.#persist = on;
  }
}
