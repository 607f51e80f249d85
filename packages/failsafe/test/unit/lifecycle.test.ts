import { ethDevList, RingPmd, type EthDev } from '@netvsc/ethdev';
import { afterEach, describe, expect, it } from 'vitest';
import { createFailsafe, SubDeviceError, type Failsafe } from '../../src/index.js';
import { bringUpPort, ofType, pool, record, ring, ringName, testRegistry, until, probeFailsafe } from './helpers.js';

const open: Failsafe[] = [];

async function make(devargs: string, reg = testRegistry()): Promise<Failsafe> {
  const fs = await probeFailsafe(reg.registry, devargs);
  open.push(fs);
  return fs;
}

afterEach(() => {
  for (const fs of open.splice(0)) fs.close();
});

const states = (fs: Failsafe): string[] => fs.subdevices().map((s) => s.state);

describe('creation through the registry', () => {
  it('probes dev() sub-devices, hides them, and is itself a visible port', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_c1,dev(${a}),dev(${b})`);
    expect(fs.driverName).toBe('net_failsafe');
    expect(states(fs)).toEqual(['probed', 'probed']);
    const visible = ethDevList().map((p) => p.name);
    expect(visible).toContain(fs.name);
    expect(visible).not.toContain(a);
    expect(visible).not.toContain(b);
    expect(fs.subdevPort(0)?.owner).toBe(`net_failsafe:${fs.name}`);
  });

  it('answers to the eth_failsafe alias', async () => {
    const fs = await make(`eth_failsafe_c2,dev(${ringName()})`);
    expect(fs.driverName).toBe('net_failsafe');
  });

  it('keeps hotplug_poll per instance', async () => {
    const a = await make(`net_failsafe_c3,dev(${ringName()}),hotplug_poll=50`);
    const b = await make(`net_failsafe_c4,dev(${ringName()})`);
    expect(a.hotplugPollMs).toBe(50);
    expect(b.hotplugPollMs).toBe(2000);
  });

  it('creates with the sub-device absent: fd/exec with nothing yet, dev() failing to probe', async () => {
    const fs = await make(`net_failsafe_c5,exec(true),dev(${ringName()},peer=nowhere)`);
    expect(states(fs)).toEqual(['undefined', 'undefined']);
    expect(fs.subdevices()[1]?.lastFailure?.stage).toBe('probe');
  });
});

describe('sub-device state machine', () => {
  it('follows the port: probed -> active -> started -> active, and close releases everything', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_s1,dev(${a}),dev(${b})`);
    const mp = pool();
    fs.configure(1, 1);
    expect(states(fs)).toEqual(['active', 'active']);
    fs.rxQueueSetup(0, { mempool: mp });
    fs.txQueueSetup(0, { mempool: mp });
    fs.start();
    expect(states(fs)).toEqual(['started', 'started']);
    expect(ring(a).isStarted && ring(b).isStarted).toBe(true);
    fs.stop();
    expect(states(fs)).toEqual(['active', 'active']);
    expect(ring(a).isStarted).toBe(false);
    fs.start();
    const subA = ring(a);
    fs.close();
    expect(subA.calls.at(-1)).toBe('close');
    expect(subA.dev.state).toBe('closed');
    expect(RingPmd.get(b)).toBeUndefined();
  });

  it('a sub-device arriving later is brought to the port state (configured and started)', async () => {
    const port = await make(`net_failsafe_s2,dev(${ringName()})`);
    const mp = pool();
    bringUpPort(port, mp);
    const late = ringName('late');
    const log = record(port);
    const i = port.declare({ dev: late });
    expect(i).toBe(1);
    await until(() => port.subdevices()[1]?.state === 'started', 'late sub-device started');
    const plugged = ofType(log, 'subdev-plugged');
    expect(plugged).toHaveLength(1);
    expect(plugged[0]).toMatchObject({ subdev: 1, device: late, name: late, state: 'started', arrivals: 1 });
  });

  it('removal: Tx switches at once, the device is torn down between bursts, then re-plugged from dev()', async () => {
    const a = ringName('pref');
    const b = ringName('fb');
    const fs = await make(`net_failsafe_s3,dev(${a}),dev(${b}),hotplug_poll=100000`);
    const log = record(fs);
    bringUpPort(fs, pool());
    expect(fs.txSubdev).toBe(0);
    const victim = ring(a);
    victim.remove('surprise removal');
    // Synchronously: Tx moved, the sub-device is flagged but still open.
    expect(fs.txSubdev).toBe(1);
    expect(fs.subdevices()[0]?.removing).toBe(true);
    expect(victim.dev.state).not.toBe('closed');
    const sw = ofType(log, 'tx-switch').at(-1);
    expect(sw).toMatchObject({ from: 0, to: 1, reason: 'removed', fromName: a, toName: b });
    // Next turn of the loop: torn down; the upkeep re-probes the dev() string (DPDK behaviour).
    await until(() => ofType(log, 'subdev-removed').length === 1, 'removed event');
    expect(victim.dev.state).toBe('closed');
    const removed = ofType(log, 'subdev-removed')[0]!;
    expect(removed).toMatchObject({ subdev: 0, cause: 'rmv', reason: 'surprise removal', name: a });
    expect(removed.at).toBeGreaterThanOrEqual(removed.detectedAt);
    expect(removed.detectedAt).toBeLessThanOrEqual(sw!.at);
    await until(() => fs.txSubdev === 0, 'preferred back');
    expect(ring(a)).not.toBe(victim);
    expect(ofType(log, 'tx-switch').at(-1)).toMatchObject({ from: 1, to: 0, reason: 'plugged' });
    expect(fs.subdevices()[0]).toMatchObject({ arrivals: 2, removals: 1, state: 'started' });
  });

  it('unplug() keeps the slot empty until plug(); plug() with a new device replaces it', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_s4,dev(${a}),dev(${b}),hotplug_poll=100000`);
    bringUpPort(fs, pool());
    const log = record(fs);
    await fs.unplug(0, 'maintenance');
    expect(fs.subdevices()[0]).toMatchObject({ state: 'undefined', enabled: false });
    expect(ofType(log, 'subdev-removed')[0]).toMatchObject({ cause: 'unplug', reason: 'maintenance' });
    await fs.upkeep();
    expect(fs.subdevices()[0]?.state).toBe('undefined');
    expect(fs.txSubdev).toBe(1);
    expect(await fs.plug(0)).toBe(true);
    expect(fs.subdevices()[0]?.state).toBe('started');
    expect(fs.txSubdev).toBe(0);
    const c = ringName('c');
    expect(await fs.plug(0, c)).toBe(true);
    expect(fs.subdevices()[0]).toMatchObject({ device: c, name: c, state: 'started' });
    expect(ofType(log, 'subdev-removed').at(-1)).toMatchObject({ cause: 'replaced', name: a });
    // By reference: its port name, or its port.
    await fs.unplug(c);
    expect(fs.subdevices()[0]?.state).toBe('undefined');
  });

  it('plug() rejects with SubDeviceError when the attempt fails, and resolves false when nothing is there', async () => {
    const reg = testRegistry();
    const fs = await make(`net_failsafe_s5,dev(${ringName()})`, reg);
    const slot = fs.declare({ manual: true });
    expect(await fs.plug(slot)).toBe(false);
    const err = await fs.plug(slot, '0002:00:02.0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SubDeviceError);
    expect(err).toMatchObject({ code: 'ERR_SUBDEV', stage: 'probe', subdev: slot });
    reg.present.add('0002:00:02.0');
    expect(await fs.plug(slot)).toBe(true);
  });

  it('adopts a port given by instance, and refuses one owned elsewhere', async () => {
    const mine = new RingPmd({ name: ringName('inst') });
    const fs = await createFailsafe({ name: 'net_failsafe_s6', subdevices: [{ port: mine.dev }], registry: testRegistry().registry });
    open.push(fs);
    expect(fs.subdevPort(0)).toBe(mine.dev);
    expect(mine.dev.owner).toBe('net_failsafe:net_failsafe_s6');
    const other = await createFailsafe({ name: 'net_failsafe_s7', registry: testRegistry().registry });
    open.push(other);
    expect(() => other.declare({ port: mine.dev })).toThrow(expect.objectContaining({ code: 'ERR_BUSY' }) as Error);
    // A device given by instance is spent once removed.
    await fs.unplug(mine.dev);
    expect(mine.dev.state).toBe('closed');
    expect(await fs.plug(0)).toBe(false);
  });

  it('adopts an existing unowned port of the same name instead of probing a second one', async () => {
    const name = ringName('pre');
    const existing = new RingPmd({ name });
    const fs = await make(`net_failsafe_s8,dev(${name})`);
    expect(fs.subdevPort(0)).toBe(existing.dev);
  });

  it('a failing control operation leaves that sub-device out, not the port', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_s9,dev(${a}),dev(${b}),hotplug_poll=100000`);
    const log = record(fs);
    const mp = pool();
    fs.configure(1, 1);
    fs.rxQueueSetup(0, { mempool: mp });
    fs.txQueueSetup(0, { mempool: mp });
    ring(b).failNext('start', new Error('start refused'));
    fs.start();
    expect(fs.state).toBe('started');
    expect(ofType(log, 'subdev-failed')[0]).toMatchObject({ subdev: 1, stage: 'control', op: 'start' });
    // Taken out, then retried by the upkeep (a fresh device probed from dev()).
    await until(() => fs.subdevices()[1]?.state === 'started' && fs.subdevices()[1]?.arrivals === 2, 'retried');
    expect(ofType(log, 'subdev-removed')[0]).toMatchObject({ subdev: 1, cause: 'failed' });
  });

  it('counts a repeating failure every round but announces it once', async () => {
    const fs = await make(`net_failsafe_s10,dev(${ringName()}),exec(exit 3),hotplug_poll=100000`);
    const log = record(fs);
    await fs.upkeep();
    await fs.upkeep();
    const failures = fs.subdevices()[1]!.failures;
    expect(failures).toBeGreaterThanOrEqual(3);
    expect(ofType(log, 'subdev-failed')).toHaveLength(0); // announced during creation, before `record`
  });
});

describe('hidden sub-devices', () => {
  it('subdevPort and the RingPmd registry agree', async () => {
    const a = ringName();
    const fs = await make(`net_failsafe_h1,dev(${a})`);
    const p: EthDev | undefined = fs.subdevPort(a);
    expect(p).toBe(ring(a).dev);
  });
});
