import { describe, expect, it } from 'vitest';
import {
  TEST_ETHERTYPE,
  TEST_FLAG_ECHO,
  TEST_HEADER_LEN,
  TEST_MIN_FRAME,
  decodeTestFrame,
  encodeTestFrame,
  isTestFrame,
  setTestSeq,
  testFrameFlags,
  testFrameFlow,
  testFrameSeq,
  writeTestFrame,
} from '../../src/frame.js';

describe('test frame format', () => {
  it('lays the fields out at the documented offsets, big-endian', () => {
    const f = encodeTestFrame({ dst: '00:15:5d:00:00:01', src: '00:15:5d:ff:00:01', flow: 0x0102, seq: 0xa1b2c3d4, flags: TEST_FLAG_ECHO, time: 0x1122334455667788n, size: 100 });
    expect(f.length).toBe(100);
    expect([...f.subarray(0, 6)]).toEqual([0x00, 0x15, 0x5d, 0, 0, 1]);
    expect([...f.subarray(6, 12)]).toEqual([0x00, 0x15, 0x5d, 0xff, 0, 1]);
    expect((f[12]! << 8) | f[13]!).toBe(TEST_ETHERTYPE);
    expect([...f.subarray(14, 18)]).toEqual([0x4e, 0x56, 0x53, 0x4d]);
    expect(f[18]).toBe(1);
    expect(f[19]).toBe(TEST_FLAG_ECHO);
    expect([...f.subarray(20, 22)]).toEqual([1, 2]);
    expect([...f.subarray(22, 26)]).toEqual([0xa1, 0xb2, 0xc3, 0xd4]);
    expect([...f.subarray(26, 34)]).toEqual([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    expect(f.subarray(TEST_HEADER_LEN).every((b) => b === 0)).toBe(true);
  });

  it('round-trips through decode', () => {
    const f = encodeTestFrame({ dst: 'ff:ff:ff:ff:ff:ff', src: '00:15:5d:ff:00:01', flow: 7, seq: 42 });
    expect(decodeTestFrame(f)).toEqual({ dst: 'ff:ff:ff:ff:ff:ff', src: '00:15:5d:ff:00:01', flow: 7, seq: 42, flags: 0, time: 0n, length: TEST_MIN_FRAME });
  });

  it('reads and rewrites fields in place at an offset without decoding', () => {
    const buf = new Uint8Array(300);
    writeTestFrame(buf, 100, { dst: '00:15:5d:00:00:01', src: '00:15:5d:ff:00:01', flow: 65535, seq: 1 });
    expect(isTestFrame(buf, 100, 60)).toBe(true);
    setTestSeq(buf, 100, 0xffffffff);
    expect(testFrameSeq(buf, 100)).toBe(0xffffffff);
    expect(testFrameFlow(buf, 100)).toBe(65535);
    expect(testFrameFlags(buf, 100)).toBe(0);
  });

  it('recognises only frames with the EtherType and the magic', () => {
    const f = encodeTestFrame({ dst: '00:15:5d:00:00:01', src: '00:15:5d:ff:00:01', flow: 0, seq: 0 });
    expect(isTestFrame(f, 0, f.length)).toBe(true);
    expect(isTestFrame(f, 0, TEST_HEADER_LEN - 1)).toBe(false);
    const arp = f.slice();
    arp[12] = 0x08;
    arp[13] = 0x06;
    expect(decodeTestFrame(arp)).toBeNull();
    const wrongMagic = f.slice();
    wrongMagic[17] = 0;
    expect(isTestFrame(wrongMagic, 0, wrongMagic.length)).toBe(false);
  });

  it('refuses sizes below the Ethernet minimum or above 65535', () => {
    expect(() => encodeTestFrame({ dst: '00:15:5d:00:00:01', src: '00:15:5d:ff:00:01', flow: 0, seq: 0, size: 59 })).toThrow(/60\.\.65535/);
    expect(() => encodeTestFrame({ dst: '00:15:5d:00:00:01', src: '00:15:5d:ff:00:01', flow: 0, seq: 0, size: 65536 })).toThrow(/out of range/);
    expect(() => encodeTestFrame({ dst: 'zz', src: '00:15:5d:ff:00:01', flow: 0, seq: 0 })).toThrow(/invalid MAC/);
  });
});
