/**
 * The control protocol between the bench and its measuring children (`app.js` in the guest
 * namespace, `gen.js` in the host namespace): one JSON object per line. Request
 * `{id, op, args}`; reply `{id, ok, result | error}`. The child announces `{ready, pid}` and
 * exits when its stdin closes, so it can never outlive the bench.
 */

/** What a child can open. */
export type PortKind =
  /** Our VF PMD through its vdev form (`net_af_packet0,iface=...`). */
  | 'af_packet'
  /** Our TAP PMD with `remote=`. */
  | 'tap'
  /** Our fail-safe over the VF PMD (PCI form, own_rx) and the TAP. */
  | 'failsafe'
  /** The whole vdev_netvsc stack (`attach()`), for failover and servicing. */
  | 'vdev'
  /** Fail-safe over two in-memory ring ports (no kernel): the software ceiling. */
  | 'failsafe-ring';

export interface OpenArgs {
  readonly kind: PortKind;
  /** Device string for af_packet / tap / failsafe. */
  readonly devargs?: string;
  /** For vdev: the NetVSC interface and the fixture sysfs root. */
  readonly iface?: string;
  readonly sysfsRoot?: string;
  readonly settleMs?: number;
  /** mbufs in the pool. */
  readonly poolSize?: number;
  /** How long to wait for the fail-safe's preferred sub-device to carry Tx (ms). */
  readonly readyTimeoutMs?: number;
}

export interface OpenResult {
  readonly port: string;
  readonly driver: string;
  readonly mac: string;
  readonly subdevices: readonly string[];
  readonly txSubdev: number | undefined;
}

export interface RxArgs {
  /** Busy-poll instead of sleeping in rxQueueWait when a burst comes back empty. */
  readonly spin?: boolean;
  /** Track test-frame sequence numbers per flow (failover). */
  readonly track?: boolean;
}

export interface TxArgs {
  /** Frame size incl. Ethernet header, excl. FCS. */
  readonly size: number;
  readonly dstMac: string;
  readonly srcMac?: string;
  /** Frames per second; 0: as fast as the port accepts them. */
  readonly ratePps?: number;
  /** Write numbered test frames of this flow (failover accounting). */
  readonly flow?: number;
  /** Stop after this many frames have been accepted (0: no limit). */
  readonly count?: number;
  /** Unpaced: also drain Rx at every yield. */
  readonly serveRx?: boolean;
  /** Paced: poll (yield with setImmediate) instead of sleeping up to 1 ms in rxQueueWait between ticks. */
  readonly spin?: boolean;
}

/** A snapshot of a child's counters; the bench subtracts two of them. */
export interface Mark {
  /** process.hrtime in ns. */
  readonly tNs: number;
  /** Wall clock (performance.timeOrigin + now), ms. */
  readonly wallMs: number;
  readonly cpuUs: number;
  /** Of which in the kernel (system time). */
  readonly cpuSysUs: number;
  /** CPU (µs, 10 ms resolution) per thread name, from /proc/self/task: who in the process burns it. */
  readonly threads: Readonly<Record<string, number>>;
  readonly rx: number;
  readonly rxBursts: number;
  readonly rxWakeups: number;
  readonly tx: number;
  readonly txRefused: number;
  /** Port statistics (from statsGet) at the mark. */
  readonly imissed: number;
  readonly rxNombuf: number;
  readonly ipackets: number;
  readonly opackets: number;
  readonly oerrors: number;
  readonly gcMinor: number;
  readonly gcMajor: number;
  /** Bytes allocated on the V8 heap since the child started (used now + freed by every GC). */
  readonly allocatedBytes: number;
  readonly heapUsed: number;
  readonly rss: number;
}

export interface CeilingArgs {
  readonly rounds: number;
  /** How long to leave the ring unread before each drain (ms). */
  readonly fillMs: number;
  /** For failsafe-ring: frames queued into the ring before each drain. */
  readonly frames?: number;
  readonly size?: number;
}

export interface CeilingRound {
  readonly packets: number;
  readonly ns: number;
  readonly cpuUs: number;
  /** V8 heap bytes allocated during the drain (nothing but the burst loop runs meanwhile). */
  readonly allocBytes: number;
  readonly gcs: number;
  /** ns per rxBurst call on the empty queue right after the drain (what an idle poll costs). */
  readonly emptyPollNs: number;
}

/** Per-flow reception of numbered frames. */
export interface FlowRx {
  readonly flow: number;
  readonly unique: number;
  readonly duplicates: number;
  readonly maxSeq: number;
  /** The first gaps in the sequence, as [first, last] missing numbers (at most 8). */
  readonly gaps: readonly (readonly [number, number])[];
}

/** A Tx burst accepted by a different fail-safe sub-device than the previous accepted one. */
export interface TxMove {
  readonly sub: number | undefined;
  /** Wall ms of the first accepted burst on `sub`. */
  readonly at: number;
}

export interface FailoverReport {
  readonly flows: readonly FlowRx[];
  /** Frames accepted per Tx flow. */
  readonly txFlows: readonly { readonly flow: number; readonly accepted: number }[];
  readonly moves: readonly TxMove[];
  readonly events: readonly { readonly type: string; readonly at: number; readonly text: string }[];
  /** Turns of the paced loop that came more than 1 ms after the previous one: when (wall ms) and how late (ms). */
  readonly stalls: readonly { readonly at: number; readonly ms: number }[];
}

export type Request =
  | { readonly id: number; readonly op: 'open'; readonly args: OpenArgs }
  | { readonly id: number; readonly op: 'rx'; readonly args: RxArgs }
  | { readonly id: number; readonly op: 'tx'; readonly args: TxArgs }
  | { readonly id: number; readonly op: 'tx-flow'; readonly args: { readonly flow: number } }
  | { readonly id: number; readonly op: 'stop' }
  | { readonly id: number; readonly op: 'mark' }
  | { readonly id: number; readonly op: 'ceiling'; readonly args: CeilingArgs }
  | { readonly id: number; readonly op: 'failover-report'; readonly args?: { readonly flows?: readonly number[] } }
  | { readonly id: number; readonly op: 'close' };

export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { readonly code: string; readonly message: string } };
