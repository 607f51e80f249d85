import { now as wallNow } from '@netvsc/ethdev';
import type { PipeOps } from './native/pipe.js';

/** A VF as discovery sees it: its netdev and its PCI address. */
export interface VfInfo {
  readonly name: string;
  readonly index: number;
  readonly pci: string;
}

/** What one context's VF did, as its watcher saw it. */
export type VfWatchEvent =
  /** A VF netdev appeared (or came back); it is announced after the settle time. */
  | { readonly type: 'vf-seen'; readonly vf: VfInfo; readonly at: number }
  /** Its address line was written to the pipe: the fail-safe will plug it now. */
  | { readonly type: 'vf-announced'; readonly vf: VfInfo; readonly at: number; readonly settledMs: number }
  /** The VF went away (never debounced). `presentMs`: how long it had been there. */
  | { readonly type: 'vf-removed'; readonly vf: VfInfo; readonly at: number; readonly presentMs: number; readonly announced: boolean }
  /** The VF netdev was renamed; nothing to tell the fail-safe (the PMD resolves by PCI address and MAC). */
  | { readonly type: 'vf-renamed'; readonly vf: VfInfo; readonly from: string; readonly at: number }
  /** The pipe refused the line (full, or a real error); retried at the next observation. */
  | { readonly type: 'pipe-error'; readonly vf: VfInfo; readonly at: number; readonly error: string };

/** Counters of one watcher; never reset, so they are monotonic. */
export interface VfWatchCounters {
  /** VF appearances (including ones that bounced before the settle time). */
  arrivals: number;
  /** VF disappearances: one per flap. */
  removals: number;
  /** Appearances that went away again within the settle time (never announced). */
  bounced: number;
  /** Lines written to the pipe. */
  pipeWrites: number;
  /** Writes refused because the pipe was full (EAGAIN) or cut short. */
  pipeFull: number;
  pipeErrors: number;
}

export interface VfWatchOptions {
  /** ms a VF must stay before it is announced; 0 announces at once. */
  readonly settleMs: number;
  /** The line for a VF, without the newline (e.g. `0002:00:02.0,mac=00:15:5d:10:00:01`). */
  readonly line: (vf: VfInfo) => string;
  readonly onEvent: (ev: VfWatchEvent) => void;
  /** Called right before a VF is announced (e.g. bind its PCI address to the chosen PMD). */
  readonly beforeAnnounce?: (vf: VfInfo) => void;
  /** Clock for timestamps (ms); default wall clock. */
  readonly now?: () => number;
}

const encoder = new TextEncoder();
const NEWLINE = encoder.encode('\n');

/**
 * One context's VF watcher: fed with every observation of "the VF right now" (from link events,
 * the 1 s scan, or the probe), it debounces arrivals, never debounces removals, writes the pipe
 * only when there is something new to say (an arrival, a return, a new address) and counts flaps.
 *
 * DPDK rewrites the address every second while the VF exists and the pipe fills up; here the pipe
 * carries one line per announced arrival, so it never fills in practice and a VF that returns
 * (at the same or a new address) is always announced again.
 */
export class VfWatch {
  readonly counters: VfWatchCounters = { arrivals: 0, removals: 0, bounced: 0, pipeWrites: 0, pipeFull: 0, pipeErrors: 0 };
  readonly #fd: number;
  readonly #pipe: PipeOps;
  readonly #opts: VfWatchOptions;
  readonly #now: () => number;
  #current: VfInfo | null = null;
  #since = 0;
  /** PCI address last written for the current presence; null until announced. */
  #announced: string | null = null;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(writeFd: number, pipe: PipeOps, options: VfWatchOptions) {
    this.#fd = writeFd;
    this.#pipe = pipe;
    this.#opts = options;
    this.#now = options.now ?? wallNow;
  }

  /** The VF present now (announced or settling), if any. */
  get current(): VfInfo | null {
    return this.#current;
  }

  /** PCI address the fail-safe was told about for the current presence. */
  get announced(): string | null {
    return this.#announced;
  }

  /** True while an arrival waits for its settle time. */
  get settling(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Feed one observation: the VF as found now, or null when there is none. Idempotent.
   * `immediate` skips the settle time for an arrival (the VF was already there when the context
   * was created: nothing is flapping yet, and the fail-safe should find it at creation).
   */
  observe(vf: VfInfo | null, options: { readonly immediate?: boolean } = {}): void {
    if (this.#closed) return;
    const cur = this.#current;
    if (vf === null) {
      if (cur !== null) this.#removed(cur);
      return;
    }
    if (cur !== null && cur.pci !== vf.pci) {
      // A new address without an observed gap: the old VF left, a new one arrived.
      this.#removed(cur);
    }
    const now = this.#current;
    if (now === null) {
      this.#arrived(vf, options.immediate === true);
      return;
    }
    if (now.name !== vf.name || now.index !== vf.index) {
      this.#current = vf;
      this.#opts.onEvent({ type: 'vf-renamed', vf, from: now.name, at: this.#now() });
    }
    // Present and settled but not yet written (pipe was full): retry now.
    if (this.#announced === null && this.#timer === undefined) this.#announce();
  }

  /** Stop timers; the pipe itself belongs to the context. */
  close(): void {
    this.#closed = true;
    this.#cancelTimer();
  }

  #arrived(vf: VfInfo, immediate: boolean): void {
    this.#current = vf;
    this.#since = this.#now();
    this.#announced = null;
    this.counters.arrivals++;
    this.#opts.onEvent({ type: 'vf-seen', vf, at: this.#since });
    if (immediate || this.#opts.settleMs <= 0) {
      this.#announce();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#announce();
    }, this.#opts.settleMs);
  }

  #removed(vf: VfInfo): void {
    const at = this.#now();
    const announced = this.#announced !== null;
    if (this.#timer !== undefined) {
      this.#cancelTimer();
      this.counters.bounced++;
    }
    this.counters.removals++;
    this.#current = null;
    this.#announced = null;
    this.#opts.onEvent({ type: 'vf-removed', vf, at, presentMs: at - this.#since, announced });
  }

  #announce(): void {
    const vf = this.#current;
    if (vf === null || this.#closed) return;
    try {
      this.#opts.beforeAnnounce?.(vf);
      const bytes = encoder.encode(`${this.#opts.line(vf)}\n`);
      const n = this.#pipe.write(this.#fd, bytes);
      if (n === 'again') {
        this.counters.pipeFull++;
        this.#opts.onEvent({ type: 'pipe-error', vf, at: this.#now(), error: 'pipe full (EAGAIN); will retry' });
        return;
      }
      if (n < bytes.length) {
        // Terminate the partial line so the reader never glues it to the next one (as DPDK does).
        this.#pipe.write(this.#fd, NEWLINE);
        this.counters.pipeFull++;
        this.#opts.onEvent({ type: 'pipe-error', vf, at: this.#now(), error: `short write (${n} of ${bytes.length} bytes); will retry` });
        return;
      }
    } catch (e) {
      this.counters.pipeErrors++;
      this.#opts.onEvent({ type: 'pipe-error', vf, at: this.#now(), error: e instanceof Error ? e.message : String(e) });
      return;
    }
    this.counters.pipeWrites++;
    this.#announced = vf.pci;
    const at = this.#now();
    this.#opts.onEvent({ type: 'vf-announced', vf, at, settledMs: at - this.#since });
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
