import type { CommandRunner } from './commands.js';
import { SimCommandError } from './errors.js';

/** One end of a veth pair: its name and namespace (never the root namespace). */
export interface VethEnd {
  readonly name: string;
  readonly ns: string;
  readonly mac?: string;
  readonly mtu?: number;
}

/** A link as the kernel reports it (subset of `ip -j link show`). */
export interface KernelLink {
  readonly name: string;
  readonly ifindex: number;
  readonly mac: string;
  readonly mtu: number;
  /** IFF_UP. */
  readonly up: boolean;
  /** IFF_LOWER_UP (carrier). */
  readonly lowerUp: boolean;
}

interface IpLinkJson {
  ifindex?: number;
  ifname?: string;
  address?: string;
  mtu?: number;
  flags?: string[];
}

interface IpNetnsJson {
  name?: string;
}

function isMissing(error: unknown): boolean {
  return (
    error instanceof SimCommandError &&
    /No such file|Cannot find device|does not exist|not found|No such device|Invalid argument/i.test(error.stderr)
  );
}

/**
 * Namespaces, veth links, addresses, sysctls and tc filters, driven through iproute2.
 * Every operation names its namespace explicitly (`ip -n`), so it does not matter which
 * namespace the calling thread is in.
 */
export class NetnsDriver {
  readonly #run: CommandRunner;

  constructor(runner: CommandRunner) {
    this.#run = runner;
  }

  async addNamespace(name: string): Promise<void> {
    await this.#run.run('ip', ['netns', 'add', name]);
  }

  /** Delete a namespace (and every link in it); a missing one is not an error. */
  async deleteNamespace(name: string): Promise<void> {
    try {
      await this.#run.run('ip', ['netns', 'del', name]);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  /** Synchronous delete for process-exit cleanup; never throws. */
  deleteNamespaceSync(name: string): void {
    try {
      this.#run.runSync('ip', ['netns', 'del', name]);
    } catch {
      // best effort at exit
    }
  }

  async listNamespaces(): Promise<string[]> {
    const out = (await this.#run.run('ip', ['-j', 'netns', 'list'])).trim();
    if (!out) return [];
    const parsed = JSON.parse(out) as IpNetnsJson[];
    return parsed.flatMap((n) => (typeof n.name === 'string' ? [n.name] : []));
  }

  /** PIDs of processes whose network namespace is `ns`. */
  async namespacePids(ns: string): Promise<number[]> {
    try {
      const out = await this.#run.run('ip', ['netns', 'pids', ns]);
      return out.split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 0);
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
  }

  /** Create a veth pair with each end directly in its namespace (nothing touches the root namespace). */
  async addVeth(a: VethEnd, b: VethEnd): Promise<void> {
    const end = (e: VethEnd): string[] => [
      e.name,
      'netns',
      e.ns,
      ...(e.mac ? ['address', e.mac] : []),
      ...(e.mtu ? ['mtu', String(e.mtu)] : []),
    ];
    await this.#run.run('ip', ['link', 'add', ...end(a), 'type', 'veth', 'peer', 'name', ...end(b)]);
  }

  /** Delete a link (a veth takes its peer with it); a missing one is not an error. */
  async deleteLink(ns: string, name: string): Promise<void> {
    try {
      await this.#run.run('ip', ['-n', ns, 'link', 'del', name]);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  async setUp(ns: string, name: string, up: boolean): Promise<void> {
    await this.#run.run('ip', ['-n', ns, 'link', 'set', 'dev', name, up ? 'up' : 'down']);
  }

  /** Rename a link; the kernel refuses to rename a link that is up (EBUSY). */
  async rename(ns: string, from: string, to: string): Promise<void> {
    await this.#run.run('ip', ['-n', ns, 'link', 'set', 'dev', from, 'name', to]);
  }

  async links(ns: string): Promise<KernelLink[]> {
    const parsed = JSON.parse(await this.#run.run('ip', ['-n', ns, '-j', 'link', 'show'])) as IpLinkJson[];
    return parsed.map((l) => ({
      name: l.ifname ?? '',
      ifindex: l.ifindex ?? 0,
      mac: l.address ?? '',
      mtu: l.mtu ?? 0,
      up: l.flags?.includes('UP') ?? false,
      lowerUp: l.flags?.includes('LOWER_UP') ?? false,
    }));
  }

  async addAddress(ns: string, dev: string, cidr: string): Promise<void> {
    // nodad: the address is usable at once and no DAD probe goes out on the simulated wire.
    const v6 = cidr.includes(':');
    await this.#run.run('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', dev, ...(v6 ? ['nodad'] : [])]);
  }

  async deleteAddress(ns: string, dev: string, cidr: string): Promise<void> {
    await this.#run.run('ip', ['-n', ns, 'addr', 'del', cidr, 'dev', dev]);
  }

  /** Set sysctls inside a namespace (`ip netns exec <ns> sysctl -q -w k=v ...`). */
  async sysctl(ns: string, settings: Readonly<Record<string, string | number>>): Promise<void> {
    const kv = Object.entries(settings).map(([k, v]) => `${k}=${String(v)}`);
    if (kv.length === 0) return;
    const sysctl = this.#run.which('sysctl');
    if (sysctl === null) return;
    await this.#run.run('ip', ['netns', 'exec', ns, sysctl, '-q', '-w', ...kv]);
  }

  hasSysctl(): boolean {
    return this.#run.which('sysctl') !== null;
  }

  /**
   * The transparent-VF path: an ingress qdisc on `from` and a match-all u32 filter at `pref`
   * whose action injects every frame into `to`'s ingress.
   */
  async addIngressRedirect(ns: string, from: string, to: string, pref: number): Promise<void> {
    try {
      await this.#run.run('tc', ['-n', ns, 'qdisc', 'add', 'dev', from, 'ingress']);
    } catch (e) {
      // A VF PMD that plugged in first may already have created the ingress qdisc: share it.
      const shown = await this.#run.run('tc', ['-n', ns, 'qdisc', 'show', 'dev', from, 'ingress']);
      if (!shown.includes('qdisc ingress ffff:')) throw e;
    }
    await this.#run.run('tc', [
      '-n', ns, 'filter', 'add', 'dev', from, 'parent', 'ffff:', 'pref', String(pref), 'protocol', 'all',
      'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'ingress', 'redirect', 'dev', to,
    ]);
  }

  /** `tc filter show` output of a device's ingress (for status and tests). */
  async ingressFilters(ns: string, dev: string): Promise<string> {
    return this.#run.run('tc', ['-n', ns, 'filter', 'show', 'dev', dev, 'ingress']);
  }
}
