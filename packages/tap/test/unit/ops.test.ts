import { Mempool, ethDevList, type EthDev, type LinkEvent, type RemovalEvent } from '@netvsc/ethdev';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TapPmd, type TapOptions } from '../../src/index.js';
import { errorLike } from '../support/expect.js';
import { FakeKernel, IFF, type FakeLink } from '../support/fake-kernel.js';

const REMOTE_MAC = '00:15:5d:01:02:03';

describe('TapPmd', () => {
  let k: FakeKernel;
  let remote: FakeLink;
  const opened: TapPmd[] = [];

  const create = (o: Omit<TapOptions, 'native' | 'control'> = { name: 'net_tap0' }): TapPmd => {
    const p = TapPmd.create({ ...o, native: k, control: k });
    opened.push(p);
    return p;
  };

  const setup = (dev: EthDev, queues = 1, pool = new Mempool({ size: 256 })): Mempool => {
    dev.configure(queues, queues);
    for (let q = 0; q < queues; q++) {
      dev.rxQueueSetup(q, { mempool: pool });
      dev.txQueueSetup(q, { mempool: pool });
    }
    return pool;
  };

  beforeEach(() => {
    k = new FakeKernel();
    remote = k.addLink('eth1', REMOTE_MAC, { mtu: 1400 });
  });

  afterEach(() => {
    for (const p of opened.splice(0)) p.dev.close();
  });

  describe('creation', () => {
    it('creates a multi-queue tap with a random locally administered MAC and MTU 1500', () => {
      const p = create();
      const tap = k.byName('dtap0')!;
      expect(p.ifName).toBe('dtap0');
      expect(p.dev.infoGet()).toMatchObject({ driverName: 'net_tap', ifName: 'dtap0', ifIndex: tap.index, maxRxQueues: 64 });
      expect(tap.mac).toBe(p.dev.macAddrGet());
      expect(parseInt(tap.mac.slice(0, 2), 16) & 3).toBe(2);
      expect(tap.mtu).toBe(1500);
      // the keep-alive fd holds the device but is not a queue
      expect(tap.tun).toMatchObject({ attached: new Set(), persist: false });
      expect(tap.tun!.detached.size).toBe(1);
      expect(k.ipv6Disabled).toEqual([]);
    });

    it('uses the requested name, a fixed MAC and the explicit MAC', () => {
      expect(create({ name: 'net_tap1', iface: 'mytap', mac: { kind: 'explicit', addr: '02:11:22:33:44:55' as never } }).dev.macAddrGet()).toBe('02:11:22:33:44:55');
      expect(k.byName('mytap')!.mac).toBe('02:11:22:33:44:55');
      expect(create({ name: 'net_tap2', mac: { kind: 'fixed' } }).dev.macAddrGet()).toMatch(/^02:64:74:61:70:/);
    });

    it('refuses a name taken by another kind of interface, creating nothing', () => {
      const before = k.links.size;
      expect(() => create({ name: 'net_tap0', iface: 'eth1' })).toThrow(errorLike('ERR_TAP_IFACE_IN_USE', /iface=eth1 is taken by an existing veth interface/));
      expect(k.links.size).toBe(before);
      expect(k.fds.size).toBe(0);
      expect(k.netnsFds.size).toBe(0);
    });

    it('refuses a tap that another port or process holds', () => {
      create({ name: 'net_tap0', iface: 'busy0' });
      expect(() => create({ name: 'net_tap1', iface: 'busy0' })).toThrow(errorLike('ERR_TAP_IFACE_IN_USE', /in use \(1 open queue fds\)/));
    });

    it('adopts a persistent tap nobody holds, and without persist lets it go at close', () => {
      const first = create({ name: 'net_tap0', iface: 'keep0', persist: true });
      first.dev.close();
      expect(k.byName('keep0')).toBeDefined();
      const second = create({ name: 'net_tap1', iface: 'keep0' });
      expect(second.ifIndex).toBe(k.byName('keep0')!.index);
      second.dev.close();
      expect(k.byName('keep0')).toBeUndefined();
    });

    it('reports a missing remote as ERR_NO_DEVICE and creates no tap', () => {
      const before = k.links.size;
      expect(() => create({ name: 'net_tap0', remote: 'eth9' })).toThrow(expect.objectContaining({ code: 'ERR_NO_DEVICE', message: 'net_tap0: remote=eth9: no such network interface' }));
      expect(k.links.size).toBe(before);
    });

    it('reports a missing /dev/net/tun', () => {
      k.has.tun = false;
      expect(() => create()).toThrow(errorLike('ERR_TAP_TUN_UNAVAILABLE', /\/dev\/net\/tun is missing/));
    });

    it('reports missing privilege', () => {
      k.unprivileged = true;
      expect(() => create()).toThrow(errorLike('ERR_TAP_PERMISSION', /needs CAP_NET_ADMIN/));
      expect(k.links.size).toBe(1);
    });

    it('deletes the tap again when a later creation step fails', () => {
      k.failNext.set('setLink', 'EPERM');
      expect(() => create()).toThrow(expect.objectContaining({ code: 'ERR_TAP_PERMISSION' }));
      expect(k.byName('dtap0')).toBeUndefined();
      expect(k.fds.size).toBe(0);
      expect(k.netnsFds.size).toBe(0);
    });

    it('without multi-queue support offers one queue, served by the keep-alive fd', () => {
      k.has.multiQueue = false;
      const p = create();
      expect(p.dev.infoGet().maxRxQueues).toBe(1);
      setup(p.dev, 1);
      expect(k.fds.size).toBe(1);
    });
  });

  describe('remote mode', () => {
    it('copies MAC and MTU from the remote, silences the tap IPv6 stack and installs the base rules', () => {
      const p = create({ name: 'net_tap0', remote: 'eth1' });
      const tap = k.byName(p.ifName)!;
      expect(p.dev.macAddrGet()).toBe(REMOTE_MAC);
      expect(tap.mac).toBe(REMOTE_MAC);
      expect(p.dev.getMtu()).toBe(1400);
      expect(tap.mtu).toBe(1400);
      expect(k.ipv6Disabled).toEqual([p.ifName]);
      expect(p.rules).toEqual(['REMOTE_TX', 'LOCAL_MAC', 'BROADCAST', 'BROADCASTV6']);
      expect(p.remoteName).toBe('eth1');
    });

    it('undoes everything, rules and port included, when the link watch cannot start', () => {
      k.failNext.set('watchLinks', 'EMFILE');
      const before = ethDevList().length;
      expect(() => create({ name: 'net_tap0', remote: 'eth1' })).toThrow(/EMFILE/);
      expect(k.byName('dtap0')).toBeUndefined();
      expect(remote.ingress).toBe(false);
      expect(ethDevList()).toHaveLength(before);
      // and the remote is free again
      create({ name: 'net_tap1', remote: 'eth1' });
    });

    it('a missing kernel feature fails creation with its name and leaves nothing behind', () => {
      k.has.u32 = false;
      expect(() => create({ name: 'net_tap0', remote: 'eth1' })).toThrow(expect.objectContaining({ code: 'ERR_TAP_KERNEL_FEATURE', missing: ['u32 classifier (CONFIG_NET_CLS_U32)'] }));
      expect(k.byName('dtap0')).toBeUndefined();
      expect(remote.ingress).toBe(false);
      expect(remote.filters).toEqual([]);
    });

    it('refuses a second port on the same remote in this process', () => {
      create({ name: 'net_tap0', remote: 'eth1' });
      expect(() => create({ name: 'net_tap1', remote: 'eth1' })).toThrow(errorLike('ERR_TAP_REMOTE_IN_USE', /already used by port net_tap0/));
      expect(k.byName('dtap1')).toBeUndefined();
    });

    it('promiscuous mode sets both flags and adds the mirror rule; disabling removes both', () => {
      const p = create({ name: 'net_tap0', remote: 'eth1' });
      const tap = k.byName(p.ifName)!;
      p.dev.promiscuousEnable();
      expect(remote.flags & 0x100).toBe(0x100);
      expect(tap.flags & 0x100).toBe(0x100);
      expect(p.rules).toContain('PROMISC');
      p.dev.promiscuousDisable();
      expect(remote.flags & 0x100).toBe(0);
      expect(p.rules).not.toContain('PROMISC');
      expect(remote.filters.some((f) => f.pref === 61499)).toBe(false);
    });

    it('all-multicast mode toggles IFF_ALLMULTI and the multicast mirror', () => {
      const p = create({ name: 'net_tap0', remote: 'eth1' });
      p.dev.allmulticastEnable();
      expect(remote.flags & 0x200).toBe(0x200);
      expect(remote.filters.some((f) => f.pref === 61500)).toBe(true);
      p.dev.allmulticastDisable();
      expect(remote.flags & 0x200).toBe(0);
      expect(remote.filters.some((f) => f.pref === 61500)).toBe(false);
    });

    it('leaves a remote flag that was set before us in place', () => {
      remote.flags |= 0x100;
      const p = create({ name: 'net_tap0', remote: 'eth1' });
      p.dev.promiscuousEnable();
      p.dev.promiscuousDisable();
      expect(remote.flags & 0x100).toBe(0x100);
      p.dev.promiscuousEnable();
      p.dev.close();
      expect(remote.flags & 0x100).toBe(0x100);
    });

    it('rolls the flags back when the rule cannot be installed', () => {
      const p = create({ name: 'net_tap0', remote: 'eth1' });
      k.failNext.set('addU32Filter', 'ENOMEM');
      expect(() => {
        p.dev.promiscuousEnable();
      }).toThrow(/ENOMEM/);
      expect(remote.flags & 0x100).toBe(0);
      expect(k.byName(p.ifName)!.flags & 0x100).toBe(0);
      expect(p.dev.promiscuousGet()).toBe(false);
    });

    it('a failed re-enable keeps the mode that was on', () => {
      const p = create({ name: 'net_tap0', remote: 'eth1' });
      p.dev.promiscuousEnable();
      k.failNext.set('addU32Filter', 'ENOMEM');
      expect(() => {
        p.dev.promiscuousEnable();
      }).toThrow(/ENOMEM/);
      expect(remote.flags & 0x100).toBe(0x100);
      expect(k.byName(p.ifName)!.flags & 0x100).toBe(0x100);
    });

    it('after the remote is gone, mode and MAC changes still apply to the tap', () => {
      const p = create({ name: 'net_tap0', remote: 'eth1' });
      k.removeLink(remote.index);
      p.dev.promiscuousEnable();
      p.dev.defaultMacAddrSet('02:00:00:00:00:43');
      expect(k.byName(p.ifName)!.flags & 0x100).toBe(0x100);
      expect(k.byName(p.ifName)!.mac).toBe('02:00:00:00:00:43');
    });

    it('close removes every rule and the qdisc it added, and restores what it changed on the remote', () => {
      remote.flags &= ~IFF.UP;
      const p = create({ name: 'net_tap0', remote: 'eth1' });
      setup(p.dev);
      p.dev.start();
      expect(remote.flags & IFF.UP).toBe(IFF.UP);
      p.dev.promiscuousEnable();
      p.dev.allmulticastEnable();
      p.dev.setMtu(1300);
      expect(remote.mtu).toBe(1300);
      p.dev.close();
      expect(remote.filters).toEqual([]);
      expect(remote.ingress).toBe(false);
      expect(remote.flags & (IFF.UP | 0x300)).toBe(0);
      expect(remote.mtu).toBe(1400);
      expect(k.byName('dtap0')).toBeUndefined();
      expect(k.fds.size).toBe(0);
      expect(k.netnsFds.size).toBe(0);
    });

    it('persist keeps the tap, its rules and the remote as they are', () => {
      const p = create({ name: 'net_tap0', remote: 'eth1', persist: true });
      p.dev.promiscuousEnable();
      p.dev.close();
      expect(k.byName('dtap0')?.tun?.persist).toBe(true);
      expect(remote.filters.map((f) => f.pref)).toEqual([61498, 61499, 61501, 61502]);
      expect(remote.flags & 0x100).toBe(0x100);
      // a later port on the same remote takes the rules over instead of doubling them
      const again = create({ name: 'net_tap1', iface: 'dtap0', remote: 'eth1' });
      expect(remote.filters.map((f) => f.pref)).toEqual([61498, 61501, 61502]);
      again.dev.close();
      expect(k.byName('dtap0')).toBeUndefined();
      expect(remote.filters).toEqual([]);
    });

    it('a new MAC moves the local-MAC redirect and is set on the remote too', () => {
      const p = create({ name: 'net_tap0', remote: 'eth1' });
      p.dev.defaultMacAddrSet('02:00:00:00:00:42');
      expect(remote.mac).toBe('02:00:00:00:00:42');
      const local = remote.filters.filter((f) => f.pref === 61498);
      expect(local).toHaveLength(1);
      expect(local[0]!.keys).toEqual([{ mask: 0xffff, val: 0x0200, off: -16 }, { mask: 0xffffffff, val: 0x00000042, off: -12 }]);
      p.dev.close();
      expect(remote.mac).toBe(REMOTE_MAC);
    });
  });

  describe('queues and data path', () => {
    it('opens one fd per queue pair and closes the extra ones on reconfigure', () => {
      const p = create();
      const tap = k.byName(p.ifName)!;
      setup(p.dev, 4);
      expect(tap.tun!.attached.size).toBe(4);
      p.dev.configure(2, 2);
      expect(tap.tun!.attached.size).toBe(2);
    });

    it('sends through one io_uring per queue, closed with the queue and with the port', () => {
      const p = create();
      const tap = k.byName(p.ifName)!;
      const pool = setup(p.dev, 2);
      expect(k.ringsOpen).toBe(2);
      expect(p.txMode).toEqual({ mode: 'io_uring' });
      p.dev.start();
      const m = pool.alloc();
      pool.write(m, [...new Array<number>(12).fill(2), 0x88, 0xb5, ...new Array<number>(46).fill(0)]);
      expect(p.dev.txBurst(1, Uint32Array.of(m), 1)).toBe(1);
      expect(k.submissions).toBe(1);
      expect(k.written).toEqual([expect.objectContaining({ queueFd: k.queueFds(tap)[1] })]);
      p.dev.stop();
      p.dev.configure(1, 1);
      expect(k.ringsOpen).toBe(1);
      p.dev.close();
      expect(k.ringsOpen).toBe(0);
    });

    it('sends with one writev per frame with tx_uring=0, or when the kernel refuses io_uring (and says why)', () => {
      const off = create({ name: 'net_tap1', iface: 'tapoff', txUring: false });
      setup(off.dev, 1);
      expect(off.txMode).toEqual({ mode: 'writev' });
      k.has.ioUring = false;
      const refused = create({ name: 'net_tap2', iface: 'tapno' });
      setup(refused.dev, 1);
      expect(refused.txMode).toEqual({ mode: 'writev', refused: 'EPERM' });
      expect(k.ringsOpen).toBe(0);
    });

    it('refuses different Rx and Tx queue counts', () => {
      const p = create();
      expect(() => {
        p.dev.configure(2, 1);
      }).toThrow(/Rx and Tx queue counts must be equal/);
    });

    it('moves frames both ways on every queue once started', () => {
      const p = create();
      const tap = k.byName(p.ifName)!;
      const pool = setup(p.dev, 2);
      p.dev.start();
      expect(tap.flags & IFF.UP).toBe(IFF.UP);
      const [fd0, fd1] = k.queueFds(tap);
      const mac = p.dev.macAddrGet().split(':').map((x) => parseInt(x, 16));
      k.deliver(fd1!, [...mac, 2, 0, 0, 0, 0, 9, 8, 0, ...new Array<number>(46).fill(0)]);
      const out = new Uint32Array(8);
      expect(p.dev.rxBurst(0, out, 8)).toBe(0);
      expect(p.dev.rxBurst(1, out, 8)).toBe(1);
      expect(pool.port[out[0]!]).toBe(p.dev.portId);
      expect(p.dev.txBurst(0, out, 1)).toBe(1);
      expect(k.written).toEqual([expect.objectContaining({ queueFd: fd0 })]);
      expect(p.dev.statsGet()).toMatchObject({ qIpackets: [0, 1], qOpackets: [1, 0] });
      p.dev.stop();
      expect(tap.flags & IFF.UP).toBe(0);
    });

    it('applies the MTU to the Tx size limit', () => {
      const p = create();
      const pool = setup(p.dev);
      p.dev.start();
      p.dev.setMtu(100);
      const m = pool.alloc();
      pool.write(m, new Uint8Array(123));
      expect(p.dev.txBurst(0, Uint32Array.of(m), 1)).toBe(1);
      expect(k.written).toHaveLength(0);
      expect(p.dev.xstatsGet().find((x) => x.name === 'tx_oversize_drops')?.value).toBe(1);
    });
  });

  describe('link and removal events', () => {
    it('reports the remote going down and up as link changes', () => {
      const p = create({ name: 'net_tap0', remote: 'eth1' });
      const events: boolean[] = [];
      p.dev.on('lsc', (e: LinkEvent) => events.push(e.link.up));
      setup(p.dev);
      p.dev.configure(1, 1, { lsc: true });
      p.dev.rxQueueSetup(0, { mempool: new Mempool({ size: 8 }) });
      p.dev.txQueueSetup(0, { mempool: new Mempool({ size: 8 }) });
      p.dev.start();
      expect(p.dev.linkGet()).toMatchObject({ up: true, speed: 10000, duplex: 'full' });
      k.changeLink(remote.index, { flags: remote.flags & ~IFF.RUNNING });
      k.changeLink(remote.index, { flags: remote.flags | IFF.RUNNING });
      expect(events).toEqual([true, false, true]);
    });

    it('turns the remote disappearing into a removal event, and close still cleans up', () => {
      const p = create({ name: 'net_tap0', remote: 'eth1' });
      const removed: RemovalEvent[] = [];
      p.dev.on('rmv', (e: RemovalEvent) => removed.push(e));
      k.removeLink(remote.index);
      expect(removed).toHaveLength(1);
      expect(removed[0]).toMatchObject({ port: 'net_tap0' });
      expect(removed[0]!.reason).toMatch(/remote eth1 .* was removed/);
      expect(p.dev.removed).toBe(true);
      p.dev.close();
      expect(k.byName('dtap0')).toBeUndefined();
      expect(k.watcherCount).toBe(0);
    });

    it('notices a vanished remote on linkGet too', () => {
      const p = create({ name: 'net_tap0', remote: 'eth1' });
      k.links.delete(remote.index); // gone without a notification
      expect(p.dev.linkGet().up).toBe(false);
      expect(p.dev.removed).toBe(true);
    });

    it('reports the tap itself being deleted as a removal', () => {
      const p = create();
      k.removeLink(p.ifIndex);
      expect(p.dev.removed).toBe(true);
    });
  });

  describe('net_tun', () => {
    it('creates an L3 device without MAC or filter and refuses remote=', () => {
      const p = create({ name: 'net_tun0', l3: true });
      expect(p.ifName).toBe('dtun0');
      expect(p.dev.infoGet().driverName).toBe('net_tun');
      expect(p.dev.macAddrGet()).toBe('00:00:00:00:00:00');
      expect(() => {
        p.dev.defaultMacAddrSet('02:00:00:00:00:01');
      }).toThrow(expect.objectContaining({ code: 'ERR_NOT_SUPPORTED' }));
      expect(() => create({ name: 'net_tun1', l3: true, remote: 'eth1' })).toThrow(/remote= needs an Ethernet tap/);
    });
  });
});
