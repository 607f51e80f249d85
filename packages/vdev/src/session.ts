import { Mempool, type EthDev } from '@netvsc/ethdev';
import { Forwarder, type FwdMode } from './fwd.js';

export interface PortSetup {
  /** mbufs in the shared pool; default 8192. */
  readonly mbufs?: number;
  /** Enable promiscuous mode (testpmd enables it by default; here it is opt-in: on a NetVSC it
   * mirrors every frame the interface sees to the application). */
  readonly promiscuous?: boolean;
  /** Set this MTU on every port. */
  readonly mtu?: number;
  /** Multicast addresses to subscribe to. */
  readonly multicast?: readonly string[];
}

/** Configure every port with one Rx and one Tx queue over one shared pool, and start it. */
export function startPorts(ports: readonly EthDev[], setup: PortSetup = {}): Mempool {
  const pool = new Mempool({ size: setup.mbufs ?? 8192, name: 'netvsc_fwd' });
  for (const p of ports) {
    p.configure(1, 1, { lsc: true, rmv: true, rxqIntr: p.infoGet().capa.rxqIntr });
    p.rxQueueSetup(0, { mempool: pool });
    p.txQueueSetup(0, { mempool: pool });
    if (setup.mtu !== undefined) p.setMtu(setup.mtu);
    if (setup.promiscuous) p.promiscuousEnable();
    if (setup.multicast && setup.multicast.length > 0) p.setMcAddrList(setup.multicast);
    p.start();
  }
  return pool;
}

/** A forwarding loop running in the background until `stop()`. */
export class FwdSession {
  readonly forwarder: Forwarder;
  readonly pool: Mempool;
  readonly #abort = new AbortController();
  readonly #done: Promise<void>;

  constructor(ports: readonly EthDev[], pool: Mempool, mode: FwdMode, burst: number) {
    this.pool = pool;
    this.forwarder = new Forwarder({ mode, ports, mempool: pool, burst });
    this.#done = this.forwarder.run(this.#abort.signal);
  }

  /** Stop polling; resolves once the loop has left. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }
}
