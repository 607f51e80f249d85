import { describe, expect, it } from 'vitest';
import { checkPrefix, defaultMac, nextPciAddress, prefixOfNamespace, randomPrefix, vfNameFor, vmbusId } from '../../src/names.js';

describe('simulator names', () => {
  it('makes and checks nvsim- prefixes', () => {
    expect(randomPrefix()).toMatch(/^nvsim-[0-9a-f]{4}$/);
    expect(checkPrefix('nvsim-test-1')).toBe('nvsim-test-1');
    for (const bad of ['nvsim-', 'sim-1', 'nvsim-A', 'nvsim-a/b', 'nvsim--x', `nvsim-${'a'.repeat(24)}`]) expect(() => checkPrefix(bad)).toThrow(/invalid simulator prefix/);
  });

  it('maps namespaces back to their prefix', () => {
    expect(prefixOfNamespace('nvsim-ab12-guest')).toBe('nvsim-ab12');
    expect(prefixOfNamespace('nvsim-my-test-host')).toBe('nvsim-my-test');
    expect(prefixOfNamespace('nvsim-vfx')).toBeNull();
    expect(prefixOfNamespace('other-guest')).toBeNull();
  });

  it('names VFs the way udev does on Azure and moves them to the next PCI domain', () => {
    expect(vfNameFor('0002:00:02.0')).toBe('enP2s2');
    expect(vfNameFor('c3a8:00:02.0')).toBe('enP50088s2');
    expect(nextPciAddress('0002:00:02.0')).toBe('0003:00:02.0');
    expect(nextPciAddress('ffff:00:02.0')).toBe('0000:00:02.0');
  });

  it('gives Hyper-V MACs and stable vmbus ids', () => {
    expect(defaultMac(0)).toBe('00:15:5d:10:00:01');
    expect(defaultMac(1)).toBe('00:15:5d:10:00:02');
    expect(vmbusId('nvsim-x', 0)).toBe(vmbusId('nvsim-x', 0));
    expect(vmbusId('nvsim-x', 0)).not.toBe(vmbusId('nvsim-x', 1));
    expect(vmbusId('nvsim-x', 3)).toMatch(/^[0-9a-f]{8}-0003-4000-8000-00155d[0-9a-f]{6}$/);
  });
});
