import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DevArgsError, InvalidArgumentError, NetvscError, NoDeviceError, DriverNotFoundError } from '@netvsc/ethdev';
import { SpecConflictError, VfPmdError } from '../errors.js';

/** Exit codes of `netvsc` (documented in the README and in `netvsc --help`). */
export const EXIT_OK = 0;
/** Something failed while running (a system call, the simulator, a device that went wrong). */
export const EXIT_FAILURE = 1;
/** Bad command line, bad devargs, or nothing found to attach. */
export const EXIT_USAGE = 2;

/** A bad command line: unknown option, missing or malformed value. */
export class UsageError extends NetvscError {
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

/** Where a command writes; tests pass string sinks, the CLI passes the process streams. */
export interface Io {
  readonly out: { write(s: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
  readonly err: { write(s: string): unknown };
  readonly env: NodeJS.ProcessEnv;
  /** Aborted by SIGINT/SIGTERM in the real CLI. */
  readonly signal: AbortSignal;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly help: string;
  run(argv: readonly string[], io: Io): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, strict, with its errors turned into UsageError naming the command. */
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'];

export function parseCommandLine<O extends Options>(command: string, argv: readonly string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: [...argv], options, strict: true as const, allowPositionals: false as const }).values;
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/\. To specify a positional argument.*$/s, '') : String(e);
    throw new UsageError(`${command}: ${msg} (see netvsc ${command} --help)`);
  }
}

/** A non-negative number option (`--duration 2.5`). */
export function numberOption(command: string, flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`${command}: --${flag} ${value} is not a number in ${min}..${max}`);
  }
  return n;
}

export function intOption(command: string, flag: string, value: string | undefined, min: number, max: number): number | undefined {
  const n = numberOption(command, flag, value, min, max);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`${command}: --${flag} ${value ?? ''} is not an integer in ${min}..${max}`);
  return n;
}

/** Exit code for an error: 2 for what the user can fix on the command line, 1 otherwise. */
export function exitCodeFor(e: unknown): number {
  if (
    e instanceof UsageError ||
    e instanceof DevArgsError ||
    e instanceof InvalidArgumentError ||
    e instanceof SpecConflictError ||
    e instanceof NoDeviceError ||
    e instanceof VfPmdError ||
    e instanceof DriverNotFoundError
  ) {
    return EXIT_USAGE;
  }
  // Everything else (a system call failing, the simulator, no root for the demo) is a runtime failure.
  return EXIT_FAILURE;
}

/** One line for stderr: the message, flattened, with the error code when there is one. */
export function errorLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const code = e instanceof NetvscError ? ` [${e.code}]` : '';
  return `netvsc: ${msg.replace(/\s*\n\s*/g, ' ')}${code}\n`;
}

export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Left-aligned columns, for the human-readable tables. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}
