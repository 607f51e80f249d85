import type { EthDevEvents } from '@netvsc/ethdev';

/** Where a sub-device attempt failed. */
export type FailStage =
  /** Reading `fd()` or running `exec()` failed (bad fd, command exit status, timeout). */
  | 'source'
  /** The device string from the source does not parse. */
  | 'parse'
  /** The registry could not probe the device, or an adopted port was unusable. */
  | 'probe'
  /** Replaying the stored configuration (or starting) failed: the sub-device was left out. */
  | 'replay'
  /** A control operation fanned out by the application failed on this sub-device. */
  | 'control'
  /** A burst threw (a driver bug): the sub-device is taken out. */
  | 'burst';

/** Why the Tx sub-device changed. */
export type TxSwitchReason =
  /** The fail-safe port was started. */
  | 'start'
  /** The fail-safe port was stopped or closed: no Tx device. */
  | 'stop'
  /** A sub-device was plugged and started (the preferred one takes Tx back). */
  | 'plugged'
  /** A removal became known (RMV event, `unplug()`, a replaced device). */
  | 'removed'
  /** A sub-device failed (control error, burst exception) and is being taken out. */
  | 'failed'
  /** A sub-device's link went up or down. */
  | 'link';

interface SubdevEventBase {
  /** The fail-safe port's name. */
  readonly port: string;
  /** Sub-device slot; 0 is the preferred one. */
  readonly subdev: number;
  /** The device string of the attempt / the plugged device (undefined for a port given by instance before probing). */
  readonly device: string | undefined;
  /** Wall-clock ms (ethdev `now()`), sub-ms precision. */
  readonly at: number;
}

export interface SubdevPluggedEvent extends SubdevEventBase {
  /** Port name of the sub-device (hidden from `ethDevList()`). */
  readonly name: string;
  /** The sub-device state reached: probed, active (configured) or started. */
  readonly state: SubStateName;
  /** How many times this slot has been plugged, this one included. */
  readonly arrivals: number;
}

export interface SubdevRemovedEvent extends SubdevEventBase {
  readonly name: string;
  /** `rmv`: the device reported removal (or failed with a "gone" error); `unplug`: the API; `failed`: it refused an operation or threw from a burst; `replaced`: its source (or `plug()`) named another device. */
  readonly cause: 'rmv' | 'unplug' | 'failed' | 'replaced';
  readonly reason: string;
  /** When the removal became known (Tx switched then); `at` is when teardown finished. */
  readonly detectedAt: number;
}

export interface SubdevFailedEvent extends SubdevEventBase {
  readonly stage: FailStage;
  /** The operation that failed (`probe`, `mtuSet`, `exec`, ...). */
  readonly op: string;
  readonly error: Error;
}

export interface TxSwitchEvent {
  readonly port: string;
  /** Slot that had Tx, undefined when none. */
  readonly from: number | undefined;
  /** Slot that has Tx now, undefined when none (txBurst returns 0). */
  readonly to: number | undefined;
  readonly fromName: string | undefined;
  readonly toName: string | undefined;
  readonly reason: TxSwitchReason;
  readonly at: number;
}

/** DPDK's ordered sub-device states, by name. */
export type SubStateName = 'undefined' | 'parsed' | 'probed' | 'active' | 'started';

/** Events of a fail-safe port: the generic `lsc`/`rmv` plus the sub-device life cycle. */
export interface FailsafeEvents extends EthDevEvents {
  'subdev-plugged': SubdevPluggedEvent;
  'subdev-removed': SubdevRemovedEvent;
  'subdev-failed': SubdevFailedEvent;
  'tx-switch': TxSwitchEvent;
}
