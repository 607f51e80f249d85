export {
  NetvscError,
  ErrnoError,
  DevArgsError,
  InvalidArgumentError,
  StateError,
  NotSupportedError,
  NoDeviceError,
  DriverNotFoundError,
} from './errors.js';
export {
  parseEtherAddr,
  formatEtherAddr,
  isEtherAddr,
  etherAddrBytes,
  isMulticastEtherAddr,
  isZeroEtherAddr,
  randomEtherAddr,
  type EtherAddr,
} from './ether.js';
export { parsePciAddr, isPciAddr, type PciAddr } from './pci.js';
export { DevArgs, parseDevArgs, formatDevArgs, parseUintArg, atoi, type DevArg } from './devargs.js';
export { Mempool, MbufFlag, MBUF_DEFAULT_DATAROOM, MBUF_DEFAULT_HEADROOM, type MempoolOptions } from './mbuf.js';
export { TypedEmitter, now } from './events.js';
export { EthDev, ethDevList, ethDevGet, basicXstats, type EthDevState } from './ethdev.js';
export { QueueStats, emptyStats } from './stats.js';
export {
  LINK_DOWN,
  type EthConf,
  type RxQueueConf,
  type TxQueueConf,
  type LinkStatus,
  type LinkDuplex,
  type EthStats,
  type XStat,
  type DevCapabilities,
  type DevInfo,
  type EthDevOps,
  type RxIntrHandler,
  type EthDevEvents,
  type LinkEvent,
  type RemovalEvent,
} from './types.js';
export { Registry, registry, type VdevDriver, type PciDriver, type ProbeContext } from './registry.js';
export { RingPmd, createRingPair, ringDriver, type RingPmdOptions } from './ring.js';
export { libc, check, throwErrno, lastErrno, errnoName, viewOf, type LibraryHandle, type KoffiFunction } from './native/libc.js';
export { FdWatch, waitReadable } from './native/poll.js';
export { FdRxIntr } from './intr.js';
export { Errno, type ErrnoName } from './errno.js';

import { registry as defaultRegistry } from './registry.js';
import { ringDriver as ring } from './ring.js';

defaultRegistry.registerVdevDriver(ring);
