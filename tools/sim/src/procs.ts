import { readFileSync, readdirSync } from 'node:fs';

/** The argv marker of a peer process: `node <...>/peer-main.js <prefix>`. */
export const PEER_SCRIPT = 'peer-main.js';

/**
 * PIDs of simulator peer processes (argv has `peer-main.js` followed by an `nvsim-` prefix)
 * whose prefix `match` accepts.
 */
export function findPeerProcesses(match: (prefix: string) => boolean): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = argv.findIndex((a) => a.endsWith(`/${PEER_SCRIPT}`) || a === PEER_SCRIPT);
    const prefix = i >= 0 ? argv[i + 1] : undefined;
    if (prefix?.startsWith('nvsim-') && match(prefix)) out.push(pid);
  }
  return out;
}

/** SIGKILL each pid; returns the ones that were signalled. */
export function killPids(pids: readonly number[]): number[] {
  const done: number[] = [];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
      done.push(pid);
    } catch {
      // already gone
    }
  }
  return done;
}
