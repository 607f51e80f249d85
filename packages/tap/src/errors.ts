import { NetvscError } from '@netvsc/ethdev';

/**
 * Stable codes of the TAP PMD's own failures (argument errors use ethdev's
 * `ERR_INVALID_ARG`, a missing remote `ERR_NO_DEVICE`, failed system calls the errno name).
 */
export const TapErrorCode = {
  /** /dev/net/tun is missing or cannot be opened (no tun driver, or no device node). */
  TUN_UNAVAILABLE: 'ERR_TAP_TUN_UNAVAILABLE',
  /** Creating the tap or changing the remote needs CAP_NET_ADMIN. */
  PERMISSION: 'ERR_TAP_PERMISSION',
  /** The interface name is taken by another device or by a tap that is in use. */
  IFACE_IN_USE: 'ERR_TAP_IFACE_IN_USE',
  /** Another live TAP instance already mirrors this remote. */
  REMOTE_IN_USE: 'ERR_TAP_REMOTE_IN_USE',
  /** The kernel lacks a traffic-control feature `remote=` needs (named in the message and `missing`). */
  KERNEL_FEATURE: 'ERR_TAP_KERNEL_FEATURE',
  /** A filter that is not ours occupies the remote's reserved preference block. */
  FOREIGN_RULE: 'ERR_TAP_FOREIGN_RULE',
} as const;

export type TapErrorCode = (typeof TapErrorCode)[keyof typeof TapErrorCode];

export class TapError extends NetvscError {
  declare readonly code: TapErrorCode;
}

/** A kernel feature `remote=` depends on is missing; `missing` lists the config options. */
export class KernelFeatureError extends TapError {
  readonly missing: readonly string[];

  constructor(missing: readonly string[], message: string, options?: { cause?: unknown }) {
    super(TapErrorCode.KERNEL_FEATURE, message, options);
    this.missing = missing;
  }
}
