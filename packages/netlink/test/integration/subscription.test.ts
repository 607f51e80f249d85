import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nl as C, RtNetlink, RtSubscription, type RtEvent } from '../../src/index.js';
import { canRunIntegration } from '../support/gate.js';
import { TestNetns } from '../support/netns.js';

describe.skipIf(!canRunIntegration('netlink subscription tests'))('RtSubscription against the kernel', () => {
  let ns: TestNetns;
  let rt: RtNetlink;
  let sub: RtSubscription | undefined;
  const events: RtEvent[] = [];

  beforeEach(() => {
    events.length = 0;
    ns = new TestNetns();
    rt = RtNetlink.open({ netns: ns.name });
  });

  afterEach(() => {
    sub?.close();
    sub = undefined;
    rt.close();
    ns.delete();
  });

  async function until(pred: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out; events: ${JSON.stringify(events.map((e) => e.type))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('delivers link and address notifications through the event loop', async () => {
    sub = RtSubscription.open({ onEvent: (e) => events.push(e) }, { netns: ns.name });
    ns.veth('sba0', 'sbb0');
    await until(() => events.some((e) => e.type === 'newlink' && e.link.name === 'sbb0'));
    const index = rt.ifindex('sba0');
    rt.setLink(index, { up: true });
    rt.addAddress({ index, address: '198.51.100.1', prefixlen: 24 });
    await until(() => events.some((e) => e.type === 'newaddr' && e.address.address === '198.51.100.1'));
    rt.deleteLink('sba0');
    await until(() => events.some((e) => e.type === 'dellink' && e.link.name === 'sba0'));
    const types = events.map((e) => e.type);
    expect(types.indexOf('newaddr')).toBeLessThan(types.lastIndexOf('dellink'));
    expect(events.some((e) => e.type === 'newlink' && e.link.index === index && e.link.up)).toBe(true);
    expect(events.some((e) => e.type === 'deladdr' && e.address.address === '198.51.100.1')).toBe(true);
  });

  it('listens only to the groups asked for', async () => {
    sub = RtSubscription.open({ onEvent: (e) => events.push(e) }, { netns: ns.name, groups: ['ipv4-addr'] });
    ns.veth('sba0', 'sbb0');
    const index = rt.ifindex('sba0');
    rt.addAddress({ index, address: '198.51.100.2', prefixlen: 24 });
    await until(() => events.length > 0);
    expect(events.map((e) => e.type)).toEqual(['newaddr']);
  });

  it('reports an overrun when the kernel drops notifications, then keeps working', async () => {
    sub = RtSubscription.open({ onEvent: (e) => events.push(e) }, { netns: ns.name, groups: ['ipv4-addr'], receiveBuffer: 1 });
    ns.veth('sba0', 'sbb0');
    const index = rt.ifindex('sba0');
    // Synchronous: the event loop cannot drain between these, so the tiny buffer overflows.
    for (let i = 1; i <= 60; i++) rt.addAddress({ index, address: `10.77.0.${i}`, prefixlen: 32 });
    await until(() => events.some((e) => e.type === 'overrun'));
    events.length = 0;
    rt.addAddress({ index, address: '10.78.0.1', prefixlen: 32 });
    await until(() => events.some((e) => e.type === 'newaddr' && e.address.address === '10.78.0.1'));
    expect(C.RTMGRP_IPV4_IFADDR).toBe(0x10);
  });
});
