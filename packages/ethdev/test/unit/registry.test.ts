import { describe, expect, it } from 'vitest';
import { DriverNotFoundError, EthDev, InvalidArgumentError, Registry, RingPmd, parseDevArgs, registry, ringDriver, type PciAddr, type PciDriver } from '../../src/index.js';

describe('Registry', () => {
  it('selects vdev drivers by the longest matching name prefix', () => {
    const r = new Registry();
    const a = { name: 'net_tap', probe: () => new RingPmd({ name: 'x' }).dev };
    const b = { name: 'net_tap_special', probe: () => new RingPmd({ name: 'y' }).dev };
    r.registerVdevDriver(a);
    r.registerVdevDriver(b);
    expect(r.findVdevDriver('net_tap_vsc0')).toBe(a);
    expect(r.findVdevDriver('net_tap_special0')).toBe(b);
    expect(r.findVdevDriver('net_tun0')).toBeUndefined();
  });

  it('refuses a second driver with the same name or alias', () => {
    const r = new Registry();
    r.registerVdevDriver({ name: 'net_a', aliases: ['eth_a'], probe: () => new RingPmd({ name: 'z' }).dev });
    expect(() => {
      r.registerVdevDriver({ name: 'eth_a', probe: () => new RingPmd({ name: 'z' }).dev });
    }).toThrow(InvalidArgumentError);
  });

  it('probes net_ring through the default registry', async () => {
    const dev = await registry.probe('net_ring_r0,mac=02:00:00:00:00:01');
    expect(dev.driverName).toBe('net_ring');
    expect(dev.macAddrGet()).toBe('02:00:00:00:00:01');
    dev.close();
  });

  it('says which drivers exist when none matches', async () => {
    await expect(registry.probe('net_nothing0')).rejects.toThrow(/no vdev driver for "net_nothing0"; registered prefixes: .*net_ring/);
    await expect(registry.probe('net_nothing0')).rejects.toBeInstanceOf(DriverNotFoundError);
  });

  it('routes PCI addresses to the default PCI driver or a bound one', async () => {
    const r = new Registry();
    await expect(r.probe('0002:00:02.0')).rejects.toThrow(/no PCI driver registered for 0002:00:02.0/);
    const seen: string[] = [];
    const mk = (name: string): PciDriver => ({
      name,
      probe(addr: PciAddr, args) {
        seen.push(`${name}:${addr}:${args.last('mac') ?? ''}`);
        return new RingPmd({ name: `${name}-${addr}` }).dev;
      },
    });
    r.registerPciDriver(mk('vf'));
    r.registerPciDriver(mk('xdp'));
    (await r.probe('02:00.1,mac=00:15:5d:00:00:01')).close();
    r.bindPci('0000:02:00.1', 'xdp');
    (await r.probe('0000:02:00.1')).close();
    r.registerPciDriver(mk('other'), { default: true });
    (await r.probe('0003:00:02.0')).close();
    expect(seen).toEqual(['vf:0000:02:00.1:00:15:5d:00:00:01', 'xdp:0000:02:00.1:', 'other:0003:00:02.0:']);
    expect(() => {
      r.bindPci('0000:02:00.1', 'nope');
    }).toThrow(/no PCI driver named "nope"; registered: vf, xdp, other/);
  });

  it('net_ring validates its own arguments', () => {
    expect(() => ringDriver.probe(parseDevArgs('net_ring_bad,loopback=2'), { registry })).toThrow(/loopback=2; accepted: 0, 1/);
    expect(() => ringDriver.probe(parseDevArgs('net_ring_bad,nope=1'), { registry })).toThrow(/unknown parameter "nope"/);
    expect(() => ringDriver.probe(parseDevArgs('net_ring_bad2,peer=ghost'), { registry })).toThrow(/peer "ghost" does not exist/);
  });

  it('wires peers', async () => {
    const a: EthDev = await registry.probe('net_ring_pa');
    const b = await registry.probe('net_ring_pb,peer=net_ring_pa');
    expect(RingPmd.get('net_ring_pa')?.peer).toBe(RingPmd.get('net_ring_pb'));
    a.close();
    b.close();
  });
});
