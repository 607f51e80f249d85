import { describe, expect, it } from 'vitest';
import { NoDeviceError } from '@netvsc/ethdev';
import { parseNetvscArgs } from '../../src/args.js';
import { SpecConflictError } from '../../src/errors.js';
import { failsafeDevargs, findVf, planInstances } from '../../src/probe.js';
import { azure, eth1, eth2, enP2s2, iface, MAC_ETH1, MAC_ETH2, picture, veth0 } from '../fixtures/pictures.js';

const plan = (devargs: string, pic = azure, opts = {}) => planInstances(parseNetvscArgs(devargs), pic, opts);
const ifaces = (devargs: string, pic = azure): string[] => plan(devargs, pic).instances.map((i) => i.ifName);

describe('selection without iface/mac', () => {
  it('attaches every unrouted NetVSC interface, in ifindex order', () => {
    expect(ifaces('net_vdev_netvsc')).toEqual(['eth1', 'eth2']);
  });

  it('skips routed NetVSC interfaces and non-NetVSC ones silently', () => {
    const p = plan('net_vdev_netvsc');
    expect(p.instances.some((i) => i.ifName === 'eth0' || i.ifName === 'veth0' || i.ifName === 'enP2s2')).toBe(false);
    expect(p.instances.flatMap((i) => i.warnings)).toEqual([]);
  });

  it('names contexts, fail-safes and TAPs as DPDK does, numbered from the counter', () => {
    const p = plan('net_vdev_netvsc0', azure, { firstId: 3 });
    expect(p.instances.map((i) => [i.name, i.failsafeName, i.tapName])).toEqual([
      ['net_vdev_netvsc0_id3', 'net_failsafe_vsc3', 'net_tap_vsc3'],
      ['net_vdev_netvsc0_id4', 'net_failsafe_vsc4', 'net_tap_vsc4'],
    ]);
    expect(failsafeDevargs(p.instances[0]!, 12)).toBe('fd(12),dev(net_tap_vsc3,remote=eth1)');
    expect(failsafeDevargs(p.instances[0]!)).toBe('fd(<pipe>),dev(net_tap_vsc3,remote=eth1)');
  });

  it('reports the VF present now, or none', () => {
    const [a, b] = plan('net_vdev_netvsc').instances;
    expect(a!.vf).toEqual({ name: 'enP2s2', index: 5, pci: '0002:00:02.0' });
    expect(b!.vf).toBeNull();
  });

  it('fails with a reason when every NetVSC is routed', () => {
    const p = picture([iface({ name: 'eth1', index: 3, mac: MAC_ETH1, netvsc: true, addresses: ['10.1.0.4/24'] })]);
    expect(() => plan('net_vdev_netvsc', p)).toThrow(NoDeviceError);
    expect(() => plan('net_vdev_netvsc', p)).toThrow(/every NetVSC interface has routes \(eth1\)/);
  });

  it('fails with a reason when there is no NetVSC at all', () => {
    expect(() => plan('net_vdev_netvsc', picture([veth0], false))).toThrow(/no NetVSC interface exists/);
  });

  it('does not attach an interface another instance already has', () => {
    expect(plan('net_vdev_netvsc', azure, { attached: new Set([3]) }).instances.map((i) => i.ifName)).toEqual(['eth2']);
  });

  it('ignore=1 attaches nothing and throws nothing', () => {
    const p = plan('net_vdev_netvsc,ignore=1');
    expect(p.ignored).toBe(true);
    expect(p.instances).toEqual([]);
  });
});

describe('selection with iface/mac', () => {
  it('attaches a specified routed interface, with a warning', () => {
    const p = plan('net_vdev_netvsc,iface=eth0');
    expect(p.instances.map((i) => i.ifName)).toEqual(['eth0']);
    expect(p.instances[0]!.specifiedBy).toBe('iface=eth0');
    expect(p.instances[0]!.warnings.join()).toMatch(/eth0 has routes \(10\.0\.0\.4\/24\); attached anyway because iface=eth0/);
  });

  it('finds an interface by MAC, in any accepted notation', () => {
    expect(ifaces(`net_vdev_netvsc,mac=${MAC_ETH2.toUpperCase().replaceAll(':', '-')}`)).toEqual(['eth2']);
    expect(ifaces('net_vdev_netvsc,mac=0015.5d10.0001')).toEqual(['eth1']);
  });

  it('matches the NetVSC, never its VF, for a MAC they share', () => {
    expect(ifaces(`net_vdev_netvsc,mac=${MAC_ETH1}`)).toEqual(['eth1']);
  });

  it('creates one instance per iface= (DPDK documents it, its code refuses it)', () => {
    expect(ifaces('net_vdev_netvsc,iface=eth2,iface=eth1')).toEqual(['eth2', 'eth1']);
    expect(ifaces(`net_vdev_netvsc,mac=${MAC_ETH1},mac=${MAC_ETH2}`)).toEqual(['eth1', 'eth2']);
  });

  it('accepts one iface= and one mac= that describe the same interface', () => {
    expect(ifaces(`net_vdev_netvsc,iface=eth1,mac=${MAC_ETH1}`)).toEqual(['eth1']);
  });

  it('refuses one iface= and one mac= naming different interfaces', () => {
    expect(() => plan(`net_vdev_netvsc,iface=eth1,mac=${MAC_ETH2}`)).toThrow(SpecConflictError);
    expect(() => plan(`net_vdev_netvsc,iface=eth1,mac=${MAC_ETH2}`)).toThrow(/iface=eth1 and mac=00:15:5d:10:00:02 name different interfaces \(eth1 vs eth2\)/);
  });

  it('refuses the same interface named twice', () => {
    expect(() => plan('net_vdev_netvsc,iface=eth1,iface=eth1')).toThrow(/both name eth1/);
    expect(() => plan(`net_vdev_netvsc,iface=eth1,iface=eth2,mac=${MAC_ETH1}`)).toThrow(SpecConflictError);
  });

  it('fails for a name that matches no NetVSC, pointing at force=1', () => {
    expect(() => plan('net_vdev_netvsc,iface=eth9')).toThrow(/cannot find the specified netvsc device iface=eth9 \(column 17\).*force=1/);
    expect(() => plan('net_vdev_netvsc,iface=veth0')).toThrow(NoDeviceError);
  });

  it('with force=1 falls back to non-NetVSC interfaces, with a warning', () => {
    const p = plan('net_vdev_netvsc,iface=veth0,force=1');
    expect(p.instances.map((i) => [i.ifName, i.netvsc])).toEqual([['veth0', false]]);
    expect(p.instances[0]!.warnings.join()).toMatch(/not a NetVSC interface; attached anyway because force=1/);
  });

  it('with force=1 never attaches the VF of a NetVSC as a NetVSC', () => {
    expect(() => plan('net_vdev_netvsc,iface=enP2s2,force=1')).toThrow(/cannot find/);
  });

  it('force=1 changes nothing for a NetVSC match or in automatic mode', () => {
    expect(plan('net_vdev_netvsc,iface=eth1,force=1').instances[0]!.warnings).toEqual([]);
    expect(ifaces('net_vdev_netvsc,force=1')).toEqual(['eth1', 'eth2']);
  });

  it('a later force=0 wins, as in DPDK', () => {
    expect(() => plan('net_vdev_netvsc,iface=veth0,force=1,force=0')).toThrow(NoDeviceError);
  });

  it('refuses a name whose derived strings are too long (ENOBUFS)', () => {
    expect(() => plan(`net_vdev_netvsc${'x'.repeat(60)},iface=eth1`)).toThrow(/longer than 63/);
  });

  it('skips, with a warning, a specified interface another instance has', () => {
    expect(() => plan('net_vdev_netvsc,iface=eth1', azure, { attached: new Set([3]) })).toThrow(/already attached/);
    const p = plan('net_vdev_netvsc,iface=eth1,iface=eth2', azure, { attached: new Set([3]) });
    expect(p.instances.map((i) => i.ifName)).toEqual(['eth2']);
    expect(p.warnings.join()).toMatch(/eth1 is already attached/);
  });
});

describe('findVf', () => {
  it('uses discovery pairing for a NetVSC', () => {
    expect(findVf(azure, eth1.index, MAC_ETH1)?.pci).toBe('0002:00:02.0');
    expect(findVf(azure, eth2.index, MAC_ETH2)).toBeNull();
  });

  it('finds the VF of a NetVSC sharing the MAC of a forced interface', () => {
    expect(findVf(azure, veth0.index, MAC_ETH1)?.name).toBe(enP2s2.name);
  });
});
