import { writeFileSync } from 'node:fs';
import { formatSummary, runDemo } from '../demo.js';
import { intOption, jsonLine, numberOption, parseCommandLine, EXIT_OK, type Command } from './common.js';

const HELP = `Usage: netvsc demo [--json] [--rate PPS] [--phase S] [--flaps N] [--vf-settle MS]

The whole system on a simulated Hyper-V guest (needs root and iproute2): builds network
namespaces with a NetVSC (eth1) and its VF (enP2s2), the kernel's transparent-VF path on,
brings the stack up as an application would (Hyper-V auto-invocation), echoes numbered
frames sent by a vSwitch-like peer, then removes the VF, re-adds it (same and new PCI
address), flaps it and bounces it faster than the settle time. Prints a timeline and a
summary: packets per path, loss, duplicates, failover gap and switch-back time.
Everything it creates is removed at the end (also on Ctrl-C).

Options:
  --json            print the report as JSON instead of the timeline and summary
  --report FILE     also write the JSON report to FILE
  --rate PPS        frames per second from the vSwitch peer (default 2000)
  --phase S         seconds of steady traffic per phase (default 2)
  --flaps N         VF flaps in the flap phase (default 5)
  --vf-settle MS    settle time before a returning VF takes Tx (default 200)
  --no-transparent-vf  model a guest without the kernel's transparent-VF path
  -h, --help        show this help

Exit codes: 0 the demo ran (its figures, duplicates included, are in the summary),
1 it could not run (not root, no iproute2, simulator missing) or failed, 2 usage error.
`;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'simulated Hyper-V guest: fail over to the TAP and back, with a timeline and figures',
  help: HELP,
  async run(argv, io) {
    const v = parseCommandLine('demo', argv, {
      json: { type: 'boolean' },
      report: { type: 'string' },
      rate: { type: 'string' },
      phase: { type: 'string' },
      flaps: { type: 'string' },
      'vf-settle': { type: 'string' },
      'no-transparent-vf': { type: 'boolean' },
    });
    const rate = intOption('demo', 'rate', v.rate, 1, 200_000);
    const phase = numberOption('demo', 'phase', v.phase, 0.2, 600);
    const flaps = intOption('demo', 'flaps', v.flaps, 0, 1000);
    const settle = intOption('demo', 'vf-settle', v['vf-settle'], 0, 60_000);
    const print = v.json ? () => undefined : (line: string) => io.out.write(`${line}\n`);
    const report = await runDemo(
      {
        signal: io.signal,
        ...(rate === undefined ? {} : { ratePps: rate }),
        ...(phase === undefined ? {} : { phaseSeconds: phase }),
        ...(flaps === undefined ? {} : { flaps }),
        ...(settle === undefined ? {} : { vfSettleMs: settle }),
        ...(v['no-transparent-vf'] ? { transparentVf: false } : {}),
      },
      print,
    );
    if (v.report !== undefined) writeFileSync(v.report, jsonLine(report));
    if (v.json) io.out.write(jsonLine(report));
    else io.out.write(`\n${formatSummary(report)}`);
    return EXIT_OK;
  },
};
