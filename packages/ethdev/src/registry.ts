import { parseDevArgs, type DevArgs } from './devargs.js';
import { DriverNotFoundError, InvalidArgumentError } from './errors.js';
import type { EthDev } from './ethdev.js';
import { isPciAddr, parsePciAddr, type PciAddr } from './pci.js';

/** What a driver's probe gets besides its arguments. */
export interface ProbeContext {
  /** The registry the probe came through, so a driver can probe sub-devices (fail-safe). */
  readonly registry: Registry;
}

/** A virtual-device driver, selected by name prefix (`net_tap` serves `net_tap_vsc0`). */
export interface VdevDriver {
  readonly name: string;
  readonly aliases?: readonly string[];
  probe(args: DevArgs, ctx: ProbeContext): EthDev | Promise<EthDev>;
}

/**
 * A PCI driver: given a PCI address (and the device string's arguments, e.g. `mac=`),
 * return a port. `@netvsc/vf-pmd` registers the default one; any package implementing
 * this interface can replace it.
 */
export interface PciDriver {
  readonly name: string;
  probe(addr: PciAddr, args: DevArgs, ctx: ProbeContext): EthDev | Promise<EthDev>;
}

/** EAL's driver lists: vdev drivers by name, the PCI bus's drivers and its default. */
export class Registry {
  readonly #vdev: VdevDriver[] = [];
  readonly #pci = new Map<string, PciDriver>();
  readonly #pciBindings = new Map<PciAddr, string>();
  #pciDefault: string | undefined;

  registerVdevDriver(driver: VdevDriver): void {
    const names = [driver.name, ...(driver.aliases ?? [])];
    for (const d of this.#vdev) {
      const clash = [d.name, ...(d.aliases ?? [])].find((n) => names.includes(n));
      if (clash !== undefined && d !== driver) {
        throw new InvalidArgumentError(`vdev driver name "${clash}" is already registered`);
      }
    }
    if (!this.#vdev.includes(driver)) this.#vdev.push(driver);
  }

  /** Register a PCI driver; the first registered (or one registered with `default`) serves unbound addresses. */
  registerPciDriver(driver: PciDriver, options: { default?: boolean } = {}): void {
    this.#pci.set(driver.name, driver);
    if (options.default || this.#pciDefault === undefined) this.#pciDefault = driver.name;
  }

  /** Bind one PCI address to a named driver (like binding a device to a kernel driver). */
  bindPci(addr: string, driverName: string): void {
    if (!this.#pci.has(driverName)) throw new DriverNotFoundError(`no PCI driver named "${driverName}"; registered: ${this.pciDriverNames().join(', ') || 'none'}`);
    this.#pciBindings.set(parsePciAddr(addr), driverName);
  }

  vdevDriverNames(): string[] {
    return this.#vdev.map((d) => d.name);
  }

  pciDriverNames(): string[] {
    return [...this.#pci.keys()];
  }

  /** The driver for a vdev name: longest registered name or alias that prefixes it. */
  findVdevDriver(deviceName: string): VdevDriver | undefined {
    let best: VdevDriver | undefined;
    let bestLen = 0;
    for (const d of this.#vdev) {
      for (const n of [d.name, ...(d.aliases ?? [])]) {
        if (deviceName.startsWith(n) && n.length > bestLen) {
          best = d;
          bestLen = n.length;
        }
      }
    }
    return best;
  }

  findPciDriver(addr: PciAddr): PciDriver | undefined {
    const name = this.#pciBindings.get(addr) ?? this.#pciDefault;
    return name === undefined ? undefined : this.#pci.get(name);
  }

  /** Probe a device string (`net_tap0,iface=x` or `0002:00:02.0,mac=...`) into a port. */
  async probe(device: string | DevArgs): Promise<EthDev> {
    const args = typeof device === 'string' ? parseDevArgs(device) : device;
    if (isPciAddr(args.name)) {
      const addr = parsePciAddr(args.name);
      const drv = this.findPciDriver(addr);
      if (!drv) throw new DriverNotFoundError(`no PCI driver registered for ${addr} (import @netvsc/vf-pmd or register one)`);
      return drv.probe(addr, args, { registry: this });
    }
    const drv = this.findVdevDriver(args.name);
    if (!drv) {
      throw new DriverNotFoundError(
        `no vdev driver for "${args.name}"; registered prefixes: ${this.vdevDriverNames().join(', ') || 'none'} (import the driver's package first)`,
      );
    }
    return drv.probe(args, { registry: this });
  }
}

/** The process-wide registry that driver packages register into when imported. */
export const registry = new Registry();
