import { describe, expect, it } from 'vitest';
import { HISTORY_LIMIT, NetvscStack } from '../../src/driver.js';
import type { NetvscEvent } from '../../src/events.js';
import { describeEvent } from '../../src/events.js';

const ev = (i: number): NetvscEvent => ({ type: 'warning', instance: 'net_vdev_netvsc_id0', port: 'net_failsafe_vsc0', at: i, message: `m${i}` });

describe('NetvscStack events', () => {
  it('delivers to listeners, to async iterators in order, and ends iteration at close', async () => {
    const stack = new NetvscStack([], [], false, {});
    const heard: string[] = [];
    stack.on('event', (e) => heard.push(describeEvent(e)));
    const it = stack.events();
    stack.deliver(ev(1));
    stack.deliver(ev(2));
    const pending = it.next();
    expect((await pending).value).toMatchObject({ message: 'm1' });
    expect((await it.next()).value).toMatchObject({ message: 'm2' });
    const waiting = it.next();
    stack.deliver(ev(3));
    expect((await waiting).value).toMatchObject({ message: 'm3' });
    const last = it.next();
    await stack.close();
    expect(await last).toMatchObject({ done: true });
    expect(heard).toEqual(['net_failsafe_vsc0: warning: m1', 'net_failsafe_vsc0: warning: m2', 'net_failsafe_vsc0: warning: m3']);
  });

  it('keeps a bounded history', async () => {
    const stack = new NetvscStack([], [], false, {});
    for (let i = 0; i < HISTORY_LIMIT + 5; i++) stack.deliver(ev(i));
    expect(stack.history).toHaveLength(HISTORY_LIMIT);
    expect(stack.history[0]).toMatchObject({ message: 'm5' });
    await stack.close();
    await stack.close();
  });
});
