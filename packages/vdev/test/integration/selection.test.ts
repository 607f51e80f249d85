import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ethDevList, NoDeviceError, registry } from '@netvsc/ethdev';
import { integrationGate } from '@netvsc/sim';
import { attach, detachAll, planAttach, type NetvscStack } from '../../src/index.js';
import { FwdSession, startPorts } from '../../src/session.js';
import { Bed, ip } from './bed.js';

const run = integrationGate('vdev selection tests');

describe.skipIf(!run)('which interfaces the driver attaches, on a live guest', () => {
  let bed: Bed;
  let stack: NetvscStack | undefined;
  const sysfs = (): { sysfsRoot: string } => ({ sysfsRoot: bed.guest.sysfsRoot });

  beforeAll(async () => {
    bed = await Bed.create({
      netvsc: [
        { name: 'eth1', vf: { name: 'enP2s2', pci: '0002:00:02.0' } },
        { name: 'eth2', vf: null },
      ],
      attachStack: false,
      traffic: false,
    });
    // A plain veth pair inside the guest: an Ethernet interface that is not NetVSC.
    ip(bed.ns, ['link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx1']);
  });

  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  afterAll(async () => {
    await (bed as Bed | undefined)?.close();
  });

  it('attaches every unrouted NetVSC automatically on Hyper-V, numbering from 0', async () => {
    stack = await attach(sysfs());
    expect(stack.info().map((c) => [c.name, c.ifName, c.failsafeName])).toEqual([
      ['net_vdev_netvsc_id0', 'eth1', 'net_failsafe_vsc0'],
      ['net_vdev_netvsc_id1', 'eth2', 'net_failsafe_vsc1'],
    ]);
    expect(stack.info().map((c) => c.vf?.pci ?? null)).toEqual(['0002:00:02.0', null]);
  });

  it('numbers from 0 again once every context is gone', async () => {
    stack = await attach({ ...sysfs(), vdevs: ['net_vdev_netvsc7,iface=eth2'] });
    expect(stack.info()[0]!.name).toBe('net_vdev_netvsc7_id0');
  });

  it('skips a routed NetVSC in automatic mode and attaches it when named, with a warning', async () => {
    await bed.guest.addAddress('eth2', '192.0.2.10/24');
    try {
      stack = await attach(sysfs());
      expect(stack.info().map((c) => c.ifName)).toEqual(['eth1']);
      await stack.close();
      stack = await attach({ ...sysfs(), vdevs: ['net_vdev_netvsc0,iface=eth2'] });
      expect(stack.info().map((c) => c.ifName)).toEqual(['eth2']);
      expect(stack.history.some((e) => e.type === 'warning' && e.message.includes('eth2 has routes (192.0.2.10/24)'))).toBe(true);
    } finally {
      await bed.guest.removeAddress('eth2', '192.0.2.10/24');
    }
  });

  it('attaches several interfaces named in one device string', async () => {
    stack = await attach({ ...sysfs(), vdevs: ['net_vdev_netvsc0,iface=eth2,iface=eth1'] });
    expect(stack.info().map((c) => c.ifName)).toEqual(['eth2', 'eth1']);
  });

  it('refuses a non-NetVSC interface unless forced, then attaches it with a warning', async () => {
    await expect(attach({ ...sysfs(), vdevs: ['net_vdev_netvsc0,iface=vx0'] })).rejects.toThrow(NoDeviceError);
    stack = await attach({ ...sysfs(), vdevs: ['net_vdev_netvsc0,iface=vx0,force=1'] });
    expect(stack.info().map((c) => [c.ifName, c.netvsc])).toEqual([['vx0', false]]);
    expect(stack.history.some((e) => e.type === 'warning' && e.message.includes('not a NetVSC interface'))).toBe(true);
    expect(stack.ports[0]!.started).toBe(false);
  });

  it('ignore=1 attaches nothing and disables the automatic instance', async () => {
    stack = await attach({ ...sysfs(), vdevs: ['net_vdev_netvsc0,ignore=1'] });
    expect(stack.ports).toHaveLength(0);
    expect(planAttach({ ...sysfs(), vdevs: ['net_vdev_netvsc0,ignore=1'] }).devices[0]!.plan.ignored).toBe(true);
  });

  it('never attaches one NetVSC twice', async () => {
    stack = await attach({ ...sysfs(), vdevs: ['net_vdev_netvsc0,iface=eth1'] });
    await expect(attach({ ...sysfs(), vdevs: ['net_vdev_netvsc1,iface=eth1'] })).rejects.toThrow(/already attached/);
    const other = await attach(sysfs());
    try {
      expect(other.info().map((c) => c.ifName)).toEqual(['eth2']);
    } finally {
      await other.close();
    }
  });

  it('is also a registry vdev driver (net_vdev_netvsc, alias eth_vdev_netvsc)', async () => {
    const saved = process.env.NETVSC_SYSFS_ROOT;
    process.env.NETVSC_SYSFS_ROOT = bed.guest.sysfsRoot;
    try {
      const port = await registry.probe('eth_vdev_netvsc0,iface=eth2,iface=eth1');
      expect(port.name).toBe('net_failsafe_vsc0');
      expect(ethDevList().map((p) => p.name)).toEqual(expect.arrayContaining(['net_failsafe_vsc0', 'net_failsafe_vsc1']));
    } finally {
      await detachAll();
      if (saved === undefined) delete process.env.NETVSC_SYSFS_ROOT;
      else process.env.NETVSC_SYSFS_ROOT = saved;
    }
    expect(ethDevList().filter((p) => p.name.startsWith('net_failsafe_vsc'))).toEqual([]);
  });

  it('leaves nothing behind when attach fails half-way', async () => {
    const before = ip(bed.ns, ['link', 'show']);
    await expect(attach({ ...sysfs(), vdevs: ['net_vdev_netvsc0,iface=eth1', 'net_vdev_netvsc1,iface=nope0'] })).rejects.toThrow(NoDeviceError);
    await expect(attach({ ...sysfs(), vdevs: ['net_vdev_netvsc0,iface=eth1', 'net_bogus0'] })).rejects.toThrow(/no vdev driver/);
    expect(ip(bed.ns, ['link', 'show'])).toBe(before);
    stack = await attach({ ...sysfs(), vdevs: ['net_vdev_netvsc0,iface=eth1'] });
    expect(stack.info()[0]!.name).toBe('net_vdev_netvsc0_id0');
  });
});

describe.skipIf(!run)('vf_pmd= swaps the VF PMD', () => {
  it('binds the VF to the named package and carries traffic through it', async () => {
    const bed = await Bed.create({ attachStack: false });
    // A replacement PMD gets no options from the vdev: it finds sysfs the conventional way.
    const saved = process.env.NETVSC_SYSFS_ROOT;
    process.env.NETVSC_SYSFS_ROOT = bed.guest.sysfsRoot;
    try {
      const pkg = fileURLToPath(new URL('../fixtures/custom-vf-pmd.ts', import.meta.url));
      bed.stack = await attach({ sysfsRoot: bed.guest.sysfsRoot, vdevs: [`net_vdev_netvsc0,iface=eth1,vf_pmd=${pkg}`] });
      const pool = startPorts(bed.stack.ports);
      bed.session = new FwdSession(bed.stack.ports, pool, 'echo', 32);
      const custom = (await import('../fixtures/custom-vf-pmd.js')) as { probed: string[] };
      expect(custom.probed).toEqual(['0002:00:02.0,mac=00:15:5d:10:00:01']);
      expect(bed.port.subdevices()[0]).toMatchObject({ state: 'started', name: '0002:00:02.0' });
      const c = await bed.roundTrip(500, 1);
      expect(c.flows.find((f) => f.flow === 1)).toMatchObject({ unique: 500, duplicates: 0 });
      expect(c.ports[0]!.vf.received).toBeGreaterThanOrEqual(500);
    } finally {
      if (saved === undefined) delete process.env.NETVSC_SYSFS_ROOT;
      else process.env.NETVSC_SYSFS_ROOT = saved;
      await bed.close();
    }
  });
});
