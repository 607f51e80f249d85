import { FdWatch } from '@netvsc/ethdev';
import { RtSubscription, type Link, type ReadinessWatch } from '@netvsc/netlink';

/**
 * Interrupt-style events of a port besides Rx readiness (ethdev's FdRxIntr on the packet
 * socket, which turns readable when the kernel retires a block): the rtnetlink link watch
 * that notices the netdev change or go away.
 */

export interface LinkWatchHandlers {
  /** RTM_NEWLINK for the watched ifindex. */
  onLink(link: Link): void;
  /** RTM_DELLINK for the watched ifindex (deleted, or moved to another namespace). */
  onRemoved(): void;
  /** Notifications were lost (overrun) or the socket failed: the state must be re-read. */
  onOverrun(): void;
}

/** A readiness watch that does not keep the process alive: a port left open must not hold the app. */
function backgroundWatch(fd: number): ReadinessWatch {
  const w = new FdWatch(fd);
  return {
    start(onReadable) {
      w.start(onReadable);
      w.ref(false);
    },
    close() {
      w.close();
    },
  };
}

/** rtnetlink link notifications (@netvsc/netlink's RtSubscription) filtered to one ifindex. */
export class LinkWatch {
  readonly ifindex: number;
  readonly #sub: RtSubscription;

  constructor(ifindex: number, h: LinkWatchHandlers) {
    this.ifindex = ifindex;
    this.#sub = RtSubscription.open(
      {
        onEvent: (e) => {
          if (e.type === 'overrun') h.onOverrun();
          else if (e.type === 'dellink' && e.link.index === ifindex) h.onRemoved();
          else if (e.type === 'newlink' && e.link.index === ifindex) h.onLink(e.link);
        },
        onError: () => {
          h.onOverrun();
        },
      },
      { groups: ['link'], watch: backgroundWatch },
    );
  }

  close(): void {
    this.#sub.close();
  }
}
