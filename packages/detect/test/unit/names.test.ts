import { describe, expect, it } from 'vitest';
import { InvalidInterfaceNameError, isNetvscInterface, pciAddressOf, sysfsReader, validateIfaceName } from '../../src/index.js';
import { fixture } from '../support/links.js';

describe('interface names', () => {
  it.each(['eth0', 'enP2s2', 'eth0.100', 'a', 'x'.repeat(15), 'vEthernet-1', 'eth:0'])('accepts %j', (name) => {
    expect(() => {
      validateIfaceName(name);
    }).not.toThrow();
  });

  it.each([
    ['', /empty/],
    ['x'.repeat(16), /16 characters/],
    ['.', /path component/],
    ['..', /path component/],
    ['../../etc', /contains '\/'/],
    ['eth0/../../x', /contains '\/'/],
    ['eth 0', /whitespace/],
    ['eth0\n', /whitespace/],
    ['eth\t0', /whitespace/],
    ['eth\0', /NUL/],
  ])('refuses %j with a typed error', (name, why) => {
    let err: unknown;
    try {
      validateIfaceName(name);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidInterfaceNameError);
    expect(err).toMatchObject({ code: 'ERR_INVALID_IFNAME', ifname: name });
    expect((err as Error).message).toMatch(why);
  });

  it('checks names before any sysfs path is built', () => {
    const sysfs = sysfsReader({ sysfsRoot: fixture('azure') });
    const touched: string[] = [];
    const spy = { ...sysfs, root: sysfs.root, readText: (p: string) => (touched.push(p), null), readLink: (p: string) => (touched.push(p), null), list: () => [], isDirectory: () => false };
    expect(() => isNetvscInterface('../../../etc', { sysfs: spy })).toThrow(InvalidInterfaceNameError);
    expect(() => pciAddressOf(spy, '..')).toThrow(InvalidInterfaceNameError);
    expect(touched).toEqual([]);
  });
});
