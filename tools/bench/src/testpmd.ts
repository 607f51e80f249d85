/**
 * DPDK's dpdk-testpmd, driven interactively (`-i`) over a pipe: the comparison receivers
 * (net_af_packet / net_tap, rxonly) and the generator (txonly). Every instance gets its own
 * `--file-prefix` (EAL's runtime directory) and is stopped with `quit`, then SIGKILL.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { BenchError, ipTool, registerCleanup } from './child.js';
import { parsePortStats, parseProcStatTicks, TESTPMD_INSTALL, type PortStats } from './parse.js';

const PROMPT = 'testpmd> ';

interface Waiter {
  readonly token: string;
  readonly from: number;
  readonly resolve: () => void;
}
let instances = 0;

/** Where dpdk-testpmd is, or null. */
export function findTestpmd(): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/local/bin'])) {
    const p = `${dir}/dpdk-testpmd`;
    if (dir !== '' && existsSync(p)) return p;
  }
  return null;
}

/**
 * Version of the installed DPDK (Debian package; `dpdk-dev` ships testpmd). Ask it only once
 * `findTestpmd()` found one: a `dpdk` package alone has no testpmd to measure with.
 */
export function dpdkVersion(): string {
  for (const pkg of ['dpdk-dev', 'dpdk']) {
    try {
      const v = execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      if (v !== '') return `DPDK ${v} (Debian ${pkg})`;
    } catch {
      // not this package
    }
  }
  return 'DPDK (version unknown)';
}

export const CLK_TCK = 100;

/** CPU time (ns) a process used so far, from /proc/<pid>/stat (10 ms resolution). */
export function procCpuNs(pid: number): number | undefined {
  try {
    const ticks = parseProcStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return ticks === undefined ? undefined : (ticks * 1e9) / CLK_TCK;
  } catch {
    return undefined;
  }
}

export interface TestpmdOptions {
  readonly ns: string;
  readonly vdev: string;
  /** `rxonly` or `txonly`. */
  readonly mode: 'rxonly' | 'txonly';
  /** lcore list: the first is the main lcore, the second forwards. */
  readonly lcores: readonly [number, number];
  readonly peerMac?: string;
  readonly size?: number;
  readonly label: string;
}

/** One interactive dpdk-testpmd. */
export class Testpmd {
  readonly label: string;
  readonly prefix: string;
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #unregister: () => void;
  #out = '';
  #exited: string | null = null;
  #waiters: Waiter[] = [];

  private constructor(proc: ChildProcessWithoutNullStreams, label: string, prefix: string) {
    this.#proc = proc;
    this.label = label;
    this.prefix = prefix;
    this.#unregister = registerCleanup({
      kill: () => {
        proc.kill('SIGKILL');
        rmSync(`/var/run/dpdk/${prefix}`, { recursive: true, force: true });
      },
    });
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    const onData = (d: string): void => {
      this.#out = (this.#out + d).slice(-200_000);
      this.#check();
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code, sig) => {
      this.#exited = `exited (${sig ?? code ?? '?'})`;
      this.#unregister();
      for (const w of this.#waiters.splice(0)) w.resolve();
    });
  }

  /** `ip netns exec` and stdbuf both exec, so the child's pid is testpmd's. */
  get pid(): number {
    return this.#proc.pid ?? 0;
  }

  static async start(o: TestpmdOptions, timeoutMs = 30_000): Promise<Testpmd> {
    const bin = findTestpmd();
    if (bin === null) throw new BenchError(`dpdk-testpmd is not installed (Debian: ${TESTPMD_INSTALL})`);
    const prefix = `nvbench-${process.pid}-${instances++}`;
    const [main, fwd] = o.lcores;
    // stdbuf: testpmd's printf output is block-buffered on a pipe; statistics must arrive at once.
    const args = [
      'netns', 'exec', o.ns, 'stdbuf', '-oL', bin,
      '-l', `${main},${fwd}`, '--main-lcore', String(main),
      '--no-huge', '-m', '512', '--no-pci', '--file-prefix', prefix,
      `--vdev=${o.vdev}`, '--log-level=lib.eal:error',
      '--', '-i', '--total-num-mbufs=16384', `--forward-mode=${o.mode}`,
    ];
    if (o.peerMac !== undefined) args.push(`--eth-peer=0,${o.peerMac}`);
    if (o.size !== undefined) args.push(`--txpkts=${o.size}`);
    const proc = spawn(ipTool(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const t = new Testpmd(proc, o.label, prefix);
    try {
      await t.#waitFor(PROMPT, 0, timeoutMs);
      if (t.#exited !== null) throw new BenchError(`${o.label}: dpdk-testpmd ${t.#exited}: ${t.#out.slice(-2000)}`);
    } catch (e) {
      await t.close();
      throw e;
    }
    return t;
  }

  get output(): string {
    return this.#out;
  }

  #check(): void {
    const keep: Waiter[] = [];
    for (const w of this.#waiters) {
      if (this.#out.includes(w.token, w.from)) w.resolve();
      else keep.push(w);
    }
    this.#waiters = keep;
  }

  #waitFor(token: string, from: number, timeoutMs: number): Promise<void> {
    if (this.#out.includes(token, from) || this.#exited !== null) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new BenchError(`${this.label}: dpdk-testpmd did not print "${token.trim()}" within ${timeoutMs} ms: ${this.#out.slice(-1500)}`));
      }, timeoutMs);
      this.#waiters.push({
        token,
        from,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Send one command and wait for the next prompt; returns what it printed. */
  async command(cmd: string, timeoutMs = 15_000): Promise<string> {
    if (this.#exited !== null) throw new BenchError(`${this.label}: dpdk-testpmd ${this.#exited}`);
    this.#out = '';
    this.#proc.stdin.write(`${cmd}\n`);
    // The prompt is echoed before the command's output; wait for the one after it.
    await this.#waitFor(`\n${PROMPT}`, 0, timeoutMs);
    return this.#out;
  }

  async stats(): Promise<PortStats> {
    const out = await this.command('show port stats 0');
    const s = parsePortStats(out);
    if (s === undefined) throw new BenchError(`${this.label}: no port statistics in: ${out.slice(-800)}`);
    return s;
  }

  cpuNs(): number | undefined {
    return procCpuNs(this.pid);
  }

  async close(): Promise<void> {
    if (this.#exited === null) {
      const exited = new Promise<void>((resolve) => {
        this.#proc.once('exit', () => {
          resolve();
        });
      });
      this.#proc.stdin.write('stop\nquit\n');
      this.#proc.stdin.end();
      const timer = setTimeout(() => {
        this.#proc.kill('SIGKILL');
      }, 8000);
      await exited;
      clearTimeout(timer);
    }
    // EAL's runtime directory of this instance.
    rmSync(`/var/run/dpdk/${this.prefix}`, { recursive: true, force: true });
  }
}
