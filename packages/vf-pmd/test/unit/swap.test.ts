import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mempool, Registry, type PciAddr } from '@netvsc/ethdev';
import { writeFixture } from '@netvsc/sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVfPmdDriver, pciDriver as ownPciDriver, vfPmdDriver, VF_PMD_DRIVER } from '../../src/index.js';
import { createLoopbackPciDriver, loopbackPort, LOOPBACK_PCI_DRIVER, pciDriver } from '../fixtures/example-pci-pmd/src/index.js';

/**
 * The swap contract: any package exporting an ethdev `PciDriver` can serve the PCI bus
 * instead of @netvsc/vf-pmd. The example package in test/fixtures/example-pci-pmd is the
 * reference; here it is registered and probed exactly as the vdev does it.
 */
describe('replacing the VF PMD with another PciDriver', () => {
  let root: string;
  const PCI = '0002:00:02.0';
  const MAC = '00:15:5d:10:00:01';

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'nvsim-vfpmd-swap-'));
    writeFixture(root, { vmbus: true, dmiVendor: 'Microsoft Corporation', netdevs: [{ name: 'enP2s2', mac: MAC, device: { bus: 'pci', address: PCI } }] });
  });

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('exports what the vdev looks for (`pciDriver`, a PciDriver)', () => {
    expect(pciDriver.name).toBe(LOOPBACK_PCI_DRIVER);
    expect(typeof pciDriver.probe).toBe('function');
  });

  it('vf-pmd itself honours the same contract, so `vf_pmd=@netvsc/vf-pmd` names it', () => {
    expect(ownPciDriver).toBe(vfPmdDriver);
    expect(ownPciDriver.name).toBe(VF_PMD_DRIVER);
  });

  it('serves the PCI bus once registered as its default, in place of vf-pmd', async () => {
    const registry = new Registry();
    registry.registerPciDriver(createVfPmdDriver({ sysfsRoot: root }), { default: true });
    registry.registerPciDriver(createLoopbackPciDriver({ sysfsRoot: root }), { default: true });
    const dev = await registry.probe(`${PCI},mac=${MAC}`);
    try {
      expect(dev.driverName).toBe(LOOPBACK_PCI_DRIVER);
      expect(dev.infoGet()).toMatchObject({ ifName: 'enP2s2', pciAddr: PCI });
      expect(dev.macAddrGet()).toBe(MAC);
      const pool = new Mempool({ size: 64 });
      dev.configure(1, 1);
      dev.rxQueueSetup(0, { mempool: pool });
      dev.txQueueSetup(0, { mempool: pool });
      dev.start();
      const ids = new Uint32Array(4);
      pool.allocBulk(ids, 4);
      expect(dev.txBurst(0, ids, 4)).toBe(4);
      const out = new Uint32Array(8);
      expect(dev.rxBurst(0, out, 8)).toBe(4);
      pool.freeBulk(out, 4);
      const removed: string[] = [];
      dev.on('rmv', (e) => removed.push(e.reason));
      loopbackPort(dev)?.remove('example removal');
      expect(removed).toEqual(['example removal']);
      expect(dev.txBurst(0, ids, 0)).toBe(0);
    } finally {
      dev.close();
    }
  });

  it('or serves one address only, bound like a kernel driver, leaving vf-pmd the default', () => {
    const registry = new Registry();
    registry.registerPciDriver(createVfPmdDriver({ sysfsRoot: root }), { default: true });
    registry.registerPciDriver(createLoopbackPciDriver({ sysfsRoot: root }));
    registry.bindPci(PCI, LOOPBACK_PCI_DRIVER);
    expect(registry.findPciDriver(PCI as PciAddr)?.name).toBe(LOOPBACK_PCI_DRIVER);
    expect(registry.findPciDriver('0003:00:02.0' as PciAddr)?.name).toBe(VF_PMD_DRIVER);
  });

  it('refuses arguments it does not know, as every driver must', async () => {
    const registry = new Registry();
    registry.registerPciDriver(createLoopbackPciDriver({ sysfsRoot: root }));
    await expect(registry.probe(`${PCI},own_rx=1`)).rejects.toThrow(/net_loopback_pci: unknown parameter "own_rx"/);
  });
});
