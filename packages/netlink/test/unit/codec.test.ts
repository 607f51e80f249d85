import { describe, expect, it } from 'vitest';
import { formatIp, parseIp } from '../../src/index.js';
import { attr, cstring, decode, encode, list, nested, readAttrs, struct, u32, u8, writeAttrs } from '../../src/codec/codec.js';
import { ifinfomsg, tcMirred, tcU32Sel, tcmsg } from '../../src/codec/specs.js';
import { hex } from '../support/fake-socket.js';

describe('struct specs', () => {
  it('have the kernel sizes', () => {
    expect(ifinfomsg.bytes).toBe(16);
    expect(tcmsg.bytes).toBe(20);
    expect(tcMirred.bytes).toBe(28);
  });

  it('write little-endian host fields and big-endian network fields', () => {
    const s = struct([['a', 'u8'], ['p', 'pad8'], ['b', 'be16'], ['c', 'i32']] as const);
    const out = encode(s, { a: 1, b: 0x0800, c: -2 });
    expect(hex(out)).toBe('01000800feffffff');
    expect(decode(s, out)).toEqual({ a: 1, b: 0x0800, c: -2 });
  });

  it('encodes tc_u32_sel with its trailing keys and signed offsets', () => {
    const out = encode(tcU32Sel, { head: { flags: 1, nkeys: 2 }, items: [{ mask: 0xffff, val: 0xaabb, off: -16 }, { mask: 0xffffffff, val: 0xccddeeff, off: -12 }] });
    expect(out.length).toBe(16 + 2 * 16);
    expect(hex(out.subarray(0, 16))).toBe('01000200000000000000000000000000');
    expect(hex(out.subarray(16, 32))).toBe('0000ffff0000aabbf0ffffff00000000');
    expect(hex(out.subarray(32, 48))).toBe('ffffffffccddeefff4ffffff00000000');
    expect(decode(tcU32Sel, out).items[1]).toEqual({ mask: 0xffffffff, val: 0xccddeeff, off: -12, offmask: 0 });
  });
});

describe('attributes', () => {
  const schema = { name: attr(3, cstring), mtu: attr(4, u32), mode: attr(17, u8) } as const;

  it('pads each attribute to 4 bytes and writes in schema order', () => {
    const out = encode(nested(schema), { mode: 1, name: 'eth0' });
    // name: len 9, type 3, "eth0\0" + 3 pad; mode: len 5, type 17, 1 + 3 pad
    expect(hex(out)).toBe('09000300657468300000000005001100' + '01000000');
  });

  it('round-trips nested sets and skips unknown types', () => {
    const inner = { v: attr(1, u32) } as const;
    const outer = { a: attr(1, nested(inner)), b: attr(9, cstring) } as const;
    const bytes = encode(nested(outer), { a: { v: 7 }, b: 'x' });
    expect(decode(nested(outer), bytes)).toEqual({ a: { v: 7 }, b: 'x' });
    expect(decode(nested({ b: attr(9, cstring) } as const), bytes)).toEqual({ b: 'x' });
  });

  it('numbers list items 1..n as tc action lists need', () => {
    const bytes = encode(list(u32), [10, 20]);
    expect(hex(bytes)).toBe('080001000a000000' + '0800020014000000');
    expect(decode(list(u32), bytes)).toEqual([10, 20]);
  });

  it('stops at a truncated or malformed attribute instead of reading past it', () => {
    const buf = new Uint8Array(12);
    const view = new DataView(buf.buffer);
    writeAttrs({ mtu: attr(4, u32) }, { mtu: 1500 }, buf, view, 0);
    view.setUint16(8, 200, true); // a second header claiming 200 bytes in a 12-byte buffer
    expect(readAttrs({ mtu: attr(4, u32) }, buf, view, 0, 12)).toEqual({ mtu: 1500 });
  });

  it('masks NLA_F_NESTED off the type', () => {
    const bytes = encode(nested({ n: attr(2, u32) } as const), { n: 5 });
    new DataView(bytes.buffer).setUint16(2, 2 | 0x8000, true);
    expect(decode(nested({ n: attr(2, u32) } as const), bytes)).toEqual({ n: 5 });
  });
});

describe('IP text', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['2001:db8::1', '2001:db8::1'],
    ['fe80::1:2', 'fe80::1:2'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ])('%s round-trips as %s', (text, canonical) => {
    expect(formatIp(parseIp(text))).toBe(canonical);
  });

  it.each(['1.2.3', '256.1.1.1', '1::2::3', '1:2:3', 'g::1', '1:2:3:4:5:6:7:8:9'])('refuses %s', (text) => {
    expect(() => parseIp(text)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }) as Error);
  });
});
