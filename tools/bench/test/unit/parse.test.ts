import { describe, expect, it } from 'vitest';
import { parseArgs, parseDpdkVersion, parseIpLinkStats, parsePortStats, parseProcStatTicks, TESTPMD_INSTALL, USAGE } from '../../src/parse.js';

// As dpdk-testpmd 22.11 prints it (stdout, after "testpmd> show port stats 0").
const STATS = `testpmd> show port stats 0

  ######################## NIC statistics for port 0  ########################
  RX-packets: 123456     RX-missed: 7          RX-bytes:  7901184
  RX-errors: 1
  RX-nombuf:  2
  TX-packets: 605152     TX-errors: 3          TX-bytes:  38729728

  Throughput (since last show)
  Rx-pps:            0          Rx-bps:            0
  Tx-pps:       301876          Tx-bps:    154560696
  ############################################################################
testpmd> `;

describe('parsePortStats', () => {
  it('reads every counter of the last complete block', () => {
    expect(parsePortStats(STATS)).toEqual({
      rxPackets: 123456,
      rxMissed: 7,
      rxBytes: 7901184,
      rxErrors: 1,
      rxNombuf: 2,
      txPackets: 605152,
      txErrors: 3,
      txBytes: 38729728,
    });
  });

  it('takes the newest block when output holds several', () => {
    const two = STATS + STATS.replace('RX-packets: 123456', 'RX-packets: 999');
    expect(parsePortStats(two)?.rxPackets).toBe(999);
  });

  it('waits for the closing line of a block', () => {
    expect(parsePortStats(STATS.slice(0, STATS.indexOf('Throughput')))).toBeUndefined();
    expect(parsePortStats('testpmd> ')).toBeUndefined();
  });
});

describe('parseProcStatTicks', () => {
  it('adds utime and stime, also when the command name has spaces and parentheses', () => {
    const line = '1234 (node (x) y) S 1 1234 1234 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 11 0 100 1000 100';
    expect(parseProcStatTicks(line)).toBe(175);
  });

  it('returns undefined for a line it cannot read', () => {
    expect(parseProcStatTicks('garbage')).toBeUndefined();
    expect(parseProcStatTicks('1 (x) S')).toBeUndefined();
  });
});

describe('parseIpLinkStats', () => {
  it('reads the 64-bit counters of `ip -s -j link show`', () => {
    const json = JSON.stringify([{ ifname: 'vsw0vf', stats64: { rx: { bytes: 640, packets: 10, dropped: 1 }, tx: { bytes: 64, packets: 1, dropped: 0 } } }]);
    expect(parseIpLinkStats(json)).toEqual({ rxPackets: 10, rxBytes: 640, rxDropped: 1, txPackets: 1, txBytes: 64, txDropped: 0 });
  });

  it('returns undefined for output without counters', () => {
    expect(parseIpLinkStats('not json')).toBeUndefined();
    expect(parseIpLinkStats('[{"ifname":"x"}]')).toBeUndefined();
    expect(parseIpLinkStats('{}')).toBeUndefined();
  });
});

describe('parseDpdkVersion', () => {
  it('finds the version in an EAL banner', () => {
    expect(parseDpdkVersion("EAL: RTE Version: 'DPDK 22.11.11'")).toBe('22.11.11');
    expect(parseDpdkVersion('nothing here')).toBeNull();
  });
});

describe('USAGE', () => {
  it('names the Debian package that ships dpdk-testpmd', () => {
    expect(TESTPMD_INSTALL).toBe('apt-get install dpdk-dev');
    expect(USAGE).toContain('dpdk-testpmd (Debian: apt-get install dpdk-dev)');
  });
});

describe('parseArgs', () => {
  const now = '2026-01-02T03:04:05.678Z';

  it('has full-run defaults, and quick ones with --quick', () => {
    const full = parseArgs([], now);
    expect([full.quick, full.reps, full.removals, full.allocPackets, full.servicingS]).toEqual([false, 3, 20, 10_000_000, 10]);
    expect(full.sizes).toEqual([64, 1500]);
    expect(full.out).toMatch(/tools\/bench\/results\/bench-2026-01-02T03-04-05-678Z\.json$/);
    const quick = parseArgs(['--quick'], now);
    expect([quick.quick, quick.reps, quick.removals, quick.servicingS, quick.windowMs]).toEqual([true, 1, 3, 2, 500]);
  });

  it('lets explicit flags override the quick defaults, in any order', () => {
    const o = parseArgs(['--reps', '5', '--quick', '--sizes', '64', '--only', 'rx,failover', '--subjects', 'vf-pmd', '--vf-args', 'blocksz=65536,blk_tov=2'], now);
    expect(o.reps).toBe(5);
    expect(o.sizes).toEqual([64]);
    expect(o.only).toEqual(['rx', 'failover']);
    expect(o.subjects).toEqual(['vf-pmd']);
    expect(o.vfArgs).toBe('blocksz=65536,blk_tov=2');
  });

  it('refuses unknown options, bad numbers and contradictions with the reason', () => {
    expect(() => parseArgs(['--fast'])).toThrow(/unknown option --fast/);
    expect(() => parseArgs(['--reps', '0'])).toThrow(/--reps 0 is not accepted; expected an integer in 1..50/);
    expect(() => parseArgs(['--reps'])).toThrow(/--reps \(missing\)/);
    expect(() => parseArgs(['--sizes', '64,9000'])).toThrow(/--sizes 9000/);
    expect(() => parseArgs(['--only', 'rx,warp'])).toThrow(/--only warp is not a scenario/);
    expect(() => parseArgs(['--subjects', 'vf-pmd,vfpmd'])).toThrow(/--subjects vfpmd is not a subject; accepted: vf-pmd, dpdk-af_packet, /);
    expect(() => parseArgs(['--generator', 'x'])).toThrow(/--generator x/);
    expect(() => parseArgs(['--no-dpdk', '--generator', 'dpdk'])).toThrow(/contradict/);
    expect(() => parseArgs(['--vf-args', 'iface=x)'])).toThrow(/--vf-args/);
    expect(() => parseArgs(['--out'])).toThrow(/--out needs a file name/);
  });
});
