import { describe, expect, it } from 'vitest';
import { parseEtherAddr, ErrnoError } from '@netvsc/ethdev';
import { encodeMessage, nl as C, RtSubscription, type ReadinessWatch, type RtEvent } from '../../src/index.js';
import { addrFamily } from '../../src/address.js';
import { linkFamily } from '../../src/link.js';
import { FakeSocket, datagram } from '../support/fake-socket.js';

class FakeWatch implements ReadinessWatch {
  cb: (() => void) | undefined;
  closed = false;
  starts = 0;
  start(onReadable: () => void): void {
    this.starts++;
    this.cb = onReadable;
  }
  close(): void {
    this.closed = true;
  }
  fire(): void {
    this.cb?.();
  }
}

const link = (type: number, index: number, name: string, flags: number): Uint8Array =>
  encodeMessage(linkFamily, { type, flags: 0, seq: 0 }, { index, type: C.ARPHRD_ETHER, flags }, { ifname: name, address: parseEtherAddr('00:15:5d:00:00:01'), mtu: 1500 });
const addr = (type: number, index: number, address: string): Uint8Array =>
  encodeMessage(addrFamily, { type, flags: 0, seq: 0 }, { family: address.includes(':') ? C.AF_INET6 : C.AF_INET, index, prefixlen: 64 }, { address });

function setup(batch?: number): { s: FakeSocket; w: FakeWatch; events: RtEvent[]; errors: Error[]; sub: RtSubscription } {
  const s = new FakeSocket();
  const w = new FakeWatch();
  const events: RtEvent[] = [];
  const errors: Error[] = [];
  const sub = RtSubscription.open({ onEvent: (e) => events.push(e), onError: (e) => errors.push(e) }, { socket: s, watch: () => w, ...(batch && { batch }) });
  return { s, w, events, errors, sub };
}

describe('RtSubscription', () => {
  it('decodes link and address notifications in kernel order on readiness', () => {
    const { s, w, events } = setup();
    s.queue.push(datagram(link(C.RTM_NEWLINK, 4, 'eth1', C.IFF_UP), addr(C.RTM_NEWADDR, 4, '2001:db8::1')), datagram(addr(C.RTM_DELADDR, 4, '10.0.0.1'), link(C.RTM_DELLINK, 4, 'eth1', 0)));
    expect(events).toEqual([]);
    w.fire();
    expect(events.map((e) => e.type)).toEqual(['newlink', 'newaddr', 'deladdr', 'dellink']);
    expect(events[0]).toMatchObject({ link: { index: 4, name: 'eth1', up: true } });
    expect(events[2]).toMatchObject({ address: { family: C.AF_INET, address: '10.0.0.1' } });
  });

  it('reports ENOBUFS as an overrun event and keeps reading', () => {
    const { s, w, events, errors } = setup();
    let first = true;
    const recv = s.recv.bind(s);
    s.recv = (into: Uint8Array): number => {
      if (first) {
        first = false;
        throw new ErrnoError('ENOBUFS', 105, 'recv');
      }
      return recv(into);
    };
    s.queue.push(link(C.RTM_NEWLINK, 2, 'a', 0));
    w.fire();
    expect(events.map((e) => e.type)).toEqual(['overrun', 'newlink']);
    expect(errors).toEqual([]);
    // libuv stops a poll handle on POLLERR (how an overrun is signalled): it must be re-armed.
    expect(w.starts).toBe(2);
  });

  it('hands other socket errors to onError', () => {
    const { s, w, errors } = setup();
    s.recv = (): number => {
      throw new ErrnoError('EBADF', 9, 'recv');
    };
    w.fire();
    expect(errors).toEqual([expect.objectContaining({ code: 'EBADF' })]);
  });

  it('reads at most `batch` datagrams per wake-up, leaving the rest for the next one', () => {
    const { s, w, events } = setup(2);
    for (let i = 1; i <= 5; i++) s.queue.push(link(C.RTM_NEWLINK, i, `l${i}`, 0));
    w.fire();
    expect(events).toHaveLength(2);
    w.fire();
    w.fire();
    expect(events).toHaveLength(5);
  });

  it('stops delivering once a handler closes it, and releases socket and watch', () => {
    const s = new FakeSocket();
    const w = new FakeWatch();
    const seen: RtEvent[] = [];
    const sub: RtSubscription = RtSubscription.open(
      {
        onEvent: (e) => {
          seen.push(e);
          sub.close();
        },
      },
      { socket: s, watch: () => w },
    );
    s.queue.push(datagram(link(C.RTM_NEWLINK, 1, 'a', 0), link(C.RTM_NEWLINK, 2, 'b', 0)));
    w.fire();
    expect(seen).toHaveLength(1);
    expect(s.closed && w.closed && sub.closed).toBe(true);
    sub.close();
  });
});
