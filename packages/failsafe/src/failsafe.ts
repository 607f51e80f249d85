/**
 * The fail-safe port (DPDK's failsafe.c): creation, the upkeep scheduler and the
 * programmatic hot-plug API, plus the `net_failsafe` vdev driver.
 */
import {
  DriverNotFoundError,
  EthDev,
  InvalidArgumentError,
  isPciAddr,
  now,
  parsePciAddr,
  randomEtherAddr,
  StateError,
  registry as defaultRegistry,
  type DevArgs,
  type EtherAddr,
  type LinkStatus,
  type Registry,
  type VdevDriver,
} from '@netvsc/ethdev';
import {
  DEFAULT_EXEC_TIMEOUT_MS,
  DEFAULT_HOTPLUG_POLL_MS,
  FAILSAFE_ALIAS,
  FAILSAFE_DRIVER,
  MAX_SUB_DEVICES,
  checkDeviceString,
  checkPeriod,
  checkSubdevCount,
  parseFailsafeArgs,
  parseFdNumber,
  parseMacArg,
  type SubDeviceSpec,
} from './args.js';
import { SubDeviceBusyError, SubDeviceError } from './errors.js';
import { flagRemoval, processRemovals, recordFailure, upkeepRound } from './ether.js';
import type { FailStage, FailsafeEvents, SubStateName, TxSwitchEvent } from './events.js';
import { FailsafeOps } from './ops.js';
import { ExecSource, FdSource, realFdNative, shellRunner, type CommandRunner, type FdNative } from './source.js';
import { FsPriv, INITIAL_LINK, SUB_STATE_NAMES, SubDevice, SubState, type FsHooks, type MacOrigin, type SubSource } from './state.js';

export interface FailsafeOptions {
  /** Port name, e.g. `net_failsafe_vsc0`. */
  readonly name: string;
  /** Sub-devices in preference order: the first is the preferred (Tx) device. */
  readonly subdevices?: readonly SubDeviceSpec[];
  /** Port MAC; default: the first probed sub-device's, else random locally administered. */
  readonly mac?: string;
  /** Upkeep period (ms), per instance; default 2000. */
  readonly hotplugPollMs?: number;
  /** How long an `exec()` command may run (ms); default 5000. */
  readonly execTimeoutMs?: number;
  /** Registry resolving sub-device strings; default: the process-wide one. */
  readonly registry?: Registry;
  /** Native access for `fd()` and the command runner for `exec()` (tests pass fakes). */
  readonly native?: { readonly fd?: FdNative; readonly exec?: CommandRunner };
}

/** A sub-device: its slot index (0 = preferred), its device string / port name, or its port. */
export type SubDeviceRef = number | string | EthDev;

export interface SubDeviceInfo {
  readonly index: number;
  readonly preferred: boolean;
  /** How the slot gets its device, as written in devargs: `dev(...)`, `exec(...)`, `fd(n)`, `port(name)`, `manual`. */
  readonly source: string;
  readonly state: SubStateName;
  /** False after `unplug()` until `plug()`. */
  readonly enabled: boolean;
  /** Removal known, teardown pending. */
  readonly removing: boolean;
  readonly device: string | undefined;
  /** The sub-device's port name and id while it is in. */
  readonly name: string | undefined;
  readonly portId: number | undefined;
  readonly tx: boolean;
  readonly linkUp: boolean;
  readonly arrivals: number;
  readonly removals: number;
  readonly failures: number;
  readonly txTimeMs: number;
  readonly lastFailure: { readonly stage: FailStage; readonly op: string; readonly code: string | undefined; readonly message: string; readonly at: number } | undefined;
}

export interface FailsafeStatus {
  readonly name: string;
  /** The state sub-devices are driven towards. */
  readonly target: SubStateName;
  readonly mac: EtherAddr;
  readonly macOrigin: MacOrigin;
  readonly hotplugPollMs: number;
  readonly link: LinkStatus;
  readonly tx: number | undefined;
  readonly switches: number;
  readonly lastSwitch: TxSwitchEvent | undefined;
  readonly fallbackMs: number;
  readonly noTxMs: number;
  readonly subdevices: readonly SubDeviceInfo[];
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Internal triggers never await; the caller of upkeep() still sees the rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

const CONSTRUCT = Symbol('Failsafe.construct');

/**
 * A fail-safe port over 1..N sub-devices (DPDK allows 2). It is an ordinary `EthDev`
 * for the application; the sub-devices are hidden (owned). Create it with
 * `createFailsafe(options)` or through the registry (`net_failsafe...` device strings).
 */
export class Failsafe extends EthDev<FailsafeEvents> {
  readonly #priv: FsPriv;
  readonly #fdNative: FdNative;
  readonly #runner: CommandRunner;
  #next: Deferred | undefined;
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #removalsScheduled: Deferred | undefined;

  private constructor(token: typeof CONSTRUCT, options: FailsafeOptions) {
    if (token !== CONSTRUCT) throw new InvalidArgumentError('use createFailsafe() to create a fail-safe port');
    // ethdev takes its ops in the constructor; ours need the port itself, so they are bound just below.
    const ops = new FailsafeOps();
    super(options.name, FAILSAFE_DRIVER, ops);
    const hooks: FsHooks = {
      requestUpkeep: () => {
        void this.upkeep();
      },
      scheduleRemovals: () => {
        void this.#flushRemovals();
      },
      burstFailed: (sub, op, error) => {
        recordFailure(this.#priv, sub, 'burst', op, error, sub.device);
        flagRemoval(this.#priv, sub, 'failed', `${op} threw`);
      },
      onClose: () => {
        this.#stopBackground();
      },
    };
    this.#priv = new FsPriv({
      name: options.name,
      port: this,
      registry: options.registry ?? defaultRegistry,
      hotplugPollMs: options.hotplugPollMs ?? DEFAULT_HOTPLUG_POLL_MS,
      execTimeoutMs: options.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
      mac: randomEtherAddr(),
      macOrigin: 'random',
      hooks,
    });
    this.#fdNative = options.native?.fd ?? realFdNative;
    this.#runner = options.native?.exec ?? shellRunner;
    ops.bind(this.#priv);
  }

  /** Create a fail-safe port: declare the sub-devices, probe what is available, choose the MAC, start the upkeep. */
  static async create(options: FailsafeOptions): Promise<Failsafe> {
    const driver = FAILSAFE_DRIVER;
    if (typeof options.name !== 'string' || options.name === '') throw new InvalidArgumentError(`${driver}: a port name is required`);
    const specs = options.subdevices ?? [];
    checkSubdevCount(driver, specs.length);
    if (options.hotplugPollMs !== undefined) checkPeriod(driver, 'hotplugPollMs', options.hotplugPollMs);
    if (options.execTimeoutMs !== undefined) checkPeriod(driver, 'execTimeoutMs', options.execTimeoutMs);
    const mac = options.mac === undefined ? undefined : parseMacArg(driver, 'option mac', options.mac);
    const fs = new Failsafe(CONSTRUCT, options);
    const priv = fs.#priv;
    try {
      for (const spec of specs) fs.declare(spec);
      priv.target = SubState.PROBED;
      // ethdev's first link report is the baseline; it emits nothing.
      fs.reportLink(INITIAL_LINK);
      await fs.upkeep();
      if (mac !== undefined) {
        priv.stored.mac = mac;
        priv.macOrigin = 'args';
      } else {
        const first = priv.subs.find((s) => s.dev !== undefined && s.state >= SubState.PROBED);
        if (first?.dev !== undefined) {
          priv.stored.mac = first.dev.macAddrGet();
          priv.macOrigin = 'subdev';
        }
      }
    } catch (e) {
      fs.close();
      throw e;
    }
    return fs;
  }

  /** Upkeep period of this instance (ms). */
  get hotplugPollMs(): number {
    return this.#priv.hotplugPollMs;
  }

  /** Slot carrying Tx, undefined when none. */
  get txSubdev(): number | undefined {
    return this.#priv.tx?.index;
  }

  // ---- hot-plug API ----

  /** Add a sub-device slot (after the existing ones, so lower preference); returns its index. */
  declare(spec: SubDeviceSpec): number {
    const priv = this.#priv;
    this.#expectOpen('declare');
    if (priv.subs.length >= MAX_SUB_DEVICES) {
      throw new InvalidArgumentError(`${priv.name}: cannot declare sub-device ${priv.subs.length + 1}; accepted: at most ${MAX_SUB_DEVICES}`);
    }
    const sub = new SubDevice(priv.subs.length, this.#makeSource(spec));
    priv.subs.push(sub);
    this.#watch(sub);
    if (priv.target >= SubState.PROBED) void this.upkeep();
    return sub.index;
  }

  /**
   * Bring a slot in: with `device` (a device string or a port), that becomes the slot's
   * source, replacing what it had (a plugged device is taken out first); without, a slot
   * disabled by `unplug()` is enabled again. Resolves true once the sub-device is in,
   * false when its source has nothing yet; rejects with `SubDeviceError` when the attempt failed.
   */
  async plug(ref: SubDeviceRef, device?: string | EthDev): Promise<boolean> {
    this.#expectOpen('plug');
    const priv = this.#priv;
    const sub = this.#resolve(ref);
    if (device !== undefined) {
      const same = typeof device === 'string' ? device === sub.device : device === sub.dev;
      const source = this.#makeSource(typeof device === 'string' ? { dev: device } : { port: device });
      if (!same) {
        if (sub.state >= SubState.PROBED) flagRemoval(priv, sub, 'replaced', `replaced by ${typeof device === 'string' ? device : device.name}`);
        this.#releaseSource(sub);
        sub.source = source;
        sub.generation++;
      }
    }
    if (!sub.enabled) {
      sub.enabled = true;
      sub.generation++;
    }
    await this.#flushRemovals();
    const isIn = (): boolean => sub.state >= SubState.PROBED && sub.removal === undefined;
    if (isIn()) return true;
    // The round after this call attempts every enabled empty slot, so lastAttempt is this attempt's outcome.
    await this.upkeep();
    if (isIn()) return true;
    const f = sub.lastFailure;
    if (sub.lastAttempt === 'failed' && f !== undefined) throw new SubDeviceError(priv.name, sub.index, f.stage, f.op, f.error);
    return false;
  }

  /**
   * Take a sub-device out (stopped, closed, released between bursts) and keep the slot
   * empty until `plug()`. Tx switches at once; resolves when the teardown is done.
   */
  async unplug(ref: SubDeviceRef, reason = 'unplugged'): Promise<void> {
    this.#expectOpen('unplug');
    const sub = this.#resolve(ref);
    sub.enabled = false;
    sub.generation++;
    flagRemoval(this.#priv, sub, 'unplug', reason);
    await this.#flushRemovals();
  }

  /**
   * Run an upkeep round now (the vdev calls this when it knows something changed). Rounds
   * never overlap: a request during a round is served by the next one, and requests made
   * before that one begins share it. Resolves when the round that serves it has finished.
   */
  upkeep(): Promise<void> {
    if (this.#priv.closed) return Promise.resolve();
    if (this.#next === undefined) {
      this.#next = deferred();
      if (!this.#running) setImmediate(() => void this.#runRounds());
    }
    return this.#next.promise;
  }

  /** What every slot is doing. */
  subdevices(): SubDeviceInfo[] {
    const priv = this.#priv;
    return priv.subs.map((sub) => {
      const f = sub.lastFailure;
      const code = f === undefined ? undefined : (f.error as { code?: unknown }).code;
      return {
        index: sub.index,
        preferred: sub.index === 0,
        source: describeSource(sub.source),
        state: SUB_STATE_NAMES[sub.state] ?? 'undefined',
        enabled: sub.enabled,
        removing: sub.removal !== undefined,
        device: sub.device,
        name: sub.dev?.name,
        portId: sub.dev?.portId,
        tx: priv.tx === sub,
        linkUp: sub.linkUp,
        arrivals: sub.arrivals,
        removals: sub.removals,
        failures: sub.failures,
        txTimeMs: sub.txTimeMs,
        lastFailure: f === undefined ? undefined : { stage: f.stage, op: f.op, code: typeof code === 'string' ? code : undefined, message: f.error.message, at: f.at },
      };
    });
  }

  status(): FailsafeStatus {
    const priv = this.#priv;
    const running = priv.txRunning ? Math.max(0, now() - priv.txSince) : 0;
    const tx = priv.tx;
    return {
      name: priv.name,
      target: SUB_STATE_NAMES[priv.target] ?? 'undefined',
      mac: priv.stored.mac,
      macOrigin: priv.macOrigin,
      hotplugPollMs: priv.hotplugPollMs,
      link: priv.link,
      tx: tx?.index,
      switches: priv.switches,
      lastSwitch: priv.lastSwitch,
      fallbackMs: priv.fallbackMs + (tx !== undefined && tx.index !== 0 ? running : 0),
      noTxMs: priv.noTxMs + (tx === undefined ? running : 0),
      subdevices: this.subdevices(),
    };
  }

  /** The sub-device's own port, for diagnostics (it is owned: do not drive it). */
  subdevPort(ref: SubDeviceRef): EthDev | undefined {
    return this.#resolve(ref).dev;
  }

  // ---- internals ----

  async #runRounds(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    try {
      for (let d = this.#next; d !== undefined; d = this.#next) {
        this.#next = undefined;
        try {
          await upkeepRound(this.#priv);
          d.resolve();
        } catch (e) {
          this.#priv.lastUpkeepError = e instanceof Error ? e : new Error(String(e));
          d.reject(e);
        }
      }
    } finally {
      this.#running = false;
      this.#arm();
    }
  }

  #arm(): void {
    if (this.#priv.closed || this.#priv.target < SubState.PROBED) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      void this.upkeep();
    }, this.#priv.hotplugPollMs);
    // The application's loop keeps the process alive, not the fail-safe's timer.
    this.#timer.unref();
  }

  /** Tear down flagged sub-devices at the next turn of the event loop, i.e. between bursts. */
  #flushRemovals(): Promise<void> {
    if (this.#removalsScheduled === undefined) {
      const d = deferred();
      this.#removalsScheduled = d;
      setImmediate(() => {
        this.#removalsScheduled = undefined;
        try {
          processRemovals(this.#priv);
          d.resolve();
        } catch (e) {
          d.reject(e);
        }
      });
    }
    return this.#removalsScheduled.promise;
  }

  #stopBackground(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const sub of this.#priv.subs) this.#releaseSource(sub);
  }

  #makeSource(spec: SubDeviceSpec): SubSource {
    const name = this.#priv.name;
    if ('dev' in spec) {
      const args = checkDeviceString(name, 'dev()', spec.dev);
      this.#checkDriver(args);
      return { kind: 'dev', args, text: spec.dev };
    }
    if ('exec' in spec) {
      if (typeof spec.exec !== 'string' || spec.exec.trim() === '') throw new InvalidArgumentError(`${name}: exec() needs a command`);
      return { kind: 'exec', exec: new ExecSource(spec.exec, this.#priv.execTimeoutMs, this.#runner) };
    }
    if ('fd' in spec) {
      const fd = parseFdNumber(name, 'fd()', String(spec.fd));
      return { kind: 'fd', fd: new FdSource(fd, this.#fdNative) };
    }
    if ('port' in spec) {
      const port = spec.port;
      if (port.state === 'closed' || (port.owner !== undefined && port.owner !== this.#priv.owner) || port === (this as EthDev<FailsafeEvents>)) {
        throw new SubDeviceBusyError(`${name}: port ${port.name} cannot be a sub-device (closed, owned by ${port.owner ?? 'nobody'}, or the fail-safe itself)`);
      }
      return { kind: 'port', port };
    }
    return { kind: 'manual' };
  }

  /** A dev() string naming no registered driver can never work: say so at once. */
  #checkDriver(args: DevArgs): void {
    const reg = this.#priv.registry;
    if (isPciAddr(args.name)) {
      if (reg.findPciDriver(parsePciAddr(args.name)) === undefined) {
        throw new DriverNotFoundError(`${this.#priv.name}: no PCI driver registered for ${args.name} (import @netvsc/vf-pmd or register one)`);
      }
    } else if (reg.findVdevDriver(args.name) === undefined) {
      throw new DriverNotFoundError(
        `${this.#priv.name}: no vdev driver for sub-device "${args.name}"; registered prefixes: ${reg.vdevDriverNames().join(', ') || 'none'}`,
      );
    }
  }

  #watch(sub: SubDevice): void {
    if (sub.source.kind !== 'fd') return;
    sub.source.fd.watch(() => {
      void this.upkeep();
    });
  }

  #releaseSource(sub: SubDevice): void {
    const src = sub.source;
    if (src.kind === 'fd') src.fd.unwatch();
    else if (src.kind === 'exec') src.exec.cancel();
  }

  #resolve(ref: SubDeviceRef): SubDevice {
    const subs = this.#priv.subs;
    let found: SubDevice | undefined;
    if (typeof ref === 'number') found = subs[ref];
    else if (typeof ref === 'string') found = subs.find((s) => s.device === ref || s.dev?.name === ref);
    else found = subs.find((s) => s.dev === ref || (s.source.kind === 'port' && s.source.port === ref));
    if (found === undefined) {
      const shown = typeof ref === 'object' ? ref.name : String(ref);
      throw new InvalidArgumentError(`${this.#priv.name}: no sub-device ${shown}; slots: ${subs.map((s) => `${s.index}=${s.device ?? describeSource(s.source)}`).join(', ') || 'none'}`);
    }
    return found;
  }

  #expectOpen(op: string): void {
    if (this.#priv.closed || this.state === 'closed') throw new StateError(`${this.#priv.name}: ${op} on a closed fail-safe port`);
  }
}

function describeSource(src: SubSource): string {
  switch (src.kind) {
    case 'dev':
      return `dev(${src.text})`;
    case 'exec':
      return `exec(${src.exec.command})`;
    case 'fd':
      return `fd(${src.fd.fd})`;
    case 'port':
      return src.port === undefined ? 'port()' : `port(${src.port.name})`;
    case 'manual':
      return 'manual';
  }
}

/** Whether a port (e.g. one returned by `registry.probe`) is a fail-safe port, with its hot-plug API. */
export function isFailsafe(dev: EthDev): dev is Failsafe {
  return dev instanceof Failsafe;
}

/** Create a fail-safe port programmatically (the registry path parses devargs into the same options). */
export function createFailsafe(options: FailsafeOptions): Promise<Failsafe> {
  return Failsafe.create(options);
}

/** `net_failsafe` (alias `eth_failsafe`): `net_failsafe_x,dev(...),exec(...),fd(n),mac=...,hotplug_poll=ms`. */
export const failsafeDriver: VdevDriver = {
  name: FAILSAFE_DRIVER,
  aliases: [FAILSAFE_ALIAS],
  async probe(args, ctx) {
    const parsed = parseFailsafeArgs(args);
    return createFailsafe({
      name: args.name,
      subdevices: parsed.subdevices,
      registry: ctx.registry,
      ...(parsed.mac === undefined ? {} : { mac: parsed.mac }),
      ...(parsed.hotplugPollMs === undefined ? {} : { hotplugPollMs: parsed.hotplugPollMs }),
    });
  },
};
