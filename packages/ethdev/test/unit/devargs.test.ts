import { describe, expect, it } from 'vitest';
import { DevArgsError, InvalidArgumentError, atoi, formatDevArgs, parseDevArgs, parseUintArg } from '../../src/index.js';

describe('parseDevArgs: valid device strings', () => {
  it.each([
    ['net_tap0', 'net_tap0', []],
    ['net_tap_vsc0,remote=eth1', 'net_tap_vsc0', [['remote', 'eth1', 'kv']]],
    ['net_vdev_netvsc,iface=eth1,force=1', 'net_vdev_netvsc', [['iface', 'eth1', 'kv'], ['force', '1', 'kv']]],
    [
      'net_failsafe_vsc0,fd(12),dev(net_tap_vsc0,remote=eth1)',
      'net_failsafe_vsc0',
      [['fd', '12', 'paren'], ['dev', 'net_tap_vsc0,remote=eth1', 'paren']],
    ],
    ['net_failsafe0,exec(echo 0000:00:02.0)', 'net_failsafe0', [['exec', 'echo 0000:00:02.0', 'paren']]],
    ['net_failsafe0,dev(net_x,a=(b,c)),mac=00:15:5d:00:00:01', 'net_failsafe0', [['dev', 'net_x,a=(b,c)', 'paren'], ['mac', '00:15:5d:00:00:01', 'kv']]],
    ['0002:00:02.0,mac=00:15:5d:01:02:03', '0002:00:02.0', [['mac', '00:15:5d:01:02:03', 'kv']]],
    ['00:02.0', '00:02.0', []],
    ['net_tap0,persist', 'net_tap0', [['persist', undefined, 'bare']]],
    ['net_x,iface=a,iface=b', 'net_x', [['iface', 'a', 'kv'], ['iface', 'b', 'kv']]],
    ['net_x,list=[a,b,c],k=v', 'net_x', [['list', '[a,b,c]', 'kv'], ['k', 'v', 'kv']]],
    ['net_x,empty=', 'net_x', [['empty', '', 'kv']]],
    ['net_x,dev()', 'net_x', [['dev', '', 'paren']]],
    ['net_x,exec(echo a=b)', 'net_x', [['exec', 'echo a=b', 'paren']]],
  ] as const)('%s', (input, name, args) => {
    const d = parseDevArgs(input);
    expect(d.name).toBe(name);
    expect(d.args.map((a) => [a.key, a.value, a.form])).toEqual(args);
    expect(parseDevArgs(formatDevArgs(d)).args).toEqual(d.args);
  });

  it('records 1-based columns of keys', () => {
    const d = parseDevArgs('net_tap0,iface=x,remote=eth1');
    expect(d.args.map((a) => a.column)).toEqual([10, 18]);
  });

  it('parses an argument list without a name', () => {
    const d = parseDevArgs('fd(3),hotplug_poll=100', { name: false });
    expect(d.name).toBe('');
    expect(d.args.map((a) => a.key)).toEqual(['fd', 'hotplug_poll']);
  });

  it('counts repeated keys and lets the last win', () => {
    const d = parseDevArgs('net_x,mac=00:00:00:00:00:01,mac=00:00:00:00:00:02');
    expect(d.count('mac')).toBe(2);
    expect(d.last('mac')).toBe('00:00:00:00:00:02');
    expect(d.all('mac')).toHaveLength(2);
    expect(d.has('iface')).toBe(false);
  });
});

describe('parseDevArgs: malformed input names the column and the expected token', () => {
  it.each([
    ['', 1, 'a device name'],
    [',iface=x', 1, 'a device name'],
    ['net tap', 4, 'a device name'],
    ['net_tap0,', 10, 'a parameter name'],
    ['net_tap0,,iface=x', 10, 'a parameter name'],
    ['net_tap0,=x', 10, 'a parameter name'],
    ['net_tap0,dev(a', 15, "')'"],
    ['net_tap0,dev(a(b)', 18, "')'"],
    ['net_tap0,dev(a)b', 16, "',' or end of input"],
    ['net_tap0,k=v)', 13, "',' or end of input"],
    ['net_tap0,k=[a,b', 16, "']'"],
    ['net_tap0,k=(a]', 14, "')'"],
    ['net_tap0,ke y=1', 12, 'a parameter name'],
    ['net_tap0,k)', 11, "'=', '('"],
    ['net_tap0,-k=1', 10, 'a parameter name'],
    ['net_tap0,k=v,', 14, 'a parameter name'],
    ['net(tap)', 4, 'a device name'],
  ])('%j fails at column %i', (input, column, expected) => {
    let err: unknown;
    try {
      parseDevArgs(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DevArgsError);
    const e = err as DevArgsError;
    expect(e.code).toBe('ERR_DEVARGS');
    expect(e.column).toBe(column);
    expect(e.expected).toContain(expected);
    expect(e.message).toContain(`column ${column}`);
  });
});

describe('DevArgs.check', () => {
  it('rejects unknown keys naming the accepted ones', () => {
    const d = parseDevArgs('net_tap0,iface=x,bogus=1');
    expect(() => d.check('net_tap', ['iface', 'remote'])).toThrow(/unknown parameter "bogus" at column 18.*accepted: iface, remote/);
  });

  it('rejects bare keys that need a value', () => {
    const d = parseDevArgs('net_vdev_netvsc,iface');
    expect(() => d.check('net_vdev_netvsc', ['iface'])).toThrow(InvalidArgumentError);
  });

  it('accepts bare keys not listed as needing a value', () => {
    const d = parseDevArgs('net_tap0,persist');
    expect(() => d.check('net_tap', ['persist', 'iface'], ['iface'])).not.toThrow();
  });
});

describe('integer arguments', () => {
  it('parseUintArg accepts plain decimals in range', () => {
    expect(parseUintArg('net_af_packet', 'qpairs', '4', 1, 1024)).toBe(4);
  });

  it.each(['', '-1', '+1', '0x10', ' 1', '1a', '2000'])('parseUintArg refuses %j', (v) => {
    expect(() => parseUintArg('net_af_packet', 'qpairs', v, 1, 1024)).toThrow(/qpairs=.*accepted: 1\.\.1024/);
  });

  it.each([
    ['1', 1],
    ['0', 0],
    ['  7', 7],
    ['-1', -1],
    ['yes', 0],
    ['0x1', 0],
    ['12abc', 12],
    ['+3', 3],
  ])('atoi(%j) = %i like C', (v, n) => {
    expect(atoi(v)).toBe(n);
  });
});
