import type { EthStats } from './types.js';

/**
 * Per-queue counters for drivers: plain typed arrays bumped on the hot path (no objects),
 * turned into an `EthStats` only when asked.
 */
export class QueueStats {
  readonly rxPackets: Float64Array;
  readonly rxBytes: Float64Array;
  readonly rxErrors: Float64Array;
  readonly rxNombuf: Float64Array;
  readonly rxMissed: Float64Array;
  readonly txPackets: Float64Array;
  readonly txBytes: Float64Array;
  readonly txErrors: Float64Array;

  constructor(nbRx: number, nbTx: number) {
    this.rxPackets = new Float64Array(nbRx);
    this.rxBytes = new Float64Array(nbRx);
    this.rxErrors = new Float64Array(nbRx);
    this.rxNombuf = new Float64Array(nbRx);
    this.rxMissed = new Float64Array(nbRx);
    this.txPackets = new Float64Array(nbTx);
    this.txBytes = new Float64Array(nbTx);
    this.txErrors = new Float64Array(nbTx);
  }

  reset(): void {
    for (const a of [this.rxPackets, this.rxBytes, this.rxErrors, this.rxNombuf, this.rxMissed, this.txPackets, this.txBytes, this.txErrors]) a.fill(0);
  }

  toEthStats(): EthStats {
    const sum = (a: Float64Array): number => a.reduce((x, y) => x + y, 0);
    return {
      ipackets: sum(this.rxPackets),
      opackets: sum(this.txPackets),
      ibytes: sum(this.rxBytes),
      obytes: sum(this.txBytes),
      imissed: sum(this.rxMissed),
      ierrors: sum(this.rxErrors),
      oerrors: sum(this.txErrors),
      rxNombuf: sum(this.rxNombuf),
      qIpackets: [...this.rxPackets],
      qOpackets: [...this.txPackets],
      qIbytes: [...this.rxBytes],
      qObytes: [...this.txBytes],
      qErrors: Array.from({ length: Math.max(this.rxErrors.length, this.txErrors.length) }, (_, q) => (this.rxErrors[q] ?? 0) + (this.txErrors[q] ?? 0)),
    };
  }
}

export function emptyStats(): EthStats {
  return { ipackets: 0, opackets: 0, ibytes: 0, obytes: 0, imissed: 0, ierrors: 0, oerrors: 0, rxNombuf: 0, qIpackets: [], qOpackets: [], qIbytes: [], qObytes: [], qErrors: [] };
}
