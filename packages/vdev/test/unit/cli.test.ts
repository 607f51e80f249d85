import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

/** Run the CLI in-process with string sinks. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
    env: {},
    signal: new AbortController().signal,
  });
  return { code, out, err };
}

/** An empty sysfs root: no vmbus, no NetVSC, so nothing on the build machine is touched. */
const empty = mkdtempSync(join(tmpdir(), 'netvsc-cli-'));
afterAll(() => {
  rmSync(empty, { recursive: true, force: true });
});

describe('netvsc CLI conventions', () => {
  it('prints usage and exits 2 without a command', async () => {
    const r = await cli();
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/Usage: netvsc <command>/);
    expect(r.out).toMatch(/detect .*\n.*probe .*\n.*run .*\n.*demo /);
  });

  it('has --help for itself and every command, exit 0', async () => {
    expect((await cli('--help')).code).toBe(0);
    for (const c of ['detect', 'probe', 'run', 'demo']) {
      const r = await cli(c, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^Usage: netvsc ${c}`));
      expect(r.out).toMatch(/Exit codes:/);
      expect((await cli('help', c)).out).toBe(r.out);
    }
  });

  it('prints its version', async () => {
    const r = await cli('--version');
    expect(r).toMatchObject({ code: 0, out: '0.1.0\n' });
  });

  it('refuses an unknown command with one line on stderr, exit 2', async () => {
    const r = await cli('frobnicate');
    expect(r.code).toBe(2);
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/unknown command "frobnicate"; commands: detect, probe, run, demo/);
  });

  it.each([
    [['detect', '--bogus'], /detect: Unknown option '--bogus'/],
    [['probe', 'extra'], /probe: Unexpected argument 'extra'/],
    [['run', '--fwd', 'flowgen'], /--fwd flowgen is not a forwarding mode; accepted: io, mac, macswap, rxonly, txonly, echo/],
    [['run', '--burst', '0'], /--burst 0 is not a number in 1\.\.512/],
    [['run', '--duration', 'soon'], /--duration soon is not a number/],
    [['demo', '--rate', '1.5'], /--rate 1\.5 is not an integer/],
    [['probe', '--vdev', 'net_vdev_netvsc,speed=10'], /unknown parameter "speed" at column 17.*\[ERR_INVALID_ARG\]/],
    [['probe', '--vdev', 'net_vdev_netvsc,iface=eth1,,'], /invalid device string at column 28.*\[ERR_DEVARGS\]/],
    [['probe', '--vdev', 'net_vdev_netvsc,mac=00:15'], /mac=00:15 at column 17/],
    [['probe', '--vdev', 'net_vdev_netvsc,iface'], /"iface" at column 17 needs a value/],
    [['probe', '--vdev', 'net_vdev_netvsc,vf_settle=-5'], /vf_settle/],
  ])('exits 2 with one line on stderr for %j', async (argv, message) => {
    const r = await cli(...argv, ...(argv[0] === 'demo' ? [] : ['--sysfs-root', empty]));
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^netvsc: /);
    expect(r.err).toMatch(message);
  });

  it('detect --json gives the documented document (schema 1) and sees no Hyper-V on an empty root', async () => {
    const r = await cli('detect', '--json', '--sysfs-root', empty);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { schema: number; hypervisor: { hyperv: boolean; vmbus: boolean; dmiVendor: string | null }; interfaces: { netvsc: boolean }[] };
    expect(doc.schema).toBe(1);
    expect(doc.hypervisor).toEqual({ hyperv: false, vmbus: false, dmiVendor: null });
    expect(doc.interfaces.every((i) => !i.netvsc)).toBe(true);
  });

  it('probe without --vdev off Hyper-V says there is nothing to probe, exit 2', async () => {
    const r = await cli('probe', '--sysfs-root', empty);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/nothing to probe: not a Hyper-V guest and no --vdev given/);
  });

  it('probe exits 2 when the named interface is not found', async () => {
    const r = await cli('probe', '--vdev', 'net_vdev_netvsc0,iface=nosuch0', '--sysfs-root', empty);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot find the specified netvsc device iface=nosuch0 \(column 18\).*\[ERR_NO_DEVICE\]/);
  });

  it('run exits 2 when nothing can be attached', async () => {
    const r = await cli('run', '--duration', '0', '--sysfs-root', empty);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not a Hyper-V guest .* and no device was given/);
  });
});
