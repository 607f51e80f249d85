import { RingPmd } from '@netvsc/ethdev';
import { describe, expect, it } from 'vitest';
import { createFailsafe, type Failsafe } from '../../src/index.js';
import { bringUpPort, drain, frame, ofType, pool, record, ring, ringName, send, testRegistry, until, closedAfterEach } from './helpers.js';

const ports = closedAfterEach();
const make = (devargs: string): Promise<Failsafe> => ports.make(devargs);

const opackets = (name: string): number => ring(name).dev.statsGet().opackets;

describe('Tx', () => {
  it('goes to the preferred sub-device, to the fallback the moment a removal is known, and back on re-plug', async () => {
    const a = ringName('vf');
    const b = ringName('tap');
    const fs = await make(`net_failsafe_t1,dev(${a}),dev(${b}),hotplug_poll=100000`);
    const mp = pool();
    bringUpPort(fs, mp);
    expect(send(fs, mp, 8)).toBe(8);
    expect(opackets(a)).toBe(8);
    expect(opackets(b)).toBe(0);
    ring(a).remove();
    // Same tick, no upkeep yet: Tx already on the fallback.
    expect(send(fs, mp, 5)).toBe(5);
    expect(opackets(b)).toBe(5);
    await until(() => fs.txSubdev === 0 && fs.subdevices()[0]?.arrivals === 2, 'preferred re-plugged');
    expect(send(fs, mp, 3)).toBe(3);
    expect(opackets(a)).toBe(3); // the new device behind slot 0
    expect(mp.inUse()).toBe(0);
  });

  it('with no usable sub-device returns 0 and leaves the mbufs with the caller; Rx returns 0', async () => {
    const a = ringName();
    const fs = await make(`net_failsafe_t2,dev(${a}),hotplug_poll=100000`);
    const mp = pool();
    bringUpPort(fs, mp);
    await fs.unplug(0);
    expect(fs.txSubdev).toBeUndefined();
    const burst = new Uint32Array(4);
    mp.allocBulk(burst, 4);
    expect(fs.txBurst(0, burst, 4)).toBe(0);
    expect(mp.inUse()).toBe(4); // still ours
    mp.freeBulk(burst, 4);
    expect(fs.rxBurst(0, new Uint32Array(8), 8)).toBe(0);
    expect(fs.linkGet().up).toBe(false);
  });

  it('prefers a link-up fallback over a link-down preferred device, and says why', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_t3,dev(${a}),dev(${b}),hotplug_poll=100000`);
    const log = record(fs);
    bringUpPort(fs, pool());
    ring(a).setLink(false);
    expect(fs.txSubdev).toBe(1);
    expect(ofType(log, 'tx-switch').at(-1)).toMatchObject({ from: 0, to: 1, reason: 'link' });
    ring(b).setLink(false);
    // Both down: the preferred one again (nothing better), link reported down.
    expect(fs.txSubdev).toBe(0);
    expect(fs.linkGet().up).toBe(false);
    ring(a).setLink(true);
    expect(fs.linkGet().up).toBe(true);
  });

  it('Tx stops on stop() and resumes on start(), with switch events', async () => {
    const a = ringName();
    const fs = await make(`net_failsafe_t4,dev(${a})`);
    const log = record(fs);
    const mp = pool();
    bringUpPort(fs, mp);
    fs.stop();
    expect(fs.txSubdev).toBeUndefined();
    fs.start();
    expect(fs.txSubdev).toBe(0);
    expect(ofType(log, 'tx-switch').map((e) => e.reason)).toEqual(['start', 'stop', 'start']);
  });
});

describe('Rx', () => {
  it('polls every started sub-device round-robin, one sub-device per call', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_x1,dev(${a}),dev(${b})`);
    const mp = pool();
    bringUpPort(fs, mp);
    for (let i = 0; i < 3; i++) ring(a).inject(0, frame(0xa0 + i));
    for (let i = 0; i < 3; i++) ring(b).inject(0, frame(0xb0 + i));
    const out = new Uint32Array(1);
    const tags: number[] = [];
    for (let i = 0; i < 6; i++) {
      expect(fs.rxBurst(0, out, 1)).toBe(1);
      const m = out[0]!;
      tags.push(mp.data(m)[59]!);
      expect(mp.port[m]).toBe(fs.portId);
      mp.free(m);
    }
    expect(tags).toEqual([0xa0, 0xb0, 0xa1, 0xb1, 0xa2, 0xb2]);
    expect(fs.rxBurst(0, out, 1)).toBe(0);
  });

  it('an idle sub-device does not cost a call: the busy one is reached in the same burst', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_x2,dev(${a}),dev(${b})`);
    const mp = pool();
    bringUpPort(fs, mp);
    const out = new Uint32Array(4);
    for (let i = 0; i < 4; i++) ring(b).inject(0, frame(i));
    for (let i = 0; i < 4; i++) {
      expect(fs.rxBurst(0, out, 1)).toBe(1);
      mp.free(out[0]!);
    }
  });

  it('keeps receiving from the fallback while the preferred one carries Tx (NetVSC multicast)', async () => {
    const vf = ringName('vf');
    const tap = ringName('tap');
    const fs = await make(`net_failsafe_x3,dev(${vf}),dev(${tap})`);
    const mp = pool();
    bringUpPort(fs, mp);
    expect(fs.txSubdev).toBe(0);
    ring(tap).inject(0, frame(1));
    expect(drain(fs, mp, 2).reduce((x, y) => x + y, 0)).toBe(1);
  });

  it('skips a sub-device whose removal is reported from inside its own burst', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_x4,dev(${a}),dev(${b}),hotplug_poll=100000`);
    const mp = pool();
    bringUpPort(fs, mp);
    const victim = ring(a);
    // The device reports removal while the fail-safe is inside its rxBurst.
    const orig = victim.rxBurst.bind(victim);
    victim.rxBurst = (q, out, max) => {
      victim.remove('ENXIO during rx');
      return orig(q, out, max);
    };
    ring(b).inject(0, frame(7));
    const out = new Uint32Array(8);
    const n = fs.rxBurst(0, out, 8);
    expect(n).toBe(1);
    mp.free(out[0]!);
    // Flagged during the burst, not closed inside it.
    expect(victim.dev.state).not.toBe('closed');
    expect(fs.subdevices()[0]?.removing).toBe(true);
    await until(() => victim.dev.state === 'closed', 'closed after the burst');
  });

  it('a driver that throws from a burst is taken out; the burst itself returns 0', async () => {
    const a = ringName();
    const fs = await make(`net_failsafe_x5,dev(${a}),hotplug_poll=100000`);
    const log = record(fs);
    const mp = pool();
    bringUpPort(fs, mp);
    ring(a).txBurst = () => {
      throw new Error('driver bug');
    };
    const burst = new Uint32Array(2);
    mp.allocBulk(burst, 2);
    expect(fs.txBurst(0, burst, 2)).toBe(0);
    mp.freeBulk(burst, 2);
    expect(ofType(log, 'subdev-failed')[0]).toMatchObject({ stage: 'burst', op: 'txBurst' });
    expect(fs.txSubdev).toBeUndefined();
  });
});

describe('Rx readiness: rxQueueWait', () => {
  it('resolves when any started sub-device has something', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_w1,dev(${a}),dev(${b})`);
    const mp = pool();
    bringUpPort(fs, mp);
    const waiting = fs.rxQueueWait(0, 5000);
    setTimeout(() => ring(b).inject(0, frame(3)), 5);
    expect(await waiting).toBe(true);
    drain(fs, mp, 2);
  });

  it('times out with false when all are idle, and arms each sub-device once per wait', async () => {
    const a = ringName();
    const fs = await make(`net_failsafe_w2,dev(${a})`);
    bringUpPort(fs, pool());
    const r = ring(a);
    const orig = r.rxIntrEnable.bind(r);
    let calls = 0;
    r.rxIntrEnable = (q, h) => {
      calls++;
      orig(q, h);
    };
    for (let i = 0; i < 5; i++) expect(await fs.rxQueueWait(0, 1)).toBe(false);
    expect(calls).toBe(5);
  });

  it('rxIntrEnable calls back once per arming, from the event loop, and not after rxIntrDisable', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_w5,dev(${a}),dev(${b})`);
    const mp = pool();
    bringUpPort(fs, mp);
    const woke: number[] = [];
    const onRx = (q: number): void => {
      woke.push(q);
    };
    expect(fs.rxIntrEnable(0, onRx)).toBe(true);
    ring(b).inject(0, frame(1));
    expect(woke).toEqual([]); // never inside the injecting call
    await until(() => woke.length === 1, 'first wake-up');
    ring(a).inject(0, frame(2));
    await new Promise((res) => setTimeout(res, 20));
    expect(woke).toEqual([0]); // one-shot: not re-armed, not called again
    expect(fs.rxIntrEnable(0, onRx)).toBe(true);
    await until(() => woke.length === 2, 'wake-up for data already waiting');
    drain(fs, mp, 2);
    fs.rxIntrEnable(0, onRx);
    fs.rxIntrDisable(0);
    ring(a).inject(0, frame(3));
    await new Promise((res) => setTimeout(res, 20));
    expect(woke).toHaveLength(2);
    drain(fs, mp, 1);
  });

  it('a sub-device leaving wakes an armed queue, after the call that removed it returned', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await make(`net_failsafe_w6,dev(${a}),dev(${b})`);
    bringUpPort(fs, pool());
    let woke = 0;
    fs.rxIntrEnable(0, () => {
      woke++;
    });
    ring(a).remove('pulled');
    fs.rxBurst(0, new Uint32Array(4), 4); // the removal is handled between bursts
    expect(woke).toBe(0);
    await until(() => woke === 1, 'topology wake-up');
  });

  it('wakes when a sub-device arrives', async () => {
    const fs = await createFailsafe({ name: 'net_failsafe_w3', subdevices: [{ manual: true }], registry: testRegistry().registry });
    ports.keep(fs);
    bringUpPort(fs, pool());
    const waiting = fs.rxQueueWait(0, 5000);
    const late = new RingPmd({ name: ringName('late') });
    void fs.plug(0, late.dev);
    expect(await waiting).toBe(true);
  });

  it('wakes and returns false when the port closes', async () => {
    const fs = await make(`net_failsafe_w4,dev(${ringName()})`);
    bringUpPort(fs, pool());
    const waiting = fs.rxQueueWait(0, -1);
    setTimeout(() => {
      fs.close();
    }, 5);
    expect(await waiting).toBe(false);
  });
});
