import { execFileSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { integrationGate, SimGuest } from '@netvsc/sim';
import { discover, isHyperV, isRoutedInterface, LinkMonitor, listAddresses, listInterfaces, resolvePciNetdev, type MonitorEvent } from '../../src/index.js';

interface IpLink {
  ifindex: number;
  ifname: string;
  address: string;
  mtu: number;
  link_type: string;
}

describe.skipIf(!integrationGate('detect'))('detect in a simulated Hyper-V guest', () => {
  let sim: SimGuest;
  let ns: string;
  let root: string;

  beforeAll(async () => {
    sim = await SimGuest.create({
      netvsc: [
        { name: 'eth1', mac: '00:15:5d:10:00:01', vf: { name: 'enP2s2', pci: '0002:00:02.0' } },
        { name: 'eth2', mac: '00:15:5d:10:00:02', vf: { name: 'enP3s3', pci: '0003:00:02.0' } },
        { name: 'eth3', mac: '00:15:5d:10:00:03', vf: null },
      ],
    });
    ns = sim.state().guestNs;
    root = sim.state().sysfsRoot;
  });

  afterAll(async () => {
    await sim.destroy();
  });

  it('enumerates the Ethernet interfaces from the kernel, as `ip link` sees them', () => {
    const theirs = (JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show'], { encoding: 'utf8' })) as IpLink[]).filter((l) => l.link_type === 'ether');
    const mine = listInterfaces({ netns: ns });
    expect(mine.map((i) => [i.index, i.name, i.mac, i.mtu])).toEqual(theirs.map((l) => [l.ifindex, l.ifname, l.address, l.mtu]));
    expect(mine.map((i) => i.name)).not.toContain('lo');
  });

  it('discovers NetVSCs, their VFs and the hypervisor from the kernel plus the fixture sysfs', () => {
    const d = discover({ netns: ns, sysfsRoot: root });
    expect(d.hypervisor.hyperV).toBe(true);
    const netvsc = d.interfaces.filter((i) => i.netvsc);
    expect(netvsc.map((i) => [i.name, i.vf?.name ?? null, i.vf?.pci ?? null])).toEqual([
      ['eth1', 'enP2s2', '0002:00:02.0'],
      ['eth2', 'enP3s3', '0003:00:02.0'],
      ['eth3', null, null],
    ]);
    expect(netvsc[0]!.vf!.index).toBe(d.interfaces.find((i) => i.name === 'enP2s2')!.index);
    expect(isHyperV({ sysfsRoot: root })).toBe(true);
    expect(isHyperV()).toBe(false);
  });

  it('resolves a PCI address back to its netdev by MAC, from sysfs and with kernel MACs', () => {
    const vf = sim.netvsc('eth1').vf!;
    expect(resolvePciNetdev('0002:00:02.0', { sysfsRoot: root, mac: '00:15:5d:10:00:01' })).toMatchObject({ name: 'enP2s2' });
    expect(resolvePciNetdev('0002:00:02.0', { sysfsRoot: root, mac: '00:15:5d:10:00:01', netlink: true, netns: ns })).toMatchObject({ name: 'enP2s2', mac: '00:15:5d:10:00:01' });
    expect(resolvePciNetdev('0002:00:02.0', { sysfsRoot: root, mac: '00:15:5d:10:00:02' })).toBeNull();
    expect(vf.pci).toBe('0002:00:02.0');
  });

  describe('routes', () => {
    afterEach(async () => {
      for (const cidr of ['192.0.2.10/24', '2001:db8::10/64', 'fe80::10/64']) {
        await sim.removeAddress('eth3', cidr).catch(() => undefined);
      }
    });

    it('counts an IPv4 address', async () => {
      expect(isRoutedInterface('eth3', { netns: ns })).toBe(false);
      await sim.addAddress('eth3', '192.0.2.10/24');
      expect(isRoutedInterface('eth3', { netns: ns })).toBe(true);
      const d = discover({ netns: ns, sysfsRoot: root }).interfaces.find((i) => i.name === 'eth3')!;
      expect(d.routed).toBe(true);
      expect(d.addresses.map((a) => a.address)).toContain('192.0.2.10');
    });

    it('counts a global IPv6 address', async () => {
      await sim.addAddress('eth3', '2001:db8::10/64');
      expect(isRoutedInterface('eth3', { netns: ns })).toBe(true);
    });

    it('does not count an IPv6 link-local address, but reports it', async () => {
      await sim.addAddress('eth3', 'fe80::10/64');
      const index = listInterfaces({ netns: ns }).find((i) => i.name === 'eth3')!.index;
      expect(listAddresses({ netns: ns, index }).map((a) => a.address)).toContain('fe80::10');
      expect(isRoutedInterface(index, { netns: ns })).toBe(false);
    });
  });

  describe('monitor', () => {
    let mon: LinkMonitor | undefined;
    afterEach(() => {
      mon?.close();
      mon = undefined;
    });

    it('sees a VF removed and re-added, in order, with timestamps, through the iterator and the emitter', async () => {
      mon = LinkMonitor.start({ netns: ns });
      const emitted: MonitorEvent[] = [];
      mon.on('event', (e) => emitted.push(e));
      const iter = mon.events();
      const t0 = Date.now();
      await sim.removeVf('eth1');
      await sim.addVf('eth1');
      const got: MonitorEvent[] = [];
      for (;;) {
        const r = await Promise.race([iter.next(), new Promise<null>((res) => setTimeout(() => { res(null); }, 10_000))]);
        if (r === null) throw new Error(`timed out; got ${JSON.stringify(got.map((e) => e.type))}`);
        if (r.done) break;
        got.push(r.value);
        if (r.value.type === 'link-added' && r.value.link.name === 'enP2s2') break;
      }
      const vfEvents = got.filter((e) => 'link' in e && e.link.name === 'enP2s2').map((e) => e.type);
      expect(vfEvents.indexOf('link-removed')).toBeGreaterThanOrEqual(0);
      expect(vfEvents.lastIndexOf('link-added')).toBeGreaterThan(vfEvents.indexOf('link-removed'));
      const ats = got.map((e) => e.at);
      expect(ats.every((t, i) => i === 0 || t >= ats[i - 1]!)).toBe(true);
      expect(ats[0]!).toBeGreaterThanOrEqual(t0 - 5);
      expect(emitted.slice(0, got.length)).toEqual(got);
      expect([...mon.links.values()].some((l) => l.name === 'enP2s2')).toBe(true);
      mon.close();
      await expect(iter.next()).resolves.toMatchObject({ done: true });
    });

    it('reports a renamed NetVSC and its VF going down and up', async () => {
      const waitFor = async (pred: () => boolean, what: string): Promise<void> => {
        const until = Date.now() + 5000;
        while (!pred()) {
          if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      // Operational state settles asynchronously (linkwatch): start from a VF that is up.
      await waitFor(() => listInterfaces({ netns: ns }).some((i) => i.name === 'enP3s3' && i.operUp), 'enP3s3 up');
      mon = LinkMonitor.start({ netns: ns });
      const events: MonitorEvent[] = [];
      mon.on('event', (e) => events.push(e));
      const vfStates = (): string[] => events.filter((e) => (e.type === 'link-down' || e.type === 'link-up') && e.link.name === 'enP3s3').map((e) => e.type);
      await sim.renameNetvsc('eth3', 'eth7');
      await sim.setLink('enP3s3', false);
      await waitFor(() => vfStates().includes('link-down'), 'link-down');
      await sim.setLink('enP3s3', true);
      await waitFor(() => vfStates().join() === 'link-down,link-up', 'link-up after link-down');
      expect(events).toContainEqual(expect.objectContaining({ type: 'link-renamed', oldName: 'eth3', link: expect.objectContaining({ name: 'eth7' }) as object }));
      await sim.renameNetvsc('eth7', 'eth3');
    });
  });
});
