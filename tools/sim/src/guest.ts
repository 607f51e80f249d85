import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, NoDeviceError, StateError, parseEtherAddr, parsePciAddr } from '@netvsc/ethdev';
import {
  TRANSPARENT_VF_PREF,
  type LinkSide,
  type NetvscRef,
  type SimEvent,
  type SimEventKind,
  type SimFlapOptions,
  type SimNetvscSpec,
  type SimNetvscState,
  type SimOptions,
  type SimState,
  type SimVfSpec,
  type SimVfState,
} from './api.js';
import { execRunner, type CommandRunner } from './commands.js';
import { enterNetns, inNetns } from './enter.js';
import { SimPrivilegeError, SimToolMissingError } from './errors.js';
import { syncFixture, type FixtureModel, type FixtureNetdev } from './fixture.js';
import { privilegeStatus } from './gate.js';
import {
  checkPrefix,
  defaultMac,
  guestNsName,
  hostNsName,
  hostSyntheticName,
  hostVfName,
  prefixOfNamespace,
  randomPrefix,
  vfNameFor,
  vmbusId,
} from './names.js';
import { NetnsDriver } from './netns.js';
import { SimPeer, type SimPeerOptions } from './peer.js';
import { findPeerProcesses, killPids } from './procs.js';

/** Name of the state file in the simulator's directory (lets the CLI re-attach). */
export const STATE_FILE = 'sim.json';

interface VfRt {
  name: string;
  pci: string;
  hostName: string;
  ifindex: number;
  up: boolean;
  carrier: boolean;
}

interface NetvscRt {
  index: number;
  name: string;
  mac: string;
  mtu: number;
  ifindex: number;
  up: boolean;
  carrier: boolean;
  vmbusId: string;
  hostSynthetic: string;
  vf: VfRt | null;
  /** Where the VF was last, for a re-add without arguments. */
  lastVf: SimVfSpec | null;
}

interface Persisted {
  version: 1;
  prefix: string;
  dir: string;
  transparentVf: boolean;
  vmbus: boolean;
  dmiVendor: string | null;
  createdAt: number;
  /** pid of the process that owns the simulator (destroys it on exit); null: persistent (CLI `up`). */
  ownerPid: number | null;
  netvsc: NetvscRt[];
}

/** What `SimGuest.downAll()` removed. */
export interface DownAllReport {
  readonly namespaces: readonly string[];
  readonly dirs: readonly string[];
  readonly killed: readonly number[];
  /** Simulators left alone because their owner process is alive (use `force`). */
  readonly skipped: readonly string[];
}

export interface DownAllOptions {
  readonly tmpDir?: string;
  /** Also remove simulators whose owner is alive and unknown `nvsim-` namespaces younger than a minute. */
  readonly force?: boolean;
  /** Only consider prefixes this accepts (tests limit the sweep to their own). Default: all. */
  readonly match?: (prefix: string) => boolean;
  readonly runner?: CommandRunner;
}

/** A simulator found on this machine (CLI `status`). */
export interface SimSummary {
  readonly prefix: string;
  readonly dir: string | null;
  readonly namespaces: readonly string[];
  readonly ownerPid: number | null;
  readonly ownerAlive: boolean;
}

/** Something the guest's lifetime is tied to (the traffic peers). */
export interface SimResource {
  close(): Promise<void>;
  closeSync(): void;
}

const live = new Set<SimGuest>();
let exitHook = false;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A simulated Hyper-V guest: a guest and a host network namespace joined by one veth pair per
 * NetVSC (the synthetic path) and one per VF (same MAC), a fixture sysfs kept in step, the
 * transparent-VF redirect, and fault injection. Create with `SimGuest.create()`, always
 * `destroy()` (an exit hook and `SimGuest.downAll()` catch what a crash leaves).
 */
export class SimGuest {
  readonly prefix: string;
  readonly guestNs: string;
  readonly hostNs: string;
  /** `<tmp>/<prefix>`: holds `sys/` and the state file. */
  readonly dir: string;
  /** The directory that contains `sys/` (for `NETVSC_SYSFS_ROOT` / detect's root option). */
  readonly sysfsRoot: string;
  readonly transparentVf: boolean;
  readonly #driver: NetnsDriver;
  readonly #p: Persisted;
  readonly #timeline: SimEvent[] = [];
  readonly #t0 = performance.now();
  readonly #resources = new Set<SimResource>();
  #queue: Promise<unknown> = Promise.resolve();
  #destroyed = false;

  private constructor(p: Persisted, runner: CommandRunner) {
    this.#p = p;
    this.prefix = p.prefix;
    this.guestNs = guestNsName(p.prefix);
    this.hostNs = hostNsName(p.prefix);
    this.dir = p.dir;
    this.sysfsRoot = p.dir;
    this.transparentVf = p.transparentVf;
    this.#driver = new NetnsDriver(runner);
  }

  /** Build a guest. Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN) and iproute2. */
  static async create(options: SimOptions & { readonly runner?: CommandRunner } = {}): Promise<SimGuest> {
    const runner = options.runner ?? execRunner;
    if (runner === execRunner) {
      const st = privilegeStatus();
      if (!st.ok) {
        if (st.reason.includes('iproute2')) throw new SimToolMissingError(st.reason.includes('`tc`') ? 'tc' : 'ip', 'iproute2');
        throw new SimPrivilegeError(`cannot create a simulated guest: ${st.reason}`);
      }
    }
    const prefix = checkPrefix(options.prefix ?? randomPrefix());
    const dir = join(options.tmpDir ?? tmpdir(), prefix);
    const specs = options.netvsc ?? [{ name: 'eth1', vf: { name: 'enP2s2', pci: '0002:00:02.0' } }];
    const markers = options.hyperv === undefined || options.hyperv === true ? {} : options.hyperv === false ? { vmbus: false, dmiVendor: null } : options.hyperv;
    const p: Persisted = {
      version: 1,
      prefix,
      dir,
      transparentVf: options.transparentVf ?? true,
      vmbus: markers.vmbus ?? true,
      dmiVendor: markers.dmiVendor === undefined ? 'Microsoft Corporation' : markers.dmiVendor,
      createdAt: Date.now(),
      ownerPid: process.pid,
      netvsc: checkSpecs(prefix, specs),
    };
    const driver = new NetnsDriver(runner);
    const existing = await driver.listNamespaces();
    if (existing.includes(guestNsName(prefix)) || existing.includes(hostNsName(prefix)) || existsSync(dir)) {
      throw new InvalidArgumentError(`simulator prefix "${prefix}" is in use (namespace or ${dir} exists); choose another or run \`netvsc-sim down --prefix ${prefix}\``);
    }
    const sim = new SimGuest(p, runner);
    live.add(sim);
    installExitHook();
    try {
      mkdirSync(dir, { recursive: true });
      sim.#save();
      await driver.addNamespace(sim.guestNs);
      await driver.addNamespace(sim.hostNs);
      await sim.#quiet(options.quietIpv6 ?? true);
      await driver.setUp(sim.guestNs, 'lo', true);
      for (const n of p.netvsc) {
        const vf = n.vf;
        n.vf = null;
        await sim.#createNetvsc(n);
        if (vf) await sim.#createVf(n, vf);
      }
      await sim.#refresh();
      sim.#event('created', `${sim.guestNs} / ${sim.hostNs}: ${p.netvsc.map((n) => (n.vf ? `${n.name}+${n.vf.name}` : n.name)).join(', ')}`);
      return sim;
    } catch (error) {
      await sim.destroy().catch(() => undefined);
      throw error;
    }
  }

  /** Re-attach to a simulator created by another process (the CLI's `fault` and `down`). */
  static attach(prefix: string, options: { readonly tmpDir?: string; readonly runner?: CommandRunner } = {}): SimGuest {
    checkPrefix(prefix);
    const dir = join(options.tmpDir ?? tmpdir(), prefix);
    let p: Persisted;
    try {
      p = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as Persisted;
    } catch (error) {
      throw new NoDeviceError(`no simulator "${prefix}": cannot read ${join(dir, STATE_FILE)}`, { cause: error });
    }
    return new SimGuest(p, options.runner ?? execRunner);
  }

  /** Every simulator on this machine: state directories and `nvsim-` namespaces. */
  static async list(options: { readonly tmpDir?: string; readonly runner?: CommandRunner } = {}): Promise<SimSummary[]> {
    const driver = new NetnsDriver(options.runner ?? execRunner);
    const base = options.tmpDir ?? tmpdir();
    const byPrefix = new Map<string, { dir: string | null; namespaces: string[]; ownerPid: number | null }>();
    const get = (prefix: string): { dir: string | null; namespaces: string[]; ownerPid: number | null } => {
      let e = byPrefix.get(prefix);
      if (!e) byPrefix.set(prefix, (e = { dir: null, namespaces: [], ownerPid: null }));
      return e;
    };
    for (const ns of await driver.listNamespaces()) {
      const prefix = prefixOfNamespace(ns);
      if (prefix !== null) get(prefix).namespaces.push(ns);
      else if (ns.startsWith('nvsim-')) get(ns).namespaces.push(ns);
    }
    for (const name of safeReaddir(base)) {
      const dir = join(base, name);
      if (!name.startsWith('nvsim-') || !isDir(dir)) continue;
      const e = get(name);
      e.dir = dir;
      try {
        e.ownerPid = (JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as Persisted).ownerPid;
      } catch {
        // a directory without state: a crash during create
      }
    }
    return [...byPrefix].map(([prefix, e]) => ({
      prefix,
      dir: e.dir,
      namespaces: e.namespaces.sort(),
      ownerPid: e.ownerPid,
      ownerAlive: e.ownerPid !== null && e.ownerPid !== process.pid && pidAlive(e.ownerPid),
    }));
  }

  /**
   * Remove what crashed runs left: `nvsim-` namespaces, fixture directories and stray peer
   * processes. Simulators whose owner process is still alive (another test run) and unknown
   * `nvsim-` namespaces younger than a minute are left alone unless `force`.
   */
  static async downAll(options: DownAllOptions = {}): Promise<DownAllReport> {
    const driver = new NetnsDriver(options.runner ?? execRunner);
    const base = options.tmpDir ?? tmpdir();
    const sims = (await SimGuest.list(options)).filter((s) => options.match?.(s.prefix) ?? true);
    const skipped: string[] = [];
    const namespaces: string[] = [];
    const dirs: string[] = [];
    const victims: SimSummary[] = [];
    for (const s of sims) {
      const own = [...live].some((g) => g.prefix === s.prefix);
      const young = s.dir === null && s.namespaces.every((ns) => ageMs(`/run/netns/${ns}`) < 60_000);
      if (!options.force && (s.ownerAlive || own || young)) skipped.push(s.prefix);
      else victims.push(s);
    }
    const prefixes = new Set(victims.map((v) => v.prefix));
    const killed = killPids(findPeerProcesses((prefix) => prefixes.has(prefix)));
    for (const v of victims) {
      for (const g of live) if (g.prefix === v.prefix) await g.destroy();
      for (const ns of v.namespaces) {
        await driver.deleteNamespace(ns);
        namespaces.push(ns);
      }
      const dir = v.dir ?? join(base, v.prefix);
      if (existsSync(dir)) {
        rmSync(dir, { recursive: true, force: true });
        dirs.push(dir);
      }
    }
    return { namespaces, dirs, killed, skipped };
  }

  /** Mark this simulator as persistent (not destroyed when this process exits): the CLI's `up`. */
  detach(): void {
    this.#p.ownerPid = null;
    this.#save();
    live.delete(this);
  }

  /** The simulator's events so far (creation, faults, peers), oldest first. */
  get timeline(): readonly SimEvent[] {
    return this.#timeline;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  state(): SimState {
    return {
      prefix: this.prefix,
      guestNs: this.guestNs,
      hostNs: this.hostNs,
      sysfsRoot: this.sysfsRoot,
      transparentVf: this.transparentVf,
      netvsc: this.#p.netvsc.map((n) => this.#view(n)),
    };
  }

  /** One NetVSC's state: by current name, index, or the name of its VF (default: the first). */
  netvsc(ref: NetvscRef = 0): SimNetvscState {
    return this.#view(this.#find(ref));
  }

  /** Remove the VF (hot-unplug): its veth pair is deleted, then its fixture entries. */
  removeVf(ref: NetvscRef = 0): Promise<void> {
    return this.#serial(async () => {
      const n = this.#find(ref);
      const vf = n.vf;
      if (!vf) throw new StateError(`${n.name} has no VF to remove`);
      await this.#driver.deleteLink(this.guestNs, vf.name);
      n.lastVf = { name: vf.name, pci: vf.pci };
      n.vf = null;
      await this.#refresh();
      this.#event('vf-removed', `${vf.name} (${vf.pci}) of ${n.name}`);
    });
  }

  /**
   * Add the VF back (hot-plug), by default as it was. With a new `pci` and no `name`, the name
   * follows the address (`enP<domain>s<slot>`), as udev would name it.
   */
  addVf(ref: NetvscRef = 0, spec: Partial<SimVfSpec> = {}): Promise<SimVfState> {
    return this.#serial(async () => {
      const n = this.#find(ref);
      if (n.vf) throw new StateError(`${n.name} already has VF ${n.vf.name}; remove it first`);
      const pci = spec.pci === undefined ? n.lastVf?.pci : parsePciAddr(spec.pci);
      if (pci === undefined) throw new InvalidArgumentError(`${n.name} never had a VF: give its pci address`);
      const name = spec.name ?? (n.lastVf?.pci === pci ? n.lastVf.name : vfNameFor(pci));
      await this.#createVf(n, { name, pci });
      await this.#refresh();
      this.#event('vf-added', `${name} (${pci}) of ${n.name}`);
      const view = this.#view(n).vf;
      if (!view) throw new NoDeviceError(`${name} vanished while being added`);
      return view;
    });
  }

  /** Remove and re-add the VF `count` times; resolves after the last re-add. */
  async flapVf(ref: NetvscRef, options: SimFlapOptions): Promise<void> {
    if (!Number.isInteger(options.count) || options.count < 1) throw new InvalidArgumentError(`flap count must be a positive integer, got ${options.count}`);
    if (options.downMs < 0 || options.upMs < 0) throw new InvalidArgumentError('flap downMs/upMs must be >= 0');
    const index = this.#find(ref).index;
    for (let i = 0; i < options.count; i++) {
      if (this.#find(index).vf) await this.removeVf(index);
      await sleep(options.downMs);
      await this.addVf(index, options.vf ?? {});
      if (i + 1 < options.count) await sleep(options.upMs);
    }
  }

  /**
   * Rename a NetVSC. The kernel renames only links that are down, so it is taken down, renamed
   * (fixture first, as the kernel updates sysfs before it notifies) and brought back up.
   */
  renameNetvsc(ref: NetvscRef, newName: string): Promise<void> {
    return this.#serial(async () => {
      const n = this.#find(ref);
      const old = n.name;
      if (this.#p.netvsc.some((o) => o.name === newName || o.vf?.name === newName)) {
        throw new InvalidArgumentError(`cannot rename ${old} to ${newName}: the name is taken`);
      }
      const wasUp = n.up;
      if (wasUp) await this.#driver.setUp(this.guestNs, old, false);
      n.name = newName;
      n.up = false;
      n.carrier = false;
      try {
        this.#syncFixture();
        await this.#driver.rename(this.guestNs, old, newName);
      } catch (error) {
        n.name = old;
        await this.#refresh();
        throw error;
      }
      if (wasUp) await this.#driver.setUp(this.guestNs, newName, true);
      await this.#refresh();
      this.#event('renamed', `${old} -> ${newName}`);
    });
  }

  /**
   * Take a simulated link down or up: `ifname` is a guest name (NetVSC or VF); `side` picks the
   * guest end or its peer in the host namespace (the vSwitch side).
   */
  setLink(ifname: string, up: boolean, side: LinkSide = 'guest'): Promise<void> {
    return this.#serial(async () => {
      const { ns, dev } = this.#resolveLink(ifname, side);
      await this.#driver.setUp(ns, dev, up);
      await this.#refresh();
      this.#event(up ? 'link-up' : 'link-down', `${ifname}${side === 'host' ? ` (host side ${dev})` : ''}`);
    });
  }

  /** Add an IPv4/IPv6 address (CIDR) to a guest link; IPv6 is added without DAD. */
  addAddress(ifname: string, cidr: string): Promise<void> {
    return this.#serial(async () => {
      const { ns, dev } = this.#resolveLink(ifname, 'guest');
      await this.#driver.addAddress(ns, dev, cidr);
      this.#event('addr-added', `${cidr} on ${ifname}`);
    });
  }

  removeAddress(ifname: string, cidr: string): Promise<void> {
    return this.#serial(async () => {
      const { ns, dev } = this.#resolveLink(ifname, 'guest');
      await this.#driver.deleteAddress(ns, dev, cidr);
      this.#event('addr-removed', `${cidr} from ${ifname}`);
    });
  }

  /** `tc filter show` of a guest link's ingress (to check the transparent-VF filter). */
  ingressFilters(ifname: string): Promise<string> {
    return this.#driver.ingressFilters(this.guestNs, ifname);
  }

  /** Re-read the kernel's view of the links and bring the fixture in step. */
  refresh(): Promise<void> {
    return this.#serial(() => this.#refresh());
  }

  /**
   * Move the calling thread into the guest namespace (so a PMD under test, running in this
   * process, sees the guest's interfaces); returns the function that moves it back.
   */
  enterGuest(): () => void {
    this.#alive();
    return enterNetns(this.guestNs);
  }

  /** Run `fn` inside the guest namespace, restoring the original namespace afterwards. */
  inGuest<T>(fn: () => T | Promise<T>): Promise<T> {
    this.#alive();
    return inNetns(this.guestNs, fn);
  }

  /** Start the host-side traffic peer (the vSwitch) in the host namespace; `destroy()` stops it. */
  startPeer(options: SimPeerOptions = {}): Promise<SimPeer> {
    this.#alive();
    return SimPeer.start(this, options);
  }

  /** Tie a resource (a peer) to this guest: closed by `destroy()`. */
  adopt(resource: SimResource): void {
    this.#resources.add(resource);
  }

  release(resource: SimResource): void {
    this.#resources.delete(resource);
  }

  /** Record a timeline event (used by the peer and the demo). */
  note(kind: SimEventKind, detail: string): void {
    this.#event(kind, detail);
  }

  /** Stop peers, delete both namespaces (with every link and filter) and the fixture directory. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const r of [...this.#resources]) await r.close().catch(() => undefined);
    this.#resources.clear();
    await this.#driver.deleteNamespace(this.guestNs);
    await this.#driver.deleteNamespace(this.hostNs);
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
    this.#event('destroyed', this.prefix);
  }

  /** Synchronous `destroy()` for process-exit hooks; never throws. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const r of this.#resources) {
      try {
        r.closeSync();
      } catch {
        // best effort at exit
      }
    }
    this.#driver.deleteNamespaceSync(this.guestNs);
    this.#driver.deleteNamespaceSync(this.hostNs);
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }

  // --- internals ---

  #alive(): void {
    if (this.#destroyed) throw new StateError(`simulator ${this.prefix} is destroyed`);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    this.#alive();
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #event(kind: SimEventKind, detail: string): void {
    this.#timeline.push({ t: Math.round((performance.now() - this.#t0) * 10) / 10, kind, detail });
  }

  #find(ref: NetvscRef): NetvscRt {
    const list = this.#p.netvsc;
    const n = typeof ref === 'number' ? list[ref] : list.find((x) => x.name === ref || x.vf?.name === ref);
    if (!n) {
      throw new NoDeviceError(`simulator ${this.prefix} has no NetVSC ${JSON.stringify(ref)} (NetVSCs: ${list.map((x) => x.name).join(', ')})`);
    }
    return n;
  }

  #resolveLink(ifname: string, side: LinkSide): { ns: string; dev: string } {
    for (const n of this.#p.netvsc) {
      if (n.name === ifname) return side === 'guest' ? { ns: this.guestNs, dev: n.name } : { ns: this.hostNs, dev: n.hostSynthetic };
      if (n.vf?.name === ifname) return side === 'guest' ? { ns: this.guestNs, dev: n.vf.name } : { ns: this.hostNs, dev: n.vf.hostName };
    }
    throw new NoDeviceError(`simulator ${this.prefix} has no guest link "${ifname}"`);
  }

  #view(n: NetvscRt): SimNetvscState {
    return {
      index: n.index,
      name: n.name,
      mac: n.mac,
      mtu: n.mtu,
      ifindex: n.ifindex,
      up: n.up,
      vmbusId: n.vmbusId,
      hostSynthetic: n.hostSynthetic,
      vf: n.vf ? { name: n.vf.name, pci: n.vf.pci, hostName: n.vf.hostName, ifindex: n.vf.ifindex, up: n.vf.up } : null,
    };
  }

  async #quiet(on: boolean): Promise<void> {
    if (!on) return;
    // Guest: IPv6 stays usable (detect tests add addresses) but sends no DAD probes or router
    // solicitations. Host: no IPv6 at all, so nothing but the peer's frames reaches the guest.
    const guest: Record<string, number> = {};
    for (const scope of ['all', 'default']) {
      guest[`net.ipv6.conf.${scope}.accept_dad`] = 0;
      guest[`net.ipv6.conf.${scope}.dad_transmits`] = 0;
      guest[`net.ipv6.conf.${scope}.router_solicitations`] = 0;
    }
    await this.#driver.sysctl(this.guestNs, guest);
    await this.#driver.sysctl(this.hostNs, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 });
  }

  async #createNetvsc(n: NetvscRt): Promise<void> {
    await this.#driver.addVeth(
      { name: n.name, ns: this.guestNs, mac: n.mac, mtu: n.mtu },
      { name: n.hostSynthetic, ns: this.hostNs, mtu: n.mtu },
    );
    await this.#driver.setUp(this.hostNs, n.hostSynthetic, true);
    await this.#driver.setUp(this.guestNs, n.name, true);
  }

  async #createVf(n: NetvscRt, spec: SimVfSpec): Promise<void> {
    const vf: VfRt = { name: spec.name, pci: parsePciAddr(spec.pci), hostName: hostVfName(n.index), ifindex: 0, up: false, carrier: false };
    n.vf = vf;
    // The kernel has a netdev's sysfs entries in place before it announces the link.
    this.#syncFixture();
    try {
      await this.#driver.addVeth(
        { name: vf.name, ns: this.guestNs, mac: n.mac, mtu: n.mtu },
        { name: vf.hostName, ns: this.hostNs, mtu: n.mtu },
      );
      // The redirect goes in before the link is up, so no frame can slip past it.
      if (this.transparentVf) await this.#driver.addIngressRedirect(this.guestNs, vf.name, n.name, TRANSPARENT_VF_PREF);
      await this.#driver.setUp(this.hostNs, vf.hostName, true);
      await this.#driver.setUp(this.guestNs, vf.name, true);
    } catch (error) {
      await this.#driver.deleteLink(this.guestNs, vf.name).catch(() => undefined);
      n.vf = null;
      this.#syncFixture();
      throw error;
    }
  }

  async #refresh(): Promise<void> {
    const links = new Map((await this.#driver.links(this.guestNs)).map((l) => [l.name, l]));
    for (const n of this.#p.netvsc) {
      const l = links.get(n.name);
      n.ifindex = l?.ifindex ?? 0;
      n.up = l?.up ?? false;
      n.carrier = l?.lowerUp ?? false;
      if (n.vf) {
        const v = links.get(n.vf.name);
        n.vf.ifindex = v?.ifindex ?? 0;
        n.vf.up = v?.up ?? false;
        n.vf.carrier = v?.lowerUp ?? false;
      }
    }
    this.#save();
    this.#syncFixture();
  }

  #model(): FixtureModel {
    const netdevs: FixtureNetdev[] = [{ name: 'lo', mac: '00:00:00:00:00:00', ifindex: 1, mtu: 65536, type: 772, device: null }];
    for (const n of this.#p.netvsc) {
      netdevs.push({
        name: n.name,
        mac: n.mac,
        ...(n.ifindex ? { ifindex: n.ifindex } : {}),
        mtu: n.mtu,
        up: n.up,
        carrier: n.carrier,
        device: { bus: 'vmbus', id: n.vmbusId },
      });
      if (n.vf) {
        netdevs.push({
          name: n.vf.name,
          mac: n.mac,
          ...(n.vf.ifindex ? { ifindex: n.vf.ifindex } : {}),
          mtu: n.mtu,
          up: n.vf.up,
          carrier: n.vf.carrier,
          device: { bus: 'pci', address: n.vf.pci },
          ...(this.transparentVf ? { master: n.name } : {}),
        });
      }
    }
    return { vmbus: this.#p.vmbus, dmiVendor: this.#p.dmiVendor, netdevs };
  }

  #syncFixture(): void {
    syncFixture(this.sysfsRoot, this.#model());
  }

  #save(): void {
    const tmp = join(this.dir, `.${STATE_FILE}.tmp`);
    writeFileSync(tmp, JSON.stringify(this.#p, null, 2));
    renameSync(tmp, join(this.dir, STATE_FILE));
  }
}

function checkSpecs(prefix: string, specs: readonly SimNetvscSpec[]): NetvscRt[] {
  if (specs.length === 0) throw new InvalidArgumentError('a simulated guest needs at least one NetVSC');
  const names = new Set<string>();
  const take = (name: string): void => {
    if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(name) || name === '.' || name === '..' || name === 'lo') {
      throw new InvalidArgumentError(`invalid interface name "${name}": 1-15 of [A-Za-z0-9_.:-], not lo`);
    }
    if (names.has(name)) throw new InvalidArgumentError(`interface name "${name}" is used twice`);
    names.add(name);
  };
  return specs.map((s, index) => {
    take(s.name);
    if (s.vf) take(s.vf.name);
    const mtu = s.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new InvalidArgumentError(`invalid MTU ${mtu} for ${s.name}: 68-65535`);
    return {
      index,
      name: s.name,
      mac: parseEtherAddr(s.mac ?? defaultMac(index)),
      mtu,
      ifindex: 0,
      up: false,
      carrier: false,
      vmbusId: vmbusId(prefix, index),
      hostSynthetic: hostSyntheticName(index),
      vf: s.vf ? { name: s.vf.name, pci: parsePciAddr(s.vf.pci), hostName: hostVfName(index), ifindex: 0, up: false, carrier: false } : null,
      lastVf: s.vf ? { name: s.vf.name, pci: parsePciAddr(s.vf.pci) } : null,
    };
  });
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function isDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const g of [...live]) g.destroySync();
  });
}
