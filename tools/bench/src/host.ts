/**
 * Kernel-side helpers of the bench (iproute2 through execFile, never a shell): link counters
 * of a namespace's link, and the tc redirects that give DPDK's net_tap the same path to the
 * NetVSC interface our tap's `remote=` builds (DPDK's own `remote=` needs flower, which this
 * kernel lacks).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findTool } from '@netvsc/sim';
import { BenchError, ipTool } from './child.js';
import { parseIpLinkStats, type LinkCounters } from './parse.js';

const run = promisify(execFile);

export async function linkCounters(ns: string, ifname: string): Promise<LinkCounters> {
  const { stdout } = await run(ipTool(), ['-n', ns, '-s', '-j', 'link', 'show', 'dev', ifname]);
  const c = parseIpLinkStats(stdout);
  if (c === undefined) throw new BenchError(`no counters for ${ifname} in ${ns}: ${stdout.slice(0, 200)}`);
  return c;
}

function tcTool(): string {
  const tc = findTool('tc');
  if (tc === null) throw new BenchError('iproute2 `tc` is missing (apt-get install iproute2)');
  return tc;
}

/** The pref of the bench's own filters (below the simulator's 49152, above the PMDs' 1). */
export const BENCH_PREF = 100;

async function tc(ns: string, args: readonly string[]): Promise<void> {
  await run(ipTool(), ['netns', 'exec', ns, tcTool(), ...args]);
}

async function ensureIngress(ns: string, dev: string): Promise<boolean> {
  try {
    await tc(ns, ['qdisc', 'add', 'dev', dev, 'ingress']);
    return true;
  } catch {
    // Already there (the simulator's or a PMD's): use it, leave it.
    return false;
  }
}

/** Redirect everything arriving on `from` to `to`'s egress; returns the undo. */
export async function redirectAll(ns: string, from: string, to: string): Promise<() => Promise<void>> {
  const created = await ensureIngress(ns, from);
  await tc(ns, ['filter', 'add', 'dev', from, 'parent', 'ffff:', 'pref', String(BENCH_PREF), 'protocol', 'all', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', to]);
  return async () => {
    await tc(ns, ['filter', 'del', 'dev', from, 'parent', 'ffff:', 'pref', String(BENCH_PREF)]).catch(() => undefined);
    if (created) await tc(ns, ['qdisc', 'del', 'dev', from, 'ingress']).catch(() => undefined);
  };
}
