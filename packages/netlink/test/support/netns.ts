import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** A throwaway network namespace named `nvsim-nl-<random>` (the simulator's sweepable prefix). */
export class TestNetns {
  readonly name: string;

  constructor(tag = 'nl') {
    this.name = `nvsim-${tag}-${randomBytes(4).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', this.name]);
  }

  /** Run `ip -n <ns> ...args`. */
  ip(...args: string[]): string {
    return execFileSync('ip', ['-n', this.name, ...args], { encoding: 'utf8' });
  }

  /** Run `tc -n <ns> ...args`. */
  tc(...args: string[]): string {
    return execFileSync('tc', ['-n', this.name, ...args], { encoding: 'utf8' });
  }

  /** Create a veth pair inside the namespace. */
  veth(a: string, b: string): void {
    this.ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  }

  delete(): void {
    try {
      execFileSync('ip', ['netns', 'delete', this.name], { stdio: 'ignore' });
    } catch {
      // Already gone: nothing to clean.
    }
  }
}
