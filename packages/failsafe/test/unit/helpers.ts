import { Mempool, NoDeviceError, Registry, RingPmd, ringDriver, type EthDev, type PciDriver } from '@netvsc/ethdev';
import { afterEach } from 'vitest';
import { failsafeDriver, isFailsafe, type Failsafe, type FailsafeEvents } from '../../src/index.js';

let seq = 0;

/** A ring device name no other test uses (ring names and port ids are process-wide). */
export function ringName(tag = 'r'): string {
  seq++;
  return `net_ring_${tag}${seq}`;
}

/**
 * A registry of our own: net_ring, net_failsafe, and a fake PCI bus whose "VFs" are ring
 * ports present only while their address is in `present`.
 */
export function testRegistry(): { registry: Registry; present: Set<string>; probes: string[] } {
  const registry = new Registry();
  registry.registerVdevDriver(ringDriver);
  registry.registerVdevDriver(failsafeDriver);
  const present = new Set<string>();
  const probes: string[] = [];
  const fakeVf: PciDriver = {
    name: 'fake_vf',
    probe(addr) {
      probes.push(addr);
      if (!present.has(addr)) throw new NoDeviceError(`fake_vf: no device at ${addr}`);
      return new RingPmd({ name: `vf_${addr}_${++seq}`, mac: '00:15:5d:00:00:01' }).dev;
    },
  };
  registry.registerPciDriver(fakeVf);
  return { registry, present, probes };
}

export type Recorded = { [K in keyof FailsafeEvents]: { type: K; ev: FailsafeEvents[K] } }[keyof FailsafeEvents];

/** Every event of the port, in order. */
export function record(fs: Failsafe): Recorded[] {
  const out: Recorded[] = [];
  fs.on('subdev-plugged', (ev) => out.push({ type: 'subdev-plugged', ev }));
  fs.on('subdev-removed', (ev) => out.push({ type: 'subdev-removed', ev }));
  fs.on('subdev-failed', (ev) => out.push({ type: 'subdev-failed', ev }));
  fs.on('tx-switch', (ev) => out.push({ type: 'tx-switch', ev }));
  fs.on('lsc', (ev) => out.push({ type: 'lsc', ev }));
  return out;
}

export function ofType<K extends keyof FailsafeEvents>(log: Recorded[], type: K): FailsafeEvents[K][] {
  return log.filter((r) => r.type === type).map((r) => r.ev as FailsafeEvents[K]);
}

/** configure + queue setup + start with one pool. */
export function bringUpPort(port: EthDev<FailsafeEvents>, pool: Mempool, nbRx = 1, nbTx = 1, start = true): void {
  port.configure(nbRx, nbTx, { lsc: true });
  for (let q = 0; q < nbRx; q++) port.rxQueueSetup(q, { mempool: pool });
  for (let q = 0; q < nbTx; q++) port.txQueueSetup(q, { mempool: pool });
  if (start) port.start();
}

export function pool(size = 512): Mempool {
  return new Mempool({ size, dataRoomSize: 256 });
}

/** Send `n` 60-byte frames; returns how many the port accepted (the rest are freed here). */
export function send(port: EthDev<FailsafeEvents>, mp: Mempool, n: number, queue = 0): number {
  const burst = new Uint32Array(n);
  if (!mp.allocBulk(burst, n)) throw new Error('pool exhausted');
  for (let i = 0; i < n; i++) mp.dataLen[burst[i]!] = 60;
  const sent = port.txBurst(queue, burst, n);
  mp.freeBulk(burst, n - sent, sent);
  return sent;
}

/** Receive everything pending (up to `max` calls), freeing the mbufs; returns per-call counts. */
export function drain(port: EthDev<FailsafeEvents>, mp: Mempool, calls = 16, queue = 0): number[] {
  const out = new Uint32Array(64);
  const counts: number[] = [];
  for (let i = 0; i < calls; i++) {
    const n = port.rxBurst(queue, out, 64);
    counts.push(n);
    mp.freeBulk(out, n);
  }
  return counts;
}

export function ring(name: string): RingPmd {
  const r = RingPmd.get(name);
  if (!r) throw new Error(`no ring port ${name}`);
  return r;
}

/** Let setImmediate/timer callbacks run until `cond` holds (event-driven waits, not timing). */
export async function until(cond: () => boolean, what: string, limitMs = 3000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function frame(tag: number): Uint8Array {
  const f = new Uint8Array(60);
  f[0] = 0x02;
  f[59] = tag;
  return f;
}

/** Probe a fail-safe device string through `reg`. */
export async function probeFailsafe(reg: Registry, devargs: string): Promise<Failsafe> {
  const port = await reg.probe(devargs);
  if (!isFailsafe(port)) throw new Error(`${devargs} did not make a fail-safe port`);
  return port;
}

/**
 * Ports a test file creates, closed after each test: `make(devargs)` probes a fail-safe through a
 * fresh test registry, `keep(fs)` adopts one built another way.
 */
export function closedAfterEach(): { make(devargs: string): Promise<Failsafe>; keep(fs: Failsafe): Failsafe } {
  const open: Failsafe[] = [];
  afterEach(() => {
    for (const fs of open.splice(0)) fs.close();
  });
  return {
    async make(devargs: string): Promise<Failsafe> {
      return this.keep(await probeFailsafe(testRegistry().registry, devargs));
    },
    keep(fs: Failsafe): Failsafe {
      open.push(fs);
      return fs;
    },
  };
}
