import { readFileSync, writeFileSync } from 'node:fs';
import { RtNetlink, RtSubscription, validateIfName, type Link } from '@netvsc/netlink';
import type { LinkEvent, LinkWatch, TapControl, TunUsers } from './netlink.js';

/** Same name twice: the link as last seen, to drop notifications that change nothing we show. */
function sameLink(a: Link, b: Link): boolean {
  return a.name === b.name && a.flags === b.flags && a.operState === b.operState && a.mtu === b.mtu && a.mac === b.mac;
}

/**
 * The real control plane: one synchronous rtnetlink socket for requests, and per watch an
 * RTMGRP_LINK subscription driven by the event loop (no polling). After a notification
 * overrun the watched links are re-read, so no change is lost.
 */
export function openTapControl(): TapControl {
  const rt = RtNetlink.open();
  return {
    link: (ref) => rt.link(ref),
    setLink: (ref, change) => {
      rt.setLink(ref, change);
    },
    qdiscs: (ifindex) => rt.qdiscs(ifindex),
    addIngressQdisc: (spec) => {
      rt.addIngressQdisc(spec);
    },
    deleteIngressQdisc: (spec) => {
      rt.deleteIngressQdisc(spec);
    },
    filters: (query) => rt.filters(query),
    addU32Filter: (spec) => {
      rt.addU32Filter(spec);
    },
    deleteFilter: (ref) => {
      rt.deleteFilter(ref);
    },
    close: () => {
      rt.close();
    },
    tunUsers: (ifindex): TunUsers | null => {
      const tun = rt.link(ifindex)?.tun ?? null;
      return tun === null ? null : { attached: tun.numQueues, detached: tun.numDisabledQueues, persist: tun.persist };
    },
    watchLinks: (ifindexes, onEvent) => watchLinks(rt, ifindexes, onEvent),
    disableIpv6: (ifName) => {
      validateIfName(ifName);
      const path = `/proc/sys/net/ipv6/conf/${ifName}/disable_ipv6`;
      try {
        if (readFileSync(path, 'utf8').trim() !== '1') writeFileSync(path, '1');
      } catch {
        // No IPv6 in this kernel (no such file): nothing to silence.
      }
    },
  };
}

function watchLinks(rt: RtNetlink, ifindexes: readonly number[], onEvent: (ev: LinkEvent) => void): LinkWatch {
  const wanted = new Set(ifindexes);
  const last = new Map<number, Link>();
  for (const i of wanted) {
    const l = rt.link(i);
    if (l) last.set(i, l);
  }
  const deliver = (type: 'new' | 'del', link: Link): void => {
    if (!wanted.has(link.index)) return;
    if (type === 'del') {
      if (!last.delete(link.index)) return;
      wanted.delete(link.index);
    } else {
      const prev = last.get(link.index);
      last.set(link.index, link);
      if (prev && sameLink(prev, link)) return;
    }
    onEvent({ type, link });
  };
  const sub = RtSubscription.open(
    {
      onEvent: (ev) => {
        if (ev.type === 'newlink') deliver('new', ev.link);
        else if (ev.type === 'dellink') deliver('del', ev.link);
        else if (ev.type === 'overrun') {
          for (const i of [...wanted]) {
            const l = rt.link(i);
            const prev = last.get(i);
            if (l) deliver('new', l);
            else if (prev) deliver('del', prev);
          }
        }
      },
      onError: () => {
        // A broken subscription socket only costs event latency: linkGet() still reads live state.
      },
    },
    { groups: ['link'] },
  );
  return {
    close: () => {
      sub.close();
    },
  };
}
