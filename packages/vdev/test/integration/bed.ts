import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { SimGuest, type SimNetvscSpec, type SimPeer } from '@netvsc/sim';
import type { Failsafe } from '@netvsc/failsafe';
import { attach, type AttachOptions, type NetvscEvent, type NetvscStack } from '../../src/index.js';
import { FwdSession, startPorts, type PortSetup } from '../../src/session.js';

export type PeerCounters = Awaited<ReturnType<SimPeer['counters']>>;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `pred` every 10 ms until true; throws with `what` after `ms`. */
export async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** `ip -j` output of the guest namespace. */
export function ipJson(ns: string, args: readonly string[]): unknown {
  return JSON.parse(execFileSync('ip', ['-n', ns, '-j', ...args], { encoding: 'utf8' }) || '[]') as unknown;
}

export function ip(ns: string, args: readonly string[]): string {
  return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
}

interface LinkJson {
  ifname: string;
  mtu: number;
  promiscuity?: number;
  flags: string[];
  linkinfo?: { info_kind?: string };
  stats64?: { rx?: { dropped?: number; packets?: number } };
}

export function link(ns: string, name: string): LinkJson {
  const l = (ipJson(ns, ['-d', '-s', 'link', 'show', 'dev', name]) as LinkJson[])[0];
  if (!l) throw new Error(`no link ${name} in ${ns}`);
  return l;
}

/** Names of tun/tap devices in a namespace. */
export function taps(ns: string): string[] {
  return (ipJson(ns, ['-d', 'link', 'show']) as LinkJson[]).filter((l) => l.linkinfo?.info_kind === 'tun').map((l) => l.ifname);
}

/** Open descriptors of this process. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

export interface BedOptions {
  readonly netvsc?: readonly SimNetvscSpec[];
  readonly attach?: AttachOptions;
  readonly setup?: PortSetup;
  /** Start the echo forwarder and the peer (default true). */
  readonly traffic?: boolean;
  /** Attach the stack (default true); false gives only the guest (for CLI tests). */
  readonly attachStack?: boolean;
}

/**
 * A simulated guest with the stack attached inside it, the application echoing, and the
 * vSwitch peer ready. `close()` tears everything down in the right order, whatever failed.
 */
export class Bed {
  readonly guest: SimGuest;
  readonly events: NetvscEvent[] = [];
  stack: NetvscStack | undefined;
  peer: SimPeer | undefined;
  session: FwdSession | undefined;
  #restore: (() => void) | undefined;

  private constructor(guest: SimGuest) {
    this.guest = guest;
  }

  static async create(options: BedOptions = {}): Promise<Bed> {
    const guest = await SimGuest.create({ netvsc: options.netvsc ?? [{ name: 'eth1', vf: { name: 'enP2s2', pci: '0002:00:02.0' } }] });
    const bed = new Bed(guest);
    try {
      if (options.traffic !== false) bed.peer = await guest.startPeer();
      bed.#restore = guest.enterGuest();
      if (options.attachStack !== false) {
        bed.stack = await attach({ sysfsRoot: guest.sysfsRoot, ...options.attach });
        bed.stack.on('event', (e) => bed.events.push(e));
        bed.events.push(...bed.stack.history);
        if (options.traffic !== false && bed.stack.ports.length > 0) {
          const pool = startPorts(bed.stack.ports, options.setup ?? {});
          bed.session = new FwdSession(bed.stack.ports, pool, 'echo', 32);
        }
      }
    } catch (e) {
      await bed.close();
      throw e;
    }
    return bed;
  }

  get ns(): string {
    return this.guest.guestNs;
  }

  get port(): Failsafe {
    const p = this.stack?.contexts[0]?.port;
    if (!p) throw new Error('no fail-safe port');
    return p;
  }

  xstat(name: string): number {
    return this.port.xstatsGet().find((x) => x.name === name)?.value ?? 0;
  }

  async counters(): Promise<PeerCounters> {
    if (!this.peer) throw new Error('no peer');
    return this.peer.counters();
  }

  /** Send `count` unicast frames on `flow` at `rate` and wait until they are echoed (or `ms`). */
  async roundTrip(count: number, flow: number, rate = 5000, ms = 5000): Promise<PeerCounters> {
    if (!this.peer) throw new Error('no peer');
    await this.peer.send({ count, flow, ratePps: rate, size: 128 });
    const end = performance.now() + ms;
    for (;;) {
      const c = await this.peer.counters();
      const f = c.flows.find((x) => x.flow === flow);
      if ((f?.unique ?? 0) >= count || performance.now() > end) {
        await sleep(100);
        return this.peer.counters();
      }
      await sleep(20);
    }
  }

  async close(): Promise<void> {
    try {
      await this.session?.stop();
      await this.stack?.close();
    } finally {
      this.#restore?.();
      await this.guest.destroy();
    }
  }
}
