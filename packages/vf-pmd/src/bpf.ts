import { Errno, ErrnoError, errnoName, NetvscError } from '@netvsc/ethdev';
import { nl, tcHandle, type RtNetlink } from '@netvsc/netlink';
import { BPF_PROG_TYPE_SCHED_CLS, progLoadOnce } from './native/bpf.js';
import { closeFd } from './native/packet.js';

/**
 * own_rx: take the frames the PMD receives away from the kernel.
 *
 * A packet socket bound to ETH_P_ALL gets its copy of a received frame before tc ingress
 * runs. A direct-action cls_bpf filter on the netdev's ingress that answers TC_ACT_STOLEN
 * for every frame then ends the frame's way through the kernel: no IP stack, no rx_handler
 * (hv_netvsc's transparent-VF hand-over to the NetVSC netdev), no later tc filter (the
 * simulator's mirred at TRANSPARENT_VF_PREF). The PMD keeps exactly one copy.
 */

export const OWN_RX_PROG_NAME = 'nvsc_own_rx';
const TC_ACT_STOLEN = 4;

/** `r0 = TC_ACT_STOLEN; exit` — BPF_ALU64|BPF_MOV|BPF_K then BPF_JMP|BPF_EXIT. */
export function ownRxProgram(): Uint8Array {
  const insns = new Uint8Array(16);
  const v = new DataView(insns.buffer);
  v.setUint8(0, 0xb7); // mov64 r0, imm
  v.setInt32(4, TC_ACT_STOLEN, true);
  v.setUint8(8, 0x95); // exit
  return insns;
}

/** What the take-away needs from rtnetlink (a fake in unit tests). */
export type TcOps = Pick<RtNetlink, 'qdiscs' | 'addIngressQdisc' | 'deleteIngressQdisc' | 'addBpfFilter' | 'deleteFilter' | 'filters'>;

export interface OwnRxNative {
  /** Load the program; returns its fd. */
  load(): number;
  close(fd: number): void;
}

const { EAGAIN } = Errno;
/** Tries of one load while the kernel answers EAGAIN (libbpf's PROG_LOAD_ATTEMPTS). */
export const PROG_LOAD_ATTEMPTS = 5;
const LOG_SIZE = 64 * 1024;

/**
 * Load a program with `once` (an fd, or -errno): retried while the kernel answers EAGAIN — the
 * verifier gives up with it when a signal is pending for the thread (a profiler's SIGPROF, a
 * child's SIGCHLD), as libbpf knows and retries — and a refusal is tried once more with the
 * verifier log, whose text goes into the error.
 */
export function loadProgram(once: (log: Uint8Array | null) => number, name: string): number {
  const attempt = (log: Uint8Array | null): number => {
    let r = once(log);
    for (let n = 1; r === -EAGAIN && n < PROG_LOAD_ATTEMPTS; n++) r = once(log);
    return r;
  };
  const first = attempt(null);
  if (first >= 0) return first;
  const log = new Uint8Array(LOG_SIZE);
  const again = attempt(log);
  if (again >= 0) return again;
  const end = log.indexOf(0);
  const text = new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end)).trim();
  throw new ErrnoError(errnoName(-first), -first, 'bpf(BPF_PROG_LOAD)', `program "${name}"${text === '' ? '' : `: verifier: ${text}`}`);
}

export const ownRxNative: OwnRxNative = {
  load: () => {
    const prog = { type: BPF_PROG_TYPE_SCHED_CLS, insns: ownRxProgram(), license: 'BSD', name: OWN_RX_PROG_NAME };
    return loadProgram((log) => progLoadOnce(prog, log), OWN_RX_PROG_NAME);
  },
  close: closeFd,
};

/** The pref of the take-away is taken by a filter that is not ours. */
export class OwnRxConflictError extends NetvscError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_OWN_RX_CONFLICT', message, options);
  }
}

const INGRESS_PARENT = nl.TC_H_INGRESS_HANDLE;
const CLSACT_INGRESS_PARENT = tcHandle(0xffff, 0xfff2);
/** errnos that mean "the device (and everything on it) is already gone". */
const GONE = new Set(['ENODEV', 'ENXIO', 'ENOENT', 'EINVAL']);

function isGone(e: unknown): boolean {
  return e instanceof ErrnoError && GONE.has(e.code);
}

/** The attached filter; `detach()` removes it (and the ingress qdisc if we added it and it is empty). */
export class OwnRx {
  readonly ifindex: number;
  readonly pref: number;
  readonly parent: number;
  readonly #tc: TcOps;
  readonly #createdQdisc: boolean;
  #attached = true;

  private constructor(tc: TcOps, ifindex: number, pref: number, parent: number, createdQdisc: boolean) {
    this.#tc = tc;
    this.ifindex = ifindex;
    this.pref = pref;
    this.parent = parent;
    this.#createdQdisc = createdQdisc;
  }

  /**
   * Put the filter on `ifindex`'s ingress at `pref` (lower runs first), adding an ingress
   * qdisc when there is none. A filter of ours left at that pref by a process that died is
   * replaced; anything else there is a conflict.
   */
  static attach(tc: TcOps, ifindex: number, pref: number, native: OwnRxNative = ownRxNative): OwnRx {
    const existing = tc.qdiscs(ifindex).find((q) => q.parent === nl.TC_H_INGRESS);
    let created = false;
    if (existing === undefined) {
      try {
        tc.addIngressQdisc({ ifindex });
        created = true;
      } catch (e) {
        if (!(e instanceof ErrnoError && e.code === 'EEXIST')) throw e;
      }
    }
    const parent = existing?.kind === 'clsact' ? CLSACT_INGRESS_PARENT : INGRESS_PARENT;
    const fd = native.load();
    try {
      const add = (): void => {
        tc.addBpfFilter({ ifindex, parent, pref, fd, name: OWN_RX_PROG_NAME, directAction: true });
      };
      try {
        add();
      } catch (e) {
        if (!(e instanceof ErrnoError) || (e.code !== 'EEXIST' && e.code !== 'EINVAL')) throw e;
        const there = tc.filters({ ifindex, parent }).filter((f) => f.pref === pref);
        const ours = there.length > 0 && there.every((f) => f.kind === 'bpf' && f.bpf?.name?.startsWith(OWN_RX_PROG_NAME) === true);
        if (!ours) {
          const what = there.map((f) => f.kind).join(', ') || 'a filter';
          throw new OwnRxConflictError(
            `own_rx: ingress pref ${pref} of ifindex ${ifindex} already holds ${what} that is not ours; choose another pref (option ownRxPref) below every other ingress filter`,
            { cause: e },
          );
        }
        tc.deleteFilter({ ifindex, parent, pref });
        add();
      }
    } catch (e) {
      if (created) tryIgnore(() => { tc.deleteIngressQdisc({ ifindex }); });
      throw e;
    } finally {
      native.close(fd);
    }
    return new OwnRx(tc, ifindex, pref, parent, created);
  }

  get attached(): boolean {
    return this.#attached;
  }

  /** Remove the filter; a device that is already gone took it along, which is fine. */
  detach(): void {
    if (!this.#attached) return;
    this.#attached = false;
    try {
      this.#tc.deleteFilter({ ifindex: this.ifindex, parent: this.parent, pref: this.pref });
    } catch (e) {
      if (isGone(e)) return;
      throw e;
    }
    if (this.#createdQdisc) {
      const others = tryIgnore(() => this.#tc.filters({ ifindex: this.ifindex, parent: this.parent }));
      if (others?.length === 0) tryIgnore(() => { this.#tc.deleteIngressQdisc({ ifindex: this.ifindex }); });
    }
  }
}

function tryIgnore<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
