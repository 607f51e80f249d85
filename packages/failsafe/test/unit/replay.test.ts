import { describe, expect, it } from 'vitest';
import { createFailsafe, type Failsafe } from '../../src/index.js';
import { ofType, pool, record, ring, ringName, testRegistry, until, closedAfterEach } from './helpers.js';

const ports = closedAfterEach();
const make = (devargs: string): Promise<Failsafe> => ports.make(devargs);

const MC = ['01:00:5e:00:00:fb', '33:33:00:00:00:01'];

/** Apply a full configuration to the port (two queues each way). */
function configureEverything(fs: Failsafe, start: boolean): void {
  const mp = pool();
  fs.configure(2, 2, { lsc: true });
  fs.rxQueueSetup(0, { mempool: mp });
  fs.rxQueueSetup(1, { mempool: mp });
  fs.txQueueSetup(0, { mempool: mp });
  fs.txQueueSetup(1, { mempool: mp });
  fs.setMtu(4000);
  fs.defaultMacAddrSet('02:aa:bb:cc:dd:ee');
  fs.promiscuousEnable();
  fs.allmulticastEnable();
  fs.setMcAddrList(MC);
  if (start) fs.start();
}

describe('configuration replay onto a sub-device that plugs in later', () => {
  it("replays in DPDK's order: configure, Rx queues, Tx queues, promisc, allmulti, MTU, MAC, multicast, start", async () => {
    const fs = await make(`net_failsafe_r1,dev(${ringName()})`);
    configureEverything(fs, true);
    const late = ringName('late');
    fs.declare({ dev: late });
    await until(() => fs.subdevices()[1]?.state === 'started', 'late sub-device started');
    expect(ring(late).calls).toEqual([
      'configure(2,2)',
      'rxQueueSetup(0)',
      'rxQueueSetup(1)',
      'txQueueSetup(0)',
      'txQueueSetup(1)',
      'promiscuousSet(true)',
      'allmulticastSet(true)',
      'mtuSet(4000)',
      'macAddrSet(02:aa:bb:cc:dd:ee)',
      `mcAddrListSet(${MC.join(' ')})`,
      'start',
    ]);
    const r = ring(late);
    expect(r.promiscuous && r.allmulticast).toBe(true);
    expect(r.dev.getMtu()).toBe(4000);
    expect(r.dev.macAddrGet()).toBe('02:aa:bb:cc:dd:ee');
  });

  it('does not start the sub-device when the port is configured but stopped', async () => {
    const fs = await make(`net_failsafe_r2,dev(${ringName()})`);
    configureEverything(fs, false);
    const late = ringName('late');
    fs.declare({ dev: late });
    await until(() => fs.subdevices()[1]?.state === 'active', 'late sub-device active');
    expect(ring(late).calls).not.toContain('start');
    expect(ring(late).calls.at(-1)).toMatch(/^mcAddrListSet/);
    fs.start();
    expect(ring(late).calls.at(-1)).toBe('start');
  });

  it('skips what already matches and an empty multicast list; always sets the MAC', async () => {
    const fs = await make(`net_failsafe_r3,dev(${ringName()})`);
    const mp = pool();
    fs.configure(1, 1);
    fs.rxQueueSetup(0, { mempool: mp });
    fs.txQueueSetup(0, { mempool: mp });
    fs.start();
    const late = ringName('late');
    fs.declare({ dev: late });
    await until(() => fs.subdevices()[1]?.state === 'started', 'started');
    expect(ring(late).calls).toEqual(['configure(1,1)', 'rxQueueSetup(0)', 'txQueueSetup(0)', `macAddrSet(${fs.macAddrGet()})`, 'start']);
  });

  it('a sub-device that was only probed is configured with the replay when the application configures', async () => {
    const a = ringName();
    const fs = await make(`net_failsafe_r4,dev(${a})`);
    fs.setMtu(2000); // before configure: stored, applied at bring-up
    fs.promiscuousEnable();
    expect(ring(a).calls).toEqual([]);
    const mp = pool();
    fs.configure(1, 1);
    expect(ring(a).calls).toEqual(['configure(1,1)', 'promiscuousSet(true)', 'mtuSet(2000)', `macAddrSet(${fs.macAddrGet()})`]);
    fs.rxQueueSetup(0, { mempool: mp });
    fs.txQueueSetup(0, { mempool: mp });
    fs.start();
    expect(ring(a).calls.slice(-3)).toEqual(['rxQueueSetup(0)', 'txQueueSetup(0)', 'start']);
  });

  it('a replay failure leaves the sub-device out with an event; the port keeps working', async () => {
    const a = ringName();
    const fs = await make(`net_failsafe_r5,dev(${a}),hotplug_poll=100000`);
    configureEverything(fs, true);
    const log = record(fs);
    // A sub-device whose maximum MTU is below the port's: the MTU replay fails.
    const small = ringName('small');
    const { RingPmd } = await import('@netvsc/ethdev');
    const pmd = new RingPmd({ name: small });
    pmd.failNext('mtuSet', new RangeError('MTU 4000 too large for this device'));
    fs.declare({ port: pmd.dev });
    await fs.upkeep();
    const failed = ofType(log, 'subdev-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ subdev: 1, stage: 'replay', op: 'mtuSet', device: small });
    expect(fs.subdevices()[1]).toMatchObject({ state: 'undefined' });
    expect(ofType(log, 'subdev-plugged')).toHaveLength(0);
    expect(fs.state).toBe('started');
    expect(fs.txSubdev).toBe(0);
    expect(pmd.dev.state).toBe('closed');
  });
});

describe('value operations are all-or-nothing across sub-devices', () => {
  it('MTU refused by one sub-device: undone on the others, error to the application, nothing stored', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_v1,dev(${a}),dev(${b})`);
    fs.configure(1, 1);
    ring(b).failNext('mtuSet', new RangeError('no'));
    expect(() => {
      fs.setMtu(3000);
    }).toThrow('no');
    expect(fs.getMtu()).toBe(1500);
    expect(ring(a).dev.getMtu()).toBe(1500);
    expect(ring(a).calls.slice(-2)).toEqual(['mtuSet(3000)', 'mtuSet(1500)']);
  });

  it('promiscuous refused: rolled back to the previous state', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_v2,dev(${a}),dev(${b})`);
    fs.configure(1, 1);
    ring(b).failNext('promiscuousSet');
    expect(() => {
      fs.promiscuousEnable();
    }).toThrow();
    expect(fs.promiscuousGet()).toBe(false);
    expect(ring(a).promiscuous).toBe(false);
  });

  it('a removed sub-device does not fail a value operation: it is flagged and skipped', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_v3,dev(${a}),dev(${b})`);
    fs.configure(1, 1);
    const log = record(fs);
    const { NoDeviceError } = await import('@netvsc/ethdev');
    ring(a).failNext('mtuSet', new NoDeviceError('gone'));
    fs.setMtu(1400);
    expect(fs.getMtu()).toBe(1400);
    expect(ring(b).dev.getMtu()).toBe(1400);
    expect(fs.subdevices()[0]?.removing).toBe(true);
    expect(ofType(log, 'subdev-failed')).toHaveLength(0);
  });

  it('multicast list and MAC reach every configured sub-device', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_v4,dev(${a}),dev(${b})`);
    fs.configure(1, 1);
    fs.setMcAddrList(MC);
    fs.defaultMacAddrSet('02:00:00:00:00:09');
    for (const n of [a, b]) {
      expect(ring(n).mcList).toEqual(MC);
      expect(ring(n).dev.macAddrGet()).toBe('02:00:00:00:00:09');
    }
    expect(fs.status().macOrigin).toBe('app');
  });
});

describe('MAC address choice', () => {
  it('mac= wins and is applied to every sub-device', async () => {
    const a = ringName();
    const fs = await make(`net_failsafe_m1,dev(${a},mac=00:11:22:33:44:55),mac=02:12:34:56:78:9a`);
    expect(fs.macAddrGet()).toBe('02:12:34:56:78:9a');
    fs.configure(1, 1);
    expect(ring(a).dev.macAddrGet()).toBe('02:12:34:56:78:9a');
  });

  it('else the first probed sub-device (slot order) gives its MAC', async () => {
    const fs = await make(`net_failsafe_m2,exec(true),dev(${ringName()},mac=00:15:5d:aa:bb:cc),dev(${ringName()},mac=00:15:5d:00:00:02)`);
    expect(fs.macAddrGet()).toBe('00:15:5d:aa:bb:cc');
    expect(fs.status().macOrigin).toBe('subdev');
  });

  it('else a random locally administered unicast MAC', async () => {
    const fs = await createFailsafe({ name: 'net_failsafe_m3', subdevices: [{ exec: 'true' }], registry: testRegistry().registry });
    ports.keep(fs);
    const first = parseInt(fs.macAddrGet().slice(0, 2), 16);
    expect(first & 1).toBe(0);
    expect(first & 2).toBe(2);
    expect(fs.status().macOrigin).toBe('random');
  });
});
