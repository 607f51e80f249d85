import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEtherAddr, type ErrnoError } from '@netvsc/ethdev';
import { nl as C, RtNetlink, u32EtherDst, u32MatchAll } from '../../src/index.js';
import { closeFd, loadVerdictProgram } from '../support/bpf.js';
import { canRunIntegration } from '../support/gate.js';
import { TestNetns } from '../support/netns.js';

interface IpLink {
  ifindex: number;
  ifname: string;
  address: string;
  mtu: number;
  flags: string[];
}

describe.skipIf(!canRunIntegration('netlink integration tests'))('RtNetlink against the kernel', () => {
  let ns: TestNetns;
  let rt: RtNetlink;

  beforeAll(() => {
    ns = new TestNetns();
    ns.veth('nla0', 'nlb0');
    ns.ip('link', 'set', 'nla0', 'up');
    rt = RtNetlink.open({ netns: ns.name });
  });

  afterAll(() => {
    rt.close();
    ns.delete();
  });

  const ipLink = (name: string): IpLink => (JSON.parse(ns.ip('-j', 'link', 'show', 'dev', name)) as IpLink[])[0]!;

  describe('links', () => {
    it('lists every interface of the namespace as `ip link` shows it', () => {
      const links = rt.links();
      expect(links.map((l) => l.name).sort()).toEqual(['lo', 'nla0', 'nlb0']);
      for (const name of ['nla0', 'nlb0']) {
        const mine = links.find((l) => l.name === name)!;
        const theirs = ipLink(name);
        expect(mine).toMatchObject({ index: theirs.ifindex, mac: theirs.address, mtu: theirs.mtu, type: C.ARPHRD_ETHER, kind: 'veth' });
        expect(mine.up).toBe(theirs.flags.includes('UP'));
      }
      const lo = links.find((l) => l.name === 'lo')!;
      expect(lo.type).toBe(C.ARPHRD_LOOPBACK);
    });

    it('reports the veth peer as the lower link', () => {
      const a = rt.link('nla0')!;
      const b = rt.link('nlb0')!;
      expect(a.link).toBe(b.index);
      expect(b.link).toBe(a.index);
    });

    it('gets a link by name and by index, and null for a missing one', () => {
      const byName = rt.link('nla0')!;
      expect(rt.link(byName.index)).toEqual(byName);
      expect(rt.link('nope0')).toBeNull();
      expect(rt.link(99999)).toBeNull();
      expect(() => rt.link('../x')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }) as Error);
    });

    it('sets up/down, MTU, MAC, promiscuous and all-multicast', () => {
      rt.setLink('nlb0', { up: true, mtu: 1400, mac: parseEtherAddr('02:00:00:00:0a:0b'), promisc: true, allmulti: true });
      let ip = ipLink('nlb0');
      expect(ip.mtu).toBe(1400);
      expect(ip.address).toBe('02:00:00:00:0a:0b');
      expect(ip.flags).toEqual(expect.arrayContaining(['UP', 'PROMISC', 'ALLMULTI']));
      const l = rt.link('nlb0')!;
      expect(l.flags & C.IFF_PROMISC).toBe(C.IFF_PROMISC);
      expect(l.operUp).toBe(true);
      rt.setLink('nlb0', { promisc: false, allmulti: false, up: false });
      ip = ipLink('nlb0');
      expect(ip.flags).not.toContain('PROMISC');
      expect(ip.flags).not.toContain('ALLMULTI');
      expect(ip.flags).not.toContain('UP');
      expect(rt.link('nla0')!.operUp).toBe(false);
    });

    it('renames a down link and refuses an impossible MTU with the kernel reason', () => {
      const index = rt.ifindex('nlb0');
      rt.setLink(index, { name: 'nlb0x' });
      expect(rt.link(index)!.name).toBe('nlb0x');
      rt.setLink(index, { name: 'nlb0' });
      let err: ErrnoError | undefined;
      try {
        rt.setLink('nlb0', { mtu: 10 });
      } catch (e) {
        err = e as ErrnoError;
      }
      expect(err?.code).toBe('EINVAL');
      expect(err?.message).toMatch(/RTM_SETLINK.*kernel says: .*MTU/i);
    });

    it('deletes a link', () => {
      ns.veth('nlc0', 'nlc1');
      rt.deleteLink('nlc0');
      expect(rt.link('nlc0')).toBeNull();
      expect(rt.link('nlc1')).toBeNull();
      expect(() => {
        rt.deleteLink('nlc0');
      }).toThrow(expect.objectContaining({ code: 'ENODEV' }) as Error);
    });
  });

  describe('addresses', () => {
    it('adds, lists and deletes IPv4 and IPv6 addresses', () => {
      const index = rt.ifindex('nla0');
      rt.addAddress({ index, address: '192.0.2.7', prefixlen: 24 });
      rt.addAddress({ index, address: '2001:db8::7', prefixlen: 64, flags: C.IFA_F_NODAD });
      const mine = rt.addresses({ index });
      expect(mine).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ family: C.AF_INET, address: '192.0.2.7', prefixlen: 24, scope: C.RT_SCOPE_UNIVERSE, label: 'nla0' }),
          expect.objectContaining({ family: C.AF_INET6, address: '2001:db8::7', prefixlen: 64, scope: C.RT_SCOPE_UNIVERSE }),
        ]),
      );
      const ipv6 = JSON.parse(ns.ip('-j', '-6', 'addr', 'show', 'dev', 'nla0')) as { addr_info: { local: string }[] }[];
      const theirs = ipv6[0]!.addr_info.map((a) => a.local).sort();
      expect(rt.addresses({ index, family: C.AF_INET6 }).map((a) => a.address).sort()).toEqual(theirs);
      rt.deleteAddress({ index, address: '192.0.2.7', prefixlen: 24 });
      rt.deleteAddress({ index, address: '2001:db8::7', prefixlen: 64 });
      expect(rt.addresses({ index }).filter((a) => a.scope === C.RT_SCOPE_UNIVERSE)).toEqual([]);
    });
  });

  describe('tc', () => {
    it('adds, lists and deletes an ingress qdisc, with EEXIST and the kernel reason on a duplicate', () => {
      const ifindex = rt.ifindex('nla0');
      rt.addIngressQdisc({ ifindex });
      expect(rt.qdiscs(ifindex)).toContainEqual({ ifindex, kind: 'ingress', handle: C.TC_H_INGRESS_HANDLE, parent: C.TC_H_INGRESS });
      expect(ns.tc('qdisc', 'show', 'dev', 'nla0', 'ingress')).toMatch(/qdisc ingress ffff: parent ffff:fff1/);
      expect(() => {
        rt.addIngressQdisc({ ifindex });
      }).toThrow(expect.objectContaining({ code: 'EEXIST', message: expect.stringContaining('kernel says:') as string }) as Error);
      rt.deleteIngressQdisc({ ifindex });
      expect(rt.qdiscs(ifindex).some((q) => q.kind === 'ingress')).toBe(false);
    });

    it('installs u32 Ethernet-header rules with mirred actions that `tc filter show` reads back', () => {
      const ifindex = rt.ifindex('nla0');
      const peer = rt.ifindex('nlb0');
      rt.addIngressQdisc({ ifindex });
      try {
        rt.addU32Filter({
          ifindex,
          pref: 10,
          keys: u32EtherDst(parseEtherAddr('aa:bb:cc:dd:ee:ff')),
          actions: [{ kind: 'mirred', direction: 'egress', mode: 'redirect', ifindex: peer }],
        });
        rt.addU32Filter({
          ifindex,
          pref: 20,
          keys: u32EtherDst(parseEtherAddr('01:00:00:00:00:00'), parseEtherAddr('01:00:00:00:00:00')),
          actions: [{ kind: 'mirred', direction: 'egress', mode: 'mirror', ifindex: peer }],
        });
        rt.addU32Filter({
          ifindex,
          pref: 30,
          protocol: C.ETH_P_ARP,
          keys: u32MatchAll(),
          actions: [{ kind: 'mirred', direction: 'ingress', mode: 'redirect', ifindex: peer }],
        });
        const text = ns.tc('filter', 'show', 'dev', 'nla0', 'ingress');
        expect(text).toMatch(/protocol all pref 10 u32 .*terminal[^]*match 0000aabb\/0000ffff at -16\s+match ccddeeff\/ffffffff at -12\s+action order 1: mirred \(Egress Redirect to device nlb0\) stolen/);
        expect(text).toMatch(/protocol all pref 20 u32 .*terminal[^]*match 00000100\/00000100 at -16\s+action order 1: mirred \(Egress Mirror to device nlb0\) pipe/);
        expect(text).toMatch(/protocol arp pref 30 u32 .*terminal[^]*match 00000000\/00000000 at 0\s+action order 1: mirred \(Ingress Redirect to device nlb0\) stolen/);

        const dump = rt.filters({ ifindex });
        expect(dump.map((f) => [f.pref, f.protocol, f.kind])).toEqual([
          [10, C.ETH_P_ALL, 'u32'],
          [20, C.ETH_P_ALL, 'u32'],
          [30, C.ETH_P_ARP, 'u32'],
        ]);
        expect(dump[0]!.u32).toEqual({ terminal: true, keys: [{ mask: 0xffff, val: 0xaabb, off: -16 }, { mask: 0xffffffff, val: 0xccddeeff, off: -12 }] });
        expect(dump[0]!.actions).toEqual([{ kind: 'mirred', index: expect.any(Number) as number, mirred: { direction: 'egress', mode: 'redirect', ifindex: peer, verdict: C.TC_ACT_STOLEN } }]);
        expect(dump[1]!.actions[0]!.mirred).toEqual({ direction: 'egress', mode: 'mirror', ifindex: peer, verdict: C.TC_ACT_PIPE });
        expect(dump[2]!.actions[0]!.mirred).toMatchObject({ direction: 'ingress', mode: 'redirect' });

        rt.deleteFilter({ ifindex, pref: 20 });
        expect(rt.filters({ ifindex }).map((f) => f.pref)).toEqual([10, 30]);
        expect(() => {
          rt.deleteFilter({ ifindex, pref: 20 });
        }).toThrow(expect.objectContaining({ code: 'ENOENT' }) as Error);
        rt.deleteFilter({ ifindex, pref: 30, protocol: C.ETH_P_ARP });
        expect(ns.tc('filter', 'show', 'dev', 'nla0', 'ingress')).not.toMatch(/pref (20|30)/);
      } finally {
        rt.deleteIngressQdisc({ ifindex });
      }
    });

    it('attaches a direct-action cls_bpf program by fd and finds it by name in a dump', () => {
      const ifindex = rt.ifindex('nla0');
      rt.addIngressQdisc({ ifindex });
      const fd = loadVerdictProgram(C.TC_ACT_SHOT);
      try {
        rt.addBpfFilter({ ifindex, pref: 5, fd, name: 'nvsc_test' });
        expect(ns.tc('filter', 'show', 'dev', 'nla0', 'ingress')).toMatch(/protocol all pref 5 bpf chain 0 handle 0x1 nvsc_test direct-action .*id \d+ .*tag [0-9a-f]{16}/);
        const [f] = rt.filters({ ifindex });
        expect(f).toMatchObject({ kind: 'bpf', pref: 5, protocol: C.ETH_P_ALL, handle: 1, bpf: { name: 'nvsc_test', directAction: true } });
        expect(f!.bpf!.tag).toMatch(/^[0-9a-f]{16}$/);
        rt.deleteFilter({ ifindex, pref: 5 });
        expect(rt.filters({ ifindex })).toEqual([]);
      } finally {
        closeFd(fd);
        rt.deleteIngressQdisc({ ifindex });
      }
    });

    it('refuses a u32 filter without an ingress qdisc, naming the device and the kernel reason', () => {
      const ifindex = rt.ifindex('nla0');
      let err: ErrnoError | undefined;
      try {
        rt.addU32Filter({ ifindex, pref: 1, keys: u32MatchAll() });
      } catch (e) {
        err = e as ErrnoError;
      }
      expect(err?.code).toBe('EINVAL');
      expect(err?.message).toContain(`RTM_NEWTFILTER: EINVAL (errno 22): dev ${ifindex} parent ffff: pref 1 protocol 0x0003 u32; kernel says:`);
    });
  });
});

describe.skipIf(!canRunIntegration('netlink namespace tests'))('RtNetlink namespaces', () => {
  it('acts in the namespace it was opened in, and the caller stays in its own', () => {
    const ns = new TestNetns();
    try {
      const before = execFileSync('readlink', ['/proc/thread-self/ns/net'], { encoding: 'utf8' });
      const rt = RtNetlink.open({ netns: ns.name });
      try {
        expect(rt.links().map((l) => l.name)).toEqual(['lo']);
      } finally {
        rt.close();
      }
      expect(execFileSync('readlink', ['/proc/thread-self/ns/net'], { encoding: 'utf8' })).toBe(before);
    } finally {
      ns.delete();
    }
  });

  it('reports a missing namespace as ENOENT from open', () => {
    expect(() => RtNetlink.open({ netns: 'nvsim-does-not-exist' })).toThrow(expect.objectContaining({ code: 'ENOENT' }) as Error);
  });
});
