/**
 * The two kinds of endpoints every rate figure is taken with: a generator on a host veth end
 * (DPDK txonly, or our VF PMD in gen.js) and a receiver/transmitter on the guest side (one of
 * our ports in app.js, or DPDK's PMD in testpmd). Both are put behind one small interface so
 * each measurement is written once for all of them.
 */
import { readFileSync } from 'node:fs';
import { Child } from './child.js';
import type { Mark, OpenArgs } from './proto.js';
import { Testpmd } from './testpmd.js';

/** CPU sets: receivers on CPU 0, generators on CPU 1, so they never share a core. */
export const RECEIVER_CPU = 0;
export const GENERATOR_CPU = 1;

export interface GenRun {
  readonly sent: number;
  readonly ns: number;
}

export interface Generator {
  readonly name: string;
  start(size: number): Promise<void>;
  stop(): Promise<GenRun>;
  close(): Promise<void>;
}

/** Counters of a receiver/transmitter at one moment. */
export interface Snap {
  readonly tNs: number;
  readonly cpuNs: number;
  /** Of which system time (NaN when unknown). */
  readonly sysNs: number;
  readonly rx: number;
  readonly tx: number;
  /** Ring drops the kernel reported (PACKET_STATISTICS tp_drops / RX-missed). */
  readonly drops: number;
  readonly rxWakeups: number;
  readonly allocatedBytes: number;
  readonly gc: number;
  readonly heapUsed: number;
  readonly rss: number;
  readonly threads: Readonly<Record<string, number>>;
}

export interface Endpoint {
  readonly subject: string;
  /** True for a receiver that polls without sleeping (DPDK's testpmd). */
  readonly spins: boolean;
  snap(): Promise<Snap>;
  /** Start receiving (continuously, until `stopAll`). */
  startRx(): Promise<void>;
  startTx(size: number, dstMac: string): Promise<void>;
  stopAll(): Promise<void>;
  close(): Promise<void>;
}

const hr = (): number => Number(process.hrtime.bigint());

/**
 * With NETVSC_BENCH_DEBUG=1, print who in a receiver burned its CPU between two snaps (ns per
 * packet per thread) and what it allocated: where a CPU/packet figure comes from.
 */
export function debugThreads(label: string, a: Snap | undefined, b: Snap | undefined): void {
  if (process.env.NETVSC_BENCH_DEBUG !== '1' || a === undefined || b === undefined) return;
  const rx = b.rx - a.rx;
  const per = (v: number): string => (rx > 0 ? ((v * 1000) / rx).toFixed(0) : '-');
  const threads = Object.entries(b.threads).map(([k, v]) => `${k}=${per(v - (a.threads[k] ?? 0))}`);
  const heap = rx > 0 ? ((b.allocatedBytes - a.allocatedBytes) / rx).toFixed(2) : '-';
  process.stderr.write(`    ${label} threads ns/pkt: ${threads.join(' ')}; heap ${heap} B/pkt allocated, ${b.gc - a.gc} GCs\n`);
}

export class DpdkGenerator implements Generator {
  readonly name = 'dpdk-testpmd txonly';
  readonly #pmd: Testpmd;
  #size = 0;
  #t0 = 0;
  #tx0 = 0;

  private constructor(pmd: Testpmd) {
    this.#pmd = pmd;
  }

  static async open(ns: string, iface: string, dstMac: string): Promise<DpdkGenerator> {
    const pmd = await Testpmd.start({
      ns,
      vdev: `net_af_packet0,iface=${iface}`,
      mode: 'txonly',
      lcores: [RECEIVER_CPU, GENERATOR_CPU],
      peerMac: dstMac,
      label: `generator@${iface}`,
    });
    return new DpdkGenerator(pmd);
  }

  async start(size: number): Promise<void> {
    if (size !== this.#size) {
      await this.#pmd.command(`set txpkts ${size}`);
      this.#size = size;
    }
    this.#tx0 = (await this.#pmd.stats()).txPackets;
    this.#t0 = hr();
    await this.#pmd.command('start');
  }

  async stop(): Promise<GenRun> {
    await this.#pmd.command('stop');
    const ns = hr() - this.#t0;
    const tx = (await this.#pmd.stats()).txPackets;
    return { sent: tx - this.#tx0, ns };
  }

  close(): Promise<void> {
    return this.#pmd.close();
  }
}

export class OurGenerator implements Generator {
  readonly name = 'ours (vf-pmd net_af_packet Tx ring, gen.js)';
  readonly #child: Child;
  readonly #dst: string;
  #m0: Mark | undefined;

  private constructor(child: Child, dst: string) {
    this.#child = child;
    this.#dst = dst;
  }

  static async open(ns: string, iface: string, dstMac: string, cpuProfDir?: string): Promise<OurGenerator> {
    const child = await Child.start({ ns, script: 'gen.js', cpus: String(GENERATOR_CPU), label: `gen@${iface}`, ...(cpuProfDir === undefined ? {} : { cpuProfDir }) });
    try {
      await child.open({ kind: 'af_packet', devargs: `net_af_packet0,iface=${iface}` });
    } catch (e) {
      await child.close();
      throw e;
    }
    return new OurGenerator(child, dstMac);
  }

  async start(size: number): Promise<void> {
    this.#m0 = await this.#child.mark();
    await this.#child.tx({ size, dstMac: this.#dst });
  }

  async stop(): Promise<GenRun> {
    await this.#child.stop();
    const m1 = await this.#child.mark();
    const m0 = this.#m0 ?? m1;
    return { sent: m1.tx - m0.tx, ns: m1.tNs - m0.tNs };
  }

  close(): Promise<void> {
    return this.#child.close();
  }
}

/**
 * V8 flags of every app child. `--expose-gc`: it collects its heap once its port is up
 * (engine.ts, settleHeap). `--no-memory-reducer`: the reducer takes a process whose heap stops
 * growing for an idle one and starts full collections some 8 s after its last GC — in a
 * measured window (Mark-Compact pauses of 5-22 ms plus marking steps of up to 16 ms, seen in
 * every child of a run); in the ceiling's drains its marking made heap used jump ~100 KB in a
 * drain that allocates ~1 KB. A data-path process allocates next to nothing, which is just
 * what the reducer takes for idle.
 */
const APP_NODE_ARGS = ['--expose-gc', '--no-memory-reducer'];

/** One of our ports in app.js (guest namespace). */
export class OurEndpoint implements Endpoint {
  readonly subject: string;
  readonly spins = false;
  readonly child: Child;

  private constructor(subject: string, child: Child) {
    this.subject = subject;
    this.child = child;
  }

  static async open(subject: string, ns: string, open: OpenArgs, env: Readonly<Record<string, string>>, cpuProfDir?: string, pin = true, nodeArgs: readonly string[] = []): Promise<OurEndpoint> {
    const child = await Child.start({ ns, script: 'app.js', label: subject, env, nodeArgs: [...APP_NODE_ARGS, ...nodeArgs], ...(pin ? { cpus: String(RECEIVER_CPU) } : {}), ...(cpuProfDir === undefined ? {} : { cpuProfDir }) });
    try {
      await child.open(open);
    } catch (e) {
      await child.close();
      throw e;
    }
    return new OurEndpoint(subject, child);
  }

  async snap(): Promise<Snap> {
    const m = await this.child.mark();
    return {
      tNs: m.tNs,
      cpuNs: m.cpuUs * 1000,
      sysNs: m.cpuSysUs * 1000,
      rx: m.rx,
      tx: m.tx,
      drops: m.imissed,
      rxWakeups: m.rxWakeups,
      allocatedBytes: m.allocatedBytes,
      gc: m.gcMinor + m.gcMajor,
      heapUsed: m.heapUsed,
      rss: m.rss,
      threads: m.threads,
    };
  }

  async startRx(): Promise<void> {
    await this.child.rx({});
  }

  async startTx(size: number, dstMac: string): Promise<void> {
    await this.child.tx({ size, dstMac });
  }

  async stopAll(): Promise<void> {
    await this.child.stop();
  }

  close(): Promise<void> {
    return this.child.close();
  }
}

/** DPDK's PMD in dpdk-testpmd (guest namespace), rxonly or txonly. */
export class DpdkEndpoint implements Endpoint {
  readonly subject: string;
  readonly spins = true;
  readonly pmd: Testpmd;
  #mode: 'rxonly' | 'txonly' = 'rxonly';
  #size = 0;

  private constructor(subject: string, pmd: Testpmd) {
    this.subject = subject;
    this.pmd = pmd;
  }

  static async open(subject: string, ns: string, vdev: string): Promise<DpdkEndpoint> {
    // Forwarding lcore on the receivers' CPU; the main lcore (idle at the prompt) on the other.
    const pmd = await Testpmd.start({ ns, vdev, mode: 'rxonly', lcores: [GENERATOR_CPU, RECEIVER_CPU], label: subject });
    return new DpdkEndpoint(subject, pmd);
  }

  async snap(): Promise<Snap> {
    const s = await this.pmd.stats();
    return {
      tNs: hr(),
      cpuNs: this.pmd.cpuNs() ?? Number.NaN,
      sysNs: Number.NaN,
      rx: s.rxPackets,
      tx: s.txPackets,
      drops: s.rxMissed,
      rxWakeups: 0,
      allocatedBytes: Number.NaN,
      gc: Number.NaN,
      heapUsed: Number.NaN,
      rss: procRss(this.pmd.pid),
      threads: {},
    };
  }

  async #setMode(mode: 'rxonly' | 'txonly'): Promise<void> {
    if (mode !== this.#mode) {
      await this.pmd.command(`set fwd ${mode}`);
      this.#mode = mode;
    }
  }

  async startRx(): Promise<void> {
    await this.#setMode('rxonly');
    await this.pmd.command('start');
  }

  async startTx(size: number, dstMac: string): Promise<void> {
    await this.#setMode('txonly');
    if (size !== this.#size) {
      await this.pmd.command(`set txpkts ${size}`);
      this.#size = size;
    }
    await this.pmd.command(`set eth-peer 0 ${dstMac}`);
    await this.pmd.command('start');
  }

  async stopAll(): Promise<void> {
    await this.pmd.command('stop');
  }

  close(): Promise<void> {
    return this.pmd.close();
  }
}

function procRss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? Number.NaN : Number(m[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}
