import { DevArgsError, InvalidArgumentError } from './errors.js';

/** One argument of a device string: `key`, `key=value` or `key(value)`. */
export interface DevArg {
  readonly key: string;
  /** Absent for a bare `key`; the raw text for `key=value` and inside `key(...)`. */
  readonly value: string | undefined;
  readonly form: 'bare' | 'kv' | 'paren';
  /** 1-based column of the key in the parsed input. */
  readonly column: number;
}

const NAME_CHARS = /^[A-Za-z0-9_.:-]+$/;
const KEY_CHARS = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/**
 * A parsed DPDK device string such as
 * `net_failsafe_vsc0,fd(12),dev(net_tap_vsc0,remote=eth1)` or `0002:00:02.0,mac=00:15:5d:01:02:03`.
 * Repeated keys are kept, in order; drivers decide what repetition means.
 */
export class DevArgs {
  readonly name: string;
  readonly args: readonly DevArg[];

  constructor(name: string, args: readonly DevArg[] = []) {
    this.name = name;
    this.args = args;
  }

  has(key: string): boolean {
    return this.args.some((a) => a.key === key);
  }

  count(key: string): number {
    return this.args.filter((a) => a.key === key).length;
  }

  all(key: string): DevArg[] {
    return this.args.filter((a) => a.key === key);
  }

  /** The last occurrence's value (DPDK drivers mostly let the last one win). */
  last(key: string): string | undefined {
    for (let i = this.args.length - 1; i >= 0; i--) {
      const a = this.args[i];
      if (a?.key === key) return a.value;
    }
    return undefined;
  }

  /**
   * Reject keys outside `allowed` (DPDK's kvargs allow-list) and, for keys listed in
   * `needValue`, bare occurrences (`iface` with no `=`), naming the key, its column and what is accepted.
   */
  check(driver: string, allowed: readonly string[], needValue: readonly string[] = allowed): this {
    for (const a of this.args) {
      const shown = a.form === 'paren' ? `${a.key}(...)` : a.key;
      if (!allowed.includes(a.key)) {
        throw new InvalidArgumentError(
          `${driver}: unknown parameter "${shown}" at column ${a.column} of "${this.toString()}"; accepted: ${allowed.join(', ')}`,
        );
      }
      if (needValue.includes(a.key) && a.value === undefined) {
        throw new InvalidArgumentError(`${driver}: parameter "${a.key}" at column ${a.column} needs a value (${a.key}=...)`);
      }
    }
    return this;
  }

  toString(): string {
    return formatDevArgs(this);
  }
}

/** Format back to DPDK's syntax; `parseDevArgs(formatDevArgs(x))` round-trips. */
export function formatDevArgs(d: { name: string; args: readonly Pick<DevArg, 'key' | 'value' | 'form'>[] }): string {
  const parts = [d.name];
  for (const a of d.args) {
    if (a.form === 'paren') parts.push(`${a.key}(${a.value ?? ''})`);
    else if (a.value === undefined) parts.push(a.key);
    else parts.push(`${a.key}=${a.value}`);
  }
  return parts.filter((p) => p !== '').join(',');
}

/** Index of the first character of `s` that the pattern for its position refuses. */
function firstBad(s: string, allowed: (index: number) => RegExp): number {
  for (let i = 0; i < s.length; i++) if (!allowed(i).test(s.charAt(i))) return i;
  return -1;
}

function show(input: string, pos: number): string {
  return pos >= input.length ? 'end of input' : `'${input[pos] ?? ''}'`;
}

/**
 * Parse a device string. With `{ name: false }` the input is only an argument list
 * (what follows the name). Nested parentheses, `[a,b]` lists and repeated keys are
 * supported; every syntax error names its 1-based column and the expected token.
 */
export function parseDevArgs(input: string, options: { name?: boolean } = {}): DevArgs {
  const withName = options.name ?? true;
  let pos = 0;
  let name = '';
  if (withName) {
    while (pos < input.length && input[pos] !== ',') pos++;
    name = input.slice(0, pos);
    if (name === '') throw new DevArgsError(input, 1, 'a device name', show(input, 0));
    if (!NAME_CHARS.test(name)) {
      const bad = firstBad(name, () => /[A-Za-z0-9_.:-]/);
      throw new DevArgsError(input, bad + 1, "a device name (letters, digits, '_', '.', ':', '-')", show(input, bad));
    }
    if (pos >= input.length) return new DevArgs(name, []);
    pos++; // the comma
  } else if (input === '') {
    return new DevArgs('', []);
  }

  const args: DevArg[] = [];
  for (;;) {
    const keyStart = pos;
    while (pos < input.length && !',=()[]'.includes(input[pos] ?? '')) pos++;
    const key = input.slice(keyStart, pos);
    if (key === '') throw new DevArgsError(input, keyStart + 1, 'a parameter name', show(input, pos));
    if (!KEY_CHARS.test(key)) {
      const bad = firstBad(key, (i) => (i === 0 ? /[A-Za-z0-9_]/ : /[A-Za-z0-9_.-]/));
      throw new DevArgsError(input, keyStart + bad + 1, "a parameter name (letters, digits, '_', '.', '-')", show(input, keyStart + bad));
    }
    const c = input[pos];
    if (c === undefined || c === ',') {
      args.push({ key, value: undefined, form: 'bare', column: keyStart + 1 });
    } else if (c === '=') {
      const valueStart = ++pos;
      pos = scanValue(input, pos, false);
      args.push({ key, value: input.slice(valueStart, pos), form: 'kv', column: keyStart + 1 });
    } else if (c === '(') {
      const valueStart = ++pos;
      pos = scanValue(input, pos, true);
      args.push({ key, value: input.slice(valueStart, pos), form: 'paren', column: keyStart + 1 });
      pos++; // the closing parenthesis
      const after = input[pos];
      if (after !== undefined && after !== ',') throw new DevArgsError(input, pos + 1, "',' or end of input after ')'", show(input, pos));
    } else {
      throw new DevArgsError(input, pos + 1, "'=', '(', ',' or end of input", show(input, pos));
    }
    if (pos >= input.length) break;
    pos++; // the comma
    if (pos >= input.length) throw new DevArgsError(input, pos + 1, 'a parameter name after \',\'', 'end of input');
  }
  return new DevArgs(name, args);
}

/**
 * Scan a value up to the next top-level ',' (or the ')' closing a parenthesised value),
 * balancing () and []. Returns the index of the terminator.
 */
function scanValue(input: string, start: number, inParen: boolean): number {
  const stack: { close: string; at: number }[] = [];
  let pos = start;
  for (; pos < input.length; pos++) {
    const c = input[pos];
    if (c === '(' || c === '[') {
      stack.push({ close: c === '(' ? ')' : ']', at: pos });
    } else if (c === ')' || c === ']') {
      const top = stack.at(-1);
      if (top === undefined) {
        if (inParen && c === ')') return pos;
        throw new DevArgsError(input, pos + 1, inParen ? "')'" : "',' or end of input", `unmatched '${c}'`);
      }
      if (top.close !== c) throw new DevArgsError(input, pos + 1, `'${top.close}' (to close column ${top.at + 1})`, `'${c}'`);
      stack.pop();
    } else if (c === ',' && stack.length === 0 && !inParen) {
      return pos;
    }
  }
  const open = stack.at(-1);
  if (open) throw new DevArgsError(input, input.length + 1, `'${open.close}' to close column ${open.at + 1}`, 'end of input');
  if (inParen) throw new DevArgsError(input, input.length + 1, `')' to close column ${start}`, 'end of input');
  return pos;
}

/**
 * A non-negative decimal integer parameter within [min, max], as DPDK's af_packet and
 * others parse them: digits only, no sign, nothing trailing.
 */
export function parseUintArg(driver: string, key: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || !/^[0-9]+$/.test(value)) {
    throw new InvalidArgumentError(`${driver}: ${key}=${value ?? ''} is not a decimal integer; accepted: ${min}..${max}`);
  }
  const n = Number(value);
  if (n < min || n > max) throw new InvalidArgumentError(`${driver}: ${key}=${value} is out of range; accepted: ${min}..${max}`);
  return n;
}

/** C `atoi`, as vdev_netvsc uses for force=/ignore=: leading spaces, sign, digits, rest ignored. */
export function atoi(value: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?[0-9]+)/.exec(value);
  return m?.[1] === undefined ? 0 : Number.parseInt(m[1], 10) | 0;
}
