import { NetvscError } from '@netvsc/ethdev';

/** An Error for anything thrown (a non-Error throw is wrapped, its text kept). */
export function asError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(typeof e === 'string' ? e : JSON.stringify(e));
}

/**
 * Two device specifiers of one `net_vdev_netvsc` string contradict each other: an `iface=` and a
 * `mac=` describing one instance name different interfaces, or one interface is named twice.
 */
export class SpecConflictError extends NetvscError {
  constructor(message: string) {
    super('ERR_NETVSC_CONFLICT', message);
  }
}

/** The package named by `vf_pmd=` could not be imported or does not export a PCI driver. */
export class VfPmdError extends NetvscError {
  readonly packageName: string;

  constructor(packageName: string, message: string, options?: { cause?: unknown }) {
    super('ERR_VF_PMD', message, options);
    this.packageName = packageName;
  }
}
