import {
  NoDeviceError,
  parseDevArgs,
  registry as defaultRegistry,
  TypedEmitter,
  type EthDev,
  type PciDriver,
  type Registry,
  type VdevDriver,
} from '@netvsc/ethdev';
// The drivers the stack composes register themselves when imported (as linking a DPDK PMD does).
import '@netvsc/failsafe';
import '@netvsc/tap';
import { createVfPmdDriver, VF_PMD_DRIVER } from '@netvsc/vf-pmd';
import { discover, isHyperV, LinkMonitor, pciAddressOf, sysfsReader, type Discovery } from '@netvsc/detect';
import { DEFAULT_VF_SETTLE_MS, DRIVER_ALIAS, DRIVER_NAME, isNetvscDevName, parseNetvscArgs, type NetvscArgs } from './args.js';
import { NetvscContext, type ContextInfo, type FailsafePort } from './context.js';
import { asError, VfPmdError } from './errors.js';
import type { NetvscEvent } from './events.js';
import { pipeOps, type PipeOps } from './native/pipe.js';
import { planInstances, type PciLookup, type Plan } from './probe.js';
import type { VfInfo } from './vf-watch.js';

/** DPDK's VF re-scan period; here only a backstop behind rtnetlink link events. */
export const DEFAULT_SCAN_INTERVAL_MS = 1000;
/** The export a `vf_pmd=` package must provide: an object implementing ethdev's `PciDriver`. */
export const VF_PMD_EXPORT = 'pciDriver';

/** Events kept in `NetvscStack.history`. */
export const HISTORY_LIMIT = 1000;

/** Process-wide context numbering (DPDK 1.1/1.2): N counts up, back to 0 once no context is left. */
const numbering = { next: 0, live: 0 };

function takeId(): number {
  numbering.live++;
  return numbering.next++;
}

function releaseId(): void {
  numbering.live--;
  if (numbering.live === 0) numbering.next = 0;
}

/** ifindexes with a live context, process-wide: a second instance never attaches the same NetVSC. */
const attachedIndexes = new Set<number>();

export interface AttachOptions {
  /**
   * Device strings, as EAL's `--vdev`: `net_vdev_netvsc...` ones go to this driver, any other
   * (`net_tap0,iface=x`, `net_ring0`) is probed through the registry as is.
   */
  readonly vdevs?: readonly string[];
  /**
   * Hyper-V auto-invocation: when no `net_vdev_netvsc`/`eth_vdev_netvsc` device is given and
   * `isHyperV()` says this is a Hyper-V guest, add `net_vdev_netvsc` (every unrouted NetVSC).
   * Default true.
   */
  readonly auto?: boolean;
  /** Read sysfs under this root (default: `NETVSC_SYSFS_ROOT` or `/`). */
  readonly sysfsRoot?: string;
  /** Settle time for VF arrivals (ms), unless a device string gives `vf_settle=`. */
  readonly vfSettleMs?: number;
  /** The VF PMD: a package name (as `vf_pmd=`) or a driver object. Default: the registry's PCI default (`@netvsc/vf-pmd`). */
  readonly vfPmd?: string | PciDriver;
  /** Backstop scan period (ms); default 1000. Link events trigger a scan at once regardless. */
  readonly scanIntervalMs?: number;
  /** Subscribe to rtnetlink link events (default true); false leaves only the periodic scan. */
  readonly linkEvents?: boolean;
  readonly registry?: Registry;
  /**
   * Have the default VF PMD take VF frames away from the kernel (its `ownRx` option). Default
   * true. A `vf_pmd=` replacement gets no such option.
   */
  readonly ownRx?: boolean;
  /** For tests: the pipe shim. */
  readonly pipe?: PipeOps;
}

/** The driver's dry run: what each device string would attach. */
export interface AttachPlan {
  /** The device strings considered, the automatic one included (marked `auto`). */
  readonly devices: readonly { readonly devargs: string; readonly auto: boolean; readonly plan: Plan }[];
  /** Device strings handed to other drivers. */
  readonly others: readonly string[];
  readonly hyperv: boolean;
}

interface DeviceList {
  readonly netvsc: { readonly args: NetvscArgs; readonly auto: boolean }[];
  readonly others: string[];
  readonly hyperv: boolean;
}

function deviceList(options: AttachOptions): DeviceList {
  const netvsc: { args: NetvscArgs; auto: boolean }[] = [];
  const others: string[] = [];
  for (const v of options.vdevs ?? []) {
    const d = parseDevArgs(v);
    if (isNetvscDevName(d.name)) netvsc.push({ args: parseNetvscArgs(d), auto: false });
    else others.push(v);
  }
  const hyperv = isHyperV(sysfsOpt(options));
  // DPDK lets only the primary name suppress the automatic instance; the alias does too here.
  if (netvsc.length === 0 && options.auto !== false && hyperv) {
    netvsc.push({ args: parseNetvscArgs(DRIVER_NAME), auto: true });
  }
  return { netvsc, others, hyperv };
}

function sysfsOpt(options: { readonly sysfsRoot?: string | undefined }): { sysfsRoot?: string } {
  return options.sysfsRoot === undefined ? {} : { sysfsRoot: options.sysfsRoot };
}

/** PCI address lookup over the sysfs root in use, for the VF of a forced non-NetVSC interface. */
function pciLookup(options: { readonly sysfsRoot?: string | undefined }): PciLookup {
  const sysfs = sysfsReader(sysfsOpt(options));
  return (name) => {
    try {
      return pciAddressOf(sysfs, name);
    } catch {
      return null;
    }
  };
}

/**
 * What `attach()` would do, without creating anything: parse every device string, discover, and
 * select instances (numbered from the current process-wide counter). Throws what attach would.
 */
export function planAttach(options: AttachOptions = {}): AttachPlan {
  const list = deviceList(options);
  const picture = discover(sysfsOpt(options));
  const attached = new Set(attachedIndexes);
  const pciOf = pciLookup(options);
  let firstId = numbering.next;
  const devices = list.netvsc.map(({ args, auto }) => {
    const plan = planInstances(args, picture, { firstId, attached, pciOf });
    for (const i of plan.instances) attached.add(i.ifIndex);
    firstId += plan.instances.length;
    return { devargs: args.text, auto, plan };
  });
  return { devices, others: list.others, hyperv: list.hyperv };
}

/** Import a `vf_pmd=` package and register its `pciDriver` export (not as the default). */
export async function loadVfPmd(spec: string | PciDriver, registry: Registry = defaultRegistry): Promise<PciDriver> {
  let drv: unknown = spec;
  const name = typeof spec === 'string' ? spec : spec.name;
  if (typeof spec === 'string') {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(spec)) as Record<string, unknown>;
    } catch (e) {
      throw new VfPmdError(spec, `vf_pmd=${spec}: cannot import the package: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    drv = mod[VF_PMD_EXPORT];
  }
  if (!isPciDriver(drv)) {
    throw new VfPmdError(name, `vf_pmd=${name}: the package has no "${VF_PMD_EXPORT}" export implementing PciDriver ({ name: string, probe(addr, args, ctx) })`);
  }
  if (!registry.pciDriverNames().includes(drv.name)) registry.registerPciDriver(drv);
  return drv;
}

function isPciDriver(v: unknown): v is PciDriver {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as { name?: unknown; probe?: unknown };
  return typeof o.name === 'string' && typeof o.probe === 'function';
}

/**
 * The line written to the pipe for a VF: its PCI address and its MAC (a PCI function may carry
 * several netdevs, MANA), so the PMD resolves the right netdev by both.
 */
export function vfDeviceString(vf: VfInfo, mac: string): string {
  return `${vf.pci},mac=${mac}`;
}

/** Prefix of the name of the default VF PMD instances the vdev registers (`@netvsc/vf-pmd`, configured). */
export const DEFAULT_VF_PMD = `${VF_PMD_DRIVER}_netvsc`;
/** Rx block size the vdev gives the default VF PMD (also that PMD's own default). */
export const VF_BLOCK_SIZE = 65536;
/**
 * Rx ring frames the vdev gives the default VF PMD (also that PMD's own default): 8192 x
 * 2048-byte slots, a 16 MiB ring per queue instead of DPDK's 1 MiB. The VF carries nearly all
 * traffic, and a receiver that sleeps between blocks must ride out a scheduling hiccup: 1 MiB
 * holds ~1.6 ms of full-size frames at 0.4 Mpps, 16 MiB ~18 ms at 0.6 Mpps (4 MiB overflowed
 * at 1500 B in the bench).
 */
export const VF_FRAME_COUNT = 8192;
const defaultPmds = new Map<string, PciDriver>();

/**
 * The default VF PMD as the vdev wants it: `@netvsc/vf-pmd` with `own_rx` (take the VF's frames
 * away from the kernel, so its transparent-VF path cannot hand each of them to the application a
 * second time through the TAP) and this stack's sysfs root. One registered instance per
 * configuration, reused (the registry cannot unregister).
 */
function defaultVfPmd(registry: Registry, ownRx: boolean, sysfsRoot: string | undefined): PciDriver {
  const key = `${ownRx ? 1 : 0}|${sysfsRoot ?? ''}`;
  let drv = defaultPmds.get(key);
  if (drv === undefined) {
    // 64 KiB TPACKET_V3 blocks (a wake-up per ~400 small frames, not ~30) and a 16 MiB ring;
    // a pipe line's own blocksz= / framecnt= still win.
    drv = createVfPmdDriver({ ownRx, blocksz: VF_BLOCK_SIZE, framecnt: VF_FRAME_COUNT, ...(sysfsRoot === undefined ? {} : { sysfsRoot }) }, `${DEFAULT_VF_PMD}${defaultPmds.size}`);
    defaultPmds.set(key, drv);
  }
  if (!registry.pciDriverNames().includes(drv.name)) registry.registerPciDriver(drv);
  return drv;
}

interface StackEvents {
  event: NetvscEvent;
}

/**
 * The running stack: every context (fail-safe port) `attach()` created, other ports it probed,
 * the VF watching (rtnetlink link events + a 1 s backstop scan) and one event stream.
 */
export class NetvscStack extends TypedEmitter<StackEvents> {
  /** Every port, fail-safe ones first, in creation order. */
  readonly ports: readonly EthDev[];
  readonly contexts: readonly NetvscContext[];
  readonly hyperv: boolean;
  readonly #others: readonly EthDev[];
  readonly #sysfs: { sysfsRoot?: string };
  readonly #queue: NetvscEvent[] = [];
  readonly #history: NetvscEvent[] = [];
  readonly #waiters: ((r: IteratorResult<NetvscEvent>) => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #monitor: LinkMonitor | undefined;
  #scanning: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #scans = 0;

  /** @internal built by attach() */
  constructor(contexts: NetvscContext[], others: EthDev[], hyperv: boolean, sysfs: { sysfsRoot?: string }) {
    super();
    this.contexts = contexts;
    this.#others = others;
    this.ports = [...contexts.map((c) => c.port as EthDev), ...others];
    this.hyperv = hyperv;
    this.#sysfs = sysfs;
  }

  /** The fail-safe ports only. */
  get failsafePorts(): readonly FailsafePort[] {
    return this.contexts.map((c) => c.port);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** How many discovery passes ran (scan ticks + link events). */
  get scans(): number {
    return this.#scans;
  }

  info(): ContextInfo[] {
    return this.contexts.map((c) => c.info());
  }

  /** Events as an async iterator (ends when the stack is closed). */
  events(): AsyncIterableIterator<NetvscEvent> {
    const it: AsyncIterableIterator<NetvscEvent> = {
      next: () => {
        const e = this.#queue.shift();
        if (e !== undefined) return Promise.resolve({ value: e, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: () => {
        this.#iterating = false;
        this.#queue.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => it,
    };
    this.#iterating = true;
    return it;
  }

  #iterating = false;

  /** The newest events (at most HISTORY_LIMIT), including those of attach() itself. */
  get history(): readonly NetvscEvent[] {
    return this.#history;
  }

  /** @internal contexts report here. */
  deliver(e: NetvscEvent): void {
    this.#history.push(e);
    if (this.#history.length > HISTORY_LIMIT) this.#history.splice(0, this.#history.length - HISTORY_LIMIT);
    this.emit('event', e);
    if (!this.#iterating) return;
    const w = this.#waiters.shift();
    if (w) w({ value: e, done: false });
    else this.#queue.push(e);
  }

  /** @internal start watching for VFs. */
  startWatching(options: AttachOptions): void {
    if (this.contexts.length === 0) return;
    const period = options.scanIntervalMs ?? DEFAULT_SCAN_INTERVAL_MS;
    this.#timer = setInterval(() => {
      void this.rescan();
    }, period);
    // The app's own loop keeps the process alive; the backstop scan must not.
    this.#timer.unref();
    if (options.linkEvents !== false) {
      this.#monitor = LinkMonitor.start({ addresses: false });
      this.#monitor.on('event', (e) => {
        // Links coming, going, renamed or changing state; a resync may hide any of those.
        if (e.type.startsWith('link-') || e.type === 'mac-changed' || e.type === 'resync') void this.rescan();
      });
    }
  }

  /**
   * Look at the interfaces now and feed every context. Coalesced: while one pass runs, further
   * requests collapse into one more pass after it.
   */
  rescan(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#scanning) {
      this.#again = true;
      return this.#scanning;
    }
    this.#scanning = (async () => {
      try {
        do {
          this.#again = false;
          let picture: Discovery;
          try {
            // Let the event loop breathe between a burst of link events and the dumps: a macrotask
            // yield, so a polling data loop gets its turn (and sends through the TAP the fail-safe
            // may just have switched to) before the synchronous discovery (ms of sysfs + netlink).
            await new Promise<void>((resolve) => setImmediate(resolve));
            picture = discover(this.#sysfs);
          } catch (e) {
            for (const c of this.contexts) {
              this.deliver({ type: 'warning', instance: c.name, port: c.failsafeName, at: Date.now(), message: `discovery failed: ${e instanceof Error ? e.message : String(e)}` });
            }
            return;
          }
          this.#scans++;
          for (const c of this.contexts) c.observe(picture);
        } while (this.#takeAgain());
      } finally {
        this.#scanning = undefined;
      }
    })();
    return this.#scanning;
  }

  /** Whether a rescan was requested while the last pass ran (and clears the request). */
  #takeAgain(): boolean {
    const again = this.#again && !this.#closed;
    this.#again = false;
    return again;
  }

  /**
   * Tear everything down: stop watching, close each fail-safe port (with its TAP and VF) and only
   * then its pipe, close the other ports. Idempotent; the first error is rethrown after all of it.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    let first: unknown;
    try {
      this.#monitor?.close();
    } catch (e) {
      first ??= e;
    }
    await this.#scanning?.catch(() => undefined);
    for (const c of this.contexts) {
      try {
        c.close();
      } catch (e) {
        first ??= e;
      }
      attachedIndexes.delete(c.ifIndex);
      releaseId();
    }
    for (const p of this.#others) {
      try {
        p.close();
      } catch (e) {
        first ??= e;
      }
    }
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
    stacks.delete(this);
    if (first !== undefined) throw asError(first);
  }
}

const stacks = new Set<NetvscStack>();

/**
 * Bring the stack up: parse the device strings (adding `net_vdev_netvsc` on Hyper-V when none is
 * given), discover, create one fail-safe port per selected NetVSC (TAP + VF when present), start
 * watching for the VF, and return the ports, probed and ready to configure. Everything created is
 * torn down again if any step fails.
 *
 * Throws (nothing left behind): DevArgsError / InvalidArgumentError / SpecConflictError for bad
 * device strings, NoDeviceError when nothing is found, VfPmdError, and the drivers' own errors.
 */
export async function attach(options: AttachOptions = {}): Promise<NetvscStack> {
  const registry = options.registry ?? defaultRegistry;
  const list = deviceList(options);
  if (list.netvsc.length === 0 && list.others.length === 0) {
    throw new NoDeviceError(
      list.hyperv
        ? 'nothing to attach: the automatic net_vdev_netvsc instance is disabled (auto: false) and no device was given'
        : `nothing to attach: this is not a Hyper-V guest (no vmbus / Microsoft DMI vendor found) and no device was given; pass --vdev ${DRIVER_NAME},iface=<name>[,force=1]`,
    );
  }
  const picture = discover(sysfsOpt(options));
  const pciOf = pciLookup(options);
  const pipe = options.pipe ?? pipeOps;
  const contexts: NetvscContext[] = [];
  const others: EthDev[] = [];
  const pending: NetvscEvent[] = [];
  let stack: NetvscStack | undefined;
  const emit = (e: NetvscEvent): void => {
    if (stack) stack.deliver(e);
    else pending.push(e);
  };
  const ownRx = options.ownRx ?? true;
  const globalPmd = options.vfPmd === undefined ? defaultVfPmd(registry, ownRx, options.sysfsRoot) : await loadVfPmd(options.vfPmd, registry);
  try {
    // Plan every device string first, so a bad one leaves nothing half-built.
    const attached = new Set(attachedIndexes);
    let firstId = numbering.next;
    const plans = list.netvsc.map(({ args }) => {
      const plan = planInstances(args, picture, { firstId, attached, pciOf });
      for (const i of plan.instances) attached.add(i.ifIndex);
      firstId += plan.instances.length;
      return { args, plan };
    });
    for (const { args, plan } of plans) {
      const pmd = args.vfPmd === undefined ? globalPmd : await loadVfPmd(args.vfPmd, registry);
      const settleMs = args.vfSettleMs ?? options.vfSettleMs ?? DEFAULT_VF_SETTLE_MS;
      for (const inst of plan.instances) {
        const id = takeId();
        const ctx = await NetvscContext.create({
          plan: { ...inst, id },
          registry,
          pipe,
          settleMs,
          vfLine: vfDeviceString,
          beforeAnnounce: (vf: VfInfo) => {
            registry.bindPci(vf.pci, pmd.name);
          },
          onVfGone: vfGone,
          pciOf,
          emit,
        }).catch((e: unknown) => {
          releaseId();
          throw e;
        });
        attachedIndexes.add(ctx.ifIndex);
        contexts.push(ctx);
      }
    }
    for (const v of list.others) others.push(await registry.probe(v));
    stack = new NetvscStack(contexts, others, list.hyperv, sysfsOpt(options));
    for (const e of pending.splice(0)) stack.deliver(e);
    stack.startWatching(options);
    stacks.add(stack);
    return stack;
  } catch (e) {
    if (stack) {
      await stack.close().catch(() => undefined);
    } else {
      for (const c of contexts) {
        try {
          c.close();
        } catch {
          // already failing; the original error is the one to report
        }
        attachedIndexes.delete(c.ifIndex);
        releaseId();
      }
      for (const p of others) p.close();
    }
    throw e;
  }
}

/**
 * The VF netdev is gone (link event or scan): tell the fail-safe now, through the generic removal
 * event of the VF's port, instead of waiting for the VF PMD's socket error or the next upkeep.
 */
function vfGone(port: FailsafePort, vf: VfInfo): void {
  for (const s of port.subdevices()) {
    if (s.removing || s.state === 'undefined' || s.device?.split(',')[0] !== vf.pci) continue;
    port.subdevPort(s.index)?.reportRemoval(`VF netdev ${vf.name} (${vf.pci}) is gone (rtnetlink/scan)`);
  }
}

/** Close every stack this process attached (like rte_eal_cleanup). */
export async function detachAll(): Promise<void> {
  for (const s of [...stacks]) await s.close();
}

/**
 * `net_vdev_netvsc` as a registry vdev driver (alias `eth_vdev_netvsc`), for code that probes
 * device strings one at a time. A device string can create several ports: the first is returned,
 * all of them are in `ethDevList()`; `detachAll()` tears them down. `attach()` is the better API.
 */
export const netvscDriver: VdevDriver = {
  name: DRIVER_NAME,
  aliases: [DRIVER_ALIAS],
  async probe(args, ctx) {
    const stack = await attach({ vdevs: [args.toString()], auto: false, registry: ctx.registry });
    const first = stack.ports[0];
    if (first === undefined) {
      await stack.close();
      throw new NoDeviceError(`${args.name}: created no port (ignore=1?)`);
    }
    return first;
  },
};

defaultRegistry.registerVdevDriver(netvscDriver);
