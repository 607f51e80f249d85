/**
 * Parsers for what the bench reads from other programs: dpdk-testpmd's port statistics,
 * /proc/<pid>/stat CPU times, `ip -s -j link` counters and the bench's own CLI.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '@netvsc/ethdev';

/** Default home of result files: `tools/bench/results/` (git-ignored), wherever the bench is run from. */
export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

export interface PortStats {
  readonly rxPackets: number;
  readonly rxMissed: number;
  readonly rxBytes: number;
  readonly rxErrors: number;
  readonly rxNombuf: number;
  readonly txPackets: number;
  readonly txErrors: number;
  readonly txBytes: number;
}

function field(text: string, name: string): number | undefined {
  const m = new RegExp(`${name}:\\s+(\\d+)`).exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/**
 * The last `show port stats <n>` block in testpmd's output ("NIC statistics for port"), or
 * undefined when none is complete yet.
 */
export function parsePortStats(output: string): PortStats | undefined {
  const start = output.lastIndexOf('NIC statistics for port');
  if (start < 0) return undefined;
  const block = output.slice(start);
  const end = block.indexOf('##########', block.indexOf('\n'));
  if (end < 0) return undefined;
  const b = block.slice(0, end);
  const rxPackets = field(b, 'RX-packets');
  const txPackets = field(b, 'TX-packets');
  if (rxPackets === undefined || txPackets === undefined) return undefined;
  return {
    rxPackets,
    rxMissed: field(b, 'RX-missed') ?? 0,
    rxBytes: field(b, 'RX-bytes') ?? 0,
    rxErrors: field(b, 'RX-errors') ?? 0,
    rxNombuf: field(b, 'RX-nombuf') ?? 0,
    txPackets,
    txErrors: field(b, 'TX-errors') ?? 0,
    txBytes: field(b, 'TX-bytes') ?? 0,
  };
}

/** `dpdk-testpmd --version`-style banner: the "DPDK x.y.z" in EAL's first lines. */
export function parseDpdkVersion(output: string): string | null {
  const m = /DPDK\s+(\d+\.\d+(?:\.\d+)?)/.exec(output) ?? /RTE Version:\s*'DPDK\s+([^']+)'/.exec(output);
  return m?.[1] ?? null;
}

/** utime + stime (clock ticks) from a /proc/<pid>/stat line; the comm field may hold spaces and parentheses. */
export function parseProcStatTicks(line: string): number | undefined {
  const close = line.lastIndexOf(')');
  if (close < 0) return undefined;
  // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
  const rest = line.slice(close + 2).trim().split(/\s+/);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return utime + stime;
}

export interface LinkCounters {
  readonly rxPackets: number;
  readonly rxBytes: number;
  readonly rxDropped: number;
  readonly txPackets: number;
  readonly txBytes: number;
  readonly txDropped: number;
}

/** Counters of the first link in `ip -s -j link show dev X` output. */
export function parseIpLinkStats(json: string): LinkCounters | undefined {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  const l = v[0] as { stats64?: { rx?: Record<string, number>; tx?: Record<string, number> } } | undefined;
  const rx = l?.stats64?.rx;
  const tx = l?.stats64?.tx;
  if (rx === undefined || tx === undefined) return undefined;
  return {
    rxPackets: rx.packets ?? 0,
    rxBytes: rx.bytes ?? 0,
    rxDropped: rx.dropped ?? 0,
    txPackets: tx.packets ?? 0,
    txBytes: tx.bytes ?? 0,
    txDropped: tx.dropped ?? 0,
  };
}

export interface BenchOptions {
  readonly quick: boolean;
  /** Repetitions of each rate measurement. */
  readonly reps: number;
  /** Measured window per repetition (ms). */
  readonly windowMs: number;
  /** VF removals in the failover scenario. */
  readonly removals: number;
  /** Packets for the allocation figures. */
  readonly allocPackets: number;
  /** Seconds per servicing phase (before / removed / after). */
  readonly servicingS: number;
  readonly sizes: readonly number[];
  /** Scenario groups to run (all by default). */
  readonly only: readonly Scenario[];
  /** Rate subjects to measure (all by default; SUBJECT_NAMES). */
  readonly subjects: readonly SubjectName[] | undefined;
  /** Extra devargs for our VF PMD in the rate scenarios and at-once pairs (e.g. `blocksz=65536`), appended after a comma. */
  readonly vfArgs: string;
  /** Ignore an installed dpdk-testpmd. */
  readonly noDpdk: boolean;
  /** Generator: DPDK's txonly when installed, else our own. */
  readonly generator: 'auto' | 'dpdk' | 'ours';
  /** Write CPU profiles of our child processes here. */
  readonly cpuProf: string | undefined;
  readonly out: string;
  readonly settleMs: number;
  readonly json: boolean;
  readonly help: boolean;
}

export const SCENARIOS = ['rx', 'tx', 'ceiling', 'memory', 'failover', 'servicing'] as const;
/** The rate subjects, in round order (rates.ts defines each). */
export const SUBJECT_NAMES = ['vf-pmd', 'dpdk-af_packet', 'vf-pmd-4k', 'vf-pmd-tov4', 'vf-pmd-own_rx', 'failsafe', 'tap', 'tap-writev', 'dpdk-tap'] as const;
export type SubjectName = (typeof SUBJECT_NAMES)[number];
export type Scenario = (typeof SCENARIOS)[number];

/**
 * How to get dpdk-testpmd on Debian 12: it ships in `dpdk-dev`; the `dpdk` package holds only
 * the runtime libraries and scripts (on a fresh machine `apt-get install dpdk` brought no testpmd).
 */
export const TESTPMD_INSTALL = 'apt-get install dpdk-dev';

export const USAGE = `usage: netvsc-bench compare OLD.json NEW.json
       netvsc-bench [--quick] [--reps N] [--window-ms MS] [--sizes 64,1500]
                    [--only rx,tx,ceiling,memory,failover,servicing] [--removals N]
                    [--subjects vf-pmd,dpdk-af_packet,vf-pmd-4k,vf-pmd-tov4,vf-pmd-own_rx,failsafe,tap,tap-writev,dpdk-tap]
                    [--vf-args KEY=VALUE[,...]]
                    [--alloc-packets N] [--servicing-s S] [--settle-ms MS]
                    [--generator auto|dpdk|ours] [--no-dpdk] [--cpu-prof DIR]
                    [--out FILE] [--json]

  --quick        ~1-minute smoke run: 1 repetition, 0.5 s windows, 3 removals, 2 s servicing
                 phases, no diagnostic subjects (vf-pmd-4k, vf-pmd-tov4, tap-writev) unless named
  --out FILE     result JSON (default tools/bench/results/bench-<time>.json)
  --cpu-prof DIR write V8 CPU profiles of the bench's node children to DIR
  --json         print the result JSON instead of the table
Needs root (network namespaces). DPDK figures need dpdk-testpmd (Debian: ${TESTPMD_INSTALL}).`;

function intArg(flag: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !/^\d+$/.test(v) || n < min || n > max) {
    throw new InvalidArgumentError(`${flag} ${v ?? '(missing)'} is not accepted; expected an integer in ${min}..${max}`);
  }
  return n;
}

/** Parse the CLI; quick mode changes the defaults, explicit flags override them. */
export function parseArgs(argv: readonly string[], nowIso = new Date().toISOString()): BenchOptions {
  const quick = argv.includes('--quick');
  const o = {
    quick,
    reps: quick ? 1 : 3,
    windowMs: quick ? 500 : 3000,
    removals: quick ? 3 : 20,
    allocPackets: quick ? 1_000_000 : 10_000_000,
    servicingS: quick ? 2 : 10,
    sizes: [64, 1500] as readonly number[],
    only: [...SCENARIOS] as readonly Scenario[],
    subjects: undefined as readonly SubjectName[] | undefined,
    vfArgs: '',
    noDpdk: false,
    generator: 'auto' as BenchOptions['generator'],
    cpuProf: undefined as string | undefined,
    out: join(RESULTS_DIR, `bench-${nowIso.replace(/[:.]/g, '-')}.json`),
    settleMs: 200,
    json: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const next = (): string | undefined => argv[++i];
    switch (a) {
      case '--quick':
        break;
      case '--reps':
        o.reps = intArg(a, next(), 1, 50);
        break;
      case '--window-ms':
        o.windowMs = intArg(a, next(), 100, 60_000);
        break;
      case '--removals':
        o.removals = intArg(a, next(), 1, 200);
        break;
      case '--alloc-packets':
        o.allocPackets = intArg(a, next(), 1000, 1_000_000_000);
        break;
      case '--servicing-s':
        o.servicingS = intArg(a, next(), 1, 600);
        break;
      case '--settle-ms':
        o.settleMs = intArg(a, next(), 0, 60_000);
        break;
      case '--sizes': {
        const v = next() ?? '';
        o.sizes = v.split(',').map((s) => intArg('--sizes', s, 60, 1514));
        break;
      }
      case '--only': {
        const v = next() ?? '';
        o.only = v.split(',').map((s) => {
          const sc = SCENARIOS.find((x) => x === s);
          if (sc === undefined) throw new InvalidArgumentError(`--only ${s} is not a scenario; accepted: ${SCENARIOS.join(', ')}`);
          return sc;
        });
        break;
      }
      case '--subjects': {
        const v = next();
        if (v === undefined || v.startsWith('--')) throw new InvalidArgumentError('--subjects needs a list, e.g. vf-pmd,failsafe');
        o.subjects = v.split(',').map((s) => {
          const name = SUBJECT_NAMES.find((x) => x === s);
          if (name === undefined) throw new InvalidArgumentError(`--subjects ${s} is not a subject; accepted: ${SUBJECT_NAMES.join(', ')}`);
          return name;
        });
        break;
      }
      case '--vf-args': {
        const v = next();
        if (v === undefined || !/^[a-z_]+=[^,()]*(,[a-z_]+=[^,()]*)*$/.test(v)) throw new InvalidArgumentError(`--vf-args ${v ?? '(missing)'}: expected key=value[,key=value...], e.g. blocksz=65536`);
        o.vfArgs = v;
        break;
      }
      case '--generator': {
        const v = next();
        if (v !== 'auto' && v !== 'dpdk' && v !== 'ours') throw new InvalidArgumentError(`--generator ${v ?? '(missing)'} is not accepted; expected auto, dpdk or ours`);
        o.generator = v;
        break;
      }
      case '--no-dpdk':
        o.noDpdk = true;
        break;
      case '--cpu-prof': {
        const v = next();
        if (v === undefined || v.startsWith('--')) throw new InvalidArgumentError('--cpu-prof needs a directory');
        o.cpuProf = v;
        break;
      }
      case '--out': {
        const v = next();
        if (v === undefined || v.startsWith('--')) throw new InvalidArgumentError('--out needs a file name');
        o.out = v;
        break;
      }
      case '--json':
        o.json = true;
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new InvalidArgumentError(`unknown option ${a}\n${USAGE}`);
    }
  }
  if (o.noDpdk && o.generator === 'dpdk') throw new InvalidArgumentError('--no-dpdk and --generator dpdk contradict each other');
  return o;
}
