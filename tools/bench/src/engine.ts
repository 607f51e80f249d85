/**
 * What a measuring child does: open one of our ports (VF PMD, TAP, fail-safe, the whole vdev
 * stack, or fail-safe over in-memory rings), run an Rx loop, a Tx loop or both, and report
 * cumulative counters on request. The loops are written like an application's: bursts of 32,
 * mbufs freed after each burst, Rx in interrupt mode (rxQueueWait) unless asked to spin, and a
 * yield to the event loop at least every few hundred bursts so control requests get through.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setImmediate as immediate } from 'node:timers/promises';
import { createRingPair, Mempool, now, registry, StateError, type EthDev, type RingPmd } from '@netvsc/ethdev';
import { createFailsafe, isFailsafe, type Failsafe } from '@netvsc/failsafe';
import { isTestFrame, setTestSeq, testFrameFlow, testFrameSeq, writeTestFrame } from '@netvsc/sim';
import { AllocMeter } from './alloc.js';
import { parseProcStatTicks } from './parse.js';
import type { CeilingArgs, CeilingRound, FailoverReport, FlowRx, Mark, OpenArgs, OpenResult, RxArgs, TxArgs, TxMove } from './proto.js';

export const BURST = 32;
/**
 * One full collection once the port is up, so the measured windows see the data path's steady
 * state and not start-up's. Without it, a fail-safe process (more modules, a heap ~1 MB bigger
 * than a VF PMD's) crossed V8's first old-generation limit 1-4 s after start: a Mark-Compact of
 * 8-18 ms plus incremental marking steps of up to 12 ms, on helper threads as well, landed in
 * the first measured window (CPU charged to it, and ring drops at 1500 B). After one collection
 * V8 sets the next limit from the live heap, far beyond what a run allocates. Needs --expose-gc
 * (endpoints.ts gives it to every app child); a no-op without.
 */
export function settleHeap(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Bursts between two yields to the event loop in the busy loops. */
const BURSTS_PER_YIELD = 256;
/** Sequence numbers tracked per flow (bitmap): far more than any failover cycle sends. */
const SEQ_LIMIT = 1 << 22;
const DEFAULT_POOL = 8192;
const TX_POOL = 2048;

interface Flow {
  bits: Uint8Array;
  unique: number;
  duplicates: number;
  maxSeq: number;
}

type VdevModule = typeof import('@netvsc/vdev');
type NetvscStack = Awaited<ReturnType<VdevModule['attach']>>;

/** Import the drivers on demand, so a child opening only the TAP does not need the VF PMD built. */
async function loadDrivers(kind: OpenArgs['kind']): Promise<void> {
  if (kind === 'af_packet' || kind === 'failsafe') await import('@netvsc/vf-pmd');
  if (kind === 'tap' || kind === 'failsafe') await import('@netvsc/tap');
}

export class Engine {
  readonly meter = new AllocMeter();
  port: EthDev | undefined;
  /** Rx mbufs. */
  pool: Mempool | undefined;
  /**
   * Tx mbufs, a pool of their own: Tx writes the frame template once and then only lengths and
   * sequence numbers, so received frames must never land in these rooms.
   */
  txPool: Mempool | undefined;
  #stack: NetvscStack | undefined;
  #feeder: RingPmd | undefined;
  #extra: EthDev[] = [];
  #running = false;
  #loop: Promise<void> | undefined;
  /** Ends a sleeping Rx-interrupt loop (nothing would wake it otherwise). */
  #stopRx: (() => void) | undefined;
  readonly #out = new Uint32Array(BURST);
  readonly #ids = new Uint32Array(BURST);
  // Counters (cumulative).
  rx = 0;
  rxBursts = 0;
  rxWakeups = 0;
  tx = 0;
  txRefused = 0;
  // Failover accounting.
  #track = false;
  readonly #flows = new Map<number, Flow>();
  #txFlow = -1;
  #txSeq = 0;
  readonly #txFlows = new Map<number, number>();
  readonly #moves: TxMove[] = [];
  #lastSub: number | undefined = -1;
  readonly #events: { type: string; at: number; text: string }[] = [];
  readonly #stalls: { at: number; ms: number }[] = [];

  async open(a: OpenArgs): Promise<OpenResult> {
    if (this.port !== undefined) throw new StateError('a port is already open in this child');
    const pool = new Mempool({ size: a.poolSize ?? DEFAULT_POOL, name: 'bench_rx' });
    this.pool = pool;
    const txPool = a.kind === 'failsafe-ring' ? pool : new Mempool({ size: TX_POOL, name: 'bench_tx' });
    this.txPool = txPool;
    let port: EthDev;
    if (a.kind === 'vdev') {
      const { attach, describeEvent } = await import('@netvsc/vdev');
      const stack = await attach({
        vdevs: [`net_vdev_netvsc,iface=${a.iface ?? 'eth1'}`],
        auto: false,
        ...(a.sysfsRoot === undefined ? {} : { sysfsRoot: a.sysfsRoot }),
        ...(a.settleMs === undefined ? {} : { vfSettleMs: a.settleMs }),
      });
      this.#stack = stack;
      stack.on('event', (e) => {
        this.#events.push({ type: e.type, at: e.at, text: describeEvent(e) });
        if (this.#events.length > 10_000) this.#events.splice(0, 5_000);
      });
      const p = stack.failsafePorts[0];
      if (p === undefined) throw new StateError(`vdev attached no fail-safe port for ${a.iface ?? 'eth1'}`);
      port = p;
    } else if (a.kind === 'failsafe-ring') {
      const [feeder, sub0] = createRingPair('net_ring_bench_feed', 'net_ring_bench_vf', { ringSize: 1 << 17 });
      const [synPeer, sub1] = createRingPair('net_ring_bench_syn_peer', 'net_ring_bench_syn', { ringSize: 1024 });
      this.#feeder = feeder;
      this.#extra.push(feeder.dev, synPeer.dev);
      port = await createFailsafe({ name: 'net_failsafe_bench', subdevices: [{ port: sub0.dev }, { port: sub1.dev }] });
      feeder.dev.configure(1, 1);
      feeder.dev.rxQueueSetup(0, { mempool: pool });
      feeder.dev.txQueueSetup(0, { mempool: pool });
      feeder.dev.start();
    } else {
      await loadDrivers(a.kind);
      if (a.devargs === undefined) throw new StateError(`open ${a.kind}: devargs missing`);
      port = await registry.probe(a.devargs);
    }
    this.port = port;
    port.configure(1, 1, { rxqIntr: true, lsc: true, rmv: true });
    port.rxQueueSetup(0, { mempool: pool, nbDesc: 1024 });
    port.txQueueSetup(0, { mempool: txPool, nbDesc: 1024 });
    port.start();
    if (isFailsafe(port)) {
      port.on('tx-switch', (e) => {
        this.#events.push({ type: 'tx-switch', at: e.at, text: `${e.fromName ?? 'none'} -> ${e.toName ?? 'none'} (${e.reason})` });
      });
      await waitPreferred(port, a.readyTimeoutMs ?? 10_000);
    }
    settleHeap();
    return {
      port: port.name,
      driver: port.driverName,
      mac: port.macAddrGet(),
      subdevices: isFailsafe(port) ? port.subdevices().map((s) => `${s.index}:${s.name ?? '-'}:${s.state}`) : [],
      txSubdev: isFailsafe(port) ? port.txSubdev : undefined,
    };
  }

  #need(): { port: EthDev; pool: Mempool; txPool: Mempool } {
    if (this.port === undefined || this.pool === undefined || this.txPool === undefined) throw new StateError('no port is open: send open first');
    return { port: this.port, pool: this.pool, txPool: this.txPool };
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#stopRx?.();
    await this.#loop;
    this.#loop = undefined;
  }

  #begin(loop: () => Promise<void>): void {
    if (this.#running) throw new StateError('a loop is already running: stop it first');
    this.#running = true;
    this.#loop = loop().catch((e: unknown) => {
      this.#running = false;
      process.stderr.write(`bench loop failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    });
  }

  /**
   * Receive and free, in Rx-interrupt mode by default: drain, arm the queue's interrupt
   * (rxIntrEnable), return to the event loop; the same two functions serve every wake-up, so
   * the loop allocates nothing per wake-up (rxQueueWait would make a promise each time).
   */
  startRx(a: RxArgs): void {
    const { port, pool } = this.#need();
    this.#track = a.track === true;
    const spin = a.spin === true;
    this.#begin(
      () =>
        new Promise<void>((done) => {
          const out = this.#out;
          let finished = false;
          const finish = (): void => {
            if (finished) return;
            finished = true;
            this.#stopRx = undefined;
            if (port.started) port.rxIntrDisable(0);
            done();
          };
          const serve = (): void => {
            if (!this.#running || !port.started) {
              finish();
              return;
            }
            let bursts = 0;
            for (;;) {
              const n = port.rxBurst(0, out, BURST);
              if (n === 0) break;
              this.#account(out, n, pool);
              if (++bursts >= BURSTS_PER_YIELD) break;
            }
            if (bursts >= BURSTS_PER_YIELD || spin) {
              setImmediate(serve);
              return;
            }
            this.rxWakeups++;
            // false: the device is gone and nothing will wake us; look again now and then.
            if (!port.rxIntrEnable(0, serve)) setTimeout(serve, 100);
          };
          this.#stopRx = finish;
          serve();
        }),
    );
  }

  #account(out: Uint32Array, n: number, pool: Mempool): void {
    this.rx += n;
    this.rxBursts++;
    if (this.#track) {
      const buf = pool.buf;
      for (let i = 0; i < n; i++) {
        const m = out[i] ?? 0;
        const off = pool.dataOffset(m);
        if (!isTestFrame(buf, off, pool.dataLen[m] ?? 0)) continue;
        this.#seen(testFrameFlow(buf, off), testFrameSeq(buf, off));
      }
    }
    pool.freeBulk(out, n);
  }

  #seen(flowId: number, seq: number): void {
    let f = this.#flows.get(flowId);
    if (f === undefined) {
      f = { bits: new Uint8Array(SEQ_LIMIT >> 3), unique: 0, duplicates: 0, maxSeq: -1 };
      this.#flows.set(flowId, f);
    }
    if (seq > f.maxSeq) f.maxSeq = seq;
    if (seq >= SEQ_LIMIT) return;
    const byte = seq >> 3;
    const bit = 1 << (seq & 7);
    const b = f.bits[byte] ?? 0;
    if ((b & bit) !== 0) f.duplicates++;
    else {
      f.bits[byte] = b | bit;
      f.unique++;
    }
  }

  /** Write the frame template into every mbuf once: bursts then only set lengths (and sequence numbers). */
  #template(pool: Mempool, a: TxArgs): void {
    const frame = new Uint8Array(Math.max(a.size, 60));
    writeTestFrame(frame, 0, { dst: a.dstMac, src: a.srcMac ?? '02:00:00:be:4c:01', flow: a.flow ?? 0, seq: 0 });
    for (let m = 0; m < pool.size; m++) pool.buf.set(frame, m * pool.dataRoomSize + pool.headroom);
  }

  /**
   * Transmit `size`-byte frames: as fast as the port takes them, or paced at `ratePps` with Rx
   * served in between (the failover loop, where Rx is tracked per flow too).
   */
  startTx(a: TxArgs, rx?: RxArgs): void {
    const { port, pool, txPool } = this.#need();
    this.#template(txPool, a);
    if (a.flow !== undefined) this.#txFlow = a.flow;
    this.#track = rx?.track === true;
    const fs = isFailsafe(port) ? port : undefined;
    const size = a.size;
    const rate = a.ratePps ?? 0;
    const limit = a.count ?? 0;
    const serveRx = a.serveRx === true;
    const spin = a.spin === true;
    this.#begin(async () => {
      const ids = this.#ids;
      const out = this.#out;
      const t0 = performance.now();
      let sentHere = 0;
      let lastTurn = performance.now();
      while (this.#running) {
        if (rate > 0) {
          const turn = performance.now();
          if (turn - lastTurn > 1) {
            this.#stalls.push({ at: now(), ms: turn - lastTurn });
            if (this.#stalls.length > 10_000) this.#stalls.splice(0, 5_000);
          }
          lastTurn = turn;
          // Paced: serve Rx, send what is due, then sleep on the Rx interrupt for at most 1 ms.
          for (let k = 0; k < BURSTS_PER_YIELD; k++) {
            const n = port.rxBurst(0, out, BURST);
            if (n === 0) break;
            this.#account(out, n, pool);
          }
          let due = Math.floor(((performance.now() - t0) * rate) / 1000) - sentHere;
          while (due > 0) {
            const n = Math.min(due, BURST);
            const acc = this.#sendBurst(port, txPool, ids, n, size, fs);
            sentHere += acc;
            due -= acc;
            if (acc < n) break;
          }
          if (spin) await immediate();
          else {
            this.rxWakeups++;
            await port.rxQueueWait(0, 1);
          }
          continue;
        }
        if (serveRx) {
          for (let k = 0; k < BURSTS_PER_YIELD; k++) {
            const n = port.rxBurst(0, out, BURST);
            if (n === 0) break;
            this.#account(out, n, pool);
          }
        }
        for (let k = 0; k < BURSTS_PER_YIELD && this.#running; k++) {
          const acc = this.#sendBurst(port, txPool, ids, BURST, size, fs);
          sentHere += acc;
          if (limit > 0 && sentHere >= limit) this.#running = false;
          if (acc < BURST) break;
        }
        await immediate();
      }
    });
  }

  #sendBurst(port: EthDev, pool: Mempool, ids: Uint32Array, n: number, size: number, fs: Failsafe | undefined): number {
    if (!pool.allocBulk(ids, n)) return 0;
    const flow = this.#txFlow;
    const buf = pool.buf;
    for (let i = 0; i < n; i++) {
      const m = ids[i] ?? 0;
      pool.dataLen[m] = size;
      if (flow >= 0) setTestSeq(buf, pool.dataOffset(m), this.#txSeq + i);
    }
    const acc = port.txBurst(0, ids, n);
    if (acc < n) {
      pool.freeBulk(ids, n - acc, acc);
      this.txRefused += n - acc;
    }
    if (acc > 0) {
      this.tx += acc;
      if (flow >= 0) {
        this.#txSeq += acc;
        this.#txFlows.set(flow, (this.#txFlows.get(flow) ?? 0) + acc);
      }
      if (fs !== undefined) {
        const sub = fs.txSubdev;
        if (sub !== this.#lastSub) {
          this.#lastSub = sub;
          this.#moves.push({ sub, at: now() });
        }
      }
    }
    return acc;
  }

  /** Switch the Tx flow id (the next frames carry it, numbered from 0). */
  setTxFlow(flow: number): void {
    this.#txFlow = flow;
    this.#txSeq = 0;
    const pool = this.txPool;
    if (pool === undefined) return;
    for (let m = 0; m < pool.size; m++) {
      const o = m * pool.dataRoomSize + pool.headroom;
      pool.buf[o + 20] = (flow >> 8) & 0xff;
      pool.buf[o + 21] = flow & 0xff;
    }
  }

  /** Moves, events, stalls, and the flows asked for (all when `only` is undefined): gaps cost a bitmap walk each. */
  failoverReport(only?: readonly number[]): FailoverReport {
    const flows: FlowRx[] = [...this.#flows]
      .filter(([flow]) => only === undefined || only.includes(flow))
      .map(([flow, f]) => ({ flow, unique: f.unique, duplicates: f.duplicates, maxSeq: f.maxSeq, gaps: gaps(f) }));
    const txFlows = [...this.#txFlows].map(([flow, accepted]) => ({ flow, accepted }));
    return { flows, txFlows, moves: [...this.#moves], events: [...this.#events], stalls: [...this.#stalls] };
  }

  mark(): Mark {
    // First: the stats, /proc reads and objects below are the child's own work, not the data path's.
    const allocatedBytes = this.meter.allocated();
    const s = this.port?.statsGet();
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    return {
      tNs: Number(process.hrtime.bigint()),
      wallMs: now(),
      cpuUs: cpu.user + cpu.system,
      cpuSysUs: cpu.system,
      threads: threadCpu(),
      rx: this.rx,
      rxBursts: this.rxBursts,
      rxWakeups: this.rxWakeups,
      tx: this.tx,
      txRefused: this.txRefused,
      imissed: s?.imissed ?? 0,
      rxNombuf: s?.rxNombuf ?? 0,
      ipackets: s?.ipackets ?? 0,
      opackets: s?.opackets ?? 0,
      oerrors: s?.oerrors ?? 0,
      gcMinor: this.meter.minor,
      gcMajor: this.meter.major,
      allocatedBytes,
      heapUsed: mem.heapUsed,
      rss: mem.rss,
    };
  }

  /**
   * Receiver ceiling: leave the ring unread for `fillMs` (the generator fills it), then drain it
   * through rxBurst as fast as possible and time the drain. With `failsafe-ring`, the rings are
   * filled in memory instead. Nothing else runs meanwhile.
   */
  async ceiling(a: CeilingArgs): Promise<CeilingRound[]> {
    const { port, pool } = this.#need();
    if (this.#running) throw new StateError('stop the running loop before the ceiling measurement');
    const rounds: CeilingRound[] = [];
    const out = this.#out;
    for (let r = 0; r < a.rounds; r++) {
      if (this.#feeder !== undefined) this.#fillRing(this.#feeder, pool, a.frames ?? 100_000, a.size ?? 64);
      else await new Promise((res) => setTimeout(res, a.fillMs));
      const a0 = this.meter.allocated();
      const g0 = this.meter.minor + this.meter.major;
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      let packets = 0;
      for (;;) {
        const n = port.rxBurst(0, out, BURST);
        if (n === 0) break;
        packets += n;
        pool.freeBulk(out, n);
      }
      const ns = Number(process.hrtime.bigint() - t0);
      const c1 = process.cpuUsage(c0);
      const allocBytes = this.meter.allocated() - a0;
      const EMPTY_POLLS = 2000;
      const e0 = process.hrtime.bigint();
      let stray = 0;
      for (let i = 0; i < EMPTY_POLLS; i++) {
        const n = port.rxBurst(0, out, BURST);
        if (n > 0) {
          stray += n;
          pool.freeBulk(out, n);
        }
      }
      const emptyPollNs = Number(process.hrtime.bigint() - e0) / EMPTY_POLLS;
      this.rx += stray;
      // GC entries reach the observer asynchronously: give them a turn before reading.
      await immediate();
      this.rx += packets;
      rounds.push({ packets, ns, cpuUs: c1.user + c1.system, allocBytes, gcs: this.meter.minor + this.meter.major - g0, emptyPollNs });
    }
    return rounds;
  }

  #fillRing(feeder: RingPmd, pool: Mempool, frames: number, size: number): void {
    const ids = this.#ids;
    let left = frames;
    while (left > 0) {
      const n = Math.min(left, BURST);
      if (!pool.allocBulk(ids, n)) break;
      for (let i = 0; i < n; i++) pool.dataLen[ids[i] ?? 0] = size;
      const acc = feeder.dev.txBurst(0, ids, n);
      if (acc < n) pool.freeBulk(ids, n - acc, acc);
      left -= acc;
      if (acc < n) break;
    }
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.#stack !== undefined) await this.#stack.close();
    else this.port?.close();
    for (const p of this.#extra) p.close();
    this.port = undefined;
    this.meter.close();
  }
}

/** The first missing ranges of a flow below its highest sequence number. */
function gaps(f: Flow): [number, number][] {
  const out: [number, number][] = [];
  let start = -1;
  const top = Math.min(f.maxSeq, SEQ_LIMIT - 1);
  for (let s = 0; s <= top && out.length < 8; s++) {
    const have = ((f.bits[s >> 3] ?? 0) & (1 << (s & 7))) !== 0;
    if (!have && start < 0) start = s;
    if (have && start >= 0) {
      out.push([start, s - 1]);
      start = -1;
    }
  }
  return out;
}

/** CPU per thread name (µs), summed over threads of the same name. */
function threadCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const line = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const name = `${/\((.*)\)/.exec(line)?.[1] ?? '?'}#${t === String(process.pid) ? 'main' : t}`;
      const ticks = parseProcStatTicks(line) ?? 0;
      out[name] = (out[name] ?? 0) + ticks * 10_000;
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Resolve once the fail-safe's preferred sub-device (slot 0) carries Tx, or after the timeout. */
async function waitPreferred(port: Failsafe, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (port.txSubdev !== 0 && performance.now() < end) {
    await port.upkeep();
    if (port.txSubdev !== 0) await new Promise((r) => setTimeout(r, 20));
  }
}

