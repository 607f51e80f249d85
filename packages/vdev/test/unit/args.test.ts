import { describe, expect, it } from 'vitest';
import { DevArgsError, InvalidArgumentError } from '@netvsc/ethdev';
import { isNetvscDevName, parseNetvscArgs } from '../../src/args.js';

describe('parseNetvscArgs', () => {
  it('parses every key', () => {
    const a = parseNetvscArgs('net_vdev_netvsc0,iface=eth1,mac=00:15:5D:10:00:01,force=1,ignore=0,vf_pmd=@acme/xdp,vf_settle=50');
    expect(a).toMatchObject({ name: 'net_vdev_netvsc0', force: true, ignore: false, vfPmd: '@acme/xdp', vfSettleMs: 50 });
    expect(a.specs.map((s) => [s.key, s.value, s.mac, s.column])).toEqual([
      ['iface', 'eth1', undefined, 18],
      ['mac', '00:15:5D:10:00:01', '00:15:5d:10:00:01', 29],
    ]);
  });

  it('accepts the alias and suffixed names, nothing else', () => {
    expect(isNetvscDevName('eth_vdev_netvsc7')).toBe(true);
    expect(parseNetvscArgs('eth_vdev_netvsc').name).toBe('eth_vdev_netvsc');
    expect(() => parseNetvscArgs('net_tap0,iface=x')).toThrow(/not a net_vdev_netvsc device name/);
  });

  it('reads force= and ignore= with C atoi, the last one winning', () => {
    const f = (v: string): boolean => parseNetvscArgs(`net_vdev_netvsc,force=${v}`).force;
    expect([f('1'), f('-1'), f(' 2'), f('yes'), f('0x1'), f('0')]).toEqual([true, true, true, false, false, false]);
    expect(parseNetvscArgs('net_vdev_netvsc,ignore=1,ignore=0').ignore).toBe(false);
  });

  it('refuses a key without a value (DPDK dereferences a null pointer)', () => {
    for (const k of ['iface', 'mac', 'force', 'ignore', 'vf_pmd', 'vf_settle']) {
      expect(() => parseNetvscArgs(`net_vdev_netvsc,${k}`)).toThrow(new RegExp(`"${k}" at column 17 needs a value`));
    }
  });

  it('refuses unknown keys, listing the accepted ones', () => {
    expect(() => parseNetvscArgs('net_vdev_netvsc,iface=eth1,speed=10')).toThrow(/unknown parameter "speed" at column 28.*accepted: iface, mac, force, ignore, vf_pmd, vf_settle/);
  });

  it('refuses a malformed MAC even when no interface exists (DPDK only notices with a candidate)', () => {
    expect(() => parseNetvscArgs('net_vdev_netvsc,mac=00:15:5d')).toThrow(InvalidArgumentError);
    expect(() => parseNetvscArgs('net_vdev_netvsc,mac=00:15:5d')).toThrow(/mac=00:15:5d at column 17/);
  });

  it('refuses invalid interface names before any lookup', () => {
    for (const bad of ['', 'a/b', '..', 'x'.repeat(16)]) {
      expect(() => parseNetvscArgs(`net_vdev_netvsc,iface=${bad}`)).toThrow(InvalidArgumentError);
    }
  });

  it('bounds vf_settle', () => {
    expect(() => parseNetvscArgs('net_vdev_netvsc,vf_settle=-1')).toThrow(/vf_settle/);
    expect(() => parseNetvscArgs('net_vdev_netvsc,vf_settle=60001')).toThrow(/0\.\.60000/);
  });

  it('reports syntax errors with their column', () => {
    expect(() => parseNetvscArgs('net_vdev_netvsc,iface=eth1,,')).toThrow(DevArgsError);
    expect(() => parseNetvscArgs('net_vdev_netvsc,iface(eth1)')).toThrow(/iface=<value>/);
  });
});
