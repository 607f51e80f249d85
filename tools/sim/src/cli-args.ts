import { InvalidArgumentError, parseEtherAddr, parsePciAddr, parseUintArg } from '@netvsc/ethdev';
import type { LinkSide, SimNetvscSpec, SimVfSpec } from './api.js';
import { checkPrefix } from './names.js';

/** A fault the CLI injects into a running simulator. */
export type CliFault =
  | { readonly kind: 'vf-remove'; readonly netvsc: string }
  | { readonly kind: 'vf-add'; readonly netvsc: string; readonly vf: Partial<SimVfSpec> }
  | {
      readonly kind: 'vf-flap';
      readonly netvsc: string;
      readonly count: number;
      readonly downMs: number;
      readonly upMs: number;
      readonly vf: Partial<SimVfSpec>;
    }
  | { readonly kind: 'rename'; readonly netvsc: string; readonly to: string }
  | { readonly kind: 'link'; readonly ifname: string; readonly up: boolean; readonly side: LinkSide }
  | { readonly kind: 'addr'; readonly op: 'add' | 'del'; readonly ifname: string; readonly cidr: string };

interface Common {
  readonly prefix: string | undefined;
  readonly tmpDir: string | undefined;
  readonly json: boolean;
}

export type CliCommand =
  | ({
      readonly cmd: 'up';
      readonly netvsc: readonly SimNetvscSpec[] | undefined;
      readonly transparentVf: boolean;
      readonly hyperv: boolean;
    } & Common)
  | ({ readonly cmd: 'down'; readonly all: boolean; readonly force: boolean } & Common)
  | ({ readonly cmd: 'status' } & Common)
  | ({ readonly cmd: 'fault'; readonly fault: CliFault } & Common)
  | ({ readonly cmd: 'demo' } & Common)
  | { readonly cmd: 'help'; readonly topic: string | undefined };

export const USAGE = `netvsc-sim — a simulated Hyper-V guest (network namespaces, veth NetVSC/VF pairs, fixture sysfs)

usage:
  netvsc-sim up [--prefix nvsim-x] [--netvsc NAME[,mac=M][,vf=VF][,pci=ADDR][,mtu=N]]...
                [--no-transparent-vf] [--no-hyperv] [--tmp DIR] [--json]
  netvsc-sim status [--prefix P] [--json]
  netvsc-sim down --prefix P | --all [--force]
  netvsc-sim fault [--prefix P] vf-remove NETVSC
  netvsc-sim fault [--prefix P] vf-add NETVSC [--name VF] [--pci ADDR]
  netvsc-sim fault [--prefix P] vf-flap NETVSC [--count N] [--down-ms MS] [--up-ms MS] [--name VF] [--pci ADDR]
  netvsc-sim fault [--prefix P] rename NETVSC NEWNAME
  netvsc-sim fault [--prefix P] link IFNAME up|down [--host]
  netvsc-sim fault [--prefix P] addr add|del IFNAME CIDR
  netvsc-sim demo
  netvsc-sim help

Defaults: one NetVSC eth1 with VF enP2s2 at 0002:00:02.0; transparent VF on; Hyper-V markers on.
Without --prefix, fault/status act on the only simulator present. Needs root and iproute2.`;

/** A command line the CLI cannot understand; the message says what is accepted. */
export class CliUsageError extends InvalidArgumentError {}

class Args {
  readonly #argv: string[];
  readonly positionals: string[] = [];
  readonly #flags = new Map<string, string[]>();

  constructor(argv: readonly string[], valued: ReadonlySet<string>, booleans: ReadonlySet<string>) {
    this.#argv = [...argv];
    for (let i = 0; i < this.#argv.length; i++) {
      const a = this.#argv[i] ?? '';
      if (a === '--') {
        this.positionals.push(...this.#argv.slice(i + 1));
        break;
      }
      if (!a.startsWith('--')) {
        this.positionals.push(a);
        continue;
      }
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (booleans.has(name)) {
        if (eq >= 0) throw new CliUsageError(`--${name} takes no value`);
        this.#flags.set(name, ['']);
      } else if (valued.has(name)) {
        const v = eq >= 0 ? a.slice(eq + 1) : this.#argv[++i];
        if (v === undefined || v === '') throw new CliUsageError(`--${name} needs a value`);
        this.#flags.set(name, [...(this.#flags.get(name) ?? []), v]);
      } else {
        throw new CliUsageError(`unknown option --${name}; accepted here: ${[...valued, ...booleans].map((f) => `--${f}`).join(' ') || 'none'}`);
      }
    }
  }

  has(name: string): boolean {
    return this.#flags.has(name);
  }

  one(name: string): string | undefined {
    const v = this.#flags.get(name);
    if (v && v.length > 1) throw new CliUsageError(`--${name} given ${v.length} times`);
    return v?.[0];
  }

  all(name: string): string[] {
    return this.#flags.get(name) ?? [];
  }
}

const COMMON_VALUED = ['prefix', 'tmp'];
const COMMON_BOOL = ['json'];

function common(a: Args): Common {
  const prefix = a.one('prefix');
  return { prefix: prefix === undefined ? undefined : checkPrefix(prefix), tmpDir: a.one('tmp'), json: a.has('json') };
}

function uint(name: string, text: string | undefined, dflt: number, max = 0x7fffffff): number {
  if (text === undefined) return dflt;
  try {
    return parseUintArg('netvsc-sim', name, text, 0, max);
  } catch (error) {
    throw new CliUsageError(`--${name} must be an integer 0..${max}, got "${text}"`, { cause: error });
  }
}

/** `NAME[,mac=M][,vf=VF][,pci=ADDR][,mtu=N]` as given to `up --netvsc`. */
export function parseNetvscSpec(text: string): SimNetvscSpec {
  const [name = '', ...rest] = text.split(',');
  if (!name || name.includes('=')) throw new CliUsageError(`--netvsc "${text}": starts with the interface name, e.g. eth1,vf=enP2s2,pci=0002:00:02.0`);
  let mac: string | undefined;
  let vf: string | undefined;
  let pci: string | undefined;
  let mtu: number | undefined;
  for (const kv of rest) {
    const eq = kv.indexOf('=');
    const k = eq < 0 ? kv : kv.slice(0, eq);
    const v = eq < 0 ? '' : kv.slice(eq + 1);
    if (!v) throw new CliUsageError(`--netvsc "${text}": "${kv}" needs a value (key=value)`);
    if (k === 'mac') mac = parseEtherAddr(v);
    else if (k === 'vf') vf = v;
    else if (k === 'pci') pci = parsePciAddr(v);
    else if (k === 'mtu') mtu = uint('mtu', v, 1500, 65535);
    else throw new CliUsageError(`--netvsc "${text}": unknown key "${k}"; accepted: mac, vf, pci, mtu`);
  }
  if (vf !== undefined && pci === undefined) throw new CliUsageError(`--netvsc "${text}": vf= needs pci= too`);
  if (pci !== undefined && vf === undefined) throw new CliUsageError(`--netvsc "${text}": pci= needs vf= too`);
  return {
    name,
    ...(mac ? { mac } : {}),
    ...(mtu ? { mtu } : {}),
    vf: vf !== undefined && pci !== undefined ? { name: vf, pci } : null,
  };
}

function vfSpec(a: Args): Partial<SimVfSpec> {
  const name = a.one('name');
  const pci = a.one('pci');
  return { ...(name ? { name } : {}), ...(pci ? { pci: parsePciAddr(pci) } : {}) };
}

function need(args: Args, n: number, what: string): string[] {
  const p = args.positionals;
  if (p.length !== n) throw new CliUsageError(`${what}: expected ${n} argument(s), got ${p.length}${p.length ? ` (${p.join(' ')})` : ''}`);
  return p;
}

/** Parse `process.argv.slice(2)`. Pure: no I/O. Every error is a CliUsageError. */
export function parseCli(argv: readonly string[]): CliCommand {
  try {
    return parseCommand(argv);
  } catch (error) {
    if (error instanceof InvalidArgumentError && !(error instanceof CliUsageError)) throw new CliUsageError(error.message, { cause: error });
    throw error;
  }
}

function parseCommand(argv: readonly string[]): CliCommand {
  const [cmd, ...rest] = argv;
  const set = (...s: string[]): ReadonlySet<string> => new Set(s);
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { cmd: 'help', topic: rest[0] };
    case 'up': {
      const a = new Args(rest, set(...COMMON_VALUED, 'netvsc'), set(...COMMON_BOOL, 'no-transparent-vf', 'no-hyperv'));
      need(a, 0, 'up');
      const specs = a.all('netvsc').map(parseNetvscSpec);
      return { cmd: 'up', ...common(a), netvsc: specs.length ? specs : undefined, transparentVf: !a.has('no-transparent-vf'), hyperv: !a.has('no-hyperv') };
    }
    case 'down': {
      const a = new Args(rest, set(...COMMON_VALUED), set(...COMMON_BOOL, 'all', 'force'));
      need(a, 0, 'down');
      const c = common(a);
      if (!a.has('all') && c.prefix === undefined) throw new CliUsageError('down: give --prefix nvsim-... or --all');
      return { cmd: 'down', ...c, all: a.has('all'), force: a.has('force') };
    }
    case 'status': {
      const a = new Args(rest, set(...COMMON_VALUED), set(...COMMON_BOOL));
      need(a, 0, 'status');
      return { cmd: 'status', ...common(a) };
    }
    case 'demo': {
      const a = new Args(rest, set(...COMMON_VALUED), set(...COMMON_BOOL));
      need(a, 0, 'demo');
      return { cmd: 'demo', ...common(a) };
    }
    case 'fault':
      return parseFault(rest);
    default:
      throw new CliUsageError(`unknown command "${cmd}"; commands: up, status, down, fault, demo, help`);
  }
}

function parseFault(argv: readonly string[]): CliCommand {
  // Common options may come before the fault's name: `fault --prefix nvsim-x vf-remove eth1`.
  let i = 0;
  while (i < argv.length && (argv[i] ?? '').startsWith('--')) {
    const a = argv[i] ?? '';
    i += COMMON_VALUED.includes(a.slice(2)) ? 2 : 1;
  }
  const kind = argv[i];
  const rest = [...argv.slice(0, i), ...argv.slice(i + 1)];
  const set = (...s: string[]): ReadonlySet<string> => new Set([...COMMON_VALUED, ...s]);
  const bools = (...s: string[]): ReadonlySet<string> => new Set([...COMMON_BOOL, ...s]);
  let fault: CliFault;
  let a: Args;
  switch (kind) {
    case 'vf-remove': {
      a = new Args(rest, set(), bools());
      const [netvsc = ''] = need(a, 1, 'fault vf-remove NETVSC');
      fault = { kind, netvsc };
      break;
    }
    case 'vf-add': {
      a = new Args(rest, set('name', 'pci'), bools());
      const [netvsc = ''] = need(a, 1, 'fault vf-add NETVSC');
      fault = { kind, netvsc, vf: vfSpec(a) };
      break;
    }
    case 'vf-flap': {
      a = new Args(rest, set('name', 'pci', 'count', 'down-ms', 'up-ms'), bools());
      const [netvsc = ''] = need(a, 1, 'fault vf-flap NETVSC');
      const count = uint('count', a.one('count'), 3);
      if (count < 1) throw new CliUsageError('--count must be at least 1');
      fault = { kind, netvsc, count, downMs: uint('down-ms', a.one('down-ms'), 500), upMs: uint('up-ms', a.one('up-ms'), 1000), vf: vfSpec(a) };
      break;
    }
    case 'rename': {
      a = new Args(rest, set(), bools());
      const [netvsc = '', to = ''] = need(a, 2, 'fault rename NETVSC NEWNAME');
      fault = { kind, netvsc, to };
      break;
    }
    case 'link': {
      a = new Args(rest, set(), bools('host'));
      const [ifname = '', state = ''] = need(a, 2, 'fault link IFNAME up|down');
      if (state !== 'up' && state !== 'down') throw new CliUsageError(`fault link: state must be up or down, got "${state}"`);
      fault = { kind, ifname, up: state === 'up', side: a.has('host') ? 'host' : 'guest' };
      break;
    }
    case 'addr': {
      a = new Args(rest, set(), bools());
      const [op = '', ifname = '', cidr = ''] = need(a, 3, 'fault addr add|del IFNAME CIDR');
      if (op !== 'add' && op !== 'del') throw new CliUsageError(`fault addr: operation must be add or del, got "${op}"`);
      if (!/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(cidr)) throw new CliUsageError(`fault addr: "${cidr}" is not an address/prefix-length`);
      fault = { kind, op, ifname, cidr };
      break;
    }
    default:
      throw new CliUsageError(`unknown fault "${kind ?? ''}"; faults: vf-remove, vf-add, vf-flap, rename, link, addr`);
  }
  return { cmd: 'fault', ...common(a), fault };
}
