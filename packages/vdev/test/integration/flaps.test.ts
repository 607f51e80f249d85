import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integrationGate } from '@netvsc/sim';
import { Bed, fdCount, sleep, taps, until } from './bed.js';

const run = integrationGate('vdev flap tests');

describe.skipIf(!run)('20 VF flaps in a row', () => {
  let bed: Bed | undefined;
  let fdsBefore = 0;

  beforeAll(() => {
    fdsBefore = fdCount();
  });

  afterAll(async () => {
    await bed?.close();
  });

  it('leaks no descriptor, TAP or tc rule, and keeps statistics monotonic', { timeout: 120_000 }, async () => {
    bed = await Bed.create();
    const b = bed;
    await until(() => b.port.txSubdev === 0, 5000, 'Tx on the VF');
    const filtersAtStart = tcFilters(b);
    const sending = b.peer!.send({ count: 20_000, flow: 1, ratePps: 2000, size: 128 });
    let last = b.port.statsGet();
    let fdsAfterFirst = 0;
    for (let i = 0; i < 20; i++) {
      await b.guest.removeVf('eth1');
      await until(() => b.port.txSubdev === 1, 2000, `Tx on the TAP (flap ${i + 1})`);
      await sleep(100);
      await b.guest.addVf('eth1');
      await until(() => b.port.txSubdev === 0, 5000, `Tx back on the VF (flap ${i + 1})`);
      await sleep(100);
      const s = b.port.statsGet();
      expect(s.ipackets).toBeGreaterThanOrEqual(last.ipackets);
      expect(s.opackets).toBeGreaterThanOrEqual(last.opackets);
      last = s;
      if (i === 0) fdsAfterFirst = fdCount();
    }
    // Twenty plugs later the process holds what it held after the first one.
    expect(fdCount()).toBeLessThanOrEqual(fdsAfterFirst + 2);
    expect(taps(b.ns)).toHaveLength(1);
    expect(tcFilters(b)).toBe(filtersAtStart);
    const info = b.stack!.info()[0]!;
    expect(info.counters).toMatchObject({ arrivals: 21, removals: 20 });
    expect(b.port.subdevices()[0]!.arrivals).toBe(21);
    await sending.catch(() => undefined);

    await b.close();
    bed = undefined;
    // Everything the stack opened is closed again (the simulator's guest is gone too).
    expect(fdCount()).toBeLessThanOrEqual(fdsBefore + 2);
  });
});

/** Ingress filters of the NetVSC and of the VF, normalised (handles and program ids change per plug). */
function tcFilters(b: Bed): string {
  return ['eth1', 'enP2s2']
    .map((dev) =>
      execFileSync('tc', ['-n', b.ns, 'filter', 'show', 'dev', dev, 'ingress'], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.replace(/ handle 0x[0-9a-f]+/g, '').replace(/ id \d+/g, '').replace(/\btag [0-9a-f]+/g, '').trim())
        .filter((l) => l !== '')
        .sort()
        .join('\n'),
    )
    .join('\n--\n');
}

describe.skipIf(!run)('without link events, the 1 s scan alone', () => {
  let bed: Bed | undefined;

  afterAll(async () => {
    await bed?.close();
  });

  it('still finds a returning VF and moves Tx back to it', async () => {
    bed = await Bed.create({ attach: { linkEvents: false } });
    const b = bed;
    await until(() => b.port.txSubdev === 0, 5000, 'Tx on the VF');
    await b.guest.removeVf('eth1');
    await until(() => b.port.txSubdev === 1, 3000, 'Tx on the TAP');
    const scans = b.stack!.scans;
    await b.guest.addVf('eth1', { pci: '0005:00:02.0' });
    // One scan period plus the settle time plus the plug, with margin.
    await until(() => b.port.txSubdev === 0, 3000, 'Tx back on the VF found by the scan');
    expect(b.stack!.scans).toBeGreaterThan(scans);
    expect(b.port.subdevices()[0]!.name).toBe('0005:00:02.0');
    expect(b.events.some((e) => e.type === 'vf-announced' && e.vf.pci === '0005:00:02.0')).toBe(true);
  });
});
