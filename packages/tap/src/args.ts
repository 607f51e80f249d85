import {
  InvalidArgumentError,
  formatEtherAddr,
  isZeroEtherAddr,
  parseEtherAddr,
  type DevArgs,
  type EtherAddr,
} from '@netvsc/ethdev';

/** Where the port's MAC comes from (a `remote=` overrides all of them with the remote's MAC). */
export type MacSpec = { readonly kind: 'random' } | { readonly kind: 'fixed' } | { readonly kind: 'explicit'; readonly addr: EtherAddr };

/** Parsed `net_tap` / `net_tun` device arguments. */
export interface TapArgs {
  /** Netdev name, possibly a kernel template such as `dtap%d`. */
  readonly iface: string;
  readonly mac: MacSpec;
  /** Remote netdev whose traffic is mirrored to / sent through the tap. */
  readonly remote: string | undefined;
  /** Keep the netdev (and its rules) when the port closes. */
  readonly persist: boolean;
  /**
   * Tx through io_uring, one system call per burst (ours; default on). Off, or where the kernel
   * refuses io_uring (disabled by sysctl or a seccomp profile), one writev per frame as DPDK.
   */
  readonly txUring: boolean;
}

export const TAP_DRIVER = 'net_tap';
export const TAP_ALIAS = 'eth_tap';
export const TUN_DRIVER = 'net_tun';
export const DEFAULT_TAP_NAME = 'dtap%d';
export const DEFAULT_TUN_NAME = 'dtun%d';

const TAP_KEYS = ['iface', 'mac', 'remote', 'persist', 'tx_uring'] as const;
const TUN_KEYS = ['iface', 'persist', 'tx_uring'] as const;
const MAC_FIXED = 'fixed';

/**
 * The kernel's dev_valid_name rules plus DPDK's (no ':' or whitespace), checked before any
 * system call so a bad name never reaches the kernel.
 */
export function validateIfName(driver: string, key: string, name: string): string {
  if (name.length === 0) throw new InvalidArgumentError(`${driver}: ${key}= is empty; expected an interface name of 1-15 characters`);
  if (name.length >= 16) {
    throw new InvalidArgumentError(`${driver}: ${key}=${name} is too long (${name.length} characters); interface names have at most 15`);
  }
  if (name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw new InvalidArgumentError(`${driver}: ${key}=${name} is not a valid interface name: no '/', ':' or whitespace, not "." or ".."`);
  }
  return name;
}

let fixedCounter = 0;

/**
 * DPDK's `mac=fixed`: 02:64:74:61 ("\x02dta") then a process-wide counter spread over the
 * last two bytes as `0x70 + (k >> 8)` and `(0x30 + k) & 0xff` (the code adds ASCII '0').
 */
export function nextFixedMac(): EtherAddr {
  const k = fixedCounter++;
  return formatEtherAddr([0x02, 0x64, 0x74, 0x61, (0x70 + (k >> 8)) & 0xff, (0x30 + k) & 0xff]);
}

/** Reject a key given more than once (DPDK silently ignores all of them). */
function once(driver: string, args: DevArgs, key: string): string | undefined {
  const all = args.all(key);
  if (all.length > 1) {
    throw new InvalidArgumentError(
      `${driver}: parameter "${key}" is given ${all.length} times (columns ${all.map((a) => a.column).join(', ')}); give it at most once per device`,
    );
  }
  return all[0]?.value;
}

/** A flag given bare (`persist`) or as `key=1` / `key=0`. */
function parseFlag(driver: string, args: DevArgs, key: string, dflt: boolean): boolean {
  if (!args.has(key)) return dflt;
  const v = once(driver, args, key);
  if (v === undefined || v === '1') return true;
  if (v === '0') return false;
  throw new InvalidArgumentError(`${driver}: ${key}=${v} is not accepted; use ${key}, ${key}=1 or ${key}=0`);
}

function parseMac(driver: string, value: string | undefined): MacSpec {
  if (value === undefined) return { kind: 'random' };
  if (value.toLowerCase().startsWith(MAC_FIXED)) return { kind: 'fixed' };
  let addr: EtherAddr;
  try {
    addr = parseEtherAddr(value);
  } catch (e) {
    throw new InvalidArgumentError(`${driver}: mac=${value} is neither "fixed" nor a MAC address (e.g. 02:00:00:00:00:01)`, { cause: e });
  }
  return isZeroEtherAddr(addr) ? { kind: 'random' } : { kind: 'explicit', addr };
}

/**
 * `net_tap[N][,iface=NAME][,mac=fixed|MAC][,remote=NETDEV][,persist][,tx_uring=0|1]` as DPDK's
 * rte_pmd_tap_probe reads it (plus our `tx_uring`), except that unknown keys, repeated keys and invalid values
 * are errors here (DPDK ignores them and falls back to defaults).
 */
export function parseTapArgs(args: DevArgs, driver = TAP_DRIVER): TapArgs {
  args.check(driver, TAP_KEYS, ['mac', 'remote']);
  const iface = once(driver, args, 'iface');
  const remote = once(driver, args, 'remote');
  return {
    iface: iface === undefined ? DEFAULT_TAP_NAME : validateIfName(driver, 'iface', iface),
    mac: parseMac(driver, once(driver, args, 'mac')),
    remote: remote === undefined ? undefined : validateIfName(driver, 'remote', remote),
    persist: parseFlag(driver, args, 'persist', false),
    txUring: parseFlag(driver, args, 'tx_uring', true),
  };
}

/** `net_tun[N][,iface=NAME][,persist][,tx_uring=0|1]`: an L3 tun device (no MAC, no remote). */
export function parseTunArgs(args: DevArgs, driver = TUN_DRIVER): TapArgs {
  args.check(driver, TUN_KEYS, []);
  const iface = once(driver, args, 'iface');
  return {
    iface: iface === undefined ? DEFAULT_TUN_NAME : validateIfName(driver, 'iface', iface),
    mac: { kind: 'random' },
    remote: undefined,
    persist: parseFlag(driver, args, 'persist', false),
    txUring: parseFlag(driver, args, 'tx_uring', true),
  };
}
