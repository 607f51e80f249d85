import { discover } from '@netvsc/detect';
import { jsonLine, parseCommandLine, table, EXIT_OK, type Command } from './common.js';
import { pictureJson } from './json.js';

const HELP = `Usage: netvsc detect [--json] [--sysfs-root DIR]

Show what discovery sees: whether this is a Hyper-V guest and, per network interface, its
name, ifindex, MAC, whether it is a NetVSC (hv_netvsc) interface, whether it is routed
(an IPv4 address, or an IPv6 address other than link-local), its addresses and its VF
(name, ifindex, PCI address) when it has one.

Options:
  --json             machine-readable output (schema 1, see the README)
  --sysfs-root DIR   read sysfs under DIR (a fixture tree) instead of / (env NETVSC_SYSFS_ROOT)
  -h, --help         show this help

Exit codes: 0 ok, 1 discovery failed, 2 usage error.
`;

export const detectCommand: Command = {
  name: 'detect',
  summary: 'show Hyper-V, NetVSC interfaces, routes and VFs as discovery sees them',
  help: HELP,
  run(argv, io) {
    const v = parseCommandLine('detect', argv, {
      json: { type: 'boolean' },
      'sysfs-root': { type: 'string' },
    });
    const sysfsRoot = v['sysfs-root'] ?? io.env.NETVSC_SYSFS_ROOT;
    const picture = discover(sysfsRoot === undefined ? {} : { sysfsRoot });
    const doc = pictureJson(picture);
    if (v.json) {
      io.out.write(jsonLine(doc));
      return Promise.resolve(EXIT_OK);
    }
    const h = doc.hypervisor;
    io.out.write(`hypervisor: ${h.hyperv ? 'Hyper-V' : 'not Hyper-V'} (vmbus ${h.vmbus ? 'present' : 'absent'}, DMI vendor ${h.dmiVendor ?? 'unknown'})\n`);
    const rows: string[][] = [['IFACE', 'INDEX', 'MAC', 'NETVSC', 'ROUTED', 'ADDRESSES', 'VF']];
    for (const i of doc.interfaces) {
      rows.push([
        i.name,
        String(i.index),
        i.mac ?? '-',
        i.netvsc ? 'yes' : 'no',
        i.routed ? 'yes' : 'no',
        i.addresses.length > 0 ? i.addresses.join(',') : '-',
        i.vf ? `${i.vf.name} (#${i.vf.index}, ${i.vf.pci})` : '-',
      ]);
    }
    io.out.write(table(rows));
    return Promise.resolve(EXIT_OK);
  },
};
