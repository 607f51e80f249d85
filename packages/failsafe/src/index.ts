export {
  Failsafe,
  createFailsafe,
  failsafeDriver,
  isFailsafe,
  type FailsafeOptions,
  type FailsafeStatus,
  type SubDeviceInfo,
  type SubDeviceRef,
} from './failsafe.js';
export {
  parseFailsafeArgs,
  FAILSAFE_DRIVER,
  FAILSAFE_ALIAS,
  DEFAULT_HOTPLUG_POLL_MS,
  DEFAULT_EXEC_TIMEOUT_MS,
  MAX_SUB_DEVICES,
  MAX_LINE,
  type FailsafeArgs,
  type SubDeviceSpec,
} from './args.js';
export type {
  FailsafeEvents,
  FailStage,
  SubStateName,
  SubdevPluggedEvent,
  SubdevRemovedEvent,
  SubdevFailedEvent,
  TxSwitchEvent,
  TxSwitchReason,
} from './events.js';
export { ExecError, SubDeviceBusyError, SubDeviceError } from './errors.js';
export { SWITCH_REASON_CODES } from './ops.js';
export { READ_AGAIN } from './native/fd.js';
export type { FdNative, CommandRunner } from './source.js';

import { registry } from '@netvsc/ethdev';
import { failsafeDriver } from './failsafe.js';

registry.registerVdevDriver(failsafeDriver);
