import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';

/**
 * Read-only access to a sysfs tree below a root. Paths are relative to the root, which is
 * the directory that CONTAINS `sys/` (`<root>/sys/class/net/...`). Every read answers null
 * (or an empty list) when the entry is missing, a broken link, unreadable or of the wrong
 * kind: the discovery rules treat all of those as "absent", as DPDK does.
 */
export interface SysfsReader {
  /** The root directory (for messages). */
  readonly root: string;
  /** File contents, or null. */
  readText(path: string): string | null;
  /** Target of the symlink at `path` (intermediate links followed), or null. */
  readLink(path: string): string | null;
  /** Entry names of the directory at `path` (sorted), or []. */
  list(path: string): string[];
  /** Whether `path` resolves to a directory. */
  isDirectory(path: string): boolean;
}

export interface SysfsRootOptions {
  /** Directory containing `sys/`; default `NETVSC_SYSFS_ROOT` or `/`. */
  readonly sysfsRoot?: string;
}

/** Option, then NETVSC_SYSFS_ROOT, then `/`. */
export function resolveSysfsRoot(options: SysfsRootOptions = {}): string {
  const env = process.env.NETVSC_SYSFS_ROOT;
  return options.sysfsRoot ?? (env !== undefined && env !== '' ? env : '/');
}

function safe<T>(fallback: T, fn: () => T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

/** The real file system below `root`. */
export class FsSysfs implements SysfsReader {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  #abs(path: string): string {
    // Paths are built by this package from validated names; normalising keeps them under root.
    const rel = posix.normalize(path).replace(/^(\.\.(\/|$))+/, '');
    return join(this.root, rel);
  }

  readText(path: string): string | null {
    return safe(null, () => readFileSync(this.#abs(path), 'utf8'));
  }

  readLink(path: string): string | null {
    return safe(null, () => {
      const abs = this.#abs(path);
      return lstatSync(abs).isSymbolicLink() ? readlinkSync(abs) : null;
    });
  }

  list(path: string): string[] {
    return safe([], () => readdirSync(this.#abs(path)).sort());
  }

  isDirectory(path: string): boolean {
    return safe(false, () => statSync(this.#abs(path)).isDirectory());
  }
}

/** A reader for `options.sysfsRoot` / NETVSC_SYSFS_ROOT / `/`. */
export function sysfsReader(options: SysfsRootOptions = {}): SysfsReader {
  return new FsSysfs(resolveSysfsRoot(options));
}
