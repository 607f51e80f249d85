import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { etherAddrBytes, InvalidArgumentError, parseEtherAddr, type EthDev, type Mempool } from '@netvsc/ethdev';

/**
 * testpmd's forwarding engines, for `netvsc run` and the demo:
 * - `io`: forward as received to the paired port;
 * - `mac`: source MAC := the Tx port's MAC, destination := the peer address, to the paired port;
 * - `macswap`: swap source and destination MACs, to the paired port;
 * - `rxonly`: receive and free;
 * - `txonly`: send generated frames (no receive);
 * - `echo` (ours): swap MACs and send back out of the receiving port, whatever the pairing.
 * Ports are paired 0<->1, 2<->3, ...; an odd last port is paired with itself.
 */
export const FWD_MODES = ['io', 'mac', 'macswap', 'rxonly', 'txonly', 'echo'] as const;
export type FwdMode = (typeof FWD_MODES)[number];

export function isFwdMode(s: string): s is FwdMode {
  return (FWD_MODES as readonly string[]).includes(s);
}

export interface ForwarderOptions {
  readonly mode: FwdMode;
  /** Started ports (queue 0 is used). */
  readonly ports: readonly EthDev[];
  /** The pool every Rx queue takes from and every Tx queue frees to. */
  readonly mempool: Mempool;
  /** Burst size (testpmd `--burst`), 1..512; default 32. */
  readonly burst?: number;
  /** Destination MAC per port for `mac` and `txonly` (testpmd `--eth-peer`); default 02:00:00:00:00:<port>. */
  readonly peers?: readonly string[];
  /** Frame length for `txonly`, 60..1514 (without FCS); default 64. */
  readonly txLength?: number;
}

/** Per-port forwarding counters, as testpmd's "Forward statistics". */
export interface FwdPortStats {
  rx: number;
  tx: number;
  /** Received but not accepted by the Tx port (freed). */
  txDropped: number;
}

export const MAX_BURST = 512;
/** Longest sleep of an idle forwarder before it polls again (timers, removed ports). */
const IDLE_SLEEP_MAX_MS = 20;
/** Experimental ethertype (IEEE 802 local experimental 1) for generated frames. */
const TXONLY_ETHERTYPE = 0x88b5;

/**
 * One forwarding loop over a set of ports. `pollOnce()` is synchronous and allocation-free;
 * `run()` repeats it, yielding to the event loop so control events (netlink, timers, the
 * fail-safe's upkeep) are handled between bursts.
 */
export class Forwarder {
  readonly mode: FwdMode;
  readonly stats: readonly FwdPortStats[];
  readonly #ports: readonly EthDev[];
  readonly #txPort: readonly number[];
  readonly #pool: Mempool;
  readonly #burst: number;
  readonly #buf: Uint32Array;
  /** Source MAC per port (mac mode) and destination per port (mac/txonly), as bytes. */
  readonly #srcMac: readonly Uint8Array[];
  readonly #dstMac: readonly Uint8Array[];
  readonly #template: readonly Uint8Array[];
  #seq = 0;

  constructor(options: ForwarderOptions) {
    const burst = options.burst ?? 32;
    if (!Number.isInteger(burst) || burst < 1 || burst > MAX_BURST) {
      throw new InvalidArgumentError(`burst ${burst} is out of range; accepted: 1..${MAX_BURST}`);
    }
    if (options.ports.length === 0) throw new InvalidArgumentError('the forwarder needs at least one port');
    const txLength = options.txLength ?? 64;
    if (!Number.isInteger(txLength) || txLength < 60 || txLength > 1514) {
      throw new InvalidArgumentError(`txonly frame length ${txLength} is out of range; accepted: 60..1514`);
    }
    this.mode = options.mode;
    this.#ports = options.ports;
    this.#pool = options.mempool;
    this.#burst = burst;
    this.#buf = new Uint32Array(burst);
    const n = options.ports.length;
    this.#txPort = options.ports.map((_, i) => {
      if (options.mode === 'echo') return i;
      const pair = i ^ 1;
      return pair < n ? pair : i;
    });
    this.stats = options.ports.map(() => ({ rx: 0, tx: 0, txDropped: 0 }));
    this.#srcMac = options.ports.map((p) => etherAddrBytes(p.macAddrGet()));
    this.#dstMac = options.ports.map((_, i) => {
      const peer = options.peers?.[i];
      return peer === undefined ? Uint8Array.of(2, 0, 0, 0, 0, i & 0xff) : etherAddrBytes(parseEtherAddr(peer));
    });
    this.#template = options.ports.map((_, i) => {
      const f = new Uint8Array(txLength);
      f.set(this.#dstMac[i] ?? new Uint8Array(6), 0);
      f.set(this.#srcMac[i] ?? new Uint8Array(6), 6);
      f[12] = TXONLY_ETHERTYPE >> 8;
      f[13] = TXONLY_ETHERTYPE & 0xff;
      return f;
    });
  }

  /** One burst per port; returns the number of packets received (or sent, for txonly). */
  pollOnce(): number {
    let total = 0;
    for (let i = 0; i < this.#ports.length; i++) {
      total += this.mode === 'txonly' ? this.#txOnly(i) : this.#forward(i);
    }
    return total;
  }

  /**
   * Poll until `signal` aborts. When idle, sleep in the ports' Rx interrupts (every port
   * configured with `rxqIntr`, as l3fwd-power waits on all its queues at once) or, when a port
   * has none, poll every millisecond instead of spinning a core.
   */
  async run(signal: AbortSignal): Promise<void> {
    let idle = 0;
    let sinceYield = 0;
    // A port without an interrupt would go unpolled while the others sleep: then nobody sleeps.
    let canSleep = this.mode !== 'txonly' && this.#ports.every((p) => p.conf.rxqIntr === true);
    while (!signal.aborted) {
      const got = this.pollOnce();
      if (got > 0) {
        idle = 0;
        // Busy: still let timers and netlink run every few dozen bursts.
        if (++sinceYield >= 64) {
          sinceYield = 0;
          await yieldToLoop();
        }
        continue;
      }
      sinceYield = 0;
      if (++idle < 8) {
        await yieldToLoop();
        continue;
      }
      if (canSleep) {
        try {
          await this.#sleep(signal);
          continue;
        } catch {
          canSleep = false;
        }
      }
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
  }

  /**
   * Arm queue 0's Rx interrupt on every port with one handler and wait until the first fires,
   * IDLE_SLEEP_MAX_MS pass (a removed port arms nothing; the loop looks again) or `signal`
   * aborts. Every port is disarmed before the loop polls again. Rejects when a port cannot arm.
   */
  #sleep(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const armed: EthDev[] = [];
      let timer: NodeJS.Timeout | undefined;
      const settle = (): boolean => {
        if (timer === undefined) return false;
        clearTimeout(timer);
        timer = undefined;
        signal.removeEventListener('abort', wake);
        for (const p of armed) if (p.started) p.rxIntrDisable(0);
        return true;
      };
      const wake = (): void => {
        if (settle()) resolve();
      };
      timer = setTimeout(wake, IDLE_SLEEP_MAX_MS);
      signal.addEventListener('abort', wake);
      try {
        for (const p of this.#ports) if (p.rxIntrEnable(0, wake)) armed.push(p);
      } catch (e) {
        if (settle()) reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  #forward(i: number): number {
    const rxPort = this.#ports[i];
    const txIndex = this.#txPort[i] ?? i;
    const txPort = this.#ports[txIndex];
    const st = this.stats[i];
    if (rxPort === undefined || txPort === undefined || st === undefined) return 0;
    const buf = this.#buf;
    const n = rxPort.rxBurst(0, buf, this.#burst);
    if (n === 0) return 0;
    st.rx += n;
    if (this.mode === 'rxonly') {
      this.#pool.freeBulk(buf, n);
      return n;
    }
    if (this.mode === 'mac') this.#rewrite(n, this.#dstMac[txIndex], this.#srcMac[txIndex]);
    else if (this.mode === 'macswap' || this.mode === 'echo') this.#swap(n);
    const sent = txPort.txBurst(0, buf, n);
    const txSt = this.stats[txIndex];
    if (txSt !== undefined) txSt.tx += sent;
    if (sent < n) {
      st.txDropped += n - sent;
      this.#pool.freeBulk(buf, n - sent, sent);
    }
    return n;
  }

  #txOnly(i: number): number {
    const port = this.#ports[i];
    const st = this.stats[i];
    const tpl = this.#template[i];
    if (port === undefined || st === undefined || tpl === undefined) return 0;
    const pool = this.#pool;
    const buf = this.#buf;
    const n = Math.min(this.#burst, pool.avail());
    if (n === 0 || !pool.allocBulk(buf, n)) return 0;
    for (let k = 0; k < n; k++) {
      const m = buf[k] ?? 0;
      const off = pool.dataOffset(m);
      pool.buf.set(tpl, off);
      // A sequence number right after the ethertype makes frames tellable apart on the wire.
      const seq = this.#seq++ >>> 0;
      pool.buf[off + 14] = seq >>> 24;
      pool.buf[off + 15] = (seq >>> 16) & 0xff;
      pool.buf[off + 16] = (seq >>> 8) & 0xff;
      pool.buf[off + 17] = seq & 0xff;
      pool.dataLen[m] = tpl.length;
    }
    const sent = port.txBurst(0, buf, n);
    st.tx += sent;
    if (sent < n) {
      st.txDropped += n - sent;
      pool.freeBulk(buf, n - sent, sent);
    }
    return sent;
  }

  #swap(n: number): void {
    const pool = this.#pool;
    const b = pool.buf;
    for (let k = 0; k < n; k++) {
      const m = this.#buf[k] ?? 0;
      if ((pool.dataLen[m] ?? 0) < 12) continue;
      const off = pool.dataOffset(m);
      for (let j = 0; j < 6; j++) {
        const t = b[off + j] ?? 0;
        b[off + j] = b[off + 6 + j] ?? 0;
        b[off + 6 + j] = t;
      }
    }
  }

  #rewrite(n: number, dst: Uint8Array | undefined, src: Uint8Array | undefined): void {
    if (dst === undefined || src === undefined) return;
    const pool = this.#pool;
    for (let k = 0; k < n; k++) {
      const m = this.#buf[k] ?? 0;
      if ((pool.dataLen[m] ?? 0) < 12) continue;
      const off = pool.dataOffset(m);
      pool.buf.set(dst, off);
      pool.buf.set(src, off + 6);
    }
  }
}
