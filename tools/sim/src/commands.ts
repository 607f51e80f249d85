import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SimCommandError, SimToolMissingError } from './errors.js';

/** The external programs the simulator drives (test tooling; the product uses netlink). */
export type Tool = 'ip' | 'tc' | 'sysctl';

const WHY: Record<Tool, string> = {
  ip: 'iproute2, to create namespaces and veth links',
  tc: 'iproute2, to install the transparent-VF redirect',
  sysctl: 'procps, to silence IPv6 DAD in the namespaces',
};

/** Runs a tool with arguments (never through a shell) and returns its stdout. */
export interface CommandRunner {
  run(tool: Tool, args: readonly string[]): Promise<string>;
  runSync(tool: Tool, args: readonly string[]): string;
  /** Absolute path of the tool, or null when it cannot be found (never throws). */
  which(tool: Tool): string | null;
}

const found = new Map<Tool, string | null>();

/** Absolute path of a tool: PATH first, then the sbin directories a non-login root shell may lack. */
export function findTool(tool: Tool): string | null {
  const hit = found.get(tool);
  if (hit !== undefined) return hit;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  let path: string | null = null;
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      accessSync(join(dir, tool), constants.X_OK);
      path = join(dir, tool);
      break;
    } catch {
      // not in this directory
    }
  }
  found.set(tool, path);
  return path;
}

function toolPath(tool: Tool): string {
  const path = findTool(tool);
  if (path === null) throw new SimToolMissingError(tool, WHY[tool]);
  return path;
}

function stderrOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'stderr' in error) {
    const s = error.stderr;
    if (typeof s === 'string') return s;
    if (Buffer.isBuffer(s)) return s.toString();
  }
  return error instanceof Error ? error.message : String(error);
}

function exitOf(error: unknown): number | null {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const c = error.code;
    if (typeof c === 'number') return c;
  }
  if (typeof error === 'object' && error !== null && 'status' in error) {
    const s = error.status;
    if (typeof s === 'number') return s;
  }
  return null;
}

/** The real runner: child_process.execFile, no shell. */
export const execRunner: CommandRunner = {
  run(tool, args) {
    const file = toolPath(tool);
    return new Promise((resolve, reject) => {
      execFile(file, args, { encoding: 'utf8', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
        if (error) reject(new SimCommandError([tool, ...args], exitOf(error), stderr || stderrOf(error), { cause: error }));
        else resolve(stdout);
      });
    });
  },
  runSync(tool, args) {
    const file = toolPath(tool);
    try {
      return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
    } catch (error) {
      throw new SimCommandError([tool, ...args], exitOf(error), stderrOf(error), { cause: error });
    }
  },
  which(tool) {
    return findTool(tool);
  },
};
