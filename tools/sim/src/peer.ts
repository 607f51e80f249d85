import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { findTool } from './commands.js';
import { SimPeerError, SimToolMissingError } from './errors.js';
import type { SimResource } from './guest.js';
import { hostVfName } from './names.js';
import type { PeerCounters, PeerInit, PeerReply, PeerSendRequest, PeerSendResult } from './peer-protocol.js';
import { PEER_SCRIPT } from './procs.js';

/** What a peer needs of its guest (SimGuest implements it). */
export interface PeerHost {
  readonly prefix: string;
  readonly hostNs: string;
  state(): { readonly netvsc: readonly { readonly index: number; readonly mac: string; readonly hostSynthetic: string }[] };
  adopt(r: SimResource): void;
  release(r: SimResource): void;
  note(kind: 'peer-started' | 'peer-stopped', detail: string): void;
}

export interface SimPeerOptions {
  /** Source MAC of the peer's frames; default 00:15:5d:ff:00:01. */
  readonly srcMac?: string;
  /** Reflect the guest's test frames back (see README); default false. */
  readonly echo?: boolean;
  /** Frames per sendmmsg/recvmmsg; default 64. */
  readonly batch?: number;
  /** ms to wait for the child to start; default 15000. */
  readonly startTimeoutMs?: number;
}

/** Path of the built peer entry (dist/peer-main.js), also when this module runs from src/. */
export function peerScriptPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, PEER_SCRIPT), join(here, '..', 'dist', PEER_SCRIPT)]) if (existsSync(p)) return p;
  throw new SimPeerError(`cannot find ${PEER_SCRIPT} next to ${here} or in ../dist: build @netvsc/sim first (npx nx run @netvsc/sim:build)`);
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/**
 * The host-side traffic peer (the vSwitch): a child process in the host namespace, driven
 * over JSON lines. Start it with `sim.startPeer()`; the guest's `destroy()` stops it.
 */
export class SimPeer implements SimResource {
  readonly pid: number;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #host: PeerHost;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #stderr = '';
  #exited: string | null = null;

  private constructor(child: ChildProcessWithoutNullStreams, host: PeerHost) {
    this.#child = child;
    this.#host = host;
    this.pid = child.pid ?? 0;
  }

  static async start(host: PeerHost, options: SimPeerOptions = {}): Promise<SimPeer> {
    const ip = findTool('ip');
    if (ip === null) throw new SimToolMissingError('ip', 'iproute2, to run the peer in the host namespace');
    const script = peerScriptPath();
    const child = spawn(ip, ['netns', 'exec', host.hostNs, process.execPath, script, host.prefix], { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new SimPeer(child, host);
    await peer.#started(options.startTimeoutMs ?? 15_000);
    host.adopt(peer);
    try {
      const init: PeerInit = {
        ports: host.state().netvsc.map((n) => ({ index: n.index, guestMac: n.mac, synthetic: n.hostSynthetic, vf: hostVfName(n.index) })),
        ...(options.srcMac ? { srcMac: options.srcMac } : {}),
        ...(options.echo !== undefined ? { echo: options.echo } : {}),
        ...(options.batch !== undefined ? { batch: options.batch } : {}),
      };
      await peer.#request('init', init);
    } catch (error) {
      await peer.close();
      throw error;
    }
    host.note('peer-started', `pid ${peer.pid} in ${host.hostNs}`);
    return peer;
  }

  #started(timeoutMs: number): Promise<void> {
    const child = this.#child;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      this.#stderr = (this.#stderr + d).slice(-4096);
    });
    return new Promise((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        reject(new SimPeerError(`peer did not start within ${timeoutMs} ms: ${this.#stderr.trim() || 'no output'}`));
        child.kill('SIGKILL');
      }, timeoutMs);
      const rl = createInterface({ input: child.stdout });
      rl.on('line', (line) => {
        let msg: unknown;
        try {
          msg = JSON.parse(line);
        } catch {
          return;
        }
        if (!ready) {
          if (typeof msg === 'object' && msg !== null && 'ready' in msg) {
            ready = true;
            clearTimeout(timer);
            resolve();
          }
          return;
        }
        const r = msg as PeerReply;
        const p = this.#pending.get(r.id);
        if (!p) return;
        this.#pending.delete(r.id);
        if (r.ok) p.resolve(r.result);
        else {
          const e = new SimPeerError(`peer: ${r.error.message} (${r.error.code})`);
          p.reject(e);
        }
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new SimPeerError(`cannot start the peer: ${e.message}`, { cause: e }));
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.#exited = `peer exited (${signal ?? `code ${code ?? '?'}`})${this.#stderr.trim() ? `: ${this.#stderr.trim()}` : ''}`;
        const err = new SimPeerError(this.#exited);
        if (!ready) reject(err);
        for (const p of this.#pending.values()) p.reject(err);
        this.#pending.clear();
        this.#host.release(this);
      });
    });
  }

  #request(op: string, args?: unknown): Promise<unknown> {
    if (this.#exited !== null) return Promise.reject(new SimPeerError(this.#exited));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  /** Send numbered test frames (see PeerSendRequest); resolves when done. */
  async send(req: PeerSendRequest): Promise<PeerSendResult> {
    return (await this.#request('send', req)) as PeerSendResult;
  }

  /** Counters after draining every socket. */
  async counters(): Promise<PeerCounters> {
    return (await this.#request('counters')) as PeerCounters;
  }

  /** Zero counters and sequence numbers. */
  async reset(): Promise<void> {
    await this.#request('reset');
  }

  async setEcho(on: boolean): Promise<void> {
    await this.#request('echo', { on });
  }

  /** Poll the counters until `pred` holds; throws SimPeerError with the last counters on timeout. */
  async waitFor(pred: (c: PeerCounters) => boolean, timeoutMs = 5000, intervalMs = 20): Promise<PeerCounters> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const c = await this.counters();
      if (pred(c)) return c;
      if (performance.now() > end) throw new SimPeerError(`peer counters did not reach the expected state within ${timeoutMs} ms: ${JSON.stringify({ ...c, ports: undefined, flows: c.flows })}`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  get running(): boolean {
    return this.#exited === null;
  }

  /** Stop the peer (closes its stdin; SIGKILL after 2 s). */
  async close(): Promise<void> {
    if (this.#exited !== null) return;
    const done = new Promise<void>((r) => this.#child.once('exit', () => { r(); }));
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2000);
    this.#child.stdin.end();
    await done;
    clearTimeout(timer);
    this.#host.note('peer-stopped', `pid ${this.pid}`);
  }

  closeSync(): void {
    if (this.#exited === null) this.#child.kill('SIGKILL');
  }
}
