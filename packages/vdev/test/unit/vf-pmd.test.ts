import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Registry, type PciDriver } from '@netvsc/ethdev';
import { loadVfPmd, VF_PMD_EXPORT } from '../../src/driver.js';
import { VfPmdError } from '../../src/errors.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

describe('vf_pmd=<package>', () => {
  it('imports the package and registers its pciDriver export, not as the default', async () => {
    const reg = new Registry();
    const drv = await loadVfPmd(fixture('custom-vf-pmd.ts'), reg);
    expect(VF_PMD_EXPORT).toBe('pciDriver');
    expect(drv.name).toBe('net_vf_custom');
    expect(reg.pciDriverNames()).toEqual(['net_vf_custom']);
    // Loading twice registers once.
    await loadVfPmd(fixture('custom-vf-pmd.ts'), reg);
    expect(reg.pciDriverNames()).toEqual(['net_vf_custom']);
  });

  it('accepts a driver object directly', async () => {
    const reg = new Registry();
    const drv: PciDriver = { name: 'x_pmd', probe: () => Promise.reject(new Error('unused')) };
    expect(await loadVfPmd(drv, reg)).toBe(drv);
  });

  it('says which export is missing', async () => {
    await expect(loadVfPmd(fixture('no-driver.ts'), new Registry())).rejects.toThrow(VfPmdError);
    await expect(loadVfPmd(fixture('no-driver.ts'), new Registry())).rejects.toThrow(/no "pciDriver" export implementing PciDriver/);
  });

  it('says when the package cannot be imported', async () => {
    await expect(loadVfPmd('@netvsc/no-such-pmd', new Registry())).rejects.toThrow(/vf_pmd=@netvsc\/no-such-pmd: cannot import the package/);
  });
});
