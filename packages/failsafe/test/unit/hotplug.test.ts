import { fstatSync, mkdtempSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFailsafe, type Failsafe } from '../../src/index.js';
import { closeFd, openPipe } from '../../src/native/fd.js';
import { bringUpPort, ofType, pool, record, ring, ringName, send, testRegistry, until, probeFailsafe } from './helpers.js';

const open: Failsafe[] = [];
const fds: number[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const fs of open.splice(0)) fs.close();
  for (const fd of fds.splice(0)) closeFd(fd);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function pipe(): [number, number] {
  const p = openPipe();
  fds.push(...p);
  return p;
}

async function make(devargs: string, reg = testRegistry()): Promise<Failsafe> {
  const fs = await probeFailsafe(reg.registry, devargs);
  open.push(fs);
  return fs;
}

// With hotplug_poll this long, anything that happens within a test was event-driven.
const NO_TIMER = 'hotplug_poll=3600000';

describe('fd(): the control pipe', () => {
  it('plugs the device named by a new line at once (fd readability triggers the upkeep, not the timer)', async () => {
    const [r, w] = pipe();
    const tap = ringName('tap');
    const fs = await make(`net_failsafe_f1,fd(${r}),dev(${tap}),${NO_TIMER}`);
    const log = record(fs);
    bringUpPort(fs, pool());
    expect(fs.subdevices()[0]?.state).toBe('undefined');
    expect(fs.txSubdev).toBe(1);
    const vf = ringName('vf');
    writeSync(w, `${vf}\n`);
    await until(() => fs.txSubdev === 0, 'VF plugged and carrying Tx');
    expect(ofType(log, 'subdev-plugged')[0]).toMatchObject({ subdev: 0, device: vf, state: 'started' });
    expect(ofType(log, 'tx-switch').at(-1)).toMatchObject({ from: 1, to: 0, reason: 'plugged' });
  });

  it('waits for the end of a partial line', async () => {
    const [r, w] = pipe();
    const fs = await make(`net_failsafe_f2,fd(${r}),${NO_TIMER}`);
    const vf = ringName('vf');
    writeSync(w, vf.slice(0, 6));
    await new Promise((res) => setTimeout(res, 20));
    await fs.upkeep();
    expect(fs.subdevices()[0]?.state).toBe('undefined');
    writeSync(w, `${vf.slice(6)}\n`);
    await until(() => fs.subdevices()[0]?.state === 'probed', 'plugged after the newline');
    expect(fs.subdevices()[0]?.device).toBe(vf);
  });

  it('of several lines takes the newest', async () => {
    const [r, w] = pipe();
    const old = ringName('old');
    const vf = ringName('new');
    writeSync(w, `${old}\n${vf}\n`);
    const fs = await make(`net_failsafe_f3,fd(${r}),${NO_TIMER}`);
    expect(fs.subdevices()[0]).toMatchObject({ state: 'probed', device: vf });
  });

  it('garbage is reported (parse stage), and the next good line is taken', async () => {
    const [r, w] = pipe();
    const fs = await make(`net_failsafe_f4,fd(${r}),${NO_TIMER}`);
    const log = record(fs);
    writeSync(w, 'this is (not a device\n');
    await until(() => ofType(log, 'subdev-failed').length === 1, 'parse failure reported');
    expect(ofType(log, 'subdev-failed')[0]).toMatchObject({ subdev: 0, stage: 'parse', device: 'this is (not a device' });
    const vf = ringName();
    writeSync(w, `${vf}\n`);
    await until(() => fs.subdevices()[0]?.state === 'probed', 'plugged');
  });

  it('a line naming an unknown driver is a probe failure, retried with the next line', async () => {
    const [r, w] = pipe();
    const fs = await make(`net_failsafe_f5,fd(${r}),${NO_TIMER}`);
    const log = record(fs);
    writeSync(w, 'net_nosuch0\n');
    await until(() => ofType(log, 'subdev-failed').length === 1, 'probe failure');
    expect(ofType(log, 'subdev-failed')[0]).toMatchObject({ stage: 'probe' });
    expect((ofType(log, 'subdev-failed')[0]!.error as { code?: string }).code).toBe('ERR_DRIVER_NOT_FOUND');
  });

  it('a bad descriptor is reported as a source failure; the descriptor is never closed by the fail-safe', async () => {
    const [r, w] = pipe();
    const fs = await make(`net_failsafe_f6,fd(${r}),fd(987654),${NO_TIMER}`);
    expect(fs.subdevices()[1]?.lastFailure).toMatchObject({ stage: 'source', op: 'read', code: 'EBADF' });
    writeSync(w, `${ringName()}\n`);
    await until(() => fs.subdevices()[0]?.state === 'probed', 'plugged');
    fs.close();
    expect(() => fstatSync(r)).not.toThrow();
  });

  it('a new line naming another device replaces the plugged one', async () => {
    const [r, w] = pipe();
    const a = ringName('a');
    writeSync(w, `${a}\n`);
    const fs = await make(`net_failsafe_f7,fd(${r}),${NO_TIMER}`);
    const log = record(fs);
    writeSync(w, `${a}\n`); // the same device again: nothing happens
    await fs.upkeep();
    expect(ofType(log, 'subdev-removed')).toHaveLength(0);
    const b = ringName('b');
    writeSync(w, `${b}\n`);
    await until(() => fs.subdevices()[0]?.device === b && fs.subdevices()[0]?.state === 'probed', 'replaced');
    expect(ofType(log, 'subdev-removed')[0]).toMatchObject({ cause: 'replaced', name: a });
  });
});

describe('the stale-address fix: an absent or failing sub-device re-reads its source', () => {
  it('a VF that returns at a new PCI address is found (DPDK keeps retrying the old one)', async () => {
    const [r, w] = pipe();
    const reg = testRegistry();
    reg.present.add('0002:00:02.0');
    writeSync(w, '0002:00:02.0\n');
    const tap = ringName('tap');
    const fs = await make(`net_failsafe_p1,fd(${r}),dev(${tap}),${NO_TIMER}`, reg);
    const log = record(fs);
    const mp = pool();
    bringUpPort(fs, mp);
    expect(fs.txSubdev).toBe(0);
    // The VF goes away (host servicing).
    reg.present.delete('0002:00:02.0');
    const vfPort = fs.subdevPort(0)!;
    ring(vfPort.name).remove('VF hot-unplug');
    expect(fs.txSubdev).toBe(1);
    expect(send(fs, mp, 4)).toBe(4);
    expect(ring(tap).dev.statsGet().opackets).toBe(4);
    // Rounds retry the last address seen and fail (announced once).
    await fs.upkeep();
    await fs.upkeep();
    expect(reg.probes.filter((a) => a === '0002:00:02.0').length).toBeGreaterThanOrEqual(3);
    expect(ofType(log, 'subdev-failed')).toHaveLength(1);
    // It comes back at another address; vdev_netvsc writes it once.
    reg.present.add('0003:00:02.0');
    writeSync(w, '0003:00:02.0\n');
    await until(() => fs.txSubdev === 0, 'VF back at the new address');
    expect(fs.subdevices()[0]).toMatchObject({ device: '0003:00:02.0', state: 'started', arrivals: 2, removals: 1 });
    expect(ofType(log, 'tx-switch').map((e) => e.reason)).toEqual(['start', 'removed', 'plugged']);
  });

  it('a VF that returns at the same address is found again by the next round with nothing new in the pipe', async () => {
    const [r, w] = pipe();
    const reg = testRegistry();
    reg.present.add('0002:00:02.0');
    writeSync(w, '0002:00:02.0\n');
    const fs = await make(`net_failsafe_p2,fd(${r}),dev(${ringName()}),${NO_TIMER}`, reg);
    bringUpPort(fs, pool());
    reg.present.delete('0002:00:02.0');
    ring(fs.subdevPort(0)!.name).remove();
    await fs.upkeep();
    expect(fs.subdevices()[0]?.state).toBe('undefined');
    reg.present.add('0002:00:02.0');
    await fs.upkeep(); // what the timer (or the vdev) does
    expect(fs.txSubdev).toBe(0);
  });

  it('the upkeep timer is the backstop: with nothing event-driven, hotplug_poll finds the device', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-exec-'));
    dirs.push(dir);
    const file = join(dir, 'vf');
    const fs = await make(`net_failsafe_p3,exec(cat,${file},2>/dev/null),hotplug_poll=20`);
    expect(fs.subdevices()[0]?.state).toBe('undefined');
    const vf = ringName('vf');
    writeFileSync(file, `${vf}\n`);
    await until(() => fs.subdevices()[0]?.state === 'probed', 'found by a timer round');
    expect(fs.subdevices()[0]?.device).toBe(vf);
  });
});

describe('exec()', () => {
  it('runs asynchronously every attempt while the slot is absent, first line only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-exec-'));
    dirs.push(dir);
    const file = join(dir, 'dev');
    const fs = await make(`net_failsafe_e1,exec(cat,${file},2>/dev/null;,true),${NO_TIMER}`);
    expect(fs.subdevices()[0]?.state).toBe('undefined');
    const a = ringName();
    writeFileSync(file, `${a}\nsecond-line-ignored\n`);
    await fs.upkeep();
    expect(fs.subdevices()[0]).toMatchObject({ state: 'probed', device: a });
  });

  it('a failing command is reported as a source failure with an ExecError', async () => {
    const fs = await make(`net_failsafe_e2,dev(${ringName()}),exec(echo,${ringName()};,exit,7),${NO_TIMER}`);
    const f = fs.subdevices()[1]?.lastFailure;
    expect(f).toMatchObject({ stage: 'source', op: 'exec', code: 'ERR_EXEC' });
    expect(f?.message).toMatch(/status 7/);
    expect(fs.subdevices()[1]?.state).toBe('undefined');
  });

  it('a hanging command times out without blocking the event loop, and close kills a running one', async () => {
    const fs = await createFailsafe({ name: 'net_failsafe_e3', subdevices: [{ exec: 'sleep 30' }], execTimeoutMs: 50, registry: testRegistry().registry });
    open.push(fs);
    expect(fs.subdevices()[0]?.lastFailure).toMatchObject({ stage: 'source', code: 'ERR_EXEC' });
    const ticks: number[] = [];
    const t = setInterval(() => ticks.push(1), 1);
    const round = fs.upkeep();
    await new Promise((res) => setTimeout(res, 20));
    expect(ticks.length).toBeGreaterThan(0); // the loop ran while the command was running
    fs.close();
    await round;
    clearInterval(t);
  });
});
