/**
 * The simulated Hyper-V guest: the types integration tests, the demo and the benchmarks use.
 */

/** The Hyper-V class id of a synthetic network device (`device/class_id` of a NetVSC netdev). */
export const NETVSC_CLASS_ID = '{f8615163-df3e-46c5-913f-f2d2f965ed0e}';

/** The Hyper-V class id of the vmbus PCI pass-through bridge (hv_pci) that carries a VF. */
export const HV_PCI_CLASS_ID = '{44c4f61d-4444-4400-9d52-802e27ede19f}';

/**
 * tc `pref` of the simulator's transparent-VF filter on the guest VF's ingress
 * (`u32 match-all` + `mirred ingress redirect` into the NetVSC). A VF PMD that must take frames
 * away from the kernel after its AF_PACKET socket saw them puts its own filter at a LOWER pref
 * (evaluated first) on the same `ingress` qdisc, and must not delete that qdisc.
 */
export const TRANSPARENT_VF_PREF = 49152;

/** Every namespace, fixture directory and peer process of the simulator carries this prefix. */
export const SIM_PREFIX = 'nvsim-';

export interface SimVfSpec {
  /** Guest-side VF netdev name, e.g. `enP2s2`. */
  readonly name: string;
  /** PCI address, `dddd:bb:dd.f` (short `bb:dd.f` means domain 0000), e.g. `0002:00:02.0`. */
  readonly pci: string;
}

export interface SimNetvscSpec {
  /** Guest-side NetVSC netdev name, e.g. `eth1`. */
  readonly name: string;
  /** MAC shared by the NetVSC and its VF; default `00:15:5d:10:00:<index+1>`. */
  readonly mac?: string;
  /** The VF present at start; `null`/absent for a NetVSC without VF. */
  readonly vf?: SimVfSpec | null;
  /** MTU of the NetVSC and its VF; default 1500. */
  readonly mtu?: number;
}

/** Which Hyper-V markers the fixture sysfs carries. */
export interface SimHypervMarkers {
  /** `sys/bus/vmbus/` (with `devices/` and `drivers/`). Default true. */
  readonly vmbus?: boolean;
  /** `sys/class/dmi/id/sys_vendor`; `null` omits the file. Default `Microsoft Corporation`. */
  readonly dmiVendor?: string | null;
}

export interface SimOptions {
  /** Namespace/fixture prefix; default `nvsim-<4 random hex>`; must start with `nvsim-`. */
  readonly prefix?: string;
  /** The NetVSC interfaces; default one: `eth1` with VF `enP2s2` at `0002:00:02.0`. */
  readonly netvsc?: readonly SimNetvscSpec[];
  /** Model the kernel's transparent VF (VF ingress also redirected into the NetVSC ingress). Default true. */
  readonly transparentVf?: boolean;
  /** Write Hyper-V markers in the fixture sysfs: `false` omits both. Default true (both). */
  readonly hyperv?: boolean | SimHypervMarkers;
  /** Parent of the fixture directory `<tmpDir>/<prefix>/`; default `os.tmpdir()`. */
  readonly tmpDir?: string;
  /**
   * Silence IPv6 on the simulated links: no DAD and no router solicitations in the guest, IPv6
   * off in the host namespace, so the only frames on the wire are the ones a test sends (plus
   * the guest's own MLD/ND when it uses IPv6). Default true.
   */
  readonly quietIpv6?: boolean;
}

export interface SimVfState {
  readonly name: string;
  readonly pci: string;
  /** The VF path's veth end in the host namespace. */
  readonly hostName: string;
  /** Guest ifindex, 0 until known. */
  readonly ifindex: number;
  /** Administratively up on the guest side. */
  readonly up: boolean;
}

/** What one guest NetVSC looks like right now. */
export interface SimNetvscState {
  /** Position in `SimOptions.netvsc`; stable across renames. */
  readonly index: number;
  readonly name: string;
  readonly mac: string;
  readonly mtu: number;
  readonly ifindex: number;
  readonly up: boolean;
  /** vmbus device instance id (the fixture's device directory name). */
  readonly vmbusId: string;
  /** Host-side peer of the synthetic path (in the host namespace). */
  readonly hostSynthetic: string;
  readonly vf: SimVfState | null;
}

export interface SimState {
  readonly prefix: string;
  readonly guestNs: string;
  readonly hostNs: string;
  /** The directory that contains `sys/` (point `NETVSC_SYSFS_ROOT` here). */
  readonly sysfsRoot: string;
  readonly transparentVf: boolean;
  readonly netvsc: readonly SimNetvscState[];
}

export interface SimFlapOptions {
  /** How many remove + re-add cycles. */
  readonly count: number;
  /** ms the VF stays away each time. */
  readonly downMs: number;
  /** ms it stays present between removals (not waited after the last re-add). */
  readonly upMs: number;
  /** Where the VF comes back; default where it was. */
  readonly vf?: Partial<SimVfSpec>;
}

/** Identifies a NetVSC: its current name, its index, or the name of its VF. */
export type NetvscRef = string | number;

/** Which end of a simulated link a fault applies to. */
export type LinkSide = 'guest' | 'host';

export type SimEventKind =
  | 'created'
  | 'vf-removed'
  | 'vf-added'
  | 'renamed'
  | 'link-up'
  | 'link-down'
  | 'addr-added'
  | 'addr-removed'
  | 'peer-started'
  | 'peer-stopped'
  | 'destroyed';

/** One entry of the simulator's timeline. */
export interface SimEvent {
  /** ms since the simulator was created. */
  readonly t: number;
  readonly kind: SimEventKind;
  readonly detail: string;
}
