import { now, type EtherAddr, type Registry } from '@netvsc/ethdev';
import type { Discovery } from '@netvsc/detect';
import { Failsafe } from '@netvsc/failsafe';
import { asError } from './errors.js';
import type { NetvscEvent } from './events.js';
import type { PipeFds, PipeOps } from './native/pipe.js';
import { failsafeDevargs, findVf, type PciLookup, type PlannedInstance } from './probe.js';
import { VfWatch, type VfInfo, type VfWatchCounters, type VfWatchEvent } from './vf-watch.js';

/** The fail-safe port of a context. */
export type FailsafePort = Failsafe;

export interface ContextOptions {
  readonly plan: PlannedInstance;
  readonly registry: Registry;
  readonly pipe: PipeOps;
  readonly settleMs: number;
  /** The device string line written to the pipe for a VF. */
  readonly vfLine: (vf: VfInfo, mac: EtherAddr) => string;
  /** Called before a VF is announced (binds its PCI address to a chosen PMD). */
  readonly beforeAnnounce?: (vf: VfInfo) => void;
  /** When the VF is gone: tell the fail-safe now rather than at its next upkeep. */
  readonly onVfGone?: (port: FailsafePort, vf: VfInfo) => void;
  /** PCI lookup for the VF of a forced non-NetVSC interface. */
  readonly pciOf?: PciLookup;
  readonly emit: (ev: NetvscEvent) => void;
}

/** A context's public picture, for `netvsc run`, the demo and applications. */
export interface ContextInfo {
  readonly id: number;
  readonly name: string;
  readonly ifName: string;
  readonly ifIndex: number;
  readonly mac: EtherAddr;
  readonly netvsc: boolean;
  readonly failsafeName: string;
  readonly failsafeDevargs: string;
  readonly pipeFd: number;
  readonly vf: VfInfo | null;
  /** PCI address the fail-safe was told about (null while absent or settling). */
  readonly announced: string | null;
  readonly counters: Readonly<VfWatchCounters>;
}

/**
 * One NetVSC interface driven by the stack (DPDK's `vdev_netvsc_ctx`): its pipe, its VF watcher and
 * the fail-safe port built over `fd(<pipe>)` + `dev(net_tap_vscN,remote=<iface>)`.
 *
 * Ownership: the context owns both pipe ends for the port's whole life; `close()` closes the
 * fail-safe port first and the pipe after, so the fd number the fail-safe reads can never be
 * reused by an unrelated file while the fail-safe still holds it (DPDK closes the pipe and
 * leaves the fail-safe running).
 */
export class NetvscContext {
  readonly id: number;
  readonly name: string;
  readonly ifIndex: number;
  /** Captured once at creation, as DPDK does: the VF is the PCI netdev with this MAC. */
  readonly mac: EtherAddr;
  readonly netvsc: boolean;
  readonly failsafeName: string;
  readonly devargs: string;
  readonly watch: VfWatch;
  readonly #fds: PipeFds;
  readonly #opts: ContextOptions;
  #ifName: string;
  #port: FailsafePort | undefined;
  #gone = false;
  #closed = false;

  private constructor(options: ContextOptions, fds: PipeFds) {
    const p = options.plan;
    this.#opts = options;
    this.#fds = fds;
    this.id = p.id;
    this.name = p.name;
    this.ifIndex = p.ifIndex;
    this.#ifName = p.ifName;
    this.mac = p.mac;
    this.netvsc = p.netvsc;
    this.failsafeName = p.failsafeName;
    this.devargs = failsafeDevargs(p, fds.read);
    this.watch = new VfWatch(fds.write, options.pipe, {
      settleMs: options.settleMs,
      line: (vf) => options.vfLine(vf, this.mac),
      onEvent: (e) => {
        this.#onWatch(e);
      },
      ...(options.beforeAnnounce ? { beforeAnnounce: options.beforeAnnounce } : {}),
    });
  }

  /**
   * Create the pipe, announce a VF that is already there (so the fail-safe finds it at creation,
   * as DPDK does), then probe the fail-safe through the registry. On failure nothing is left open.
   */
  static async create(options: ContextOptions): Promise<NetvscContext> {
    const fds = options.pipe.open();
    const ctx = new NetvscContext(options, fds);
    try {
      for (const w of options.plan.warnings) ctx.#emit({ type: 'warning', message: w });
      ctx.watch.observe(options.plan.vf, { immediate: true });
      const dev = await options.registry.probe(`${ctx.failsafeName},${ctx.devargs}`);
      if (!(dev instanceof Failsafe)) {
        dev.close();
        throw new Error(`${ctx.failsafeName}: the registry's net_failsafe driver returned a ${dev.driverName} port, not @netvsc/failsafe's`);
      }
      ctx.#port = dev;
      ctx.#subscribe(dev);
      return ctx;
    } catch (e) {
      ctx.watch.close();
      ctx.#closePipe();
      throw e;
    }
  }

  get ifName(): string {
    return this.#ifName;
  }

  get port(): FailsafePort {
    if (this.#port === undefined) throw new Error(`${this.name}: no fail-safe port`);
    return this.#port;
  }

  get closed(): boolean {
    return this.#closed;
  }

  info(): ContextInfo {
    return {
      id: this.id,
      name: this.name,
      ifName: this.#ifName,
      ifIndex: this.ifIndex,
      mac: this.mac,
      netvsc: this.netvsc,
      failsafeName: this.failsafeName,
      failsafeDevargs: this.devargs,
      pipeFd: this.#fds.read,
      vf: this.watch.current,
      announced: this.watch.announced,
      counters: { ...this.watch.counters },
    };
  }

  /** Apply one discovery picture: follow a rename, feed the VF watcher. */
  observe(picture: Discovery): void {
    if (this.#closed) return;
    const self = picture.interfaces.find((i) => i.index === this.ifIndex);
    if (self === undefined) {
      if (!this.#gone) {
        this.#gone = true;
        this.#emit({ type: 'warning', message: `${this.#ifName} (ifindex ${this.ifIndex}) is gone; the TAP leg is dead until it returns` });
      }
    } else {
      this.#gone = false;
      if (self.name !== this.#ifName) {
        const from = this.#ifName;
        this.#ifName = self.name;
        this.#emit({ type: 'netvsc-renamed', from, to: self.name });
      }
    }
    this.watch.observe(findVf(picture, this.ifIndex, this.mac, this.#opts.pciOf));
  }

  /** Tear down: the fail-safe port (and its TAP and VF) first, then the pipe. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.watch.close();
    let error: unknown;
    try {
      this.#port?.close();
    } catch (e) {
      error = e;
    }
    this.#closePipe();
    if (error !== undefined) throw asError(error);
  }

  #closePipe(): void {
    for (const fd of [this.#fds.read, this.#fds.write]) {
      try {
        this.#opts.pipe.close(fd);
      } catch {
        // EBADF can only mean it was closed already; nothing else can go wrong with close(2) on a pipe.
      }
    }
  }

  #onWatch(e: VfWatchEvent): void {
    switch (e.type) {
      case 'vf-seen':
        this.#emit({ type: 'vf-seen', vf: e.vf, at: e.at });
        break;
      case 'vf-announced':
        this.#emit({ type: 'vf-announced', vf: e.vf, settledMs: e.settledMs, at: e.at });
        break;
      case 'vf-removed':
        this.#emit({ type: 'vf-removed', vf: e.vf, presentMs: e.presentMs, announced: e.announced, at: e.at });
        if (this.#port !== undefined) this.#opts.onVfGone?.(this.#port, e.vf);
        break;
      case 'vf-renamed':
        this.#emit({ type: 'vf-renamed', vf: e.vf, from: e.from, at: e.at });
        break;
      case 'pipe-error':
        this.#emit({ type: 'warning', message: `control pipe: ${e.error}`, at: e.at });
        break;
    }
  }

  #subscribe(port: FailsafePort): void {
    port.on('subdev-plugged', (e) => {
      this.#emit({ type: 'subdev-plugged', subdev: e.subdev, name: e.name, state: e.state, arrivals: e.arrivals, at: e.at });
    });
    port.on('subdev-removed', (e) => {
      this.#emit({ type: 'subdev-removed', subdev: e.subdev, name: e.name, cause: e.cause, reason: e.reason, detectedAt: e.detectedAt, at: e.at });
    });
    port.on('subdev-failed', (e) => {
      this.#emit({ type: 'subdev-failed', subdev: e.subdev, stage: e.stage, op: e.op, error: e.error.message, at: e.at });
    });
    port.on('tx-switch', (e) => {
      this.#emit({ type: 'tx-switch', from: e.from, to: e.to, fromName: e.fromName, toName: e.toName, reason: e.reason, at: e.at });
    });
  }

  #emit(partial: DistributiveOmit<NetvscEvent, 'instance' | 'port' | 'at'> & { at?: number }): void {
    this.#opts.emit({ ...partial, instance: this.name, port: this.failsafeName, at: partial.at ?? now() });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
