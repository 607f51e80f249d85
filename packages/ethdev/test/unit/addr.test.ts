import { describe, expect, it } from 'vitest';
import { formatEtherAddr, isMulticastEtherAddr, isPciAddr, parseEtherAddr, parsePciAddr, randomEtherAddr } from '../../src/index.js';

describe('MAC addresses (rte_ether_unformat_addr rules)', () => {
  it.each([
    ['00:15:5D:01:02:03', '00:15:5d:01:02:03'],
    ['0:1:2:3:4:5', '00:01:02:03:04:05'],
    ['00-15-5d-01-02-03', '00:15:5d:01:02:03'],
    ['0015.5d01.0203', '00:15:5d:01:02:03'],
    ['0015:5d01:0203', '00:15:5d:01:02:03'],
  ])('%s -> %s', (input, out) => {
    expect(parseEtherAddr(input)).toBe(out);
  });

  it.each(['', '00:15:5d:01:02', '00:15:5d:01:02:03:04', '000:15:5d:01:02:03', '00:15:5d:01:02:0g', '00:15:5d:01:02:03 ', '0015.5d01.020', '00.15.5d.01.02.03'])(
    'refuses %j',
    (input) => {
      expect(() => parseEtherAddr(input)).toThrow(/invalid MAC address/);
    },
  );

  it('random addresses are unicast and locally administered', () => {
    for (let i = 0; i < 50; i++) {
      const a = randomEtherAddr();
      const b0 = parseInt(a.slice(0, 2), 16);
      expect(b0 & 1).toBe(0);
      expect(b0 & 2).toBe(2);
    }
    expect(randomEtherAddr(() => new Uint8Array([0xff, 1, 2, 3, 4, 5]))).toBe('fe:01:02:03:04:05');
  });

  it('knows multicast', () => {
    expect(isMulticastEtherAddr(formatEtherAddr([0x33, 0x33, 0, 0, 0, 1]))).toBe(true);
    expect(isMulticastEtherAddr(formatEtherAddr([0x00, 0x15, 0x5d, 0, 0, 1]))).toBe(false);
  });
});

describe('PCI addresses', () => {
  it.each([
    ['0002:00:02.0', '0002:00:02.0'],
    ['C3A8:00:02.0', 'c3a8:00:02.0'],
    ['00:02.0', '0000:00:02.0'],
    ['0000:af:1f.7', '0000:af:1f.7'],
  ])('%s -> %s', (input, out) => {
    expect(isPciAddr(input)).toBe(true);
    expect(parsePciAddr(input)).toBe(out);
  });

  it.each(['0002:00:02', '0002:00:02.8', '02.0', 'net_tap0', '0002:00:20.0', '002:00:02.0'])('refuses %j', (input) => {
    expect(() => parsePciAddr(input)).toThrow(/PCI address/);
  });
});
