import { planAttach } from '../driver.js';
import { failsafeDevargs } from '../probe.js';
import { jsonLine, parseCommandLine, EXIT_OK, EXIT_USAGE, type Command, type Io } from './common.js';
import { planJson } from './json.js';

const HELP = `Usage: netvsc probe [--vdev DEVARGS]... [--json] [--sysfs-root DIR]

Show what the net_vdev_netvsc driver would attach, without creating anything: per instance
its name (net_vdev_netvsc_id0 style), the NetVSC interface (name, ifindex, MAC), the
fail-safe device it would create with its devargs (fd(<pipe>) stands for the pipe made at
attach time), the VF's PCI address when one is present, and warnings.

DEVARGS: net_vdev_netvsc[N][,iface=NAME]...[,mac=MAC]...[,force=INT][,ignore=INT]
         [,vf_pmd=PACKAGE][,vf_settle=MS]
  (repeat --vdev for several devices). Without --vdev: what Hyper-V auto-invocation attaches
  (every NetVSC interface without routes).

Options:
  --vdev DEVARGS     a net_vdev_netvsc device string (repeatable)
  --json             machine-readable output (schema 1, see the README)
  --sysfs-root DIR   read sysfs under DIR instead of / (env NETVSC_SYSFS_ROOT)
  -h, --help         show this help

Exit codes: 0 ok, 1 discovery failed, 2 bad devargs, contradictory devargs or nothing found.
`;

export const probeCommand: Command = {
  name: 'probe',
  summary: 'show what the driver would attach for some devargs, creating nothing',
  help: HELP,
  run(argv, io) {
    return Promise.resolve(probe(argv, io));
  },
};

function probe(argv: readonly string[], io: Io): number {
  const v = parseCommandLine('probe', argv, {
    vdev: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    'sysfs-root': { type: 'string' },
  });
  const sysfsRoot = v['sysfs-root'] ?? io.env.NETVSC_SYSFS_ROOT;
  const plan = planAttach({ vdevs: v.vdev ?? [], ...(sysfsRoot === undefined ? {} : { sysfsRoot }) });
  if (plan.devices.length === 0) {
    io.err.write('netvsc: nothing to probe: not a Hyper-V guest and no --vdev given (e.g. --vdev net_vdev_netvsc,iface=eth1,force=1)\n');
    return EXIT_USAGE;
  }
  const doc = planJson(plan, (i) => failsafeDevargs(i));
  if (v.json) {
    io.out.write(jsonLine(doc));
    return EXIT_OK;
  }
  for (const d of doc.devices) {
    io.out.write(`${d.devargs}${d.auto ? ' (automatic: Hyper-V guest)' : ''}:\n`);
    if (d.ignored) io.out.write('  ignored (ignore=1): attaches nothing and disables the automatic instance\n');
    for (const i of d.instances) {
      const kind = `${i.netvsc ? 'netvsc' : 'NOT netvsc (forced)'}, ${i.routed ? `routed: ${i.addresses.join(', ')}` : 'unrouted'}`;
      io.out.write(`  ${i.name}: ${i.iface} (ifindex ${i.ifindex}, ${i.mac}, ${kind})${i.specifiedBy ? ` via ${i.specifiedBy}` : ''}\n`);
      io.out.write(`    fail-safe: ${i.failsafe.name},${i.failsafe.devargs}\n`);
      io.out.write(`    VF: ${i.vf ? `${i.vf.name} (ifindex ${i.vf.index}) at PCI ${i.vf.pci}` : 'none present (the TAP carries the traffic until one appears)'}\n`);
      for (const w of i.warnings) io.out.write(`    warning: ${w}\n`);
    }
    for (const w of d.warnings) io.out.write(`  warning: ${w}\n`);
  }
  for (const o of doc.others) io.out.write(`${o}: not a net_vdev_netvsc device; attach would probe it through its own driver\n`);
  return EXIT_OK;
}
