import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Mempool, registry, type EthConf, type EthDev } from '@netvsc/ethdev';
import { RtNetlink } from '@netvsc/netlink';
import { SimGuest, enterNetns, isTestFrame, testFrameSeq, testFrameFlow, type SimPeer } from '@netvsc/sim';
import '../../src/index.js';

/** One simulated guest with a NetVSC `eth1` and no VF (so the host peer always uses the synthetic path). */
export async function createSim(): Promise<SimGuest> {
  return SimGuest.create({ netvsc: [{ name: 'eth1', vf: null }] });
}

/** Probe a device string with this thread inside the guest (where the tap and its sockets must live). */
export async function probeInGuest(sim: SimGuest, devargs: string): Promise<EthDev> {
  const leave = sim.enterGuest();
  try {
    return await registry.probe(devargs);
  } finally {
    leave();
  }
}

export function inGuestSync<T>(sim: SimGuest, fn: () => T): T {
  const leave = sim.enterGuest();
  try {
    return fn();
  } finally {
    leave();
  }
}

export function inHostSync<T>(sim: SimGuest, fn: () => T): T {
  const leave = enterNetns(sim.hostNs);
  try {
    return fn();
  } finally {
    leave();
  }
}

/** rtnetlink in the guest namespace, for looking at what the port did. */
export function guestNetlink(sim: SimGuest): RtNetlink {
  return RtNetlink.open({ netns: sim.guestNs });
}

/** Configure `queues` queue pairs on one pool and start. */
export function startPort(dev: EthDev, queues = 1, pool = new Mempool({ size: 4096 }), conf: EthConf = {}): Mempool {
  dev.configure(queues, queues, conf);
  for (let q = 0; q < queues; q++) {
    dev.rxQueueSetup(q, { mempool: pool });
    dev.txQueueSetup(q, { mempool: pool });
  }
  dev.start();
  return pool;
}

export interface Received {
  /** Test-frame sequence numbers per queue (other frames are counted in `other`). */
  readonly seqs: number[][];
  readonly flows: number[][];
  other: number;
  /** mbuf ids still held (freed by `release`). */
  readonly mbufs: number[];
}

/**
 * Poll every queue until `until(total test frames)` holds or `ms` pass; keeps the mbufs
 * (so they can be transmitted back) — call `release` or hand them to txBurst.
 */
export async function receive(dev: EthDev, pool: Mempool, until: (n: number) => boolean, ms = 2000): Promise<Received> {
  const r: Received = { seqs: Array.from({ length: dev.nbRxQueues }, () => []), flows: Array.from({ length: dev.nbRxQueues }, () => []), other: 0, mbufs: [] };
  const out = new Uint32Array(64);
  const deadline = Date.now() + ms;
  let total = 0;
  for (;;) {
    for (let q = 0; q < dev.nbRxQueues; q++) {
      const n = dev.rxBurst(q, out, 64);
      for (let i = 0; i < n; i++) {
        const m = out[i]!;
        const off = pool.dataOffset(m);
        if (isTestFrame(pool.buf, off, pool.dataLen[m]!)) {
          r.seqs[q]!.push(testFrameSeq(pool.buf, off));
          r.flows[q]!.push(testFrameFlow(pool.buf, off));
          total++;
        } else {
          r.other++;
        }
        r.mbufs.push(m);
      }
    }
    if (until(total) || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 5));
  }
}

export function release(pool: Mempool, r: Received): void {
  for (const m of r.mbufs.splice(0)) pool.free(m);
}

export const total = (r: Received): number => r.seqs.reduce((s, q) => s + q.length, 0);

/** Let frames in flight land (the peer's send resolves when they are written, not delivered). */
export const settle = (ms = 50): Promise<void> => new Promise((res) => setTimeout(res, ms));

export async function peerSendAndCount(peer: SimPeer, dev: EthDev, pool: Mempool, to: string, count = 8): Promise<number> {
  const sent = await peer.send({ count, to });
  await settle();
  const r = await receive(dev, pool, (n) => n >= sent.sent, 300);
  release(pool, r);
  return total(r);
}

/**
 * What the child runs: probe one port from argv, print one JSON line, wait to be killed. It
 * imports the built package (the test target depends on this package's build).
 */
const HOLD_TAP = `
import { registry } from '@netvsc/ethdev';
import '@netvsc/tap';
try {
  const info = (await registry.probe(process.argv[1])).infoGet();
  console.log(JSON.stringify({ ready: true, ifName: info.ifName, ifIndex: info.ifIndex }));
} catch (e) {
  console.log(JSON.stringify({ ready: false, message: e.message }));
  process.exit(1);
}
setInterval(() => undefined, 60000);
`;

/** A child process holding a tap, started inside the guest (for cross-process and crash tests). */
export interface Holder {
  readonly child: ChildProcess;
  readonly ifName: string;
  readonly ifIndex: number;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function holdTapInChild(sim: SimGuest, devargs: string): Promise<Holder> {
  const cwd = fileURLToPath(new URL('../..', import.meta.url));
  const child = inGuestSync(sim, () => spawn(process.execPath, ['--input-type=module', '-e', HOLD_TAP, devargs], { cwd, stdio: ['ignore', 'pipe', 'inherit'] }));
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  };
  try {
    const lines = createInterface({ input: child.stdout });
    const timeout = new Promise<never>((_, rej) => {
      setTimeout(() => {
        rej(new Error('child did not report within 10 s'));
      }, 10_000);
    });
    const [line] = (await Promise.race([once(lines, 'line'), timeout])) as [string];
    const msg = JSON.parse(line) as { ready: boolean; ifName?: string; ifIndex?: number; message?: string };
    if (!msg.ready) throw new Error(`child failed: ${msg.message ?? line}`);
    return { child, ifName: msg.ifName!, ifIndex: msg.ifIndex!, kill };
  } catch (e) {
    await kill();
    throw e;
  }
}

/** IPv4/UDP packet (valid header checksum, UDP checksum 0, 18 bytes of payload). */
export function ipv4Udp(srcIp: string, dstIp: string, srcPort: number, dstPort: number): Uint8Array {
  const p = new Uint8Array(46);
  const dv = new DataView(p.buffer);
  p[0] = 0x45;
  dv.setUint16(2, p.length);
  p[8] = 64;
  p[9] = 17;
  p.set(srcIp.split('.').map(Number), 12);
  p.set(dstIp.split('.').map(Number), 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += dv.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  dv.setUint16(10, ~sum & 0xffff);
  dv.setUint16(20, srcPort);
  dv.setUint16(22, dstPort);
  dv.setUint16(24, p.length - 20);
  return p;
}

/** The same in an Ethernet frame, for tests that need the kernel stack or flow hashing. */
export function udpFrame(dstMac: string, dstIp: string, srcPort: number, dstPort: number): Uint8Array {
  const f = new Uint8Array(60);
  f.set(dstMac.split(':').map((x) => parseInt(x, 16)), 0);
  f.set([0x02, 0x00, 0x00, 0x77, 0x00, 0x01], 6);
  f.set([0x08, 0x00], 12);
  f.set(ipv4Udp('10.77.0.1', dstIp, srcPort, dstPort), 14);
  return f;
}
