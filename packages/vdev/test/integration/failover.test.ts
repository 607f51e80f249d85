import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integrationGate } from '@netvsc/sim';
import { afPacketPort } from '@netvsc/vf-pmd';
import { VF_BLOCK_SIZE, VF_FRAME_COUNT } from '../../src/index.js';
import { Bed, ipJson, link, sleep, until } from './bed.js';

const run = integrationGate('vdev failover tests');

/** One guest for the whole file: NetVSC eth1 + VF enP2s2, transparent-VF path on. */
describe.skipIf(!run)('the stack in a simulated guest (transparent VF on)', () => {
  let bed: Bed;
  let flow = 10;
  const MC = '01:00:5e:00:00:fb';

  beforeAll(async () => {
    bed = await Bed.create({ setup: { mtu: 1400, promiscuous: false } });
    await until(() => bed.port.txSubdev === 0, 5000, 'Tx on the VF');
  });

  afterAll(async () => {
    await (bed as Bed | undefined)?.close();
  });

  it('attaches by Hyper-V auto-invocation: one fail-safe port over the VF and the TAP', () => {
    const info = bed.stack!.info();
    expect(info).toHaveLength(1);
    expect(info[0]).toMatchObject({ name: 'net_vdev_netvsc_id0', ifName: 'eth1', failsafeName: 'net_failsafe_vsc0' });
    expect(info[0]!.failsafeDevargs).toMatch(/^fd\(\d+\),dev\(net_tap_vsc0,remote=eth1\)$/);
    const subs = bed.port.subdevices();
    expect(subs.map((s) => [s.state, s.name])).toEqual([
      ['started', '0002:00:02.0'],
      ['started', 'net_tap_vsc0'],
    ]);
    // The vdev hands its VF PMD 64 KiB Rx blocks and a 16 MiB ring (a sleeping receiver's buffer).
    const vf = bed.port.subdevPort(0);
    expect(vf && afPacketPort(vf)?.config.geometry).toMatchObject({ blockSize: VF_BLOCK_SIZE, frameNr: VF_FRAME_COUNT });
  });

  it('delivers every unicast frame exactly once both ways, over the VF, and keeps them from the kernel', async () => {
    // A frame the kernel's stack gets on eth1 and nobody handles counts as dropped there.
    const kernelBefore = link(bed.ns, 'eth1').stats64?.rx?.dropped ?? 0;
    const f = flow++;
    const c = await bed.roundTrip(3000, f);
    const st = c.flows.find((x) => x.flow === f);
    expect(st).toMatchObject({ unique: 3000, duplicates: 0 });
    expect(c.ports[0]!.vf.sent).toBeGreaterThanOrEqual(3000);
    expect(c.ports[0]!.vf.received).toBeGreaterThanOrEqual(3000);
    // The transparent-VF path hands each VF frame to eth1 too: the kernel must see none of them.
    expect(link(bed.ns, 'eth1').stats64?.rx?.dropped ?? 0).toBe(kernelBefore);
  });

  it('receives multicast through the NetVSC (TAP) while the VF is present', async () => {
    bed.port.allmulticastEnable();
    bed.port.setMcAddrList([MC]);
    const tapRx = bed.xstat('sub1_rx_packets');
    const f = flow++;
    await bed.peer!.send({ count: 200, flow: f, to: 'multicast', ratePps: 2000, size: 128 });
    await sleep(300);
    const c = await bed.counters();
    expect(c.flows.find((x) => x.flow === f)).toMatchObject({ unique: 200, duplicates: 0 });
    expect(bed.xstat('sub1_rx_packets') - tapRx).toBeGreaterThanOrEqual(200);
    expect(bed.port.txSubdev).toBe(0);
  });

  it('fails over to the TAP within the bound when the VF is removed mid-traffic, and Rx goes on', async () => {
    const f = flow++;
    const kernelBefore = link(bed.ns, 'eth1').stats64?.rx?.dropped ?? 0;
    const sending = bed.peer!.send({ count: 4000, flow: f, ratePps: 2000, size: 128 });
    await sleep(500);
    const removedAt = performance.now();
    await bed.guest.removeVf('eth1');
    await until(() => bed.port.txSubdev === 1, 1000, 'Tx on the TAP');
    const switchMs = performance.now() - removedAt;
    await sending;
    await sleep(300);
    const c = await bed.counters();
    const st = c.flows.find((x) => x.flow === f)!;
    expect(switchMs).toBeLessThan(1000);
    expect(st.duplicates).toBe(0);
    // A removal costs the frames in flight on the vanished VF, not more.
    expect(4000 - st.unique).toBeLessThan(100);
    expect(c.ports[0]!.synthetic.received).toBeGreaterThan(1000);
    // Unicast on the synthetic path is the application's too (the TAP redirects, never mirrors it).
    expect(link(bed.ns, 'eth1').stats64?.rx?.dropped ?? 0).toBe(kernelBefore);
    const sw = bed.events.find((e) => e.type === 'tx-switch' && e.toName === 'net_tap_vsc0');
    expect(sw).toBeDefined();
    expect(bed.events.some((e) => e.type === 'vf-removed')).toBe(true);
  });

  it('plugs the VF back at the same address, replays MTU, promiscuous and multicast, and moves Tx back', async () => {
    bed.port.promiscuousEnable();
    await bed.guest.addVf('eth1');
    await until(() => bed.port.txSubdev === 0, 5000, 'Tx back on the VF');
    const vf = link(bed.ns, 'enP2s2');
    expect(vf.mtu).toBe(1400);
    expect(vf.promiscuity ?? 0).toBeGreaterThan(0);
    const maddr = JSON.stringify(ipJson(bed.ns, ['maddr', 'show', 'dev', 'enP2s2']));
    expect(maddr).toContain(MC);
    expect(bed.events.some((e) => e.type === 'subdev-plugged' && e.subdev === 0 && e.arrivals >= 2)).toBe(true);
    const f = flow++;
    const before = (await bed.counters()).ports[0]!.vf.received;
    const c = await bed.roundTrip(1000, f);
    expect(c.flows.find((x) => x.flow === f)).toMatchObject({ unique: 1000, duplicates: 0 });
    expect(c.ports[0]!.vf.received - before).toBeGreaterThanOrEqual(1000);
    bed.port.promiscuousDisable();
  });

  it('plugs a VF that returns at a new PCI address', async () => {
    await bed.guest.removeVf('eth1');
    await until(() => bed.port.txSubdev === 1, 1000, 'Tx on the TAP');
    await bed.guest.addVf('eth1', { pci: '0003:00:02.0' });
    await until(() => bed.port.txSubdev === 0, 5000, 'Tx on the new VF');
    expect(bed.port.subdevices()[0]!.name).toBe('0003:00:02.0');
    const f = flow++;
    const c = await bed.roundTrip(1000, f);
    expect(c.flows.find((x) => x.flow === f)).toMatchObject({ unique: 1000, duplicates: 0 });
  });

  it('follows a NetVSC rename and keeps forwarding', async () => {
    await bed.guest.renameNetvsc('eth1', 'data0');
    await until(() => bed.stack!.info()[0]!.ifName === 'data0', 3000, 'the rename to be seen');
    expect(bed.events.some((e) => e.type === 'netvsc-renamed' && e.to === 'data0')).toBe(true);
    await until(() => bed.port.txSubdev === 0, 5000, 'Tx on the VF after the rename');
    const f = flow++;
    const c = await bed.roundTrip(500, f);
    expect(c.flows.find((x) => x.flow === f)).toMatchObject({ unique: 500, duplicates: 0 });
  });
});
