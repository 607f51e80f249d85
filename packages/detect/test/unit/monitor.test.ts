import { describe, expect, it } from 'vitest';
import { nl, type Address, type Link, type RtEvent } from '@netvsc/netlink';
import { LinkMonitor, MonitorClosedError, type MonitorEvent, type MonitorSource } from '../../src/index.js';
import { addr, link } from '../support/links.js';

class FakeSource implements MonitorSource {
  links: Link[] = [];
  addrs: Address[] = [];
  onEvent: ((e: RtEvent) => void) | undefined;
  onError: ((e: Error) => void) | undefined;
  closed = false;
  subClosed = false;
  dumps = 0;
  dumpLinks(): Link[] {
    this.dumps++;
    return this.links;
  }
  dumpAddresses(): Address[] {
    return this.addrs;
  }
  subscribe(onEvent: (e: RtEvent) => void, onError: (e: Error) => void): { close(): void } {
    this.onEvent = onEvent;
    this.onError = onError;
    return {
      close: () => {
        this.subClosed = true;
      },
    };
  }
  close(): void {
    this.closed = true;
  }
  emit(e: RtEvent): void {
    this.onEvent?.(e);
  }
}

const down = { up: false, operUp: false, flags: 0, operState: nl.IF_OPER_DOWN };

function start(links: Link[] = [link(2, 'eth0', '00:15:5d:00:00:01'), link(3, 'vf0', '00:15:5d:00:00:01')], addrs: Address[] = []): { src: FakeSource; mon: LinkMonitor; seen: MonitorEvent[] } {
  const src = new FakeSource();
  src.links = links;
  src.addrs = addrs;
  const mon = LinkMonitor.start({ source: src });
  const seen: MonitorEvent[] = [];
  mon.on('event', (e) => seen.push(e));
  return { src, mon, seen };
}

describe('LinkMonitor', () => {
  it('starts from a dump taken after subscribing', () => {
    const { src, mon } = start();
    expect(src.onEvent).toBeDefined();
    expect([...mon.links.values()].map((l) => l.name)).toEqual(['eth0', 'vf0']);
  });

  it('derives added / renamed / MAC changed / down / up / removed from NEWLINK and DELLINK', () => {
    const { src, seen } = start();
    src.emit({ type: 'newlink', link: link(4, 'enP2s2', '00:15:5d:00:00:02') });
    src.emit({ type: 'newlink', link: link(4, 'eth7', '00:15:5d:00:00:02') });
    src.emit({ type: 'newlink', link: link(4, 'eth7', '02:00:00:00:00:07') });
    src.emit({ type: 'newlink', link: link(4, 'eth7', '02:00:00:00:00:07', down) });
    src.emit({ type: 'newlink', link: link(4, 'eth7', '02:00:00:00:00:07') });
    src.emit({ type: 'dellink', link: link(4, 'eth7', '02:00:00:00:00:07') });
    expect(seen.map((e) => e.type)).toEqual(['link-added', 'link-up', 'link-renamed', 'mac-changed', 'link-down', 'link-up', 'link-removed']);
    expect(seen[2]).toMatchObject({ oldName: 'enP2s2', link: { name: 'eth7' } });
    expect(seen[3]).toMatchObject({ oldMac: '00:15:5d:00:00:02', link: { mac: '02:00:00:00:00:07' } });
  });

  it('reports several changes of one NEWLINK in a fixed order, and nothing for a repeat', () => {
    const { src, seen } = start();
    src.emit({ type: 'newlink', link: link(3, 'vf0', '00:15:5d:00:00:01') });
    expect(seen).toEqual([]);
    src.emit({ type: 'newlink', link: link(3, 'vf9', '02:00:00:00:00:09', down) });
    expect(seen.map((e) => e.type)).toEqual(['link-renamed', 'mac-changed', 'link-down']);
  });

  it('reports an address once although NEWADDR repeats on updates, and its removal', () => {
    const { src, seen } = start();
    const a = addr(2, '2001:db8::2');
    src.emit({ type: 'newaddr', address: { ...a, flags: nl.IFA_F_TENTATIVE } });
    src.emit({ type: 'newaddr', address: a });
    src.emit({ type: 'deladdr', address: a });
    expect(seen.map((e) => e.type)).toEqual(['address-added', 'address-removed']);
  });

  it('stamps every event with a non-decreasing wall-clock time', () => {
    const { src, seen } = start();
    const before = Date.now();
    for (let i = 10; i < 20; i++) src.emit({ type: 'newlink', link: link(i, `v${i}`, null) });
    const ats = seen.map((e) => e.at);
    expect(ats.every((t, i) => i === 0 || t >= ats[i - 1]!)).toBe(true);
    expect(ats[0]!).toBeGreaterThanOrEqual(before - 1);
    expect(ats[ats.length - 1]!).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('answers an overrun with a fresh dump and reports what changed meanwhile, then resync', () => {
    const { src, seen } = start([link(2, 'eth0', '00:15:5d:00:00:01'), link(3, 'vf0', '00:15:5d:00:00:01')], [addr(2, '10.0.0.2')]);
    src.links = [link(2, 'eth0', '00:15:5d:00:00:01', down), link(5, 'vf1', '00:15:5d:00:00:01')];
    src.addrs = [addr(5, '10.0.0.5')];
    src.emit({ type: 'overrun' });
    expect(seen.map((e) => e.type)).toEqual(['overrun', 'link-down', 'link-added', 'link-up', 'link-removed', 'address-removed', 'address-added', 'resync']);
    expect(seen[seen.length - 1]).toMatchObject({ links: 2, addresses: 1 });
    expect(src.dumps).toBe(2);
  });

  it('reports its own socket errors and a failed resync as error events', () => {
    const { src, seen } = start();
    src.onError?.(Object.assign(new Error('recv: EBADF'), { code: 'EBADF' }));
    src.dumpLinks = () => {
      throw new Error('RTM_GETLINK: ETIMEDOUT');
    };
    src.emit({ type: 'overrun' });
    expect(seen.map((e) => e.type)).toEqual(['socket-error', 'overrun', 'socket-error']);
  });

  it('emits per-type events as well', () => {
    const { src, mon } = start();
    const removed: string[] = [];
    mon.on('link-removed', (e) => removed.push(e.link.name));
    src.emit({ type: 'dellink', link: link(3, 'vf0', '00:15:5d:00:00:01') });
    expect(removed).toEqual(['vf0']);
  });

  it('delivers the same events through async iteration, in order', async () => {
    const { src, mon } = start();
    const it1 = mon.events();
    src.emit({ type: 'dellink', link: link(3, 'vf0', '00:15:5d:00:00:01') });
    src.emit({ type: 'newlink', link: link(6, 'vf0', '00:15:5d:00:00:01') });
    const got: string[] = [];
    for await (const e of it1) {
      got.push(`${e.type}:${'link' in e ? e.link.index : ''}`);
      if (got.length === 3) break;
    }
    expect(got).toEqual(['link-removed:3', 'link-added:6', 'link-up:6']);
    mon.close();
  });

  it('ends iterators on close, including one waiting, and delivers nothing afterwards', async () => {
    const { src, mon, seen } = start();
    const iter = mon[Symbol.asyncIterator]();
    const pending = iter.next();
    const buffered = mon.events();
    src.emit({ type: 'dellink', link: link(3, 'vf0', '00:15:5d:00:00:01') });
    seen.length = 0;
    mon.close();
    await expect(buffered.next()).resolves.toEqual({ done: true, value: undefined });
    await expect(pending).resolves.toMatchObject({ done: false, value: { type: 'link-removed' } });
    await expect(iter.next()).resolves.toEqual({ done: true, value: undefined });
    await expect(mon.events().next()).resolves.toEqual({ done: true, value: undefined });
    src.emit({ type: 'newlink', link: link(9, 'x', null) });
    expect(seen).toEqual([]);
    expect(src.closed && src.subClosed && mon.closed).toBe(true);
    expect(() => {
      mon.resync();
    }).toThrow(MonitorClosedError);
    mon.close();
  });
});
