import { readFileSync } from 'node:fs';
import { findTool } from './commands.js';
import { SimPrivilegeError } from './errors.js';

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

/** Whether this process may build simulated guests, and if not, why. */
export interface PrivilegeStatus {
  readonly ok: boolean;
  /** Human-readable reason when `ok` is false; empty otherwise. */
  readonly reason: string;
}

function effectiveCaps(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m?.[1] ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

function hasCap(caps: bigint, cap: number): boolean {
  return (caps & (1n << BigInt(cap))) !== 0n;
}

/**
 * Root or CAP_NET_ADMIN + CAP_SYS_ADMIN (namespaces are created and entered with setns),
 * and iproute2's `ip` and `tc`.
 */
export function privilegeStatus(): PrivilegeStatus {
  if (process.platform !== 'linux') return { ok: false, reason: `needs Linux (this is ${process.platform})` };
  const caps = effectiveCaps();
  const root = process.getuid?.() === 0;
  if (!hasCap(caps, CAP_NET_ADMIN) || !hasCap(caps, CAP_SYS_ADMIN)) {
    return { ok: false, reason: `needs root / CAP_NET_ADMIN + CAP_SYS_ADMIN (uid ${process.getuid?.() ?? '?'}${root ? ', capabilities dropped' : ''})` };
  }
  for (const tool of ['ip', 'tc'] as const) {
    if (findTool(tool) === null) return { ok: false, reason: `needs iproute2's \`${tool}\`, which is not installed` };
  }
  return { ok: true, reason: '' };
}

const told = new Set<string>();

/**
 * Whether privileged (integration) tests can run here. Vitest-free, for
 * `describe.skipIf(!integrationGate('tap'))(...)`.
 * - Privileged: true.
 * - `NETVSC_INTEGRATION=0`: false, with a printed line (an explicit opt-out is not a silent skip).
 * - Not privileged and `CI=true` or `NETVSC_INTEGRATION=1`: throws SimPrivilegeError — CI must
 *   never pass by skipping.
 * - Not privileged otherwise: false, printing `skipped: needs root / CAP_NET_ADMIN ...` once per `what`.
 * `probe` replaces the privilege check (for the gate's own tests).
 */
export function integrationGate(what = 'integration tests', probe: () => PrivilegeStatus = privilegeStatus): boolean {
  const env = process.env.NETVSC_INTEGRATION;
  if (env === '0') {
    say(what, `[netvsc-sim] skipped: ${what} (NETVSC_INTEGRATION=0)`);
    return false;
  }
  const status = probe();
  if (status.ok) return true;
  if (process.env.CI === 'true' || env === '1') {
    const why = process.env.CI === 'true' ? 'CI=true' : 'NETVSC_INTEGRATION=1';
    throw new SimPrivilegeError(`${what} must run (${why}) but cannot: ${status.reason}`);
  }
  say(what, `[netvsc-sim] skipped: ${what} ${status.reason}`);
  return false;
}

function say(what: string, line: string): void {
  if (told.has(what)) return;
  told.add(what);
  console.warn(line);
}
