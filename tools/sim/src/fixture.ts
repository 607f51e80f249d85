import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { InvalidArgumentError, parsePciAddr } from '@netvsc/ethdev';
import { HV_PCI_CLASS_ID, NETVSC_CLASS_ID } from './api.js';

/**
 * A fixture sysfs tree shaped like the real one of a Hyper-V guest, so discovery code can be
 * pointed at it (`NETVSC_SYSFS_ROOT`). Pure: a model goes in, a set of entries comes out, and
 * `syncFixture` makes the disk match with the fewest changes (entries of a removed VF
 * disappear, a re-added one appears at its new PCI address), the way the kernel would.
 */

/** Where a netdev's `device` link points. */
export type FixtureDevice =
  | {
      readonly bus: 'vmbus';
      /** vmbus device instance id (lower-case GUID without braces). */
      readonly id: string;
      /** Default: the NetVSC class id. */
      readonly classId?: string;
    }
  | {
      readonly bus: 'pci';
      /** `dddd:bb:dd.f`. */
      readonly address: string;
      /** vmbus instance id of the hv_pci bridge above the PCI root; default derived from the domain. */
      readonly bridgeId?: string;
      /** PCI vendor/device ids; default Mellanox ConnectX-4 Lx VF (0x15b3/0x1016). */
      readonly vendor?: number;
      readonly device?: number;
      /** Kernel driver name under `bus/pci/drivers/`; default `mlx5_core`. */
      readonly driver?: string;
    }
  /** A virtual netdev (lo, tap, bridge): no `device` link. */
  | null;

export interface FixtureNetdev {
  readonly name: string;
  readonly mac: string;
  /** Omitted: no `ifindex` file (not known yet). */
  readonly ifindex?: number;
  readonly mtu?: number;
  /** IFF_UP; default true. */
  readonly up?: boolean;
  /** Carrier; default = up. */
  readonly carrier?: boolean;
  /** ARPHRD type; default 1 (Ethernet). */
  readonly type?: number;
  readonly device: FixtureDevice;
  /** Name of the upper (master) netdev: a VF enslaved to its NetVSC. */
  readonly master?: string;
}

export interface FixtureModel {
  /** Write `sys/bus/vmbus/` (the vmbus marker). */
  readonly vmbus: boolean;
  /** Content of `sys/class/dmi/id/sys_vendor`; null omits the file. */
  readonly dmiVendor: string | null;
  readonly netdevs: readonly FixtureNetdev[];
}

export type FixtureEntry =
  | { readonly type: 'dir' }
  | { readonly type: 'file'; readonly content: string }
  /** `target` is relative to the fixture root; the symlink is written relative to its own directory. */
  | { readonly type: 'link'; readonly target: string };

/** Parent of every vmbus device directory (as on an Azure Gen2 VM). */
export const VMBUS_DEVICES_DIR = 'sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00';

const IFF_UP = 0x1;
const IFF_BROADCAST = 0x2;
const IFF_MULTICAST = 0x1000;
const MLX_VENDOR = 0x15b3;
const MLX_CX4LX_VF = 0x1016;

/** The vmbus instance id the fixture gives the hv_pci bridge of a PCI domain. */
export function pciBridgeId(domain: string): string {
  return `0000${domain.padStart(4, '0').slice(-4)}-0000-4000-8000-000000000000`;
}

function hex(n: number, width: number): string {
  return `0x${n.toString(16).padStart(width, '0')}`;
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > 15 || name.includes('/') || name === '.' || name === '..' || /\s/.test(name)) {
    throw new InvalidArgumentError(`invalid interface name "${name}": 1-15 characters, no '/', whitespace, '.' or '..'`);
  }
}

/** Directory of the device a netdev hangs off, or null for a virtual netdev. */
export function deviceDir(device: FixtureDevice): string | null {
  if (device === null) return null;
  if (device.bus === 'vmbus') return `${VMBUS_DEVICES_DIR}/${device.id}`;
  const addr = parsePciAddr(device.address);
  const [domain = '', bus = ''] = addr.split(':');
  return `${VMBUS_DEVICES_DIR}/${device.bridgeId ?? pciBridgeId(domain)}/pci${domain}:${bus}/${addr}`;
}

/** Directory of a netdev (`.../net/<name>`). */
export function netdevDir(netdev: FixtureNetdev): string {
  return `${deviceDir(netdev.device) ?? 'sys/devices/virtual'}/net/${netdev.name}`;
}

/** Every directory, file and symlink of the fixture for `model`, keyed by root-relative path. */
export function fixtureLayout(model: FixtureModel): Map<string, FixtureEntry> {
  const out = new Map<string, FixtureEntry>();
  const dir = (p: string): void => {
    let cur = '';
    for (const part of p.split('/')) {
      cur = cur ? `${cur}/${part}` : part;
      if (!out.has(cur)) out.set(cur, { type: 'dir' });
    }
  };
  const file = (p: string, content: string): void => {
    dir(dirname(p));
    out.set(p, { type: 'file', content: `${content}\n` });
  };
  const link = (p: string, target: string): void => {
    dir(dirname(p));
    out.set(p, { type: 'link', target });
  };

  dir('sys/class/net');
  dir('sys/bus/pci/devices');
  dir('sys/bus/pci/drivers');
  if (model.vmbus) {
    dir('sys/bus/vmbus/devices');
    dir('sys/bus/vmbus/drivers/hv_netvsc');
    dir('sys/bus/vmbus/drivers/hv_pci');
  }
  if (model.dmiVendor !== null) {
    file('sys/devices/virtual/dmi/id/sys_vendor', model.dmiVendor);
    file('sys/devices/virtual/dmi/id/product_name', 'Virtual Machine');
    link('sys/class/dmi/id', 'sys/devices/virtual/dmi/id');
  }

  const vmbusDevice = (id: string, classId: string, driver: string): string => {
    const d = `${VMBUS_DEVICES_DIR}/${id}`;
    file(`${d}/class_id`, classId);
    file(`${d}/device_id`, `{${id}}`);
    link(`${d}/subsystem`, 'sys/bus/vmbus');
    link(`${d}/driver`, `sys/bus/vmbus/drivers/${driver}`);
    if (model.vmbus) link(`sys/bus/vmbus/devices/${id}`, d);
    return d;
  };

  const names = new Set<string>();
  for (const nd of model.netdevs) {
    checkName(nd.name);
    if (names.has(nd.name)) throw new InvalidArgumentError(`fixture: two netdevs named "${nd.name}"`);
    names.add(nd.name);
  }

  for (const nd of model.netdevs) {
    const dev = nd.device;
    if (dev?.bus === 'vmbus') {
      const classId = dev.classId ?? NETVSC_CLASS_ID;
      vmbusDevice(dev.id, classId, classId === NETVSC_CLASS_ID ? 'hv_netvsc' : 'hv_pci');
    } else if (dev?.bus === 'pci') {
      const addr = parsePciAddr(dev.address);
      const domain = addr.split(':')[0] ?? '';
      vmbusDevice(dev.bridgeId ?? pciBridgeId(domain), HV_PCI_CLASS_ID, 'hv_pci');
      const d = deviceDir(dev) ?? '';
      const driver = dev.driver ?? 'mlx5_core';
      file(`${d}/vendor`, hex(dev.vendor ?? MLX_VENDOR, 4));
      file(`${d}/device`, hex(dev.device ?? MLX_CX4LX_VF, 4));
      file(`${d}/class`, '0x020000');
      link(`${d}/subsystem`, 'sys/bus/pci');
      link(`${d}/driver`, `sys/bus/pci/drivers/${driver}`);
      dir(`sys/bus/pci/drivers/${driver}`);
      link(`sys/bus/pci/devices/${addr}`, d);
    }

    const nd_ = netdevDir(nd);
    const up = nd.up ?? true;
    const carrier = nd.carrier ?? up;
    file(`${nd_}/address`, nd.mac.toLowerCase());
    file(`${nd_}/broadcast`, 'ff:ff:ff:ff:ff:ff');
    file(`${nd_}/addr_len`, '6');
    file(`${nd_}/type`, String(nd.type ?? 1));
    file(`${nd_}/mtu`, String(nd.mtu ?? 1500));
    file(`${nd_}/flags`, hex((up ? IFF_UP : 0) | IFF_BROADCAST | IFF_MULTICAST, 4));
    file(`${nd_}/operstate`, !up ? 'down' : carrier ? 'up' : 'lowerlayerdown');
    file(`${nd_}/carrier`, carrier && up ? '1' : '0');
    file(`${nd_}/dev_id`, '0x0');
    if (nd.ifindex !== undefined) {
      file(`${nd_}/ifindex`, String(nd.ifindex));
      file(`${nd_}/iflink`, String(nd.ifindex));
    }
    link(`${nd_}/subsystem`, 'sys/class/net');
    const dd = deviceDir(dev);
    if (dd !== null) link(`${nd_}/device`, dd);
    link(`sys/class/net/${nd.name}`, nd_);
  }

  // Upper/lower links, as netdev_master_upper_dev_link() makes them when hv_netvsc enslaves a VF.
  for (const nd of model.netdevs) {
    if (nd.master === undefined) continue;
    const master = model.netdevs.find((m) => m.name === nd.master);
    if (!master) throw new InvalidArgumentError(`fixture: "${nd.name}" names master "${nd.master}", which is not in the model`);
    link(`${netdevDir(nd)}/master`, netdevDir(master));
    link(`${netdevDir(nd)}/upper_${master.name}`, netdevDir(master));
    link(`${netdevDir(master)}/lower_${nd.name}`, netdevDir(nd));
  }
  return out;
}

type DiskEntry = 'dir' | 'file' | 'link';

function walk(root: string, rel: string, out: Map<string, DiskEntry>): void {
  let names: string[];
  try {
    names = readdirSync(join(root, rel));
  } catch {
    return;
  }
  for (const name of names) {
    const p = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(root, p));
    if (st.isSymbolicLink()) out.set(p, 'link');
    else if (st.isDirectory()) {
      out.set(p, 'dir');
      walk(root, p, out);
    } else out.set(p, 'file');
  }
}

/** Links under `class/` go first on removal and last on creation, as the kernel orders them. */
function classRank(path: string): number {
  return path.startsWith('sys/class/') ? 0 : path.startsWith('sys/bus/') ? 1 : 2;
}

function depth(path: string): number {
  return path.split('/').length;
}

/** What `syncFixture` changed (relative paths), for tests and the timeline. */
export interface FixtureChanges {
  readonly removed: readonly string[];
  readonly written: readonly string[];
}

/**
 * Make `<root>/sys` match `fixtureLayout(model)`: remove what is no longer there, create what is
 * new, rewrite files whose content changed (atomically: temp file + rename). Returns the changes.
 */
export function syncFixture(root: string, model: FixtureModel): FixtureChanges {
  const want = fixtureLayout(model);
  const have = new Map<string, DiskEntry>();
  walk(root, 'sys', have);
  if (lstatSafe(join(root, 'sys')) === 'dir') have.set('sys', 'dir');

  const removed: string[] = [];
  const stale = [...have].filter(([p, kind]) => {
    const w = want.get(p);
    return w?.type !== kind;
  });
  stale.sort(([a], [b]) => classRank(a) - classRank(b) || depth(a) - depth(b));
  const gone = new Set<string>();
  for (const [p] of stale) {
    if ([...ancestors(p)].some((a) => gone.has(a))) continue;
    rmSync(join(root, p), { recursive: true, force: true });
    gone.add(p);
    removed.push(p);
  }

  const written: string[] = [];
  const entries = [...want].sort(
    ([a, ea], [b, eb]) =>
      Number(ea.type === 'link') - Number(eb.type === 'link') || classRank(b) - classRank(a) || depth(a) - depth(b),
  );
  for (const [p, e] of entries) {
    const abs = join(root, p);
    const existing = gone.has(p) || [...ancestors(p)].some((a) => gone.has(a)) ? undefined : have.get(p);
    if (e.type === 'dir') {
      if (existing !== 'dir') {
        mkdirSync(abs, { recursive: true });
        written.push(p);
      }
    } else if (e.type === 'file') {
      if (existing !== 'file' || readFileSync(abs, 'utf8') !== e.content) {
        const tmp = join(dirname(abs), `.${p.split('/').pop() ?? 'f'}.tmp`);
        writeFileSync(tmp, e.content);
        renameSync(tmp, abs);
        written.push(p);
      }
    } else {
      const target = linkText(abs, join(root, e.target));
      if (existing === 'link' && readlinkSync(abs) === target) continue;
      if (existing !== undefined) rmSync(abs, { recursive: true, force: true });
      symlinkSync(target, abs);
      written.push(p);
    }
  }
  return { removed, written };
}

/**
 * Relative symlink text ending in the target's own name, as sysfs writes it: a netdev's
 * `device` link reads `../../../0002:00:02.0`, never `../..`, so its basename is the address.
 */
export function linkText(linkPath: string, targetPath: string): string {
  const up = relative(dirname(linkPath), dirname(targetPath)) || '.';
  return `${up}/${basename(targetPath)}`;
}

function* ancestors(p: string): Generator<string> {
  let cur = p;
  for (;;) {
    const i = cur.lastIndexOf('/');
    if (i < 0) return;
    cur = cur.slice(0, i);
    yield cur;
  }
}

function lstatSafe(p: string): DiskEntry | null {
  try {
    const st = lstatSync(p);
    return st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'file';
  } catch {
    return null;
  }
}

/** Write a fixture tree from scratch (for unit tests of discovery code: no namespaces needed). */
export function writeFixture(root: string, model: FixtureModel): void {
  rmSync(join(root, 'sys'), { recursive: true, force: true });
  syncFixture(root, model);
}
