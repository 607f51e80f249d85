import type { FailStage, SubStateName, TxSwitchReason } from '@netvsc/failsafe';
import type { VfInfo } from './vf-watch.js';

interface Base {
  /** Context name, `net_vdev_netvsc0_id0`. */
  readonly instance: string;
  /** The fail-safe port, `net_failsafe_vsc0`. */
  readonly port: string;
  /** Wall-clock ms, sub-ms precision. */
  readonly at: number;
}

/**
 * Everything the stack reports, as one discriminated union (`type`), in the order it happened:
 * what the VF did (seen by netlink or the scan), what the fail-safe did about it, renames and
 * warnings.
 */
export type NetvscEvent =
  /** A VF netdev appeared for this NetVSC; it is announced after the settle time. */
  | (Base & { readonly type: 'vf-seen'; readonly vf: VfInfo })
  /** The VF's address was written to the fail-safe's pipe: it is being plugged. */
  | (Base & { readonly type: 'vf-announced'; readonly vf: VfInfo; readonly settledMs: number })
  /** The VF went away (`announced`: whether the fail-safe had been told about it). */
  | (Base & { readonly type: 'vf-removed'; readonly vf: VfInfo; readonly presentMs: number; readonly announced: boolean })
  | (Base & { readonly type: 'vf-renamed'; readonly vf: VfInfo; readonly from: string })
  /** The NetVSC interface was renamed; the stack follows it. */
  | (Base & { readonly type: 'netvsc-renamed'; readonly from: string; readonly to: string })
  /** The fail-safe plugged a sub-device (slot 0: the VF, slot 1: the TAP). */
  | (Base & { readonly type: 'subdev-plugged'; readonly subdev: number; readonly name: string; readonly state: SubStateName; readonly arrivals: number })
  | (Base & { readonly type: 'subdev-removed'; readonly subdev: number; readonly name: string; readonly cause: string; readonly reason: string; readonly detectedAt: number })
  | (Base & { readonly type: 'subdev-failed'; readonly subdev: number; readonly stage: FailStage; readonly op: string; readonly error: string })
  /** Tx moved from one sub-device to another (or to none). */
  | (Base & {
      readonly type: 'tx-switch';
      readonly from: number | undefined;
      readonly to: number | undefined;
      readonly fromName: string | undefined;
      readonly toName: string | undefined;
      readonly reason: TxSwitchReason;
    })
  | (Base & { readonly type: 'warning'; readonly message: string });

export type NetvscEventType = NetvscEvent['type'];

/** A one-line human description of an event, for logs and the CLI. */
export function describeEvent(e: NetvscEvent): string {
  switch (e.type) {
    case 'vf-seen':
      return `${e.port}: VF ${e.vf.name} (${e.vf.pci}) appeared`;
    case 'vf-announced':
      return `${e.port}: VF ${e.vf.name} (${e.vf.pci}) announced to the fail-safe after ${e.settledMs.toFixed(0)} ms`;
    case 'vf-removed':
      return `${e.port}: VF ${e.vf.name} (${e.vf.pci}) removed after ${(e.presentMs / 1000).toFixed(1)} s${e.announced ? '' : ' (never announced: bounced within the settle time)'}`;
    case 'vf-renamed':
      return `${e.port}: VF ${e.from} renamed to ${e.vf.name}`;
    case 'netvsc-renamed':
      return `${e.port}: NetVSC ${e.from} renamed to ${e.to}`;
    case 'subdev-plugged':
      return `${e.port}: sub-device ${e.subdev} ${e.name} plugged (${e.state}, arrival #${e.arrivals})`;
    case 'subdev-removed':
      return `${e.port}: sub-device ${e.subdev} ${e.name} removed (${e.cause}: ${e.reason})`;
    case 'subdev-failed':
      return `${e.port}: sub-device ${e.subdev} ${e.stage}/${e.op} failed: ${e.error}`;
    case 'tx-switch':
      return `${e.port}: Tx ${e.fromName ?? 'none'} -> ${e.toName ?? 'none'} (${e.reason})`;
    case 'warning':
      return `${e.port}: warning: ${e.message}`;
  }
}
