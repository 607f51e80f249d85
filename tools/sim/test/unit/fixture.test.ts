import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HV_PCI_CLASS_ID, NETVSC_CLASS_ID } from '../../src/api.js';
import { fixtureLayout, linkText, pciBridgeId, syncFixture, writeFixture, type FixtureModel } from '../../src/fixture.js';

const VMBUS = 'sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00';
const NV_ID = '11111111-0000-4000-8000-00155d111111';

function model(over: Partial<FixtureModel> = {}, vf: { name: string; pci: string } | null = { name: 'enP2s2', pci: '0002:00:02.0' }): FixtureModel {
  return {
    vmbus: true,
    dmiVendor: 'Microsoft Corporation',
    netdevs: [
      { name: 'lo', mac: '00:00:00:00:00:00', ifindex: 1, type: 772, device: null },
      { name: 'eth1', mac: '00:15:5d:00:00:01', ifindex: 2, device: { bus: 'vmbus', id: NV_ID } },
      ...(vf ? [{ name: vf.name, mac: '00:15:5d:00:00:01', ifindex: 3, device: { bus: 'pci' as const, address: vf.pci }, master: 'eth1' }] : []),
    ],
    ...over,
  };
}

describe('fixture layout', () => {
  it('describes a NetVSC under its vmbus device and a VF under its PCI address, as the kernel does', () => {
    const l = fixtureLayout(model());
    const nvDir = `${VMBUS}/${NV_ID}`;
    const pciDir = `${VMBUS}/${pciBridgeId('0002')}/pci0002:00/0002:00:02.0`;
    expect(l.get('sys/class/net/eth1')).toEqual({ type: 'link', target: `${nvDir}/net/eth1` });
    expect(l.get(`${nvDir}/class_id`)).toEqual({ type: 'file', content: `${NETVSC_CLASS_ID}\n` });
    expect(l.get(`${nvDir}/subsystem`)).toEqual({ type: 'link', target: 'sys/bus/vmbus' });
    expect(l.get(`${nvDir}/net/eth1/device`)).toEqual({ type: 'link', target: nvDir });
    expect(l.get(`sys/bus/vmbus/devices/${NV_ID}`)).toEqual({ type: 'link', target: nvDir });
    expect(l.get('sys/class/net/enP2s2')).toEqual({ type: 'link', target: `${pciDir}/net/enP2s2` });
    expect(l.get(`${pciDir}/subsystem`)).toEqual({ type: 'link', target: 'sys/bus/pci' });
    expect(l.get('sys/bus/pci/devices/0002:00:02.0')).toEqual({ type: 'link', target: pciDir });
    expect(l.get(`${VMBUS}/${pciBridgeId('0002')}/class_id`)).toEqual({ type: 'file', content: `${HV_PCI_CLASS_ID}\n` });
    expect(l.get('sys/class/dmi/id')).toEqual({ type: 'link', target: 'sys/devices/virtual/dmi/id' });
    expect(l.get('sys/devices/virtual/dmi/id/sys_vendor')).toEqual({ type: 'file', content: 'Microsoft Corporation\n' });
    expect(l.get(`${pciDir}/net/enP2s2/master`)).toEqual({ type: 'link', target: `${nvDir}/net/eth1` });
    expect(l.get(`${nvDir}/net/eth1/lower_enP2s2`)).toEqual({ type: 'link', target: `${pciDir}/net/enP2s2` });
    expect(l.get('sys/class/net/lo')).toEqual({ type: 'link', target: 'sys/devices/virtual/net/lo' });
    expect(l.has('sys/devices/virtual/net/lo/device')).toBe(false);
  });

  it('omits the Hyper-V markers when asked', () => {
    const l = fixtureLayout(model({ vmbus: false, dmiVendor: null }));
    expect([...l.keys()].some((p) => p.startsWith('sys/bus/vmbus'))).toBe(false);
    expect([...l.keys()].some((p) => p.includes('dmi'))).toBe(false);
    expect(l.has(`${VMBUS}/${NV_ID}/class_id`)).toBe(true);
  });

  it('rejects names that would escape the tree and duplicate names', () => {
    const bad = (name: string): FixtureModel => ({ vmbus: true, dmiVendor: null, netdevs: [{ name, mac: '00:15:5d:00:00:01', device: null }] });
    expect(() => fixtureLayout(bad('../x'))).toThrow(/invalid interface name/);
    expect(() => fixtureLayout(bad('..'))).toThrow(/invalid interface name/);
    expect(() => fixtureLayout(bad('a234567890123456'))).toThrow(/invalid interface name/);
    const twice = model();
    expect(() => fixtureLayout({ ...twice, netdevs: [...twice.netdevs, ...twice.netdevs.slice(1, 2)] })).toThrow(/two netdevs named "eth1"/);
  });

  it('writes symlinks whose text ends in the target name (basename of device = PCI address)', () => {
    expect(linkText('/r/sys/devices/a/0002:00:02.0/net/enP2s2/device', '/r/sys/devices/a/0002:00:02.0')).toBe('../../../0002:00:02.0');
    expect(linkText('/r/sys/class/net/eth1', '/r/sys/devices/x/net/eth1')).toBe('../../devices/x/net/eth1');
  });
});

describe('fixture on disk', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'netvsc-sim-unit-'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('resolves like the real sysfs: class_id, subsystem and device links', () => {
    writeFixture(root, model());
    expect(readFileSync(join(root, 'sys/class/net/eth1/device/class_id'), 'utf8')).toBe(`${NETVSC_CLASS_ID}\n`);
    expect(readlinkSync(join(root, 'sys/class/net/enP2s2/device')).split('/').pop()).toBe('0002:00:02.0');
    expect(readlinkSync(join(root, 'sys/class/net/enP2s2/device/subsystem')).split('/').pop()).toBe('pci');
    expect(realpathSync(join(root, 'sys/class/net/enP2s2/device/subsystem'))).toBe(realpathSync(join(root, 'sys/bus/pci')));
    expect(realpathSync(join(root, 'sys/bus/pci/devices/0002:00:02.0/net/enP2s2'))).toBe(realpathSync(join(root, 'sys/class/net/enP2s2')));
    expect(readFileSync(join(root, 'sys/class/net/enP2s2/address'), 'utf8')).toBe('00:15:5d:00:00:01\n');
    expect(readFileSync(join(root, 'sys/class/net/enP2s2/ifindex'), 'utf8')).toBe('3\n');
    expect(readdirSync(join(root, 'sys/class/net')).sort()).toEqual(['enP2s2', 'eth1', 'lo']);
    expect(readFileSync(join(root, 'sys/class/dmi/id/sys_vendor'), 'utf8')).toBe('Microsoft Corporation\n');
  });

  it('follows a VF removal and its return at a new PCI address, leaving nothing stale', () => {
    writeFixture(root, model());
    const removed = syncFixture(root, model({}, null));
    expect(removed.removed).toContain('sys/class/net/enP2s2');
    expect(existsSync(join(root, 'sys/class/net/enP2s2'))).toBe(false);
    expect(existsSync(join(root, 'sys/bus/pci/devices/0002:00:02.0'))).toBe(false);
    expect(existsSync(join(root, `${VMBUS}/${pciBridgeId('0002')}`))).toBe(false);
    expect(existsSync(join(root, `${VMBUS}/${NV_ID}/net/eth1/lower_enP2s2`))).toBe(false);

    syncFixture(root, model({}, { name: 'enP3s2', pci: '0003:00:02.0' }));
    expect(readlinkSync(join(root, 'sys/class/net/enP3s2/device')).split('/').pop()).toBe('0003:00:02.0');
    expect(existsSync(join(root, 'sys/bus/pci/devices/0003:00:02.0/net/enP3s2/address'))).toBe(true);

    // Writing the same model again changes nothing.
    const again = syncFixture(root, model({}, { name: 'enP3s2', pci: '0003:00:02.0' }));
    expect(again).toEqual({ removed: [], written: [] });
  });

  it('renames entries and rewrites changed attributes only', () => {
    writeFixture(root, model());
    const m = model();
    const renamed: FixtureModel = { ...m, netdevs: m.netdevs.map((n) => (n.name === 'eth1' ? { ...n, name: 'eth9', up: false } : n.master ? { ...n, master: 'eth9' } : n)) };
    const ch = syncFixture(root, renamed);
    expect(existsSync(join(root, 'sys/class/net/eth1'))).toBe(false);
    expect(readFileSync(join(root, 'sys/class/net/eth9/operstate'), 'utf8')).toBe('down\n');
    expect(readFileSync(join(root, 'sys/class/net/eth9/flags'), 'utf8')).toBe('0x1002\n');
    expect(readlinkSync(join(root, 'sys/class/net/enP2s2/master')).split('/').pop()).toBe('eth9');
    expect(ch.written).not.toContain('sys/class/net/enP2s2');
  });

  it('removes foreign files that are not part of the model', () => {
    writeFixture(root, model());
    writeFileSync(join(root, 'sys/class/net/junk'), 'x');
    syncFixture(root, model());
    expect(existsSync(join(root, 'sys/class/net/junk'))).toBe(false);
  });

  it('reports carrier loss as lowerlayerdown', () => {
    const m = model();
    writeFixture(root, { ...m, netdevs: m.netdevs.map((n) => (n.name === 'eth1' ? { ...n, up: true, carrier: false } : n)) });
    expect(readFileSync(join(root, 'sys/class/net/eth1/operstate'), 'utf8')).toBe('lowerlayerdown\n');
    expect(readFileSync(join(root, 'sys/class/net/eth1/carrier'), 'utf8')).toBe('0\n');
  });
});
