import type { EthStats, XStat } from '@netvsc/ethdev';
import { describe, expect, it } from 'vitest';
import type { Failsafe } from '../../src/index.js';
import { bringUpPort, drain, frame, pool, ring, ringName, send, until, closedAfterEach } from './helpers.js';

const ports = closedAfterEach();
const make = (devargs: string): Promise<Failsafe> => ports.make(devargs);

const FIELDS = ['ipackets', 'opackets', 'ibytes', 'obytes', 'imissed', 'ierrors', 'oerrors', 'rxNombuf'] as const;

function expectNotBelow(now: EthStats, before: EthStats, when: string): void {
  for (const f of FIELDS) expect(now[f], `${f} went down ${when}`).toBeGreaterThanOrEqual(before[f]);
}

const xs = (list: XStat[], name: string): number | undefined => list.find((x) => x.name === name)?.value;

describe('statistics across removals', () => {
  it('stay monotonic and exact over 40 plug/unplug cycles with traffic on both sub-devices', async () => {
    const vf = ringName('vf');
    const tap = ringName('tap');
    const fs = await make(`net_failsafe_st1,dev(${vf}),dev(${tap}),hotplug_poll=100000`);
    const mp = pool(1024);
    bringUpPort(fs, mp);
    let prev = fs.statsGet();
    let sent = 0;
    let received = 0;
    for (let cycle = 0; cycle < 40; cycle++) {
      sent += send(fs, mp, 3); // to the VF
      ring(vf).inject(0, frame(1));
      ring(tap).inject(0, frame(2));
      received += drain(fs, mp, 4).reduce((a, b) => a + b, 0);
      const mid = fs.statsGet();
      expectNotBelow(mid, prev, `before removal ${cycle}`);
      prev = mid;
      if (cycle % 2 === 0) ring(vf).remove('flap');
      else await fs.unplug(0, 'flap');
      sent += send(fs, mp, 2); // to the TAP, removal known, teardown not done yet
      const during = fs.statsGet();
      expectNotBelow(during, prev, `during removal ${cycle}`);
      prev = during;
      await until(() => fs.subdevices()[0]?.removals === cycle + 1, `removal ${cycle} processed`);
      const after = fs.statsGet();
      expectNotBelow(after, prev, `after removal ${cycle}`);
      prev = after;
      await fs.plug(0);
      await until(() => fs.subdevices()[0]?.state === 'started', `replug ${cycle}`);
    }
    const end = fs.statsGet();
    expect(end.opackets).toBe(sent);
    expect(end.ipackets).toBe(received);
    expect(end.obytes).toBe(sent * 60);
    expect(sent).toBe(200);
    expect(received).toBe(80);
    const x = fs.xstatsGet();
    expect(xs(x, 'sub0_arrivals')).toBe(41);
    expect(xs(x, 'sub0_removals')).toBe(40);
    expect(xs(x, 'sub0_tx_packets')).toBe(120);
    expect(xs(x, 'sub1_tx_packets')).toBe(80);
    expect(xs(x, 'sub1_rx_packets')).toBe(40);
    expect(mp.inUse()).toBe(0);
  });

  it('a driver that resets its counters on reconfigure does not make the port go backwards', async () => {
    const a = ringName();
    const fs = await make(`net_failsafe_st2,dev(${a})`);
    const mp = pool();
    bringUpPort(fs, mp);
    send(fs, mp, 7);
    expect(fs.statsGet().opackets).toBe(7);
    fs.stop();
    bringUpPort(fs, mp); // ring PMD zeroes its counters in configure
    expect(ring(a).dev.statsGet().opackets).toBe(0);
    expect(fs.statsGet().opackets).toBe(7);
    send(fs, mp, 1);
    expect(fs.statsGet().opackets).toBe(8);
  });

  it('statsReset zeroes the port and the sub-devices', async () => {
    const a = ringName();
    const fs = await make(`net_failsafe_st3,dev(${a})`);
    const mp = pool();
    bringUpPort(fs, mp);
    send(fs, mp, 4);
    fs.statsReset();
    expect(fs.statsGet().opackets).toBe(0);
    send(fs, mp, 1);
    expect(fs.statsGet().opackets).toBe(1);
    expect(fs.statsGet().qOpackets).toEqual([1]);
  });
});

describe('xstats', () => {
  it('show per-sub-device counters, the live devices own xstats (DPDK names) and the switch history', async () => {
    const vf = ringName('vf');
    const tap = ringName('tap');
    const fs = await make(`net_failsafe_xs1,dev(${vf}),dev(${tap}),hotplug_poll=100000`);
    const mp = pool();
    bringUpPort(fs, mp);
    send(fs, mp, 2);
    const x1 = fs.xstatsGet();
    expect(xs(x1, 'tx_good_packets')).toBe(2);
    expect(xs(x1, 'tx_sub0_good_packets')).toBe(2);
    expect(xs(x1, 'sub0_q0_errors')).toBe(0);
    expect(xs(x1, 'fs_tx_subdev')).toBe(0);
    expect(xs(x1, 'fs_tx_switches')).toBe(1);
    expect(xs(x1, 'fs_last_switch_reason')).toBe(1); // start
    expect(xs(x1, 'sub0_state')).toBe(4);
    await fs.unplug(0); // (a removed dev() would be re-probed at once)
    await new Promise((r) => setTimeout(r, 15));
    const x2 = fs.xstatsGet();
    expect(xs(x2, 'fs_tx_subdev')).toBe(1);
    expect(xs(x2, 'fs_last_switch_reason')).toBe(4); // removed
    expect(xs(x2, 'fs_fallback_ms')).toBeGreaterThan(0);
    expect(xs(x2, 'sub1_tx_time_ms')).toBeGreaterThan(0);
    expect(xs(x2, 'fs_last_switch_at')).toBeGreaterThan(0);
    const status = fs.status();
    expect(status.lastSwitch).toMatchObject({ reason: 'removed', from: 0, to: 1 });
    expect(status.fallbackMs).toBeGreaterThan(0);
    await fs.plug(0);
    expect(xs(fs.xstatsGet(), 'fs_last_switch_reason')).toBe(3); // plugged
    expect(xs(fs.xstatsGet(), 'fs_tx_switches')).toBe(3);
  });

  it('xstatsReset clears counters and flap history', async () => {
    const a = ringName();
    const fs = await make(`net_failsafe_xs2,dev(${a})`);
    bringUpPort(fs, pool());
    fs.xstatsReset();
    const x = fs.xstatsGet();
    expect(xs(x, 'sub0_arrivals')).toBe(0);
    expect(xs(x, 'fs_tx_switches')).toBe(0);
  });
});
