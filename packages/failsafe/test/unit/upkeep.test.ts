import { EthDev, NoDeviceError, RingPmd, type EthDevOps, type PciDriver } from '@netvsc/ethdev';
import { afterEach, describe, expect, it } from 'vitest';
import { createFailsafe, type CommandRunner, type Failsafe } from '../../src/index.js';
import { bringUpPort, frame, ofType, pool, probeFailsafe, record, ring, ringName, testRegistry, until } from './helpers.js';

const open: Failsafe[] = [];
afterEach(() => {
  for (const fs of open.splice(0)) fs.close();
});

/** A command runner whose commands finish when the test says so; counts how many run at once. */
function heldRunner(): { runner: CommandRunner; finish(out: string): void; running: () => number; maxRunning: () => number; runs: () => number } {
  const pending: ((out: string) => void)[] = [];
  let running = 0;
  let max = 0;
  let runs = 0;
  const runner: CommandRunner = () => {
    runs++;
    running++;
    max = Math.max(max, running);
    const result = new Promise<string>((resolve) => {
      pending.push((out) => {
        running--;
        resolve(out);
      });
    });
    return { result, kill: () => undefined };
  };
  return {
    runner,
    finish: (out) => {
      for (const p of pending.splice(0)) p(out);
    },
    running: () => running,
    maxRunning: () => max,
    runs: () => runs,
  };
}

describe('upkeep scheduling', () => {
  it('never runs two rounds at once; requests during a round are served by one next round', async () => {
    const held = heldRunner();
    const creating = createFailsafe({ name: 'net_failsafe_u1', subdevices: [{ exec: 'x' }], registry: testRegistry().registry, native: { exec: held.runner }, hotplugPollMs: 3_600_000 });
    await until(() => held.running() === 1, 'creation round running its command');
    held.finish('');
    const fs = await creating;
    open.push(fs);
    const a = fs.upkeep();
    await until(() => held.running() === 1, 'round 1 running its command');
    // Five more requests while round 1 waits for its command.
    const more = [fs.upkeep(), fs.upkeep(), fs.upkeep(), fs.upkeep(), fs.upkeep()];
    expect(new Set(more).size).toBe(1); // all served by the same next round
    await new Promise((r) => setTimeout(r, 10));
    expect(held.running()).toBe(1);
    held.finish('');
    await a;
    await until(() => held.running() === 1, 'round 2 running');
    held.finish('');
    await Promise.all(more);
    expect(held.maxRunning()).toBe(1);
    expect(held.runs()).toBe(3); // creation, round 1, round 2
  });

  it('a removal is torn down promptly even while a round waits for a slow exec()', async () => {
    const held = heldRunner();
    const a = ringName();
    const creating = createFailsafe({ name: 'net_failsafe_u2', subdevices: [{ dev: a }, { exec: 'x' }], registry: testRegistry().registry, native: { exec: held.runner }, hotplugPollMs: 3_600_000 });
    await until(() => held.running() === 1, 'creation command');
    held.finish('');
    const fs = await creating;
    open.push(fs);
    bringUpPort(fs, pool());
    const round = fs.upkeep();
    await until(() => held.running() === 1, 'round waiting on exec');
    const victim = ring(a);
    await fs.unplug(0);
    expect(victim.dev.state).toBe('closed');
    held.finish('');
    await round;
  });

  it('a link event triggers an immediate round', async () => {
    const held = heldRunner();
    const a = ringName();
    const creating = createFailsafe({ name: 'net_failsafe_u3', subdevices: [{ dev: a }, { exec: 'x' }], registry: testRegistry().registry, native: { exec: held.runner }, hotplugPollMs: 3_600_000 });
    await until(() => held.running() === 1, 'creation command');
    held.finish('');
    const fs = await creating;
    open.push(fs);
    bringUpPort(fs, pool());
    const before = held.runs();
    ring(a).setLink(false);
    await until(() => held.runs() === before + 1, 'a round re-ran the absent slot’s command');
    held.finish('');
  });
});

describe('attempts overtaken by events', () => {
  /** A PCI driver whose probes complete when the test releases them. */
  function slowPci(): { driver: PciDriver; release(): void } {
    const waiting: (() => void)[] = [];
    return {
      driver: {
        name: 'slow_vf',
        probe: (addr) =>
          new Promise<EthDev>((resolve) => {
            waiting.push(() => {
              resolve(new RingPmd({ name: `slow_${addr}_${ringName()}` }).dev);
            });
          }),
      },
      release: () => {
        for (const w of waiting.splice(0)) w();
      },
    };
  }

  it('unplug() during a probe: the late port is closed, the slot stays empty', async () => {
    const reg = testRegistry();
    const slow = slowPci();
    reg.registry.registerPciDriver(slow.driver, { default: true });
    const fs = await createFailsafe({ name: 'net_failsafe_a1', subdevices: [{ manual: true }], registry: reg.registry, hotplugPollMs: 3_600_000 });
    open.push(fs);
    const plugging = fs.plug(0, '0002:00:02.0');
    await until(() => fs.subdevices()[0]?.state === 'parsed', 'probe in flight');
    await fs.unplug(0);
    slow.release();
    expect(await plugging).toBe(false);
    expect(fs.subdevices()[0]).toMatchObject({ state: 'undefined', enabled: false, arrivals: 0 });
    const leftovers = (await import('@netvsc/ethdev')).ethDevList().filter((p) => p.name.startsWith('slow_0002'));
    expect(leftovers).toEqual([]);
  });

  it('close() during a probe: nothing is left behind', async () => {
    const reg = testRegistry();
    const slow = slowPci();
    reg.registry.registerPciDriver(slow.driver, { default: true });
    const fs = await createFailsafe({ name: 'net_failsafe_a2', subdevices: [{ manual: true }], registry: reg.registry });
    void fs.plug(0, '0003:00:02.0').catch(() => undefined);
    await until(() => fs.subdevices()[0]?.state === 'parsed', 'probe in flight');
    fs.close();
    slow.release();
    await new Promise((r) => setTimeout(r, 5));
    const { ethDevList } = await import('@netvsc/ethdev');
    expect(ethDevList().filter((p) => p.name.startsWith('slow_0003'))).toEqual([]);
  });
});

describe('link status', () => {
  it('follows the Tx sub-device and emits lsc only when it changes', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await probeFailsafe(testRegistry().registry, `net_failsafe_l1,dev(${a}),dev(${b}),hotplug_poll=3600000`);
    bringUpPort(fs, pool());
    const log = record(fs);
    ring(a).setLink(false); // Tx moves to b, which is up: the port's link does not change
    ring(a).setLink(false);
    ring(b).setLink(false); // nothing up: down
    ring(b).setLink(true); // b up again: Tx to b, up
    const lsc = ofType(log, 'lsc').map((e) => e.link.up);
    expect(lsc).toEqual([false, true]);
    expect(ofType(log, 'lsc')[0]?.port).toBe(fs.name);
  });
});

describe('Rx readiness with a sub-device that cannot signal it', () => {
  it('falls back to short polls so data on that sub-device still wakes the waiter', async () => {
    const r = new RingPmd({ name: ringName('noirq') });
    // Same device, without Rx interrupts and advertising none.
    const ops = new Proxy(r, {
      get(t, k) {
        if (k === 'rxIntrEnable' || k === 'rxIntrDisable') return undefined;
        if (k === 'infoGet') return () => ({ ...t.infoGet(), capa: { lsc: true, rmv: true, rxqIntr: false } });
        const v: unknown = Reflect.get(t, k);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    }) as EthDevOps;
    const dev = new EthDev(`${r.dev.name}_x`, 'net_ring_noirq', ops);
    r.dev.close(); // the wrapper is the port now; the ring object stays usable for inject()
    const fs = await createFailsafe({ name: 'net_failsafe_i1', subdevices: [{ port: dev }], registry: testRegistry().registry });
    open.push(fs);
    const mp = pool();
    bringUpPort(fs, mp);
    setTimeout(() => r.inject(0, frame(9)), 5);
    const out = new Uint32Array(4);
    let got = 0;
    // A waiter that slept until its timeout would hit the test's own time limit first.
    for (let i = 0; i < 1000 && got === 0; i++) {
      await fs.rxQueueWait(0, 600_000);
      got = fs.rxBurst(0, out, 4);
    }
    expect(got).toBe(1);
    mp.freeBulk(out, got);
  });
});

describe('removal reported through errors', () => {
  it('a control op failing with ERR_NO_DEVICE flags the sub-device instead of failing the port', async () => {
    const a = ringName();
    const b = ringName();
    const fs = await probeFailsafe(testRegistry().registry, `net_failsafe_n1,dev(${a}),dev(${b}),hotplug_poll=3600000`);
    const mp = pool();
    fs.configure(1, 1);
    ring(a).failNext('rxQueueSetup', new NoDeviceError('VF gone'));
    fs.rxQueueSetup(0, { mempool: mp });
    fs.txQueueSetup(0, { mempool: mp });
    fs.start();
    expect(fs.txSubdev).toBe(1);
    await until(() => fs.subdevices()[0]?.removals === 1, 'torn down');
  });
});
