import { afterEach, describe, expect, it } from 'vitest';
import { nl } from '@netvsc/netlink';
import {
  classifyInterfaces,
  detectHypervisor,
  findVf,
  hypervisorInfo,
  isHyperV,
  isLinkLocal6,
  isNetvsc,
  isRouted,
  pciAddressOf,
  resolvePciNetdev,
  resolveSysfsRoot,
  sysfsReader,
  type SysfsReader,
} from '../../src/index.js';
import { addr, azureLinks, fixture, link } from '../support/links.js';

const azure = sysfsReader({ sysfsRoot: fixture('azure') });
const tricky = sysfsReader({ sysfsRoot: fixture('tricky') });

describe('NetVSC rule (class_id prefix)', () => {
  it.each([
    ['eth0', true],
    ['eth1', true],
    ['eth2', true],
    ['enP1s1', false],
    ['eth9', false],
    ['eth0.100', false],
    ['dtap0', false],
    ['lo', false],
    ['absent0', false],
  ])('azure %s -> %s', (name, want) => {
    expect(isNetvsc(azure, name)).toBe(want);
  });

  it.each([
    ['hn0', true, 'exact id'],
    ['hn1', false, 'class_id unreadable (a directory)'],
    ['hn2', false, 'leading whitespace'],
    ['hn3', false, 'upper-case id'],
    ['hn4', true, 'id followed by other text'],
    ['ghost', false, 'broken class/net link'],
  ])('tricky %s -> %s (%s)', (name, want) => {
    expect(isNetvsc(tricky, name)).toBe(want);
  });

  it('treats a reader failure (EACCES) as not NetVSC', () => {
    const denied: SysfsReader = { root: '/x', readText: () => null, readLink: () => null, list: () => [], isDirectory: () => false };
    expect(isNetvsc(denied, 'eth0')).toBe(false);
  });
});

describe('PCI address rule (device/subsystem -> pci)', () => {
  it.each([
    [azure, 'enP1s1', '0001:00:02.0'],
    [azure, 'eth9', '0002:00:02.0'],
    [azure, 'eth0', null],
    [azure, 'dtap0', null],
    [azure, 'lo', null],
    [tricky, 'vfbroken', null],
    [tricky, 'plat0', null],
    [tricky, 'mana1', '7870:00:00.0'],
    [tricky, 'ghost', null],
  ])('%#: %s -> %s', (sysfs, name, want) => {
    expect(pciAddressOf(sysfs, name)).toBe(want);
  });

  it('does not take a virtio NIC that sits on PCI for a PCI netdev', () => {
    expect(pciAddressOf(sysfsReader({ sysfsRoot: fixture('bare') }), 'eth0')).toBeNull();
  });
});

describe('VF matching', () => {
  const links = azureLinks();
  const byName = (n: string) => links.find((l) => l.name === n)!;

  it('skips same-MAC VLAN and macvlan listed before the VF and finds the PCI one', () => {
    expect(findVf(azure, byName('eth0'), links)).toEqual({ name: 'enP1s1', index: 8, pci: '0001:00:02.0' });
  });

  it('matches MACs case-insensitively and finds a renamed VF under its new name', () => {
    expect(findVf(azure, byName('eth1'), links)).toEqual({ name: 'eth9', index: 9, pci: '0002:00:02.0' });
  });

  it('gives no VF for a NetVSC whose MAC is only shared by the tap', () => {
    expect(findVf(azure, byName('eth2'), links)).toBeNull();
  });

  it('never takes the NetVSC itself, another NetVSC, or a non-Ethernet link', () => {
    const only = [link(2, 'eth0', '00:15:5d:00:00:01'), link(5, 'eth1', '00:15:5d:00:00:01'), link(8, 'enP1s1', '00:15:5d:00:00:01', { type: 772 })];
    expect(findVf(azure, only[0]!, only)).toBeNull();
  });

  it('ignores broken device links and non-PCI hardware with the same MAC, and names that try traversal', () => {
    const tl = [
      link(2, 'hn0', '00:15:5d:00:01:01'),
      link(3, '../../etc', '00:15:5d:00:01:01'),
      link(8, 'vfbroken', '00:15:5d:00:01:01'),
      link(9, 'plat0', '00:15:5d:00:01:01'),
    ];
    expect(findVf(tricky, tl[0]!, tl)).toBeNull();
  });

  it('finds a VF that is the second netdev of a MANA-like PCI function', () => {
    const tl = [link(6, 'hn4', '00:15:5d:00:01:05'), link(10, 'mana0', '00:15:5d:00:01:99'), link(11, 'mana1', '00:15:5d:00:01:05')];
    expect(findVf(tricky, tl[0]!, tl)).toEqual({ name: 'mana1', index: 11, pci: '7870:00:00.0' });
  });

  it('has nothing to match for a NetVSC without a MAC', () => {
    expect(findVf(azure, link(2, 'eth0', null), links)).toBeNull();
  });
});

describe('routed rule', () => {
  it.each([
    [[addr(2, '10.0.0.4')], true],
    [[addr(2, '2001:db8::4')], true],
    [[addr(2, 'fe80::215:5dff:fe00:1')], false],
    [[addr(2, 'fe80::1'), addr(2, '192.0.2.1')], true],
    [[addr(2, 'febf::1')], false],
    [[addr(2, 'fec0::1')], true],
    [[], false],
  ])('%#', (addrs, want) => {
    expect(isRouted(addrs)).toBe(want);
  });

  it('knows fe80::/10 exactly', () => {
    expect(['fe80::', 'fe80::1', 'FE80::1', 'febf:ffff::1'].map(isLinkLocal6)).toEqual([true, true, true, true]);
    expect(['fec0::', 'fe7f::1', '::1', '2001:db8::'].map(isLinkLocal6)).toEqual([false, false, false, false]);
  });
});

describe('Hyper-V detection', () => {
  it('is true with a vmbus bus directory', () => {
    expect(hypervisorInfo(azure)).toEqual({ hyperV: true, vmbus: true, dmiVendor: 'Microsoft Corporation', microsoftDmi: true });
    expect(isHyperV({ sysfsRoot: fixture('azure') })).toBe(true);
  });

  it('is false on KVM and on Microsoft hardware without vmbus', () => {
    expect(detectHypervisor({ sysfsRoot: fixture('bare') })).toEqual({ hyperV: false, vmbus: false, dmiVendor: 'QEMU', microsoftDmi: false });
    expect(detectHypervisor({ sysfsRoot: fixture('surface') })).toMatchObject({ hyperV: false, microsoftDmi: true });
  });

  it('is false on this machine (real /sys) and for a root that does not exist', () => {
    expect(isHyperV({ sysfsRoot: '/' })).toBe(false);
    expect(isHyperV({ sysfsRoot: '/nonexistent-root' })).toBe(false);
  });
});

describe('sysfs root', () => {
  const saved = process.env.NETVSC_SYSFS_ROOT;
  afterEach(() => {
    if (saved === undefined) delete process.env.NETVSC_SYSFS_ROOT;
    else process.env.NETVSC_SYSFS_ROOT = saved;
  });

  it('comes from the option, then NETVSC_SYSFS_ROOT, then /', () => {
    delete process.env.NETVSC_SYSFS_ROOT;
    expect(resolveSysfsRoot()).toBe('/');
    process.env.NETVSC_SYSFS_ROOT = fixture('azure');
    expect(resolveSysfsRoot()).toBe(fixture('azure'));
    expect(isHyperV()).toBe(true);
    expect(resolveSysfsRoot({ sysfsRoot: '/elsewhere' })).toBe('/elsewhere');
  });

  it('keeps reads below the root even for paths with ..', () => {
    expect(azure.readText('../../../../../../etc/hostname')).toBeNull();
  });
});

describe('PCI address -> netdev', () => {
  it('resolves by address and MAC (any case)', () => {
    expect(resolvePciNetdev('0001:00:02.0', { sysfsRoot: fixture('azure'), mac: '00:15:5D:00:00:01' })).toEqual({ name: 'enP1s1', index: 5, mac: '00:15:5d:00:00:01' });
    expect(resolvePciNetdev('0002:00:02.0', { sysfsRoot: fixture('azure'), mac: '00:15:5d:00:00:02' })).toMatchObject({ name: 'eth9', index: 6 });
  });

  it('returns null for a MAC mismatch, a function without netdev yet, or an unknown address', () => {
    const o = { sysfsRoot: fixture('tricky') };
    expect(resolvePciNetdev('0001:00:02.0', { sysfsRoot: fixture('azure'), mac: '00:15:5d:00:00:02' })).toBeNull();
    expect(resolvePciNetdev('0008:00:02.0', o)).toBeNull();
    expect(resolvePciNetdev('0009:00:02.0', o)).toBeNull();
  });

  it('picks the netdev with the right MAC among several on one function (MANA)', () => {
    const o = { sysfsRoot: fixture('tricky') };
    expect(resolvePciNetdev('7870:00:00.0', { ...o, mac: '00:15:5d:00:01:05' })).toMatchObject({ name: 'mana1', index: 11 });
    expect(resolvePciNetdev('7870:00:00.0', o)).toMatchObject({ name: 'mana0' });
  });

  it('refuses a malformed PCI address', () => {
    expect(() => resolvePciNetdev('../0001:00:02.0', { sysfsRoot: fixture('azure') })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }) as Error);
  });
});

describe('classifyInterfaces', () => {
  it('gives the whole picture for two NetVSC with VFs, one without, and same-MAC virtual devices', () => {
    const addrs = [addr(2, 'fe80::215:5dff:fe00:1'), addr(5, '10.1.0.4'), addr(6, '2001:db8::6'), addr(8, 'fe80::1')];
    const got = classifyInterfaces(azureLinks(), addrs, azure);
    expect(got.map((i) => [i.name, i.netvsc, i.routed, i.vf?.name ?? null, i.vf?.pci ?? null])).toEqual([
      ['eth0', true, false, 'enP1s1', '0001:00:02.0'],
      ['eth0.100', false, false, null, null],
      ['mv0', false, false, null, null],
      ['eth1', true, true, 'eth9', '0002:00:02.0'],
      ['eth2', true, true, null, null],
      ['dtap0', false, false, null, null],
      ['enP1s1', false, false, null, null],
      ['eth9', false, false, null, null],
    ]);
    expect(got.find((i) => i.name === 'eth1')!.mac).toBe('00:15:5d:00:00:02');
    expect(got.find((i) => i.name === 'eth0')!.addresses).toEqual([addrs[0]]);
  });

  it('leaves out non-Ethernet links and names that cannot be used in a path', () => {
    const got = classifyInterfaces([link(1, 'lo', '00:00:00:00:00:00', { type: nl.ARPHRD_LOOPBACK }), link(2, 'tun0', null, { type: nl.ARPHRD_NONE }), link(3, '..', '00:15:5d:00:00:09'), link(4, 'eth0', '00:15:5d:00:00:01')], [], azure);
    expect(got.map((i) => i.name)).toEqual(['eth0']);
  });
});
