import type { Discovery } from '@netvsc/detect';
import type { AttachPlan } from '../driver.js';
import { addressText, type PlannedInstance } from '../probe.js';

/**
 * The CLI's JSON documents. Their shape is API (documented in the README, `schema: 1`): fields
 * may be added, none renamed or removed without a new schema number.
 */
export const JSON_SCHEMA = 1;

export interface VfJson {
  readonly name: string;
  readonly index: number;
  readonly pci: string;
}

export interface InterfaceJson {
  readonly name: string;
  readonly index: number;
  readonly mac: string | null;
  readonly netvsc: boolean;
  readonly routed: boolean;
  readonly addresses: readonly string[];
  readonly vf: VfJson | null;
}

export interface DetectJson {
  readonly schema: number;
  /** `hyperv` is the decision (vmbus present); the DMI vendor is reported, not decisive. */
  readonly hypervisor: { readonly hyperv: boolean; readonly vmbus: boolean; readonly dmiVendor: string | null };
  readonly interfaces: readonly InterfaceJson[];
}

export function pictureJson(p: Discovery): DetectJson {
  return {
    schema: JSON_SCHEMA,
    hypervisor: { hyperv: p.hypervisor.hyperV, vmbus: p.hypervisor.vmbus, dmiVendor: p.hypervisor.dmiVendor },
    interfaces: p.interfaces.map((i) => ({
      name: i.name,
      index: i.index,
      mac: i.mac,
      netvsc: i.netvsc,
      routed: i.routed,
      addresses: i.addresses.map(addressText),
      vf: i.vf ? { name: i.vf.name, index: i.vf.index, pci: i.vf.pci } : null,
    })),
  };
}

export interface InstanceJson {
  readonly name: string;
  readonly id: number;
  readonly iface: string;
  readonly ifindex: number;
  readonly mac: string;
  readonly netvsc: boolean;
  readonly routed: boolean;
  readonly addresses: readonly string[];
  readonly specifiedBy: string | null;
  readonly failsafe: { readonly name: string; readonly devargs: string };
  readonly tap: string;
  readonly vf: VfJson | null;
  readonly warnings: readonly string[];
}

export interface ProbeJson {
  readonly schema: number;
  readonly hyperv: boolean;
  readonly devices: readonly {
    readonly devargs: string;
    readonly auto: boolean;
    readonly ignored: boolean;
    readonly instances: readonly InstanceJson[];
    readonly warnings: readonly string[];
  }[];
  readonly others: readonly string[];
}

export function instanceJson(i: PlannedInstance, devargs: string): InstanceJson {
  return {
    name: i.name,
    id: i.id,
    iface: i.ifName,
    ifindex: i.ifIndex,
    mac: i.mac,
    netvsc: i.netvsc,
    routed: i.routed,
    addresses: [...i.addresses],
    specifiedBy: i.specifiedBy,
    failsafe: { name: i.failsafeName, devargs },
    tap: i.tapName,
    vf: i.vf ? { name: i.vf.name, index: i.vf.index, pci: i.vf.pci } : null,
    warnings: [...i.warnings],
  };
}

export function planJson(p: AttachPlan, devargsOf: (i: PlannedInstance) => string): ProbeJson {
  return {
    schema: JSON_SCHEMA,
    hyperv: p.hyperv,
    devices: p.devices.map((d) => ({
      devargs: d.devargs,
      auto: d.auto,
      ignored: d.plan.ignored,
      instances: d.plan.instances.map((i) => instanceJson(i, devargsOf(i))),
      warnings: [...d.plan.warnings],
    })),
    others: [...p.others],
  };
}
