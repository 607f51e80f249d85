import { registry } from '@netvsc/ethdev';
import { afPacketVdevDriver, vfPmdDriver } from './driver.js';

export {
  probeAfPacket,
  afPacketPort,
  createAfPacketVdevDriver,
  createVfPmdDriver,
  afPacketVdevDriver,
  vfPmdDriver,
  /** The name `vf_pmd=<package>` looks for, so `vf_pmd=@netvsc/vf-pmd` works like any swapped-in PMD. */
  vfPmdDriver as pciDriver,
  type ProbeDeps,
} from './driver.js';
export {
  parsePmdArgs,
  AF_PACKET_DRIVER,
  AF_PACKET_ALIAS,
  VF_PMD_DRIVER,
  FANOUT_MODES,
  DEFAULTS,
  VDEV_KEYS,
  PCI_KEYS,
  type FanoutMode,
  type VfPmdOptions,
  type PmdConfig,
} from './args.js';
export { AfPacketPort, nativeSockets, type SocketLayer, type LinkOps, type PortDeps, type Netdev } from './ops.js';
export { ringGeometry, maxMtu, type RingGeometry } from './ring.js';
export { OwnRx, OwnRxConflictError, OWN_RX_PROG_NAME, ownRxProgram, type TcOps, type OwnRxNative } from './bpf.js';
export { resolveVfNetdev, type PciNetdevMatch } from './pci.js';

// Importing the package makes it the PCI bus's default driver and provides net_af_packet,
// as linking DPDK's PMD registers it.
registry.registerVdevDriver(afPacketVdevDriver);
registry.registerPciDriver(vfPmdDriver, { default: true });
