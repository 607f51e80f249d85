import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePciAddr, type EtherAddr } from '@netvsc/ethdev';
import { writeFixture, type FixtureNetdev } from '@netvsc/sim';
import { afterEach, describe, expect, it } from 'vitest';
import { pciStillResolves, resolveVfNetdev } from '../../src/pci.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

const MAC = '00:15:5d:10:00:01' as EtherAddr;
const MAC2 = '00:15:5d:10:00:02' as EtherAddr;

function vf(name: string, mac: string, address = '0002:00:02.0'): FixtureNetdev {
  return { name, mac, device: { bus: 'pci', address } };
}

/** A fixture sysfs as the simulator writes it (the same layout as a real Hyper-V guest). */
function fixture(netdevs: FixtureNetdev[]): string {
  const root = mkdtempSync(join(tmpdir(), 'nvsim-vfpmd-pci-'));
  roots.push(root);
  writeFixture(root, { vmbus: true, dmiVendor: 'Microsoft Corporation', netdevs: [{ name: 'eth1', mac: MAC, device: { bus: 'vmbus', id: '11111111-2222-3333-4444-555555555555' } }, ...netdevs] });
  return root;
}

const ADDR = parsePciAddr('0002:00:02.0');

describe('PCI address -> netdev', () => {
  it('finds the only netdev of a function, with or without mac=', () => {
    const root = fixture([vf('enP2s2', MAC)]);
    expect(resolveVfNetdev(ADDR, undefined, root)).toEqual({ name: 'enP2s2', mac: MAC });
    expect(resolveVfNetdev(ADDR, MAC, root).name).toBe('enP2s2');
  });

  it('chooses by MAC when a function has several netdevs (MANA), and insists on mac= then', () => {
    const root = fixture([vf('enP2s2', MAC2), vf('enP2s2d1', MAC)]);
    expect(resolveVfNetdev(ADDR, MAC, root).name).toBe('enP2s2d1');
    expect(resolveVfNetdev(ADDR, MAC2, root).name).toBe('enP2s2');
    expect(() => resolveVfNetdev(ADDR, undefined, root)).toThrow(/has 2 network interfaces \(enP2s2, enP2s2d1\); choose one with mac=/);
  });

  it('says clearly why nothing matches', () => {
    const root = fixture([vf('enP2s2', MAC)]);
    const other = parsePciAddr('0003:00:02.0');
    expect(() => resolveVfNetdev(other, undefined, root)).toThrow(expect.objectContaining({ code: 'ERR_NO_DEVICE', message: expect.stringMatching(/PCI device 0003:00:02.0 does not exist \(no .*sys\/bus\/pci\/devices\/0003:00:02.0\)/) as unknown }));
    expect(() => resolveVfNetdev(ADDR, MAC2, root)).toThrow(/has no network interface with MAC 00:15:5d:10:00:02; found: enP2s2/);
  });

  it('uses NETVSC_SYSFS_ROOT when no root is given', () => {
    const root = fixture([vf('enP2s2', MAC)]);
    const saved = process.env.NETVSC_SYSFS_ROOT;
    process.env.NETVSC_SYSFS_ROOT = root;
    try {
      expect(resolveVfNetdev(ADDR, MAC, undefined).name).toBe('enP2s2');
      expect(pciStillResolves(ADDR, MAC, undefined)).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.NETVSC_SYSFS_ROOT;
      else process.env.NETVSC_SYSFS_ROOT = saved;
    }
  });

  it('re-resolve fails once the VF is gone from the fixture', () => {
    const root = fixture([vf('enP2s2', MAC)]);
    expect(pciStillResolves(ADDR, MAC, root)).toBe(true);
    writeFixture(root, { vmbus: true, dmiVendor: null, netdevs: [] });
    expect(pciStillResolves(ADDR, MAC, root)).toBe(false);
    expect(() => resolveVfNetdev(ADDR, MAC, root)).toThrow(/does not exist/);
  });
});
