export { InvalidInterfaceNameError, MonitorClosedError } from './errors.js';
export { validateIfaceName, isValidIfaceName } from './names.js';
export { FsSysfs, sysfsReader, resolveSysfsRoot, type SysfsReader, type SysfsRootOptions } from './sysfs.js';
export {
  NETVSC_CLASS_ID,
  isNetvsc,
  pciAddressOf,
  findVf,
  findPciNetdev,
  isRouted,
  isLinkLocal6,
  isEthernet,
  normalizeMac,
  hypervisorInfo,
  type LinkFacts,
  type VfInfo,
  type HypervisorInfo,
  type PciNetdev,
} from './rules.js';
export {
  discover,
  classifyInterfaces,
  ethernetInterfaces,
  listInterfaces,
  listAddresses,
  isRoutedInterface,
  detectHypervisor,
  isHyperV,
  isNetvscInterface,
  resolvePciNetdev,
  type DetectOptions,
  type LinkRecord,
  type EthernetInterface,
  type InterfaceInfo,
  type Discovery,
  type ResolvePciOptions,
} from './discover.js';
export { LinkMonitor, type MonitorEvent, type MonitorEventType, type MonitorOptions, type MonitorSource } from './monitor.js';
