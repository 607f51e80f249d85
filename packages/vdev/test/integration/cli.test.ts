import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integrationGate } from '@netvsc/sim';
import { main } from '../../src/cli/main.js';
import type { DemoReport } from '../../src/demo.js';
import { Bed, sleep, taps } from './bed.js';

const run = integrationGate('netvsc CLI tests');
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

async function cli(argv: readonly string[], signal = new AbortController().signal): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) }, env: {}, signal });
  return { code, out, err };
}

describe.skipIf(!run)('netvsc commands on a simulated guest', () => {
  let bed: Bed;
  let dir: string;
  let root: string[];

  beforeAll(async () => {
    bed = await Bed.create({ attachStack: false });
    dir = mkdtempSync(join(tmpdir(), 'nvsim-cli-'));
    root = ['--sysfs-root', bed.guest.sysfsRoot];
  });

  afterAll(async () => {
    await (bed as Bed | undefined)?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('detect shows the NetVSC and its VF', async () => {
    const r = await cli(['detect', '--json', ...root]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { hypervisor: { hyperv: boolean }; interfaces: { name: string; netvsc: boolean; routed: boolean; vf: unknown }[] };
    expect(doc.hypervisor.hyperv).toBe(true);
    expect(doc.interfaces.find((i) => i.name === 'eth1')).toMatchObject({ netvsc: true, routed: false, vf: { name: 'enP2s2', pci: '0002:00:02.0' } });
    expect(doc.interfaces.find((i) => i.name === 'enP2s2')).toMatchObject({ netvsc: false, vf: null });
    const text = await cli(['detect', ...root]);
    expect(text.out).toMatch(/hypervisor: Hyper-V/);
    expect(text.out).toMatch(/eth1 +\d+ +00:15:5d:10:00:01 +yes +no .*enP2s2 \(#\d+, 0002:00:02\.0\)/);
  });

  it('probe shows the automatic instance without creating anything', async () => {
    const before = taps(bed.ns);
    const r = await cli(['probe', '--json', ...root]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { devices: { auto: boolean; instances: { name: string; failsafe: { name: string; devargs: string }; vf: { pci: string } | null }[] }[] };
    expect(doc.devices[0]).toMatchObject({ auto: true });
    expect(doc.devices[0]!.instances[0]).toMatchObject({
      name: 'net_vdev_netvsc_id0',
      failsafe: { name: 'net_failsafe_vsc0', devargs: 'fd(<pipe>),dev(net_tap_vsc0,remote=eth1)' },
      vf: { pci: '0002:00:02.0' },
    });
    expect(taps(bed.ns)).toEqual(before);
    const conflict = await cli(['probe', '--vdev', 'net_vdev_netvsc0,iface=eth1,iface=eth1', ...root]);
    expect(conflict.code).toBe(2);
    expect(conflict.err).toMatch(/both name eth1.*\[ERR_NETVSC_CONFLICT\]/);
  });

  it('run forwards, shows statistics and events, writes --json-stats and tears down after --duration', async () => {
    const file = join(dir, 'stats.json');
    const running = cli(['run', '--fwd', 'echo', '--duration', '3', '--stats-period', '0.5', '--json-stats', file, ...root]);
    await sleep(800);
    await bed.peer!.send({ count: 1000, flow: 1, ratePps: 2000, size: 128 });
    const r = await running;
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/forwarding \(echo, burst 32\) on net_failsafe_vsc0/);
    expect(r.out).toMatch(/sub0 0002:00:02\.0 +started/);
    expect(r.out).toMatch(/Tx none -> 0002:00:02\.0/);
    expect(r.out).toMatch(/stopped; tearing down/);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { schema: number; ports: { name: string; opackets: number; subdevices: { slot: number; txPackets: number }[] }[]; events: unknown[] };
    expect(doc.schema).toBe(1);
    expect(doc.ports[0]!.opackets).toBeGreaterThanOrEqual(1000);
    expect(doc.ports[0]!.subdevices[0]!.txPackets).toBeGreaterThanOrEqual(1000);
    expect(doc.events.length).toBeGreaterThan(0);
    expect(taps(bed.ns)).toEqual([]);
    const c = await bed.counters();
    expect(c.flows.find((f) => f.flow === 1)).toMatchObject({ unique: 1000, duplicates: 0 });
  });

  it('run stops cleanly when its signal fires', async () => {
    const ac = new AbortController();
    const running = cli(['run', ...root], ac.signal);
    await sleep(1000);
    expect(taps(bed.ns)).toHaveLength(1);
    ac.abort('SIGTERM');
    const r = await running;
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/stopped \(SIGTERM\)/);
    expect(taps(bed.ns)).toEqual([]);
  });

  it('the installed bin exits 0 on SIGINT with everything torn down', async () => {
    expect(existsSync(CLI), `${CLI} is built before the tests (nx: test dependsOn build)`).toBe(true);
    const child = spawn('ip', ['netns', 'exec', bed.ns, process.execPath, CLI, 'run', '--stats-period', '0', ...root], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); }));
    for (let i = 0; i < 200 && !out.includes('forwarding'); i++) await sleep(50);
    expect(taps(bed.ns)).toHaveLength(1);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/stopped \(SIGINT\)/);
    expect(taps(bed.ns)).toEqual([]);
  });

  it('demo fails over and back and reports its figures', { timeout: 120_000 }, async () => {
    const file = join(dir, 'demo.json');
    const r = await cli(['demo', '--json', '--report', file, '--phase', '0.5', '--flaps', '2']);
    expect(r.code).toBe(0);
    const rep = JSON.parse(readFileSync(file, 'utf8')) as DemoReport;
    expect(rep.aborted).toBe(false);
    expect(rep.failovers).toHaveLength(2 + 2);
    expect(rep.switchBacks).toHaveLength(2 + 2 + 1);
    for (const f of rep.failovers) expect(f.detectMs).not.toBeNull();
    for (const s of rep.switchBacks) expect(s.ms).not.toBeNull();
    // A 67 ms bounce can come and go unseen while a loaded machine is busy elsewhere (CI saw 2 of
    // 3 once); what must hold is that no bounce seen within the settle time is ever announced.
    expect(rep.vf.bounced).toBeGreaterThanOrEqual(1);
    expect(rep.vf.bounced).toBeLessThanOrEqual(3);
    expect(rep.vf.pipeWrites + rep.vf.bounced).toBe(rep.vf.arrivals);
    expect(rep.echoed.vf).toBeGreaterThan(0);
    expect(rep.echoed.synthetic).toBeGreaterThan(0);
    expect(rep.lossPercent).toBeLessThan(2);
    expect(rep.phases[0]).toMatchObject({ phase: 'steady, VF present', sentSynthetic: 0, echoedSynthetic: 0, duplicates: 0 });
    // Exactly once across every plug too: the VF PMD binds its sockets muted until own_rx is in.
    for (const p of rep.phases) expect(p.duplicates, p.phase).toBe(0);
    expect(rep.phases).toHaveLength(6);
  });
});
