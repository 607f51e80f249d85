import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETVSC_CLASS_ID, SimGuest, TRANSPARENT_VF_PREF, integrationGate } from '../../src/index.js';
import { execRunner } from '../../src/commands.js';
import { NetnsDriver } from '../../src/netns.js';

const driver = new NetnsDriver(execRunner);

function read(root: string, p: string): string {
  return readFileSync(join(root, p), 'utf8').trim();
}

describe.skipIf(!integrationGate('@netvsc/sim guest'))('simulated guest', () => {
  let sim: SimGuest;

  beforeAll(async () => {
    sim = await SimGuest.create({
      netvsc: [
        { name: 'eth1', mac: '00:15:5d:aa:00:01', vf: { name: 'enP2s2', pci: '0002:00:02.0' } },
        { name: 'eth2', mac: '00:15:5d:aa:00:02' },
      ],
    });
  });

  afterAll(async () => {
    const prefix = sim.prefix;
    await sim.destroy();
    const left = (await driver.listNamespaces()).filter((n) => n.startsWith(prefix));
    expect(left).toEqual([]);
    expect(existsSync(sim.dir)).toBe(false);
  });

  it('creates the guest and host namespaces with the links up, nothing in the root namespace', async () => {
    expect(sim.prefix).toMatch(/^nvsim-[0-9a-f]{4}$/);
    const ns = await driver.listNamespaces();
    expect(ns).toContain(`${sim.prefix}-guest`);
    expect(ns).toContain(`${sim.prefix}-host`);
    const guest = new Map((await driver.links(sim.guestNs)).map((l) => [l.name, l]));
    expect(guest.get('eth1')).toMatchObject({ mac: '00:15:5d:aa:00:01', up: true, lowerUp: true });
    expect(guest.get('enP2s2')).toMatchObject({ mac: '00:15:5d:aa:00:01', up: true, lowerUp: true });
    expect(guest.get('eth2')).toMatchObject({ mac: '00:15:5d:aa:00:02', up: true });
    const host = (await driver.links(sim.hostNs)).map((l) => l.name).sort();
    expect(host).toEqual(['lo', 'vsw0syn', 'vsw0vf', 'vsw1syn']);
    const root = await execRunner.run('ip', ['-j', 'link', 'show']);
    expect(root).not.toContain('vsw0syn');
    expect(root).not.toContain('enP2s2');
  });

  it('installs the transparent-VF redirect at the documented pref', async () => {
    const out = await sim.ingressFilters('enP2s2');
    expect(out).toContain(`pref ${TRANSPARENT_VF_PREF} u32`);
    expect(out).toMatch(/Ingress Redirect to device eth1/);
  });

  it('writes a fixture sysfs that resolves like the real one', () => {
    const r = sim.sysfsRoot;
    expect(read(r, 'sys/class/net/eth1/device/class_id')).toBe(NETVSC_CLASS_ID);
    expect(read(r, 'sys/class/net/eth1/address')).toBe('00:15:5d:aa:00:01');
    expect(Number(read(r, 'sys/class/net/eth1/ifindex'))).toBe(sim.netvsc('eth1').ifindex);
    expect(lstatSync(join(r, 'sys/class/net/enP2s2')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(r, 'sys/class/net/enP2s2/device/subsystem')).split('/').pop()).toBe('pci');
    expect(readlinkSync(join(r, 'sys/class/net/enP2s2/device')).split('/').pop()).toBe('0002:00:02.0');
    expect(realpathSync(join(r, 'sys/bus/pci/devices/0002:00:02.0/net/enP2s2'))).toBe(realpathSync(join(r, 'sys/class/net/enP2s2')));
    expect(read(r, 'sys/class/dmi/id/sys_vendor')).toBe('Microsoft Corporation');
    expect(existsSync(join(r, 'sys/bus/vmbus/devices', sim.netvsc('eth1').vmbusId))).toBe(true);
    expect(read(r, 'sys/class/net/enP2s2/operstate')).toBe('up');
    expect(existsSync(join(r, 'sys/class/net/eth1/lower_enP2s2'))).toBe(true);
  });

  it('removes the VF from the kernel and the fixture, and re-adds it at a new PCI address', async () => {
    const r = sim.sysfsRoot;
    await sim.removeVf('eth1');
    expect((await driver.links(sim.guestNs)).map((l) => l.name)).not.toContain('enP2s2');
    expect((await driver.links(sim.hostNs)).map((l) => l.name)).not.toContain('vsw0vf');
    expect(existsSync(join(r, 'sys/class/net/enP2s2'))).toBe(false);
    expect(existsSync(join(r, 'sys/bus/pci/devices/0002:00:02.0'))).toBe(false);
    expect(sim.netvsc('eth1').vf).toBeNull();

    const vf = await sim.addVf('eth1', { pci: '0003:00:02.0' });
    expect(vf).toMatchObject({ name: 'enP3s2', pci: '0003:00:02.0', up: true });
    expect(readlinkSync(join(r, 'sys/class/net/enP3s2/device')).split('/').pop()).toBe('0003:00:02.0');
    expect(Number(read(r, 'sys/class/net/enP3s2/ifindex'))).toBe(vf.ifindex);
    expect(await sim.ingressFilters('enP3s2')).toContain(`pref ${TRANSPARENT_VF_PREF}`);

    await sim.removeVf('eth1');
    const back = await sim.addVf('eth1');
    expect(back).toMatchObject({ name: 'enP3s2', pci: '0003:00:02.0' });
  });

  it('flaps the VF and ends with it present', async () => {
    await sim.flapVf('eth1', { count: 3, downMs: 10, upMs: 10 });
    expect(sim.netvsc('eth1').vf?.up).toBe(true);
    const kinds = sim.timeline.map((e) => e.kind);
    expect(kinds.filter((k) => k === 'vf-removed').length).toBeGreaterThanOrEqual(4);
  });

  it('renames a NetVSC and the fixture follows', async () => {
    const r = sim.sysfsRoot;
    await sim.renameNetvsc('eth2', 'eth9');
    expect(existsSync(join(r, 'sys/class/net/eth2'))).toBe(false);
    expect(read(r, 'sys/class/net/eth9/device/class_id')).toBe(NETVSC_CLASS_ID);
    expect((await driver.links(sim.guestNs)).find((l) => l.name === 'eth9')?.up).toBe(true);
    expect(sim.netvsc(1).name).toBe('eth9');
  });

  it('takes links down on either side and the fixture operstate follows', async () => {
    const r = sim.sysfsRoot;
    await sim.setLink('eth9', false);
    expect(read(r, 'sys/class/net/eth9/operstate')).toBe('down');
    await sim.setLink('eth9', true);
    expect(read(r, 'sys/class/net/eth9/operstate')).toBe('up');
    await sim.setLink('eth9', false, 'host');
    expect(read(r, 'sys/class/net/eth9/operstate')).toBe('lowerlayerdown');
    await sim.setLink('eth9', true, 'host');
    expect(read(r, 'sys/class/net/eth9/carrier')).toBe('1');
  });

  it('adds and removes IPv4 and IPv6 addresses', async () => {
    await sim.addAddress('eth1', '192.0.2.10/24');
    await sim.addAddress('eth1', '2001:db8::10/64');
    const out = await execRunner.run('ip', ['-n', sim.guestNs, '-j', 'addr', 'show', 'dev', 'eth1']);
    expect(out).toContain('192.0.2.10');
    expect(out).toContain('2001:db8::10');
    await sim.removeAddress('eth1', '192.0.2.10/24');
    await sim.removeAddress('eth1', '2001:db8::10/64');
    const after = await execRunner.run('ip', ['-n', sim.guestNs, '-j', 'addr', 'show', 'dev', 'eth1']);
    expect(after).not.toContain('192.0.2.10');
    expect(after).not.toContain('2001:db8::10');
  });

  it('enters the guest namespace on the calling thread and comes back', async () => {
    const before = readlinkSync('/proc/thread-self/ns/net');
    const restore = sim.enterGuest();
    try {
      expect(readlinkSync('/proc/thread-self/ns/net')).not.toBe(before);
      expect(readFileSync('/proc/self/net/dev', 'utf8')).toContain('enP3s2');
    } finally {
      restore();
    }
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(before);
    const inside = await sim.inGuest(() => readFileSync('/proc/self/net/dev', 'utf8'));
    expect(inside).toContain('eth9');
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(before);
  });
});

describe.skipIf(!integrationGate('@netvsc/sim options'))('simulated guest options', () => {
  it('omits the Hyper-V markers, keeps IPv6 quiet, and refuses a prefix in use', async () => {
    const sim = await SimGuest.create({ hyperv: false, netvsc: [{ name: 'eth3' }] });
    try {
      expect(existsSync(join(sim.sysfsRoot, 'sys/bus/vmbus'))).toBe(false);
      expect(existsSync(join(sim.sysfsRoot, 'sys/class/dmi'))).toBe(false);
      expect(read(sim.sysfsRoot, 'sys/class/net/eth3/device/class_id')).toBe(NETVSC_CLASS_ID);
      expect(sim.netvsc().vf).toBeNull();
      const dad = await execRunner.run('ip', ['netns', 'exec', sim.guestNs, 'sysctl', '-n', 'net.ipv6.conf.eth3.accept_dad']);
      expect(dad.trim()).toBe('0');
      const v6 = await execRunner.run('ip', ['netns', 'exec', sim.hostNs, 'sysctl', '-n', 'net.ipv6.conf.vsw0syn.disable_ipv6']);
      expect(v6.trim()).toBe('1');
      await expect(SimGuest.create({ prefix: sim.prefix })).rejects.toThrow(/is in use/);
      await expect(sim.addVf(0)).rejects.toThrow(/never had a VF/);
      await expect(sim.removeVf('eth3')).rejects.toMatchObject({ code: 'ERR_BAD_STATE' });
      await expect(sim.setLink('nope0', false)).rejects.toMatchObject({ code: 'ERR_NO_DEVICE' });
    } finally {
      await sim.destroy();
    }
    expect(() => sim.enterGuest()).toThrow(/destroyed/);
  });
});
