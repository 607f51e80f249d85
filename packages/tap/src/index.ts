import { registry, type DevArgs, type EthDev, type VdevDriver } from '@netvsc/ethdev';
import { parseTapArgs, parseTunArgs, TAP_ALIAS, TAP_DRIVER, TUN_DRIVER } from './args.js';
import { TapPmd } from './ops.js';

export { TapPmd, type TapOptions } from './ops.js';
export {
  parseTapArgs,
  parseTunArgs,
  validateIfName,
  nextFixedMac,
  TAP_DRIVER,
  TAP_ALIAS,
  TUN_DRIVER,
  DEFAULT_TAP_NAME,
  DEFAULT_TUN_NAME,
  type TapArgs,
  type MacSpec,
} from './args.js';
export { TapError, TapErrorCode, KernelFeatureError } from './errors.js';
export { RULES, TAP_PREFS, BASE_RULES, REMOTE_PREF_FIRST, REMOTE_PREF_LAST, type RuleName } from './flow.js';
export { openTapControl } from './control.js';
export type { TapControl, TapNetlink, TunUsers, LinkEvent as TapLinkEvent, LinkWatch } from './netlink.js';
export { tunNative, type TunNative } from './native/tun.js';
export type { WriteRing } from './native/uring.js';

/** `net_tap` (alias `eth_tap`): `net_tap0,iface=dtap0,mac=fixed,remote=eth1,persist`. */
export const tapDriver: VdevDriver = {
  name: TAP_DRIVER,
  aliases: [TAP_ALIAS],
  probe(args: DevArgs): EthDev {
    return TapPmd.create({ name: args.name, ...parseTapArgs(args) }).dev;
  },
};

/** `net_tun`: an L3 tun device (`net_tun0,iface=dtun0`). */
export const tunDriver: VdevDriver = {
  name: TUN_DRIVER,
  probe(args: DevArgs): EthDev {
    return TapPmd.create({ name: args.name, l3: true, ...parseTunArgs(args) }).dev;
  },
};

registry.registerVdevDriver(tapDriver);
registry.registerVdevDriver(tunDriver);
