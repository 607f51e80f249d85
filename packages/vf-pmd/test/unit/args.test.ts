import { parseDevArgs } from '@netvsc/ethdev';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, parsePmdArgs, parseUint } from '../../src/args.js';

const parse = (s: string, o = {}): ReturnType<typeof parsePmdArgs> => parsePmdArgs(parseDevArgs(s), o);

function err(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('expected an error');
}

describe('net_af_packet devargs (vdev form)', () => {
  it('takes DPDK defaults but a 16 MiB ring of 64 KiB blocks: qpairs 1, 65536/2048/8192, qdisc_bypass on, hash fanout, own_rx off', () => {
    const c = parse('net_af_packet0,iface=eth1');
    expect(c.iface).toBe('eth1');
    expect(c.pciAddr).toBeUndefined();
    expect(c.qpairs).toBe(1);
    expect(c.geometry).toMatchObject({ blockSize: 65536, frameSize: 2048, frameNr: 8192, blockNr: 256, retireTovMs: 1 });
    expect(c.qdiscBypass).toBe(true);
    expect(c.fanoutMode).toBe('hash');
    expect(c.ownRx).toBe(false);
  });

  it('reads every key, the last occurrence winning for repeated ring keys', () => {
    const c = parse('eth_af_packet9,iface=vf0,qpairs=4,blocksz=65536,framesz=2048,framecnt=64,qdisc_bypass=0,fanout_mode=lb,own_rx=1,blk_tov=5,qpairs=2');
    expect(c).toMatchObject({ iface: 'vf0', qpairs: 2, qdiscBypass: false, fanoutMode: 'lb', ownRx: true });
    expect(c.geometry).toMatchObject({ blockSize: 65536, blockNr: 2, frameNr: 64, retireTovMs: 5 });
  });

  it('requires iface exactly once, with a valid name', () => {
    expect(err(() => parse('net_af_packet0')).message).toMatch(/iface= must be given exactly once \(given 0 times\)/);
    expect(err(() => parse('net_af_packet0,iface=a,iface=b')).message).toMatch(/given 2 times/);
    expect(err(() => parse('net_af_packet0,iface=a/b')).message).toMatch(/iface=a\/b is not a valid interface name/);
    expect(err(() => parse('net_af_packet0,iface=0123456789abcdef')).code).toBe('ERR_INVALID_ARG');
    expect(err(() => parse('net_af_packet0,iface')).message).toMatch(/needs a value/);
  });

  it('refuses unknown keys, naming them and the accepted ones (DPDK matches substrings; we do not)', () => {
    const e = err(() => parse('net_af_packet0,iface=x,qpair=2'));
    expect(e.code).toBe('ERR_INVALID_ARG');
    expect(e.message).toMatch(/unknown parameter "qpair".*accepted: iface, qpairs/);
    expect(err(() => parse('net_af_packet0,iface=x,mac=00:11:22:33:44:55')).message).toMatch(/unknown parameter "mac"/);
  });

  it('reads integers as DPDK: decimal, optional leading blanks, no sign, nothing trailing', () => {
    expect(parse('net_af_packet0,iface=x,qpairs= 3').qpairs).toBe(3);
    for (const bad of ['+3', '-1', '3x', '0x10', '', ' ', '3 ']) {
      const e = err(() => parse(`net_af_packet0,iface=x,qpairs=${bad}`));
      expect(e.code).toBe('ERR_INVALID_ARG');
      expect(e.message).toContain('qpairs=');
      expect(e.message).toContain('accepted: 1..1024');
    }
    expect(err(() => parse('net_af_packet0,iface=x,qpairs=1025')).message).toBe('net_af_packet0: qpairs=1025 is out of range; accepted: 1..1024');
    expect(err(() => parse('net_af_packet0,iface=x,qdisc_bypass=2')).message).toMatch(/qdisc_bypass=2 is out of range; accepted: 0..1/);
    expect(err(() => parse('net_af_packet0,iface=x,own_rx=yes')).message).toMatch(/own_rx=yes is not a decimal integer; accepted: 0..1/);
    expect(err(() => parse('net_af_packet0,iface=x,blk_tov=0')).message).toMatch(/blk_tov=0 is out of range; accepted: 1..1000/);
  });

  it('accepts the six fanout modes only', () => {
    for (const m of ['hash', 'lb', 'cpu', 'rollover', 'rnd', 'qm']) expect(parse(`net_af_packet0,iface=x,fanout_mode=${m}`).fanoutMode).toBe(m);
    expect(err(() => parse('net_af_packet0,iface=x,fanout_mode=ebpf')).message).toBe(
      'net_af_packet0: fanout_mode=ebpf is not supported; accepted: hash, lb, cpu, rollover, rnd, qm',
    );
  });

  it('checks the ring geometry as the kernel will, saying what would work', () => {
    expect(err(() => parse('net_af_packet0,iface=x,blocksz=5000')).message).toMatch(/blocksz=5000 must be a multiple of the page size 4096 \(e.g. 8192\)/);
    expect(err(() => parse('net_af_packet0,iface=x,framesz=2040')).message).toMatch(/framesz=2040 must be a multiple of 16 \(e.g. 2048\)/);
    expect(err(() => parse('net_af_packet0,iface=x,framesz=131072')).message).toMatch(/framesz=131072 is larger than blocksz=65536/);
    expect(err(() => parse('net_af_packet0,iface=x,framesz=32')).message).toMatch(/framesz=32 is too small; accepted: 80\.\.blocksz/);
    expect(err(() => parse('net_af_packet0,iface=x,framecnt=513')).message).toMatch(/framecnt=513 is not a whole number of blocks of 32 frames.*use 512 or 544/);
    expect(err(() => parse('net_af_packet0,iface=x,blocksz=16384,framecnt=3')).message).toMatch(/framecnt=3 fills no block of 8 frames/);
  });

  it('lets options set defaults that devargs override', () => {
    const c = parse('net_af_packet0,iface=x,own_rx=0', { ownRx: true, qpairs: 2, fanoutMode: 'rnd' });
    expect(c.ownRx).toBe(false);
    expect(c.qpairs).toBe(2);
    expect(c.fanoutMode).toBe('rnd');
    expect(err(() => parse('net_af_packet0,iface=x', { qpairs: 0 })).message).toMatch(/option qpairs=0 is out of range; accepted: 1..1024/);
    expect(err(() => parse('net_af_packet0,iface=x', { ownRxPref: 70000 })).message).toMatch(/ownRxPref=70000/);
  });
});

describe('PCI devargs', () => {
  it('takes the address as the name, an optional mac= and the ring keys', () => {
    const c = parse('0002:00:02.0,mac=00-15-5D-01-02-03,qpairs=2,own_rx=1');
    expect(c.pciAddr).toBe('0002:00:02.0');
    expect(c.iface).toBeUndefined();
    expect(c.mac).toBe('00:15:5d:01:02:03');
    expect(c.qpairs).toBe(2);
    expect(c.ownRx).toBe(true);
    expect(parse('02:00.1').pciAddr).toBe('0000:02:00.1');
    expect(parse('0002:00:02.0').ownRx).toBe(DEFAULTS.ownRx);
  });

  it('refuses iface=, a bad mac= and a repeated mac=', () => {
    expect(err(() => parse('0002:00:02.0,iface=eth1')).message).toMatch(/net_vf_pmd 0002:00:02.0: unknown parameter "iface"/);
    expect(err(() => parse('0002:00:02.0,mac=00:15:5d')).message).toMatch(/mac=00:15:5d is not a MAC address/);
    expect(err(() => parse('0002:00:02.0,mac=00:15:5d:00:00:01,mac=00:15:5d:00:00:02')).message).toMatch(/mac= given 2 times/);
  });
});

describe('parseUint', () => {
  it('skips leading white space only', () => {
    expect(parseUint('d', 'k', '\t 7', 0, 10)).toBe(7);
    expect(() => parseUint('d', 'k', undefined, 0, 10)).toThrow(/k= is not a decimal integer/);
  });
});
