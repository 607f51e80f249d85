import { DevArgsError, parseDevArgs, registry } from '@netvsc/ethdev';
import { describe, expect, it } from 'vitest';
import { createFailsafe, parseFailsafeArgs, MAX_SUB_DEVICES } from '../../src/index.js';
import { ringName, testRegistry } from './helpers.js';

const parse = (s: string): ReturnType<typeof parseFailsafeArgs> => parseFailsafeArgs(parseDevArgs(s));

describe('parseFailsafeArgs', () => {
  it('reads the vdev_netvsc form: fd() first (preferred), then dev() with nested arguments', () => {
    expect(parse('net_failsafe_vsc0,fd(12),dev(net_tap_vsc0,remote=eth1)')).toEqual({
      subdevices: [{ fd: 12 }, { dev: 'net_tap_vsc0,remote=eth1' }],
      mac: undefined,
      hotplugPollMs: undefined,
    });
  });

  it('reads exec() with commas standing for spaces, mac= (last wins) and hotplug_poll=', () => {
    const a = parse('net_failsafe0,exec(/bin/echo,0002:00:02.0),dev(0002:00:02.0),mac=00:15:5d:00:00:01,mac=02-00-00-00-00-0A,hotplug_poll=500');
    expect(a.subdevices).toEqual([{ exec: '/bin/echo 0002:00:02.0' }, { dev: '0002:00:02.0' }]);
    expect(a.mac).toBe('02:00:00:00:00:0a');
    expect(a.hotplugPollMs).toBe(500);
  });

  it('accepts fd numbers as strtol base 0 does: decimal, hex, octal', () => {
    expect(parse('net_failsafe0,fd(0x10),fd(010),fd(0)').subdevices).toEqual([{ fd: 16 }, { fd: 8 }, { fd: 0 }]);
  });

  it.each([
    ['net_failsafe0', /declares no sub-device/],
    ['net_failsafe0,mac=00:15:5d:00:00:01', /declares no sub-device/],
    ['net_failsafe0,dev(net_ring_a),foo=1', /unknown parameter "foo"/],
    ['net_failsafe0,dev=net_ring_a', /must be written dev\(\.\.\.\)/],
    ['net_failsafe0,dev(net_ring_a),mac(00:15:5d:00:00:01)', /must be written mac=\.\.\./],
    ['net_failsafe0,dev(net_ring_a),mac=zz:15:5d:00:00:01', /invalid MAC address/],
    ['net_failsafe0,dev(net_ring_a),mac=01:00:5e:00:00:01', /non-zero unicast/],
    ['net_failsafe0,dev(net_ring_a),mac=00:00:00:00:00:00', /non-zero unicast/],
    ['net_failsafe0,dev(net_ring_a),hotplug_poll=0', /hotplug_poll=0 is not a period/],
    ['net_failsafe0,dev(net_ring_a),hotplug_poll=2s', /hotplug_poll=2s is not a period/],
    ['net_failsafe0,dev(net_ring_a),hotplug_poll=1,hotplug_poll=2', /more than once/],
    ['net_failsafe0,fd(abc)', /fd\(abc\) is not a descriptor number/],
    ['net_failsafe0,fd(-1)', /fd\(-1\) is not a descriptor number/],
    ['net_failsafe0,fd(09)', /fd\(09\) is not a descriptor number/],
    ['net_failsafe0,fd()', /fd\(\) is not a descriptor number/],
    ['net_failsafe0,exec()', /the command is empty/],
    ['net_failsafe0,dev()', /a device name/],
    ['net_failsafe0,dev(net_ring_a,,x)', /column/],
    ['net_failsafe0,dev', /needs a value/],
  ])('%s is refused', (input, message) => {
    expect(() => parse(input)).toThrow(message);
  });

  it('refuses more than MAX_SUB_DEVICES sub-devices (DPDK: 2)', () => {
    const many = Array.from({ length: MAX_SUB_DEVICES + 1 }, (_, i) => `fd(${i})`).join(',');
    expect(() => parse(`net_failsafe0,${many}`)).toThrow(new RegExp(`at most ${MAX_SUB_DEVICES}`));
    expect(parse(`net_failsafe0,${many.replace(/,fd\(\d+\)$/, '')}`).subdevices).toHaveLength(MAX_SUB_DEVICES);
  });

  it('errors carry stable codes', () => {
    expect(() => parse('net_failsafe0')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }) as Error);
  });
});

describe('devargs errors through the registry', () => {
  it('a syntax error in the whole string is a DevArgsError with a column', async () => {
    const err = await testRegistry().registry.probe('net_failsafe0,dev(net_ring_a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DevArgsError);
    expect((err as DevArgsError).column).toBe('net_failsafe0,dev(net_ring_a'.length + 1); // end of input
  });

  it('a dev() naming no registered driver fails creation at once', async () => {
    const err = await testRegistry().registry.probe('net_failsafe0,dev(net_nosuch0)').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_DRIVER_NOT_FOUND' });
  });

  it('the package registers net_failsafe in the default registry on import', () => {
    expect(registry.findVdevDriver('net_failsafe_vsc0')?.name).toBe('net_failsafe');
    expect(registry.findVdevDriver('eth_failsafe0')?.name).toBe('net_failsafe');
  });

  it('programmatic options are checked like devargs', async () => {
    const reg = testRegistry().registry;
    await expect(createFailsafe({ name: '', registry: reg })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await expect(createFailsafe({ name: 'fs_o1', hotplugPollMs: 0, registry: reg })).rejects.toThrow(/hotplugPollMs 0/);
    await expect(createFailsafe({ name: 'fs_o2', execTimeoutMs: 1.5, registry: reg })).rejects.toThrow(/execTimeoutMs/);
    await expect(createFailsafe({ name: 'fs_o3', mac: 'ff:ff:ff:ff:ff:ff', registry: reg })).rejects.toThrow(/unicast/);
    await expect(createFailsafe({ name: 'fs_o4', subdevices: [{ fd: -2 }], registry: reg })).rejects.toThrow(/descriptor number/);
    await expect(createFailsafe({ name: 'fs_o5', subdevices: [{ dev: 'net_ring_x,(' }], registry: reg })).rejects.toThrow(/column/);
    const fs = await createFailsafe({ name: 'fs_o6', subdevices: [{ dev: ringName() }], registry: reg });
    for (let i = 1; i < MAX_SUB_DEVICES; i++) fs.declare({ manual: true });
    expect(() => fs.declare({ manual: true })).toThrow(/at most/);
    expect(() => fs.declare({ exec: ' ' })).toThrow();
    fs.close();
    expect(() => fs.declare({ manual: true })).toThrow(/closed/);
  });
});
