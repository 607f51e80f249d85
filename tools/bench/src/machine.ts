/** Machine, versions and checkout of a run, for the JSON file (so runs can be compared). */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseProcStatTicks } from './parse.js';
import type { MachineInfo } from './schema.js';
import { wakePathInfo } from './wakepath.js';

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? os.type();
  } catch {
    return os.type();
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    kernel: `${os.type()} ${os.release()}`,
    os: osName(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    loadAverage: os.loadavg(),
    node: process.version,
    v8: process.versions.v8,
    wakePath: wakePathInfo(),
  };
}

/** The repository root: the closest parent of this file holding a package.json with workspaces. */
export function repoRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { workspaces?: unknown };
      if (pkg.workspaces !== undefined) return dir;
    } catch {
      // keep looking
    }
    dir = dirname(dir);
  }
  return null;
}

/** name -> version of every workspace package (packages/* and tools/*). */
export function workspaceVersions(root: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (root === null) return out;
  for (const group of ['packages', 'tools']) {
    let names: string[];
    try {
      names = readdirSync(join(root, group));
    } catch {
      continue;
    }
    for (const n of names) {
      try {
        const pkg = JSON.parse(readFileSync(join(root, group, n, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name !== undefined) out[pkg.name] = pkg.version ?? '0.0.0';
      } catch {
        // not a package
      }
    }
  }
  return out;
}

/**
 * Processes other than this one using more than `minPct` % of a CPU over `sampleMs`, from
 * /proc/<pid>/stat (utime + stime), as `name(pid) NN%`.
 */
export async function busyProcesses(sampleMs = 500, minPct = 20): Promise<string[]> {
  const read = (): Map<number, { name: string; ticks: number }> => {
    const out = new Map<number, { name: string; ticks: number }>();
    let pids: string[];
    try {
      pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
    } catch {
      return out;
    }
    for (const p of pids) {
      try {
        const line = readFileSync(`/proc/${p}/stat`, 'utf8');
        const ticks = parseProcStatTicks(line);
        if (ticks !== undefined) out.set(Number(p), { name: /\((.*)\)/.exec(line)?.[1] ?? '?', ticks });
      } catch {
        // gone meanwhile
      }
    }
    return out;
  };
  const a = read();
  await new Promise((r) => setTimeout(r, sampleMs));
  const b = read();
  const busy: string[] = [];
  for (const [pid, x] of b) {
    const before = a.get(pid);
    if (before === undefined || pid === process.pid) continue;
    const pct = ((x.ticks - before.ticks) * 10 * 100) / sampleMs;
    if (pct >= minPct) busy.push(`${x.name}(${pid}) ${pct.toFixed(0)}%`);
  }
  return busy;
}

export function gitInfo(root: string | null): { commit: string; dirty: boolean } | null {
  if (root === null) return null;
  try {
    const commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['-C', root, 'status', '--porcelain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, dirty: status.trim() !== '' };
  } catch {
    return null;
  }
}
