import type { EtherAddr } from '@netvsc/ethdev';
import { beforeEach, describe, expect, it } from 'vitest';
import { TapFlows } from '../../src/flow.js';
import { TAP_PREFS } from '../../src/index.js';
import { errorLike } from '../support/expect.js';
import { FakeKernel, type FakeLink } from '../support/fake-kernel.js';

const MAC = '00:15:5d:01:02:03' as EtherAddr;

describe('remote= tc rules', () => {
  let k: FakeKernel;
  let remote: FakeLink;
  let tap: FakeLink;
  let flows: TapFlows;

  beforeEach(() => {
    k = new FakeKernel();
    remote = k.addLink('eth1', MAC);
    tap = k.addLink('dtap0', MAC, { kind: 'tun' });
    flows = new TapFlows(k, { tapIndex: tap.index, tapName: tap.name, remoteIndex: remote.index, remoteName: remote.name });
  });

  it('installs the base rules with DPDK redirect-versus-mirror semantics, in pref order', () => {
    flows.setup(MAC);
    expect(k.remoteRules(tap.index)).toEqual([{ pref: TAP_PREFS.REMOTE_TX, mode: 'redirect', target: remote.index, keys: [{ mask: 0, val: 0, off: 0 }] }]);
    expect(k.remoteRules(remote.index)).toEqual([
      // unicast to our MAC: 16-bit key in the word at -16 + the word at -12
      { pref: 61498, mode: 'redirect', target: tap.index, keys: [{ mask: 0xffff, val: 0x0015, off: -16 }, { mask: 0xffffffff, val: 0x5d010203, off: -12 }] },
      { pref: 61501, mode: 'mirror', target: tap.index, keys: [{ mask: 0xffff, val: 0xffff, off: -16 }, { mask: 0xffffffff, val: 0xffffffff, off: -12 }] },
      { pref: 61502, mode: 'mirror', target: tap.index, keys: [{ mask: 0xffff, val: 0x3333, off: -16 }] },
    ]);
    expect(flows.installed).toEqual(['REMOTE_TX', 'LOCAL_MAC', 'BROADCAST', 'BROADCASTV6']);
    expect(flows.remoteQdiscCreated).toBe(true);
  });

  it('adds and removes the promiscuous and all-multicast rules as they toggle', () => {
    flows.setup(MAC);
    flows.set('PROMISC', true, MAC);
    flows.set('ALLMULTI', true, MAC);
    const prefs = () => k.remoteRules(remote.index).map((r) => r.pref);
    expect(prefs()).toEqual([61498, 61499, 61500, 61501, 61502]);
    expect(k.remoteRules(remote.index)[1]).toMatchObject({ mode: 'mirror', keys: [{ mask: 0, val: 0, off: 0 }] });
    // the group bit is the low bit of the first destination byte: byte 2 of the word at -16
    expect(k.remoteRules(remote.index)[2]).toMatchObject({ mode: 'mirror', keys: [{ mask: 0x0100, val: 0x0100, off: -16 }] });
    flows.set('PROMISC', false, MAC);
    expect(prefs()).toEqual([61498, 61500, 61501, 61502]);
    flows.set('ALLMULTI', false, MAC);
    expect(prefs()).toEqual([61498, 61501, 61502]);
  });

  it('never duplicates a rule when it is added twice', () => {
    flows.setup(MAC);
    flows.set('PROMISC', true, MAC);
    flows.set('PROMISC', true, MAC);
    flows.add('LOCAL_MAC', '02:00:00:00:00:09' as EtherAddr);
    const rules = k.remoteRules(remote.index);
    expect(rules.filter((r) => r.pref === 61499)).toHaveLength(1);
    expect(rules.filter((r) => r.pref === 61498)).toEqual([expect.objectContaining({ keys: [{ mask: 0xffff, val: 0x0200, off: -16 }, { mask: 0xffffffff, val: 0x00000009, off: -12 }] })]);
  });

  it('teardown removes every rule and the ingress qdisc it created', () => {
    flows.setup(MAC);
    flows.set('PROMISC', true, MAC);
    flows.teardown();
    expect(remote.filters).toEqual([]);
    expect(remote.ingress).toBe(false);
    expect(tap.filters).toEqual([]);
    expect(flows.installed).toEqual([]);
  });

  it('keeps a pre-existing ingress qdisc and the filters of others', () => {
    k.addRawFilter(remote.index, { pref: 100, kind: 'bpf', keys: [], mirred: null });
    flows.setup(MAC);
    expect(flows.remoteQdiscCreated).toBe(false);
    flows.teardown();
    expect(remote.ingress).toBe(true);
    expect(remote.filters.map((f) => f.pref)).toEqual([100]);
  });

  it('keeps a qdisc it created when someone else added a filter meanwhile', () => {
    flows.setup(MAC);
    k.addRawFilter(remote.index, { pref: 7, kind: 'bpf', keys: [], mirred: null });
    flows.teardown();
    expect(remote.ingress).toBe(true);
    expect(remote.filters.map((f) => f.pref)).toEqual([7]);
  });

  it('teardown tolerates a remote that has disappeared', () => {
    flows.setup(MAC);
    k.removeLink(remote.index);
    expect(() => {
      flows.teardown();
    }).not.toThrow();
    expect(tap.filters).toEqual([]);
  });

  it('replaces rules a crashed run left behind (their tap is gone) instead of duplicating them', () => {
    const dead = k.addLink('dtap9', MAC, { kind: 'tun' });
    const old = new TapFlows(k, { tapIndex: dead.index, tapName: 'dtap9', remoteIndex: remote.index, remoteName: 'eth1' });
    old.setup(MAC);
    old.set('PROMISC', true, MAC);
    k.removeLink(dead.index); // the process died, its tap went with its fds
    flows.setup(MAC);
    const rules = k.remoteRules(remote.index);
    expect(rules.map((r) => r.pref)).toEqual([61498, 61501, 61502]);
    expect(new Set(rules.map((r) => r.target))).toEqual(new Set([tap.index]));
  });

  it('replaces rules pointing at a persistent tap that nobody holds', () => {
    const orphan = k.addLink('dtap9', MAC, { kind: 'tun' });
    orphan.tun = { persist: true, flags: 0x1102, attached: new Set(), detached: new Set() };
    new TapFlows(k, { tapIndex: orphan.index, tapName: 'dtap9', remoteIndex: remote.index, remoteName: 'eth1' }).setup(MAC);
    flows.setup(MAC);
    expect(new Set(k.remoteRules(remote.index).map((r) => r.target))).toEqual(new Set([tap.index]));
  });

  it('refuses a remote whose rules belong to a live tap, changing nothing', () => {
    const other = k.addLink('dtap5', MAC, { kind: 'tun' });
    other.tun = { persist: false, flags: 0x1102, attached: new Set([1]), detached: new Set([2]) };
    new TapFlows(k, { tapIndex: other.index, tapName: 'dtap5', remoteIndex: remote.index, remoteName: 'eth1' }).setup(MAC);
    const before = JSON.stringify(k.remoteRules(remote.index));
    expect(() => {
      flows.setup(MAC);
    }).toThrow(errorLike('ERR_TAP_REMOTE_IN_USE', /eth1 is already used by tap dtap5/));
    expect(JSON.stringify(k.remoteRules(remote.index))).toBe(before);
    expect(tap.filters).toEqual([]);
  });

  it('refuses to touch a foreign filter in the reserved pref block', () => {
    k.addRawFilter(remote.index, { pref: 61500, kind: 'bpf', keys: [], mirred: null });
    expect(() => {
      flows.setup(MAC);
    }).toThrow(errorLike('ERR_TAP_FOREIGN_RULE', /pref 61500 .* classifier bpf/));
    expect(remote.filters.map((f) => f.pref)).toEqual([61500]);
  });

  it('treats a reserved-pref mirred to a non-tap device as foreign', () => {
    const veth = k.addLink('veth7', MAC);
    k.addRawFilter(remote.index, { pref: 61498, kind: 'u32', keys: [], mirred: { mode: 'redirect', ifindex: veth.index } });
    expect(() => {
      flows.setup(MAC);
    }).toThrow(errorLike('ERR_TAP_FOREIGN_RULE', /veth7, which is not a tap/));
  });

  it.each([
    ['ingress', /ingress qdisc \(CONFIG_NET_SCH_INGRESS\)/],
    ['u32', /u32 classifier \(CONFIG_NET_CLS_U32\)/],
    ['mirred', /mirred action \(CONFIG_NET_ACT_MIRRED/],
  ] as const)('names a missing %s in the kernel and leaves the remote untouched', (feature, text) => {
    k.has[feature] = false;
    let err: unknown;
    try {
      flows.setup(MAC);
    } catch (e) {
      err = e;
    }
    expect(err).toEqual(errorLike('ERR_TAP_KERNEL_FEATURE', text));
    expect((err as { missing: string[] }).missing).toHaveLength(1);
    expect(remote.ingress).toBe(false);
    expect(remote.filters).toEqual([]);
    expect(tap.filters).toEqual([]);
  });

  it('rolls back what it installed when a later rule fails', () => {
    // REMOTE_TX and LOCAL_MAC go in, BROADCAST fails
    let calls = 0;
    const add = k.addU32Filter.bind(k);
    k.addU32Filter = (spec) => {
      if (++calls === 3) k.failNext.set('addU32Filter', 'ENOMEM');
      add(spec);
    };
    expect(() => {
      flows.setup(MAC);
    }).toThrow(/ENOMEM/);
    expect(remote.filters).toEqual([]);
    expect(remote.ingress).toBe(false);
    expect(tap.filters).toEqual([]);
  });
});
