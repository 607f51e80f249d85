import { ErrnoError, formatEtherAddr, type EtherAddr } from '@netvsc/ethdev';
import { u32EtherDst, u32MatchAll, type FilterInfo, type MirredMode, type U32Key } from '@netvsc/netlink';
import { KernelFeatureError, TapError, TapErrorCode } from './errors.js';
import type { TapControl } from './netlink.js';

// The traffic-control rules of `remote=` mode (DPDK's tap_flow.c implicit rules), built from
// what every kernel we target has: the ingress qdisc, cls_u32 and act_mirred. u32 matches the
// Ethernet header at negative offsets on ingress (the MAC header sits at -14..-1).

export type RuleName = 'REMOTE_TX' | 'LOCAL_MAC' | 'PROMISC' | 'ALLMULTI' | 'BROADCAST' | 'BROADCASTV6';

/**
 * The preference block, in evaluation order (lower runs first, and the first matching filter
 * ends classification). Same numbers as DPDK's implicit rules, so a DPDK user recognises them;
 * 61498-61502 on the remote's ingress are reserved for this driver and identify its rules.
 */
export const TAP_PREFS: Readonly<Record<RuleName, number>> = Object.freeze({
  REMOTE_TX: 61497,
  LOCAL_MAC: 61498,
  PROMISC: 61499,
  ALLMULTI: 61500,
  BROADCAST: 61501,
  BROADCASTV6: 61502,
});

/** The reserved block on the remote's ingress: every filter in it is taken to be ours. */
export const REMOTE_PREF_FIRST = 61498;
export const REMOTE_PREF_LAST = 61502;
/** A throw-away pref on the tap's own ingress, used only to tell which feature is missing. */
const PROBE_PREF = 61503;

interface RuleDef {
  readonly pref: number;
  /** Device whose ingress holds the rule. */
  readonly on: 'tap' | 'remote';
  /** redirect: the frame leaves the hook (STOLEN); mirror: a copy goes, the original continues (PIPE). */
  readonly mode: MirredMode;
  readonly keys: (mac: EtherAddr) => U32Key[];
  /** What it does, for the README and error messages. */
  readonly what: string;
}

const BROADCAST = formatEtherAddr([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const V6_MCAST = formatEtherAddr([0x33, 0x33, 0, 0, 0, 0]);
const V6_MCAST_MASK = formatEtherAddr([0xff, 0xff, 0, 0, 0, 0]);
const GROUP_BIT = formatEtherAddr([0x01, 0, 0, 0, 0, 0]);

export const RULES: Readonly<Record<RuleName, RuleDef>> = Object.freeze({
  // Redirect, not mirror (DPDK mirrors): the app's frames should leave through the remote
  // only; a mirror would also hand every one of them to the tap's own stack.
  REMOTE_TX: { pref: TAP_PREFS.REMOTE_TX, on: 'tap', mode: 'redirect', keys: () => u32MatchAll(), what: 'frames the application sends leave through the remote' },
  LOCAL_MAC: { pref: TAP_PREFS.LOCAL_MAC, on: 'remote', mode: 'redirect', keys: (mac) => u32EtherDst(mac), what: 'unicast to the port MAC goes to the tap only' },
  PROMISC: { pref: TAP_PREFS.PROMISC, on: 'remote', mode: 'mirror', keys: () => u32MatchAll(), what: 'promiscuous: a copy of every other frame' },
  ALLMULTI: { pref: TAP_PREFS.ALLMULTI, on: 'remote', mode: 'mirror', keys: () => u32EtherDst(GROUP_BIT, GROUP_BIT), what: 'all-multicast: a copy of every multicast frame' },
  BROADCAST: { pref: TAP_PREFS.BROADCAST, on: 'remote', mode: 'mirror', keys: () => u32EtherDst(BROADCAST), what: 'a copy of broadcast' },
  // DPDK masks 33:33 loosely (any first two bytes with those bits set); a strict prefix is
  // what IPv6 multicast (neighbour discovery) needs.
  BROADCASTV6: { pref: TAP_PREFS.BROADCASTV6, on: 'remote', mode: 'mirror', keys: () => u32EtherDst(V6_MCAST, V6_MCAST_MASK), what: 'a copy of IPv6 multicast (33:33:*)' },
});

/** Rules installed at creation, before promiscuous/all-multicast are asked for. */
export const BASE_RULES: readonly RuleName[] = ['REMOTE_TX', 'LOCAL_MAC', 'BROADCAST', 'BROADCASTV6'];

export interface FlowTargets {
  readonly tapIndex: number;
  readonly tapName: string;
  readonly remoteIndex: number;
  readonly remoteName: string;
}

function errnoOf(e: unknown): string | undefined {
  return e instanceof ErrnoError ? e.code : undefined;
}

/** Kernel answers meaning "no such qdisc/classifier/action kind". */
function isMissingFeature(e: unknown): boolean {
  const c = errnoOf(e);
  return c === 'ENOENT' || c === 'EOPNOTSUPP';
}

/** Deleting something that is already gone (rule, qdisc or the device itself). */
function isGone(e: unknown): boolean {
  const c = errnoOf(e);
  return c === 'ENOENT' || c === 'ENODEV' || c === 'EINVAL';
}

const FEATURE = {
  ingress: 'ingress qdisc (CONFIG_NET_SCH_INGRESS)',
  u32: 'u32 classifier (CONFIG_NET_CLS_U32)',
  mirred: 'mirred action (CONFIG_NET_ACT_MIRRED, CONFIG_NET_CLS_ACT)',
} as const;

/** What another filter in our reserved block means for us. */
type Claim = { readonly kind: 'stale' } | { readonly kind: 'busy'; readonly by: string } | { readonly kind: 'foreign'; readonly why: string };

/**
 * The rules of one port in remote mode: installs, toggles and removes them, and on creation
 * finds the ones a crashed earlier run left on the same remote.
 */
export class TapFlows {
  readonly #nl: TapControl;
  readonly #t: FlowTargets;
  readonly #installed = new Set<RuleName>();
  #remoteQdiscCreated = false;

  constructor(nl: TapControl, targets: FlowTargets) {
    this.#nl = nl;
    this.#t = targets;
  }

  /** Rules currently installed, in pref order. */
  get installed(): RuleName[] {
    return (Object.keys(RULES) as RuleName[]).filter((r) => this.#installed.has(r));
  }

  /** True when this port added the remote's ingress qdisc (and so may remove it). */
  get remoteQdiscCreated(): boolean {
    return this.#remoteQdiscCreated;
  }

  /**
   * Creation: prove the kernel has what we need on the tap (ours, so harmless), then take
   * over the remote's reserved block and install the base rules. On failure everything
   * added here is removed again before the error propagates.
   */
  setup(mac: EtherAddr): void {
    try {
      this.#checkFeatures();
      this.#claimRemote();
      this.#ensureRemoteQdisc();
      for (const r of BASE_RULES) if (!this.#installed.has(r)) this.add(r, mac);
    } catch (e) {
      this.teardown();
      throw e;
    }
  }

  /** Install `rule` (replacing whatever occupies its pref). */
  add(rule: RuleName, mac: EtherAddr): void {
    const def = RULES[rule];
    const on = def.on === 'tap' ? this.#t.tapIndex : this.#t.remoteIndex;
    const target = def.on === 'tap' ? this.#t.remoteIndex : this.#t.tapIndex;
    // u32 appends a second key node to an existing pref instead of refusing (EXCL applies
    // to handles), so clear the pref first: a rule is never duplicated.
    this.#delete(on, def.pref);
    this.#nl.addU32Filter({
      ifindex: on,
      pref: def.pref,
      keys: def.keys(mac),
      actions: [{ kind: 'mirred', direction: 'egress', mode: def.mode, ifindex: target }],
    });
    this.#installed.add(rule);
  }

  remove(rule: RuleName): void {
    const def = RULES[rule];
    this.#delete(def.on === 'tap' ? this.#t.tapIndex : this.#t.remoteIndex, def.pref);
    this.#installed.delete(rule);
  }

  set(rule: RuleName, on: boolean, mac: EtherAddr): void {
    if (on) this.add(rule, mac);
    else this.remove(rule);
  }

  /**
   * Remove every rule this port installed; then drop the remote's ingress qdisc if we added
   * it and nothing else hangs off it. Never throws for things already gone (a removed remote).
   */
  teardown(): void {
    for (const r of this.installed.reverse()) {
      try {
        this.remove(r);
      } catch (e) {
        if (!isGone(e)) throw e;
        this.#installed.delete(r);
      }
    }
    if (this.#remoteQdiscCreated) {
      try {
        if (this.#nl.filters({ ifindex: this.#t.remoteIndex }).length === 0) {
          this.#nl.deleteIngressQdisc({ ifindex: this.#t.remoteIndex });
        }
      } catch (e) {
        if (!isGone(e)) throw e;
      }
      this.#remoteQdiscCreated = false;
    }
  }

  /** Forget the rules without touching the kernel (`persist`: they stay installed). */
  abandon(): void {
    this.#installed.clear();
    this.#remoteQdiscCreated = false;
  }

  #delete(ifindex: number, pref: number): void {
    try {
      this.#nl.deleteFilter({ ifindex, pref });
    } catch (e) {
      if (!isGone(e)) throw e;
    }
  }

  #checkFeatures(): void {
    const tap = this.#t.tapIndex;
    try {
      this.#nl.addIngressQdisc({ ifindex: tap });
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') {
        if (isMissingFeature(e)) throw missing([FEATURE.ingress], e);
        throw e;
      }
    }
    try {
      this.add('REMOTE_TX', formatEtherAddr([0, 0, 0, 0, 0, 0]));
    } catch (e) {
      if (!isMissingFeature(e)) throw e;
      throw missing(this.#whichFilterFeature(), e);
    }
  }

  /** REMOTE_TX was refused as unknown: find out whether u32 itself or mirred is missing. */
  #whichFilterFeature(): string[] {
    try {
      this.#nl.addU32Filter({ ifindex: this.#t.tapIndex, pref: PROBE_PREF, keys: u32MatchAll() });
    } catch (e) {
      if (isMissingFeature(e)) return [FEATURE.u32];
      throw e;
    }
    this.#delete(this.#t.tapIndex, PROBE_PREF);
    return [FEATURE.mirred];
  }

  #ensureRemoteQdisc(): void {
    try {
      this.#nl.addIngressQdisc({ ifindex: this.#t.remoteIndex });
      this.#remoteQdiscCreated = true;
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw e;
    }
  }

  /**
   * Find filters in the reserved block of the remote's ingress. Those pointing at a live
   * tap (one with open queues) mean another instance owns the remote: refuse. Those
   * pointing nowhere, or at a tap nobody holds (a crashed or persisted earlier run), are
   * removed so they are replaced, not duplicated. Anything else there is not ours: refuse
   * rather than delete someone else's filter.
   */
  #claimRemote(): void {
    let filters: FilterInfo[];
    try {
      filters = this.#nl.filters({ ifindex: this.#t.remoteIndex });
    } catch (e) {
      // No ingress qdisc on the remote: nothing to claim.
      if (errnoOf(e) === 'EINVAL' || errnoOf(e) === 'ENOENT') return;
      throw e;
    }
    const byPref = new Map<number, FilterInfo[]>();
    for (const f of filters) {
      if (f.pref < REMOTE_PREF_FIRST || f.pref > REMOTE_PREF_LAST) continue;
      byPref.set(f.pref, [...(byPref.get(f.pref) ?? []), f]);
    }
    const stale: number[] = [];
    for (const [pref, fs] of byPref) {
      const claim = this.#judge(fs);
      if (claim.kind === 'foreign') {
        throw new TapError(
          TapErrorCode.FOREIGN_RULE,
          `remote ${this.#t.remoteName}: ingress filter pref ${pref} (reserved for net_tap rules ${REMOTE_PREF_FIRST}-${REMOTE_PREF_LAST}) is not a net_tap rule: ${claim.why}; remove it or move it to another pref`,
        );
      }
      if (claim.kind === 'busy') {
        throw new TapError(
          TapErrorCode.REMOTE_IN_USE,
          `remote ${this.#t.remoteName} is already used by ${claim.by}; close that port first (one net_tap per remote)`,
        );
      }
      stale.push(pref);
    }
    for (const pref of stale) this.#delete(this.#t.remoteIndex, pref);
  }

  #judge(fs: readonly FilterInfo[]): Claim {
    for (const f of fs) {
      if (f.kind !== 'u32') return { kind: 'foreign', why: `classifier ${f.kind}` };
      const a = f.actions;
      if (a.length !== 1 || a[0]?.mirred?.direction !== 'egress') {
        return { kind: 'foreign', why: `actions ${a.map((x) => x.kind).join(',') || 'none'}` };
      }
    }
    for (const f of fs) {
      const target = f.actions[0]?.mirred?.ifindex ?? 0;
      if (target === 0 || target === this.#t.tapIndex) continue;
      const link = this.#nl.link(target);
      if (link === null) continue;
      const users = this.#nl.tunUsers(target);
      if (users === null) return { kind: 'foreign', why: `mirred to ${link.name}, which is not a tap` };
      if (users.attached + users.detached > 0) return { kind: 'busy', by: `tap ${link.name} (ifindex ${target}, ${users.attached + users.detached} open queue fds)` };
    }
    return { kind: 'stale' };
  }
}

function missing(features: string[], cause: unknown): KernelFeatureError {
  return new KernelFeatureError(
    features,
    `net_tap remote= needs kernel traffic-control support that is missing: ${features.join(', ')} (needs: ingress qdisc, u32 classifier, mirred action)`,
    { cause },
  );
}
