import {
  InvalidArgumentError,
  NetvscError,
  isMulticastEtherAddr,
  isZeroEtherAddr,
  parseDevArgs,
  parseEtherAddr,
  type DevArgs,
  type EthDev,
  type EtherAddr,
} from '@netvsc/ethdev';

export const FAILSAFE_DRIVER = 'net_failsafe';
export const FAILSAFE_ALIAS = 'eth_failsafe';
/** DPDK's default upkeep period. */
export const DEFAULT_HOTPLUG_POLL_MS = 2000;
/** DPDK allows 2 (FAILSAFE_MAX_ETHPORTS); nothing here depends on that number. */
export const MAX_SUB_DEVICES = 8;
/** Longest line taken from `fd()` / `exec()` (DPDK's buffer). */
export const MAX_LINE = 4096;
export const DEFAULT_EXEC_TIMEOUT_MS = 5000;
/** setTimeout's limit. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * How one sub-device slot gets its device. The first slot is the preferred device.
 * - `dev`: a device string (vdev name or PCI address, with arguments).
 * - `exec`: a shell command; the first line it prints is the device string. Re-run at every
 *   attempt while the slot is absent or failing. Used verbatim (the devargs form turns `,` into spaces).
 * - `fd`: a readable descriptor (a pipe); the newest complete line is the device string.
 *   Read without blocking, watched for new lines, never closed by the fail-safe.
 * - `port`: an existing port, adopted as is (the fail-safe then owns and eventually closes it).
 * - `manual`: nothing yet; `plug(slot, device)` fills it.
 */
export type SubDeviceSpec =
  | { readonly dev: string }
  | { readonly exec: string }
  | { readonly fd: number }
  | { readonly port: EthDev }
  | { readonly manual: true };

/** The devargs of a `net_failsafe` device, parsed. */
export interface FailsafeArgs {
  readonly subdevices: SubDeviceSpec[];
  readonly mac: EtherAddr | undefined;
  readonly hotplugPollMs: number | undefined;
}

const KEYS = ['dev', 'exec', 'fd', 'mac', 'hotplug_poll'] as const;
const PAREN_KEYS: readonly string[] = ['dev', 'exec', 'fd'];

/**
 * Parse `net_failsafe...,dev(<device>),exec(<cmd>),fd(<n>),mac=<MAC>,hotplug_poll=<ms>`.
 * Stricter than DPDK: every malformed piece is an error naming its column (DPDK ignores
 * `fd(abc)`, a repeated `hotplug_poll` and text after `)`).
 */
export function parseFailsafeArgs(args: DevArgs): FailsafeArgs {
  const driver = FAILSAFE_DRIVER;
  args.check(driver, KEYS);
  const subdevices: SubDeviceSpec[] = [];
  let mac: EtherAddr | undefined;
  let hotplugPollMs: number | undefined;
  for (const a of args.args) {
    const value = a.value ?? '';
    const where = `${a.key} at column ${a.column} of "${args.toString()}"`;
    if (PAREN_KEYS.includes(a.key) !== (a.form === 'paren')) {
      const shape = PAREN_KEYS.includes(a.key) ? `${a.key}(...)` : `${a.key}=...`;
      throw new InvalidArgumentError(`${driver}: ${where} must be written ${shape}`);
    }
    switch (a.key) {
      case 'dev':
        checkDeviceString(driver, where, value);
        subdevices.push({ dev: value });
        break;
      case 'exec':
        if (value.trim() === '') throw new InvalidArgumentError(`${driver}: ${where}: the command is empty`);
        // DPDK: commas stand for spaces, since a device string cannot carry a bare space.
        subdevices.push({ exec: value.replaceAll(',', ' ') });
        break;
      case 'fd':
        subdevices.push({ fd: parseFdNumber(driver, where, value) });
        break;
      case 'mac':
        mac = parseMacArg(driver, where, value);
        break;
      case 'hotplug_poll':
        if (hotplugPollMs !== undefined) {
          throw new InvalidArgumentError(`${driver}: ${where}: hotplug_poll is given more than once; give it once`);
        }
        hotplugPollMs = parseHotplugPoll(driver, where, value);
        break;
    }
  }
  if (subdevices.length === 0) {
    throw new InvalidArgumentError(`${driver}: "${args.toString()}" declares no sub-device; add dev(<device>), exec(<command>) or fd(<n>)`);
  }
  checkSubdevCount(driver, subdevices.length);
  return { subdevices, mac, hotplugPollMs };
}

export function checkSubdevCount(driver: string, n: number): void {
  if (n > MAX_SUB_DEVICES) {
    throw new InvalidArgumentError(`${driver}: ${n} sub-devices declared; accepted: at most ${MAX_SUB_DEVICES}`);
  }
}

/** Validate a device string up front, so a typo fails creation rather than every upkeep round. */
export function checkDeviceString(driver: string, where: string, value: string): DevArgs {
  try {
    return parseDevArgs(value);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new InvalidArgumentError(`${driver}: ${where}: ${msg}`, { cause: e });
  }
}

/** C `strtol(s, NULL, 0)` without its leniency: decimal, `0x` hex or leading-`0` octal, nothing else. */
export function parseFdNumber(driver: string, where: string, value: string): number {
  const accepted = 'a descriptor number 0..2147483647 (decimal, 0x hex or 0 octal)';
  let n = Number.NaN;
  if (/^[1-9][0-9]*$/.test(value)) n = Number(value);
  else if (/^0[xX][0-9a-fA-F]+$/.test(value)) n = Number.parseInt(value.slice(2), 16);
  else if (/^0[0-7]*$/.test(value)) n = Number.parseInt(value, 8);
  if (!Number.isSafeInteger(n) || n > MAX_TIMER_MS) throw new InvalidArgumentError(`${driver}: ${where}: fd(${value}) is not ${accepted}`);
  return n;
}

export function parseHotplugPoll(driver: string, where: string, value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > MAX_TIMER_MS) {
    throw new InvalidArgumentError(`${driver}: ${where}: hotplug_poll=${value} is not a period in ms; accepted: 1..${MAX_TIMER_MS}`);
  }
  return Number(value);
}

export function parseMacArg(driver: string, where: string, value: string): EtherAddr {
  let mac: EtherAddr;
  try {
    mac = parseEtherAddr(value);
  } catch (e) {
    throw new InvalidArgumentError(`${driver}: ${where}: ${e instanceof NetvscError ? e.message : String(e)}`, { cause: e });
  }
  if (isZeroEtherAddr(mac) || isMulticastEtherAddr(mac)) {
    throw new InvalidArgumentError(`${driver}: ${where}: mac=${value} must be a non-zero unicast address`);
  }
  return mac;
}

/** Validate a programmatic option the way the devargs are validated. */
export function checkPeriod(driver: string, what: string, ms: number): number {
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_TIMER_MS) {
    throw new InvalidArgumentError(`${driver}: ${what} ${ms} is out of range; accepted: 1..${MAX_TIMER_MS} ms`);
  }
  return ms;
}
