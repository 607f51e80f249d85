import { InvalidArgumentError, NoDeviceError, type DevArgs, type EthDev, type PciAddr, type PciDriver, type VdevDriver } from '@netvsc/ethdev';
import { RtNetlink } from '@netvsc/netlink';
import { AF_PACKET_ALIAS, AF_PACKET_DRIVER, parsePmdArgs, VF_PMD_DRIVER, type VfPmdOptions } from './args.js';
import { AfPacketPort, type LinkOps, type PortDeps } from './ops.js';
import { resolveVfNetdev } from './pci.js';

/**
 * Probe (rte_pmd_af_packet_probe / rte_eth_from_packet): parse, resolve the netdev, open
 * the port. Two entry points: the vdev `net_af_packet*,iface=` and the PCI bus
 * (`0002:00:02.0,mac=...`), for which this package is the default driver.
 */

const ARPHRD_ETHER = 1;
const ports = new WeakMap<EthDev, AfPacketPort>();

export interface ProbeDeps extends Omit<PortDeps, 'rtnl'> {
  /** Open the rtnetlink handle (default: a socket in the current network namespace). */
  readonly rtnl?: () => LinkOps;
}

/** Probe one device string (either form) into a port. */
export function probeAfPacket(args: DevArgs, options: VfPmdOptions = {}, deps: ProbeDeps = {}): EthDev {
  const cfg = parsePmdArgs(args, options);
  const pci = cfg.pciAddr !== undefined;
  const driverName = pci ? VF_PMD_DRIVER : AF_PACKET_DRIVER;
  const rtnl = deps.rtnl ? deps.rtnl() : RtNetlink.open();
  try {
    let ifname: string;
    if (cfg.pciAddr !== undefined) {
      ifname = resolveVfNetdev(cfg.pciAddr, cfg.mac, cfg.sysfsRoot).name;
    } else {
      ifname = cfg.iface ?? '';
    }
    const link = rtnl.link(ifname);
    if (link === null) {
      const via = pci ? ` (PCI device ${cfg.name} resolves to it in sysfs)` : '';
      throw new NoDeviceError(`${cfg.name}: no network interface "${ifname}" in this network namespace${via}`);
    }
    if (link.type !== ARPHRD_ETHER || link.mac === null) {
      throw new InvalidArgumentError(`${cfg.name}: ${ifname} is not an Ethernet interface (ARPHRD ${link.type}); AF_PACKET PMD needs one`);
    }
    if (cfg.mac !== undefined && link.mac !== cfg.mac) {
      throw new NoDeviceError(`${cfg.name}: ${ifname} has MAC ${link.mac}, not ${cfg.mac} as mac= asks`);
    }
    const port = new AfPacketPort(cfg, { name: link.name, ifindex: link.index, mac: link.mac }, driverName, { ...deps, rtnl });
    ports.set(port.dev, port);
    return port.dev;
  } catch (e) {
    rtnl.close();
    throw e;
  }
}

/** The driver side of a port this package opened (own_rx state, netdev name), for tools and tests. */
export function afPacketPort(dev: EthDev): AfPacketPort | undefined {
  return ports.get(dev);
}

/** `net_af_packet*,iface=...` as DPDK; `options` are defaults the devargs override. */
export function createAfPacketVdevDriver(options: VfPmdOptions = {}): VdevDriver {
  return {
    name: AF_PACKET_DRIVER,
    aliases: [AF_PACKET_ALIAS],
    probe: (args: DevArgs) => probeAfPacket(args, options),
  };
}

/**
 * A PCI driver (ethdev's `PciDriver`) opening the netdev of a PCI function over AF_PACKET.
 * `options` are defaults the devargs override: the vdev hands `{ ownRx: true }`.
 */
export function createVfPmdDriver(options: VfPmdOptions = {}, name: string = VF_PMD_DRIVER): PciDriver {
  return {
    name,
    // The registry chose this driver by the address in `args.name`; parsing it again gives `addr`.
    probe: (_addr: PciAddr, args: DevArgs) => probeAfPacket(args, options),
  };
}

export const afPacketVdevDriver: VdevDriver = createAfPacketVdevDriver();
export const vfPmdDriver: PciDriver = createVfPmdDriver();
