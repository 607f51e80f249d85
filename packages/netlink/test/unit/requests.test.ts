import { describe, expect, it } from 'vitest';
import { parseEtherAddr } from '@netvsc/ethdev';
import { decode, encode, nested } from '../../src/codec/codec.js';
import { bpfAttrs, mirredAttrs, tunInfoAttrs, u32Attrs } from '../../src/codec/specs.js';
import { decodeLink, decodeMessage, encodeMessage, formatTcHandle, nl as C, RtNetlink, splitMessages, tcHandle, u32EtherDst, u32MatchAll, type RawMessage } from '../../src/index.js';
import { linkFamily } from '../../src/link.js';
import { tcFamily } from '../../src/tc.js';
import { FakeSocket } from '../support/fake-socket.js';
import { ackReply } from '../support/kernel.js';

function acking(): { s: FakeSocket; rt: RtNetlink; last: () => RawMessage } {
  const s = new FakeSocket();
  s.respond = (_req, seq) => [ackReply(seq, 0)];
  const rt = RtNetlink.open({ socket: s });
  const last = (): RawMessage => {
    const m = s.sent[s.sent.length - 1]!;
    return splitMessages(m, new DataView(m.buffer), m.length)[0]!;
  };
  return { s, rt, last };
}

describe('link requests', () => {
  it('set only the flags named in ifi_change', () => {
    const { rt, last } = acking();
    rt.setLink(3, { up: true, promisc: false, mtu: 9000, mac: parseEtherAddr('02:00:00:00:00:09') });
    const m = last();
    expect(m.type).toBe(C.RTM_SETLINK);
    expect(m.flags).toBe(C.NLM_F_REQUEST | C.NLM_F_ACK);
    const { header, attrs } = decodeMessage(linkFamily, m);
    expect(header).toMatchObject({ index: 3, flags: C.IFF_UP, change: C.IFF_UP | C.IFF_PROMISC });
    expect(attrs).toEqual({ mtu: 9000, address: '02:00:00:00:00:09' });
  });

  it('validates names, indexes and MTUs before sending anything', () => {
    const { s, rt } = acking();
    for (const bad of ['', 'a'.repeat(16), '../etc', 'a b', '.', '..', 'x/y']) {
      expect(() => rt.link(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }) as Error);
    }
    expect(() => {
      rt.setLink(0, { up: true });
    }).toThrow(/invalid ifindex 0/);
    expect(() => {
      rt.setLink(2, { mtu: -1 });
    }).toThrow(/invalid MTU -1/);
    expect(() => {
      rt.setLink(2, { name: 'this-name-is-too-long' });
    }).toThrow(/invalid interface name/);
    expect(s.sent).toEqual([]);
  });
});

describe('link replies', () => {
  const newlink = (linkinfo: { kind: string; data?: Uint8Array }): RawMessage => {
    const m = encodeMessage(linkFamily, { type: C.RTM_NEWLINK, flags: 0, seq: 1 }, { index: 7, type: C.ARPHRD_ETHER, flags: C.IFF_UP }, { ifname: 'dtap0', linkinfo });
    return splitMessages(m, new DataView(m.buffer), m.length)[0]!;
  };

  it('decode a tun device\'s IFLA_INFO_DATA: type, flags and how many queue fds hold it', () => {
    const data = encode(nested(tunInfoAttrs), { type: 2, pi: 0, vnetHdr: 0, persist: 1, multiQueue: 1, numQueues: 3, numDisabledQueues: 1 });
    expect(decodeLink(newlink({ kind: 'tun', data }))?.tun).toEqual({
      type: 'tap',
      pi: false,
      vnetHdr: false,
      persist: true,
      multiQueue: true,
      numQueues: 3,
      numDisabledQueues: 1,
      owner: null,
      group: null,
    });
  });

  it('leave tun null for other kinds', () => {
    expect(decodeLink(newlink({ kind: 'veth' }))?.tun).toBeNull();
  });
});

describe('tc requests', () => {
  it('encode an ingress qdisc as parent ffff:fff1 handle ffff: with CREATE|EXCL', () => {
    const { rt, last } = acking();
    rt.addIngressQdisc({ ifindex: 7 });
    const m = last();
    expect(m.type).toBe(C.RTM_NEWQDISC);
    expect(m.flags & (C.NLM_F_CREATE | C.NLM_F_EXCL)).toBe(C.NLM_F_CREATE | C.NLM_F_EXCL);
    const { header, attrs } = decodeMessage(tcFamily, m);
    expect(header).toEqual({ family: 0, ifindex: 7, handle: 0xffff0000, parent: 0xfffffff1, info: 0 });
    expect(attrs.kind).toBe('ingress');
  });

  it('encode a u32 filter: pref and ETH_P_ALL in tcm_info, terminal selector, mirred redirect stolen', () => {
    const { rt, last } = acking();
    rt.addU32Filter({ ifindex: 5, pref: 0xf03a, keys: u32EtherDst(parseEtherAddr('aa:bb:cc:dd:ee:ff')), actions: [{ kind: 'mirred', direction: 'egress', mode: 'redirect', ifindex: 9 }] });
    const { header, attrs } = decodeMessage(tcFamily, last());
    expect(header.parent).toBe(0xffff0000);
    expect(header.info >>> 0).toBe(0xf03a0300); // pref << 16 | htons(0x0003)
    expect(attrs.kind).toBe('u32');
    const o = decode(nested(u32Attrs), attrs.options!);
    expect(o.sel!.head).toMatchObject({ flags: C.TC_U32_TERMINAL, nkeys: 2 });
    expect(o.sel!.items).toEqual([
      { mask: 0x0000ffff, val: 0x0000aabb, off: -16, offmask: 0 },
      { mask: 0xffffffff, val: 0xccddeeff, off: -12, offmask: 0 },
    ]);
    expect(o.act).toHaveLength(1);
    expect(o.act![0]!.kind).toBe('mirred');
    const parms = decode(nested(mirredAttrs), o.act![0]!.options!).parms!;
    expect(parms).toMatchObject({ eaction: C.TCA_EGRESS_REDIR, action: C.TC_ACT_STOLEN, ifindex: 9 });
  });

  it('encode mirror as PIPE and ingress redirect as eaction 3, honouring an explicit verdict', () => {
    const { rt, last } = acking();
    rt.addU32Filter({
      ifindex: 5,
      pref: 2,
      protocol: C.ETH_P_IPV6,
      keys: u32MatchAll(),
      actions: [
        { kind: 'mirred', direction: 'egress', mode: 'mirror', ifindex: 9 },
        { kind: 'mirred', direction: 'ingress', mode: 'redirect', ifindex: 10, verdict: C.TC_ACT_SHOT },
      ],
    });
    const { header, attrs } = decodeMessage(tcFamily, last());
    expect(header.info & 0xffff).toBe(0xdd86);
    const acts = decode(nested(u32Attrs), attrs.options!).act!.map((a) => decode(nested(mirredAttrs), a.options!).parms);
    expect(acts).toMatchObject([
      { eaction: C.TCA_EGRESS_MIRROR, action: C.TC_ACT_PIPE, ifindex: 9 },
      { eaction: C.TCA_INGRESS_REDIR, action: C.TC_ACT_SHOT, ifindex: 10 },
    ]);
  });

  it('encode a direct-action cls_bpf filter by fd and name', () => {
    const { rt, last } = acking();
    rt.addBpfFilter({ ifindex: 5, pref: 1, fd: 33, name: 'nvsc_vf' });
    const { attrs } = decodeMessage(tcFamily, last());
    expect(attrs.kind).toBe('bpf');
    expect(decode(nested(bpfAttrs), attrs.options!)).toEqual({ fd: 33, name: 'nvsc_vf', flags: C.TCA_BPF_FLAG_ACT_DIRECT });
  });

  it('refuse unaligned, out-of-mask and out-of-range keys and prefs before sending', () => {
    const { s, rt } = acking();
    const bad = [
      { keys: [{ mask: 0xffffffff, val: 0, off: -14 }] },
      { keys: [{ mask: 0xff, val: 0x100, off: 0 }] },
      { keys: [] },
      { keys: u32MatchAll(), pref: 0 },
      { keys: u32MatchAll(), pref: 65536 },
      { keys: u32MatchAll(), protocol: 0x10000 },
    ];
    for (const b of bad) {
      expect(() => {
        rt.addU32Filter({ ifindex: 1, pref: 1, ...b });
      }).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }) as Error);
    }
    expect(s.sent).toEqual([]);
  });

  it('delete a filter by (ifindex, parent, pref, protocol)', () => {
    const { rt, last } = acking();
    rt.deleteFilter({ ifindex: 3, pref: 12, protocol: C.ETH_P_ARP, parent: tcHandle(1) });
    const m = last();
    expect(m.type).toBe(C.RTM_DELTFILTER);
    expect(decodeMessage(tcFamily, m).header).toEqual({ family: 0, ifindex: 3, handle: 0, parent: 0x10000, info: (12 << 16) | 0x0608 });
  });
});

describe('u32 builders and handles', () => {
  it('match a multicast bit with only the masked half-word', () => {
    expect(u32EtherDst(parseEtherAddr('01:00:00:00:00:00'), parseEtherAddr('01:00:00:00:00:00'))).toEqual([{ mask: 0x0100, val: 0x0100, off: -16 }]);
  });

  it('match broadcast with both words', () => {
    expect(u32EtherDst(parseEtherAddr('ff:ff:ff:ff:ff:ff'))).toEqual([
      { mask: 0xffff, val: 0xffff, off: -16 },
      { mask: 0xffffffff, val: 0xffffffff, off: -12 },
    ]);
  });

  it('format handles as tc does', () => {
    expect(formatTcHandle(0xffff0000)).toBe('ffff:');
    expect(formatTcHandle(tcHandle(1, 2))).toBe('1:2');
    expect(formatTcHandle(C.TC_H_INGRESS)).toBe('ingress');
    expect(formatTcHandle(C.TC_H_ROOT)).toBe('root');
  });
});
