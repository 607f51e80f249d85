/**
 * The bench's side of its measuring children: spawn `ip netns exec <ns> [taskset] node <script>`,
 * wait for `{ready}`, send requests, get replies. Every child is registered for the exit hook
 * (stdin closed, then SIGKILL if it lingers), so none survives the bench.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NetvscError } from '@netvsc/ethdev';
import { findTool } from '@netvsc/sim';
import type { CeilingArgs, CeilingRound, FailoverReport, Mark, OpenArgs, OpenResult, Reply, RxArgs, TxArgs } from './proto.js';

export class BenchError extends NetvscError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_BENCH', message, options);
  }
}

/** Processes to kill when the bench exits, whatever the reason. */
const live = new Set<{ kill(): void }>();
let hooked = false;

export function registerCleanup(p: { kill(): void }): () => void {
  live.add(p);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const x of [...live]) x.kill();
    });
  }
  return () => live.delete(p);
}

/** A child entry (app.js, gen.js) next to this module in dist/, or in ../dist when running from src/ (tests). */
export function scriptPath(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, name), join(here, '..', 'dist', name)]) if (existsSync(p)) return p;
  throw new BenchError(`cannot find ${name} next to ${here} or in ../dist: build @netvsc/bench first (npx nx run @netvsc/bench:build)`);
}

export function ipTool(): string {
  const ip = findTool('ip');
  if (ip === null) throw new BenchError('iproute2 `ip` is missing (apt-get install iproute2)');
  return ip;
}

export interface SpawnOptions {
  readonly ns: string;
  readonly script: 'app.js' | 'gen.js';
  /** Pin to these CPUs (taskset -c). */
  readonly cpus?: string;
  /** Write a V8 CPU profile into this directory when the child exits. */
  readonly cpuProfDir?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly label: string;
  /** Extra node/V8 flags for this child (after NETVSC_BENCH_NODE_FLAGS). */
  readonly nodeArgs?: readonly string[];
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** One measuring child (app.js or gen.js). */
export class Child {
  readonly label: string;
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, Pending>();
  readonly #unregister: () => void;
  #next = 1;
  #stderr = '';
  #exited: string | null = null;
  pid = 0;

  private constructor(proc: ChildProcessWithoutNullStreams, label: string) {
    this.#proc = proc;
    this.label = label;
    this.#unregister = registerCleanup({ kill: () => proc.kill('SIGKILL') });
  }

  static async start(o: SpawnOptions, timeoutMs = 20_000): Promise<Child> {
    const args = ['netns', 'exec', o.ns];
    // Profiling hooks for developers: a wrapper command (e.g. `perf record -g -o /tmp/x.data --`)
    // and extra node flags (e.g. `--perf-basic-prof`), both split on spaces.
    const wrap = process.env.NETVSC_BENCH_WRAP?.split(' ').filter((s) => s !== '') ?? [];
    args.push(...wrap.map((s) => s.replaceAll('{label}', o.label)));
    if (o.cpus !== undefined) args.push('taskset', '-c', o.cpus);
    args.push(process.execPath, ...(process.env.NETVSC_BENCH_NODE_FLAGS?.split(' ').filter((s) => s !== '') ?? []), ...(o.nodeArgs ?? []));
    if (o.cpuProfDir !== undefined) args.push('--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`, `--cpu-prof-name=${o.label}-${Date.now()}.cpuprofile`);
    args.push(scriptPath(o.script));
    const proc = spawn(ipTool(), args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...o.env } });
    const child = new Child(proc, o.label);
    await child.#ready(timeoutMs);
    return child;
  }

  #ready(timeoutMs: number): Promise<void> {
    const proc = this.#proc;
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d: string) => {
      this.#stderr = (this.#stderr + d).slice(-8192);
    });
    return new Promise((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        reject(new BenchError(`${this.label}: child did not start within ${timeoutMs} ms: ${this.#stderr.trim() || 'no output'}`));
        proc.kill('SIGKILL');
      }, timeoutMs);
      proc.on('exit', (code, sig) => {
        this.#exited = `exited (${sig ?? code ?? '?'})${this.#stderr.trim() ? `: ${this.#stderr.trim().slice(-2000)}` : ''}`;
        this.#unregister();
        clearTimeout(timer);
        if (!ready) reject(new BenchError(`${this.label}: child ${this.#exited}`));
        for (const p of this.#pending.values()) p.reject(new BenchError(`${this.label}: child ${this.#exited}`));
        this.#pending.clear();
      });
      createInterface({ input: proc.stdout }).on('line', (line) => {
        let msg: unknown;
        try {
          msg = JSON.parse(line);
        } catch {
          // Not protocol: node's own diagnostics (--trace-* flags). Kept for developers who ask.
          const log = process.env.NETVSC_BENCH_CHILD_LOG;
          if (log !== undefined) appendFileSync(log, `${this.label}: ${line}\n`);
          return;
        }
        if (!ready) {
          if (typeof msg === 'object' && msg !== null && 'ready' in msg) {
            ready = true;
            this.pid = Number((msg as { pid?: unknown }).pid ?? 0);
            clearTimeout(timer);
            resolve();
          }
          return;
        }
        const r = msg as Reply;
        const p = this.#pending.get(r.id);
        if (p === undefined) return;
        this.#pending.delete(r.id);
        if (r.ok) p.resolve(r.result);
        else p.reject(new BenchError(`${this.label}: ${r.error.code}: ${r.error.message}`));
      });
    });
  }

  /** The child process has ended. */
  get exited(): boolean {
    return this.#exited !== null;
  }

  get stderr(): string {
    return this.#stderr;
  }

  request(op: string, args?: unknown, timeoutMs = 60_000): Promise<unknown> {
    if (this.#exited !== null) return Promise.reject(new BenchError(`${this.label}: child ${this.#exited}`));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new BenchError(`${this.label}: ${op} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new BenchError(String(e)));
        },
      });
      this.#proc.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  open(a: OpenArgs): Promise<OpenResult> {
    return this.request('open', a, 60_000) as Promise<OpenResult>;
  }

  rx(a: RxArgs = {}): Promise<unknown> {
    return this.request('rx', a);
  }

  tx(a: TxArgs): Promise<unknown> {
    return this.request('tx', a);
  }

  txFlow(flow: number): Promise<unknown> {
    return this.request('tx-flow', { flow });
  }

  stop(): Promise<unknown> {
    return this.request('stop');
  }

  mark(): Promise<Mark> {
    return this.request('mark') as Promise<Mark>;
  }

  ceiling(a: CeilingArgs): Promise<CeilingRound[]> {
    return this.request('ceiling', a, 120_000) as Promise<CeilingRound[]>;
  }

  /** `flows`: the flows whose reception to report (all when omitted). */
  failoverReport(flows?: readonly number[]): Promise<FailoverReport> {
    return this.request('failover-report', flows === undefined ? undefined : { flows }) as Promise<FailoverReport>;
  }

  /** Close the port, end the child (stdin closed), SIGKILL after `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    if (this.#exited !== null) return;
    await this.request('close', undefined, graceMs).catch(() => undefined);
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => {
      this.#proc.once('exit', () => {
        resolve();
      });
    });
    this.#proc.stdin.end();
    const timer = setTimeout(() => {
      this.#proc.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
  }
}
