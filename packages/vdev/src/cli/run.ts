import { writeFileSync, renameSync } from 'node:fs';
import { attach, type NetvscStack } from '../driver.js';
import { describeEvent, type NetvscEvent } from '../events.js';
import { FWD_MODES, isFwdMode, MAX_BURST, type FwdMode } from '../fwd.js';
import { FwdSession, startPorts } from '../session.js';
import { intOption, numberOption, parseCommandLine, UsageError, EXIT_OK, EXIT_USAGE, type Command, type Io } from './common.js';
import { StatsView, type StatsSnapshot } from './stats.js';

const HELP = `Usage: netvsc run [--vdev DEVARGS]... [--fwd MODE] [--burst N] [--stats-period S]
                  [--duration S] [--json-stats FILE] [options]

Bring the stack up (one fail-safe port per NetVSC: TAP + VF), forward traffic with a
testpmd-like engine, show live per-port and per-sub-device statistics and events, and tear
everything down on SIGINT/SIGTERM or after --duration.

Without --vdev on a Hyper-V guest, every NetVSC interface without routes is attached
(DPDK's automatic invocation); --vdev net_vdev_netvsc,ignore=1 disables that.

Options:
  --vdev DEVARGS      device string (repeatable): net_vdev_netvsc[,iface=..][,mac=..][,force=1]
                      [,vf_pmd=PKG][,vf_settle=MS], or any other vdev (net_tap0,iface=x, ...)
  --fwd MODE          ${FWD_MODES.join('|')} (default io); echo answers on the receiving
                      port with MACs swapped; io/mac/macswap pair ports 0<->1, 2<->3
  --burst N           packets per burst, 1..${MAX_BURST} (default 32)
  --stats-period S    seconds between statistics (default 1; 0 = only at the end)
  --duration S        stop after S seconds (default: run until SIGINT/SIGTERM)
  --json-stats FILE   write the statistics as JSON to FILE (rewritten every period and at exit)
  --promisc           enable promiscuous mode on every port
  --mtu N             set this MTU on every port
  --vf-settle MS      settle time before a returning VF takes traffic (default 200)
  --mbufs N           mbufs in the pool (default 8192)
  --sysfs-root DIR    read sysfs under DIR instead of / (env NETVSC_SYSFS_ROOT)
  --no-color          plain output even on a terminal
  -h, --help          show this help

Exit codes: 0 ok, 1 runtime failure, 2 usage error, bad devargs or nothing found.
`;

export const runCommand: Command = {
  name: 'run',
  summary: 'run the stack with a forwarding engine, live statistics and events',
  help: HELP,
  async run(argv, io) {
    const v = parseCommandLine('run', argv, {
      vdev: { type: 'string', multiple: true },
      fwd: { type: 'string' },
      burst: { type: 'string' },
      'stats-period': { type: 'string' },
      duration: { type: 'string' },
      'json-stats': { type: 'string' },
      promisc: { type: 'boolean' },
      mtu: { type: 'string' },
      'vf-settle': { type: 'string' },
      mbufs: { type: 'string' },
      'sysfs-root': { type: 'string' },
      'no-color': { type: 'boolean' },
    });
    const mode = v.fwd ?? 'io';
    if (!isFwdMode(mode)) throw new UsageError(`run: --fwd ${mode} is not a forwarding mode; accepted: ${FWD_MODES.join(', ')}`);
    const burst = intOption('run', 'burst', v.burst, 1, MAX_BURST) ?? 32;
    const period = numberOption('run', 'stats-period', v['stats-period'], 0, 3600) ?? 1;
    const duration = numberOption('run', 'duration', v.duration, 0, 365 * 86400);
    const mtu = intOption('run', 'mtu', v.mtu, 68, 65535);
    const settle = intOption('run', 'vf-settle', v['vf-settle'], 0, 60_000);
    const mbufs = intOption('run', 'mbufs', v.mbufs, 64, 1 << 22) ?? 8192;
    const sysfsRoot = v['sysfs-root'] ?? io.env.NETVSC_SYSFS_ROOT;

    const stack = await attach({
      vdevs: v.vdev ?? [],
      ...(sysfsRoot === undefined ? {} : { sysfsRoot }),
      ...(settle === undefined ? {} : { vfSettleMs: settle }),
    });
    if (stack.ports.length === 0) {
      await stack.close();
      io.err.write('netvsc: nothing attached (every net_vdev_netvsc device has ignore=1)\n');
      return EXIT_USAGE;
    }
    return runAttached(stack, io, {
      mode,
      burst,
      period,
      duration,
      jsonStats: v['json-stats'],
      setup: { mbufs, promiscuous: v.promisc === true, ...(mtu === undefined ? {} : { mtu }) },
      color: v['no-color'] !== true,
    });
  },
};

interface RunOptions {
  readonly mode: FwdMode;
  readonly burst: number;
  readonly period: number;
  readonly duration: number | undefined;
  readonly jsonStats: string | undefined;
  readonly setup: Parameters<typeof startPorts>[1];
  readonly color: boolean;
}

/** Forward on an attached stack until a signal or the duration; always tears the stack down. */
async function runAttached(stack: NetvscStack, io: Io, o: RunOptions): Promise<number> {
  const events: NetvscEvent[] = [];
  let session: FwdSession | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const tty = io.out.isTTY === true;
  let drawn = 0;
  const clear = (): void => {
    if (tty && drawn > 0) io.out.write(`\x1b[${drawn}F\x1b[J`);
    drawn = 0;
  };
  try {
    const pool = startPorts(stack.ports, o.setup);
    session = new FwdSession(stack.ports, pool, o.mode, o.burst);
    const view = new StatsView(stack, session.forwarder);
    let last: StatsSnapshot = view.sample();
    const draw = (s: StatsSnapshot): void => {
      const text = view.render(s, { color: tty && o.color });
      clear();
      io.out.write(text);
      if (tty) drawn = text.split('\n').length - 1;
    };
    const onEvent = (e: NetvscEvent): void => {
      events.push(e);
      if (events.length > 1000) events.shift();
      clear();
      io.out.write(`${new Date(e.at).toISOString().slice(11, 23)} ${describeEvent(e)}\n`);
      if (tty) draw(last);
    };
    io.out.write(
      `netvsc: forwarding (${o.mode}, burst ${o.burst}) on ${stack.ports.map((p) => p.name).join(', ')}; ` +
        `${o.duration === undefined ? 'Ctrl-C to stop' : `for ${o.duration} s`}\n`,
    );
    for (const e of stack.history) onEvent(e);
    stack.on('event', onEvent);
    const dump = (s: StatsSnapshot): void => {
      if (o.jsonStats === undefined) return;
      const tmp = `${o.jsonStats}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(view.json(s, events), null, 2)}\n`);
      renameSync(tmp, o.jsonStats);
    };
    if (o.period > 0) {
      ticker = setInterval(() => {
        last = view.sample();
        draw(last);
        dump(last);
      }, o.period * 1000);
    }
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) {
        resolve();
        return;
      }
      io.signal.addEventListener('abort', () => {
        resolve();
      }, { once: true });
      if (o.duration !== undefined) setTimeout(resolve, o.duration * 1000).unref();
    });
    if (ticker) clearInterval(ticker);
    ticker = undefined;
    await session.stop();
    last = view.sample();
    clear();
    io.out.write(view.render(last, { color: false }));
    dump(last);
    stack.off('event', onEvent);
    io.out.write(`netvsc: stopped${io.signal.aborted ? ` (${String(io.signal.reason)})` : ''}; tearing down\n`);
    return EXIT_OK;
  } finally {
    if (ticker) clearInterval(ticker);
    await session?.stop();
    await stack.close();
  }
}
