import { atoi, DevArgs, InvalidArgumentError, parseDevArgs, parseEtherAddr, parseUintArg, type EtherAddr } from '@netvsc/ethdev';
import { validateIfaceName } from '@netvsc/detect';

/** Driver name and alias (DPDK: `net_vdev_netvsc` / `eth_vdev_netvsc`). */
export const DRIVER_NAME = 'net_vdev_netvsc';
export const DRIVER_ALIAS = 'eth_vdev_netvsc';

/** DPDK's four keys plus ours: `vf_pmd=<package>` and `vf_settle=<ms>`. */
export const NETVSC_KEYS = ['iface', 'mac', 'force', 'ignore', 'vf_pmd', 'vf_settle'] as const;

/** How long a VF must stay present before the fail-safe is told about it (ms). */
export const DEFAULT_VF_SETTLE_MS = 200;
/** Upper bound of `vf_settle=`: a minute is already far past any useful debounce. */
export const MAX_VF_SETTLE_MS = 60_000;

/** One `iface=` or `mac=` of a device string: it names the NetVSC interface(s) of one instance. */
export interface DeviceSpec {
  readonly key: 'iface' | 'mac';
  /** Text as given. */
  readonly value: string;
  /** Parsed MAC for `mac=`. */
  readonly mac: EtherAddr | undefined;
  /** 1-based column in the device string, for messages. */
  readonly column: number;
}

/** A parsed `net_vdev_netvsc` device string. */
export interface NetvscArgs {
  /** The device name, e.g. `net_vdev_netvsc0`; contexts are named `<name>_id<N>`. */
  readonly name: string;
  readonly specs: readonly DeviceSpec[];
  /** `force=<int>` (C `atoi` semantics, last occurrence wins). */
  readonly force: boolean;
  /** `ignore=<int>` (C `atoi` semantics, last occurrence wins). */
  readonly ignore: boolean;
  /** `vf_pmd=<package>`: the package whose exported `pciDriver` drives the VF. */
  readonly vfPmd: string | undefined;
  /** `vf_settle=<ms>`, when given. */
  readonly vfSettleMs: number | undefined;
  /** The string as given (normalised). */
  readonly text: string;
}

/** Whether a vdev name selects this driver (DPDK matches the name or alias as a prefix). */
export function isNetvscDevName(name: string): boolean {
  return name.startsWith(DRIVER_NAME) || name.startsWith(DRIVER_ALIAS);
}

/**
 * Parse `net_vdev_netvsc[N][,iface=<name>][,mac=<mac>][,force=<int>][,ignore=<int>][,vf_pmd=<pkg>][,vf_settle=<ms>]`.
 * Stricter than DPDK where DPDK crashes or defers: a key without a value and a malformed MAC are
 * refused here, whether or not any interface exists.
 */
export function parseNetvscArgs(device: string | DevArgs): NetvscArgs {
  const args = typeof device === 'string' ? parseDevArgs(device) : device;
  if (!isNetvscDevName(args.name)) {
    throw new InvalidArgumentError(`"${args.name}" is not a ${DRIVER_NAME} device name; expected ${DRIVER_NAME}[suffix] or ${DRIVER_ALIAS}[suffix]`);
  }
  args.check(DRIVER_NAME, NETVSC_KEYS);
  for (const a of args.args) {
    if (a.form === 'paren') {
      throw new InvalidArgumentError(`${DRIVER_NAME}: parameter "${a.key}" at column ${a.column} must be written ${a.key}=<value>, not ${a.key}(...)`);
    }
  }
  const specs: DeviceSpec[] = [];
  let force = false;
  let ignore = false;
  let vfPmd: string | undefined;
  let vfSettleMs: number | undefined;
  for (const a of args.args) {
    const value = a.value ?? '';
    switch (a.key) {
      case 'iface':
        try {
          validateIfaceName(value);
        } catch (e) {
          throw new InvalidArgumentError(`${DRIVER_NAME}: iface=${value} at column ${a.column}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        }
        specs.push({ key: 'iface', value, mac: undefined, column: a.column });
        break;
      case 'mac':
        try {
          specs.push({ key: 'mac', value, mac: parseEtherAddr(value), column: a.column });
        } catch (e) {
          throw new InvalidArgumentError(`${DRIVER_NAME}: mac=${value} at column ${a.column}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        }
        break;
      case 'force':
        force = atoi(value) !== 0;
        break;
      case 'ignore':
        ignore = atoi(value) !== 0;
        break;
      case 'vf_pmd':
        if (value === '') throw new InvalidArgumentError(`${DRIVER_NAME}: vf_pmd= at column ${a.column} needs a package name (e.g. vf_pmd=@netvsc/vf-pmd)`);
        vfPmd = value;
        break;
      case 'vf_settle':
        vfSettleMs = parseUintArg(DRIVER_NAME, 'vf_settle', value, 0, MAX_VF_SETTLE_MS);
        break;
      default:
        // check() above already refused every other key.
        break;
    }
  }
  return { name: args.name, specs, force, ignore, vfPmd, vfSettleMs, text: args.toString() };
}

/** `iface=eth1` / `mac=00:15:5d:..`, for messages and the probe report. */
export function specText(spec: DeviceSpec): string {
  return `${spec.key}=${spec.value}`;
}
