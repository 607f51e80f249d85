import { parseDevArgs } from '@netvsc/ethdev';
import { describe, expect, it } from 'vitest';
import { nextFixedMac, parseTapArgs, parseTunArgs } from '../../src/index.js';

const tap = (s: string) => parseTapArgs(parseDevArgs(s));

describe('net_tap devargs', () => {
  it('defaults to a kernel-numbered dtap, random MAC, no remote, not persistent, Tx through io_uring', () => {
    expect(tap('net_tap0')).toEqual({ iface: 'dtap%d', mac: { kind: 'random' }, remote: undefined, persist: false, txUring: true });
  });

  it('takes tx_uring as a flag: bare, 1 or 0, nothing else', () => {
    expect(tap('net_tap0,tx_uring=0').txUring).toBe(false);
    expect(tap('net_tap0,tx_uring').txUring).toBe(true);
    expect(tap('net_tap0,tx_uring=1').txUring).toBe(true);
    expect(() => tap('net_tap0,tx_uring=yes')).toThrow(/tx_uring=yes is not accepted; use tx_uring, tx_uring=1 or tx_uring=0/);
  });

  it('takes a bare iface as the default name (DPDK optional value)', () => {
    expect(tap('net_tap0,iface').iface).toBe('dtap%d');
  });

  it('accepts iface, remote and an explicit MAC in any of the DPDK MAC forms', () => {
    const a = tap('net_tap_vsc0,iface=vsc0tap,remote=eth1,mac=00-15-5D-01-02-03');
    expect(a).toMatchObject({ iface: 'vsc0tap', remote: 'eth1', mac: { kind: 'explicit', addr: '00:15:5d:01:02:03' } });
    expect(tap('net_tap0,mac=0015.5d01.0203').mac).toEqual({ kind: 'explicit', addr: '00:15:5d:01:02:03' });
  });

  it('treats mac=fixed case-insensitively and by prefix, as DPDK does', () => {
    expect(tap('net_tap0,mac=fixed').mac).toEqual({ kind: 'fixed' });
    expect(tap('net_tap0,mac=FIXED_please').mac).toEqual({ kind: 'fixed' });
  });

  it('turns an all-zero MAC into a random one', () => {
    expect(tap('net_tap0,mac=00:00:00:00:00:00').mac).toEqual({ kind: 'random' });
  });

  it('refuses a MAC that does not parse, naming the value', () => {
    expect(() => tap('net_tap0,mac=00:11:22')).toThrow(/mac=00:11:22 is neither "fixed" nor a MAC/);
  });

  it('refuses interface names the kernel would refuse, before any system call', () => {
    expect(() => tap('net_tap0,iface=abcdefghijklmnop')).toThrow(/too long \(16 characters\)/);
    expect(() => tap('net_tap0,remote=a/b')).toThrow(/remote=a\/b is not a valid interface name/);
    expect(() => tap('net_tap0,iface=a:b')).toThrow(/not a valid interface name/);
    expect(() => tap('net_tap0,iface=')).toThrow(/iface= is empty/);
    expect(() => tap('net_tap0,iface=..')).toThrow(/not a valid interface name/);
  });

  it('accepts a 15-character name', () => {
    expect(tap('net_tap0,iface=abcdefghijklmno').iface).toBe('abcdefghijklmno');
  });

  it('reads persist as a flag; persist=0 means not persistent (DPDK persists on any value)', () => {
    expect(tap('net_tap0,persist').persist).toBe(true);
    expect(tap('net_tap0,persist=1').persist).toBe(true);
    expect(tap('net_tap0,persist=0').persist).toBe(false);
    expect(() => tap('net_tap0,persist=yes')).toThrow(/persist=yes is not accepted/);
  });

  it('refuses repeated keys instead of silently ignoring them', () => {
    expect(() => tap('net_tap0,iface=a,iface=b')).toThrow(/"iface" is given 2 times \(columns 10, 18\)/);
    expect(() => tap('net_tap0,remote=a,remote=b')).toThrow(/"remote" is given 2 times/);
  });

  it('refuses unknown keys and value-less mac/remote', () => {
    expect(() => tap('net_tap0,speed=10')).toThrow(/unknown parameter "speed".*accepted: iface, mac, remote, persist/);
    expect(() => tap('net_tap0,remote')).toThrow(/"remote" at column 10 needs a value/);
    expect(() => tap('net_tap0,mac')).toThrow(/"mac" at column 10 needs a value/);
  });

  it('errors carry ERR_INVALID_ARG', () => {
    try {
      tap('net_tap0,iface=abcdefghijklmnop');
      expect.fail('no error');
    } catch (e) {
      expect((e as { code: string }).code).toBe('ERR_INVALID_ARG');
    }
  });
});

describe('net_tun devargs', () => {
  it('defaults to dtun%d and accepts only iface, persist and tx_uring', () => {
    expect(parseTunArgs(parseDevArgs('net_tun0'))).toEqual({ iface: 'dtun%d', mac: { kind: 'random' }, remote: undefined, persist: false, txUring: true });
    expect(parseTunArgs(parseDevArgs('net_tun0,tx_uring=0')).txUring).toBe(false);
    expect(parseTunArgs(parseDevArgs('net_tun0,iface=t1,persist')).persist).toBe(true);
    expect(() => parseTunArgs(parseDevArgs('net_tun0,remote=eth1'))).toThrow(/unknown parameter "remote"/);
  });
});

describe('mac=fixed', () => {
  it('is 02:64:74:61 then the counter spread as DPDK does', () => {
    const a = nextFixedMac();
    const b = nextFixedMac();
    expect(a).toMatch(/^02:64:74:61:70:[0-9a-f]{2}$/);
    const last = (m: string) => parseInt(m.slice(-2), 16);
    expect(last(b)).toBe((last(a) + 1) & 0xff);
  });
});
