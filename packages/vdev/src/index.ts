export {
  DRIVER_NAME,
  DRIVER_ALIAS,
  NETVSC_KEYS,
  DEFAULT_VF_SETTLE_MS,
  MAX_VF_SETTLE_MS,
  parseNetvscArgs,
  isNetvscDevName,
  type NetvscArgs,
  type DeviceSpec,
} from './args.js';
export { planInstances, failsafeDevargs, findVf, PIPE_PLACEHOLDER, type Plan, type PlannedInstance, type PlanOptions } from './probe.js';
export {
  attach,
  planAttach,
  detachAll,
  loadVfPmd,
  vfDeviceString,
  netvscDriver,
  NetvscStack,
  DEFAULT_SCAN_INTERVAL_MS,
  DEFAULT_VF_PMD,
  VF_BLOCK_SIZE,
  VF_FRAME_COUNT,
  VF_PMD_EXPORT,
  type AttachOptions,
  type AttachPlan,
} from './driver.js';
export { NetvscContext, type ContextInfo, type FailsafePort } from './context.js';
export { VfWatch, type VfInfo, type VfWatchCounters, type VfWatchEvent, type VfWatchOptions } from './vf-watch.js';
export { describeEvent, type NetvscEvent, type NetvscEventType } from './events.js';
export { Forwarder, FWD_MODES, isFwdMode, MAX_BURST, type FwdMode, type ForwarderOptions, type FwdPortStats } from './fwd.js';
export { startPorts, FwdSession, type PortSetup } from './session.js';
export { SpecConflictError, VfPmdError } from './errors.js';
