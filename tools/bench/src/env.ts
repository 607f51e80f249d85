/** What every scenario gets: options, the simulated guest's names, and where results go. */
import type { SimGuest } from '@netvsc/sim';
import type { BenchOptions } from './parse.js';
import type { Figure } from './schema.js';

export interface Env {
  readonly opts: BenchOptions;
  readonly sim: SimGuest;
  readonly guestNs: string;
  readonly hostNs: string;
  /** NetVSC interface in the guest, its VF, the VF's PCI address, their shared MAC. */
  readonly netvsc: string;
  readonly vf: string;
  readonly pci: string;
  readonly guestMac: string;
  /** Host veth ends of the VF path and of the synthetic path. */
  readonly hostVf: string;
  readonly hostSyn: string;
  /** dpdk-testpmd is installed and wanted. */
  readonly dpdk: boolean;
  readonly genKind: 'dpdk' | 'ours';
  readonly generatorName: string;
  /** Environment of the measuring children (NETVSC_SYSFS_ROOT of the simulator). */
  readonly childEnv: Readonly<Record<string, string>>;
  readonly figures: Figure[];
  readonly missing: string[];
  readonly notes: string[];
  log(line: string): void;
}
