import { describe, expect, it } from 'vitest';
import { CliUsageError, parseCli, parseNetvscSpec } from '../../src/cli-args.js';

describe('netvsc-sim command line', () => {
  it('parses up with NetVSC specs and switches', () => {
    expect(parseCli(['up', '--prefix', 'nvsim-t1', '--netvsc', 'eth1,mac=00:15:5D:00:00:0A,vf=enP2s2,pci=0002:00:02.0', '--netvsc=eth2,mtu=9000', '--no-transparent-vf', '--json'])).toEqual({
      cmd: 'up',
      prefix: 'nvsim-t1',
      tmpDir: undefined,
      json: true,
      netvsc: [
        { name: 'eth1', mac: '00:15:5d:00:00:0a', vf: { name: 'enP2s2', pci: '0002:00:02.0' } },
        { name: 'eth2', mtu: 9000, vf: null },
      ],
      transparentVf: false,
      hyperv: true,
    });
    expect(parseCli(['up'])).toMatchObject({ cmd: 'up', netvsc: undefined, transparentVf: true, hyperv: true, prefix: undefined });
  });

  it('parses down, status, demo and help', () => {
    expect(parseCli(['down', '--all', '--force'])).toMatchObject({ cmd: 'down', all: true, force: true });
    expect(parseCli(['down', '--prefix', 'nvsim-ab12'])).toMatchObject({ cmd: 'down', all: false, prefix: 'nvsim-ab12' });
    expect(parseCli(['status', '--json'])).toMatchObject({ cmd: 'status', json: true });
    expect(parseCli(['demo'])).toMatchObject({ cmd: 'demo' });
    expect(parseCli([])).toEqual({ cmd: 'help', topic: undefined });
    expect(parseCli(['--help'])).toMatchObject({ cmd: 'help' });
  });

  it('parses every fault', () => {
    expect(parseCli(['fault', 'vf-remove', 'eth1'])).toMatchObject({ cmd: 'fault', fault: { kind: 'vf-remove', netvsc: 'eth1' } });
    expect(parseCli(['fault', '--prefix', 'nvsim-x', 'vf-add', 'eth1', '--pci', '3:00:02.0'.padStart(12, '0')])).toMatchObject({
      prefix: 'nvsim-x',
      fault: { kind: 'vf-add', netvsc: 'eth1', vf: { pci: '0003:00:02.0' } },
    });
    expect(parseCli(['fault', 'vf-flap', 'eth1', '--count', '5', '--down-ms', '20', '--up-ms=30'])).toMatchObject({
      fault: { kind: 'vf-flap', netvsc: 'eth1', count: 5, downMs: 20, upMs: 30, vf: {} },
    });
    expect(parseCli(['fault', 'vf-flap', 'eth1'])).toMatchObject({ fault: { count: 3, downMs: 500, upMs: 1000 } });
    expect(parseCli(['fault', 'rename', 'eth1', 'eth9'])).toMatchObject({ fault: { kind: 'rename', netvsc: 'eth1', to: 'eth9' } });
    expect(parseCli(['fault', 'link', 'enP2s2', 'down', '--host'])).toMatchObject({ fault: { kind: 'link', ifname: 'enP2s2', up: false, side: 'host' } });
    expect(parseCli(['fault', 'link', 'eth1', 'up'])).toMatchObject({ fault: { kind: 'link', up: true, side: 'guest' } });
    expect(parseCli(['fault', 'addr', 'add', 'eth1', '10.0.0.2/24'])).toMatchObject({ fault: { kind: 'addr', op: 'add', ifname: 'eth1', cidr: '10.0.0.2/24' } });
    expect(parseCli(['fault', 'addr', 'del', 'eth1', 'fe80::1/64'])).toMatchObject({ fault: { op: 'del', cidr: 'fe80::1/64' } });
  });

  it('explains what is wrong and what is accepted', () => {
    const bad = (argv: string[], re: RegExp): void => {
      let err: unknown;
      try {
        parseCli(argv);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CliUsageError);
      expect((err as CliUsageError).code).toBe('ERR_INVALID_ARG');
      expect((err as Error).message).toMatch(re);
    };
    bad(['frobnicate'], /unknown command "frobnicate"; commands: up/);
    bad(['down'], /--prefix nvsim-\.\.\. or --all/);
    bad(['up', '--prefix', 'foo'], /must be "nvsim-"/);
    bad(['up', '--bogus'], /unknown option --bogus; accepted here:.*--netvsc/);
    bad(['up', '--prefix'], /--prefix needs a value/);
    bad(['fault', 'vf-remove'], /expected 1 argument/);
    bad(['fault', 'explode', 'eth1'], /unknown fault "explode"; faults: vf-remove/);
    bad(['fault', 'link', 'eth1', 'sideways'], /up or down/);
    bad(['fault', 'addr', 'add', 'eth1', '10.0.0.2'], /address\/prefix-length/);
    bad(['fault', 'vf-flap', 'eth1', '--count', '0'], /at least 1/);
    bad(['fault', 'vf-flap', 'eth1', '--count', 'many'], /--count must be an integer/);
    bad(['status', '--json=1'], /takes no value/);
  });

  it('validates --netvsc specs', () => {
    expect(parseNetvscSpec('eth3')).toEqual({ name: 'eth3', vf: null });
    expect(() => parseNetvscSpec('eth1,vf=enP2s2')).toThrow(/vf= needs pci=/);
    expect(() => parseNetvscSpec('eth1,pci=0002:00:02.0')).toThrow(/pci= needs vf=/);
    expect(() => parseNetvscSpec('eth1,color=red')).toThrow(/unknown key "color"; accepted: mac, vf, pci, mtu/);
    expect(() => parseNetvscSpec('mac=00:15:5d:00:00:01')).toThrow(/starts with the interface name/);
    expect(() => parseNetvscSpec('eth1,mac=nope')).toThrow(/invalid MAC/);
    expect(() => parseNetvscSpec('eth1,mtu=70000')).toThrow(/0\.\.65535/);
  });
});
