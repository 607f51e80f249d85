/**
 * The host peer's control protocol: one JSON object per line over the child's stdin/stdout.
 * Request `{id, op, args}`; reply `{id, ok: true, result}` or `{id, ok: false, error: {code, message}}`.
 * The child announces itself with `{ready: true, pid}` and exits when its stdin closes.
 */

/** One NetVSC as the peer sees it: the guest MAC and the two host-side ends. */
export interface PeerPortConfig {
  readonly index: number;
  readonly guestMac: string;
  /** Host end of the synthetic path (always present). */
  readonly synthetic: string;
  /** Host end of the VF path (present only while the VF is). */
  readonly vf: string;
}

export interface PeerInit {
  readonly ports: readonly PeerPortConfig[];
  /** Source MAC of the peer's frames (the "remote VM"); default 00:15:5d:ff:00:01. */
  readonly srcMac?: string;
  /** Reflect test frames from the guest back to it. Default false. */
  readonly echo?: boolean;
  /** Frames per sendmmsg/recvmmsg; default 64. */
  readonly batch?: number;
}

/** Where a frame goes: the guest's MAC (unicast), broadcast, a multicast group, or any MAC. */
export type PeerDestination = 'unicast' | 'broadcast' | 'multicast' | (string & {});

export type PeerPath = 'vf' | 'synthetic';

export interface PeerSendRequest {
  /** Port (NetVSC index); default 0. */
  readonly port?: number;
  /** Number of frames (bounded). */
  readonly count: number;
  /** Frame size incl. Ethernet header, 60..slot size (2048); default 60. */
  readonly size?: number;
  /** Flow id 0..65535; default 0. */
  readonly flow?: number;
  /** First sequence number; default: continue after the last one sent on this flow. */
  readonly firstSeq?: number;
  /** Target rate in frames per second; 0/absent: as fast as possible. */
  readonly ratePps?: number;
  /** Time bound: stop after this many ms even if `count` is not reached; default 60000. */
  readonly maxMs?: number;
  /** Default `unicast` (to the guest MAC). */
  readonly to?: PeerDestination;
  /** `auto` (the vSwitch rule, default), or force one path (`vf` fails when the VF is absent). */
  readonly via?: 'auto' | PeerPath;
}

export interface PeerSendResult {
  readonly sent: number;
  readonly vf: number;
  readonly synthetic: number;
  /** Frames not sent: the time bound hit, or no path (`via: 'vf'` without VF). */
  readonly unsent: number;
  readonly firstSeq: number;
  /** Last sequence number sent (firstSeq - 1 if none). */
  readonly lastSeq: number;
  readonly elapsedMs: number;
  readonly pps: number;
  /** Times the route changed during the send (VF came or went). */
  readonly switches: number;
}

export interface PeerPathCounters {
  readonly sent: number;
  /** Test frames received from the guest on this path. */
  readonly received: number;
  readonly receivedBytes: number;
  /** Frames received that are not test frames (ARP, ND, ...). */
  readonly other: number;
  readonly echoed: number;
}

export interface PeerPortCounters {
  readonly index: number;
  readonly vf: PeerPathCounters;
  readonly synthetic: PeerPathCounters;
  /** Is the VF path usable right now (host end present, guest end up). */
  readonly vfUp: boolean;
}

export interface PeerFlowCounters {
  readonly flow: number;
  /** Distinct sequence numbers received. */
  readonly unique: number;
  /** Receptions of a sequence number already seen (any path). */
  readonly duplicates: number;
  readonly maxSeq: number;
}

/** Counters of the host peer, per path. */
export interface PeerCounters {
  readonly sentVf: number;
  readonly sentSynthetic: number;
  readonly receivedVf: number;
  readonly receivedSynthetic: number;
  /** Sequence numbers seen more than once on receive (any path). */
  readonly duplicates: number;
  readonly echoed: number;
  readonly ports: readonly PeerPortCounters[];
  readonly flows: readonly PeerFlowCounters[];
}

export type PeerRequest =
  | { readonly id: number; readonly op: 'init'; readonly args: PeerInit }
  | { readonly id: number; readonly op: 'send'; readonly args: PeerSendRequest }
  | { readonly id: number; readonly op: 'counters' }
  | { readonly id: number; readonly op: 'reset' }
  | { readonly id: number; readonly op: 'echo'; readonly args: { readonly on: boolean } }
  | { readonly id: number; readonly op: 'close' };

export type PeerReply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: { readonly code: string; readonly message: string } };
