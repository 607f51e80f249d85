import { Mempool, parseDevArgs, type EthDev, type RemovalEvent } from '@netvsc/ethdev';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePmdArgs } from '../../src/args.js';
import type { LinkWatchHandlers } from '../../src/intr.js';
import { AfPacketPort } from '../../src/ops.js';
import { BlockDesc, TpStatus } from '../../src/ring.js';
import { frame, writeBlock } from './support/fake-ring.js';
import { FakeRtnl, FakeSockets, link, VF_MAC } from './support/fake-sockets.js';

const ports: EthDev[] = [];
afterEach(() => {
  for (const p of ports.splice(0)) p.close();
});

interface Harness {
  port: AfPacketPort;
  dev: EthDev;
  sockets: FakeSockets;
  rtnl: FakeRtnl;
  pool: Mempool;
  watch: LinkWatchHandlers | undefined;
  removals: RemovalEvent[];
}

function open(devargs: string, nb = 1, start = true): Harness {
  const sockets = new FakeSockets();
  const rtnl = new FakeRtnl();
  let watch: LinkWatchHandlers | undefined;
  const cfg = parsePmdArgs(parseDevArgs(devargs), { removalCheckMs: 0 });
  const port = new AfPacketPort(cfg, { name: 'vf0', ifindex: 9, mac: VF_MAC }, 'net_af_packet', {
    sockets,
    rtnl,
    ownRxNative: { load: () => 55, close: () => undefined },
    linkWatch: (_i, h) => {
      watch = h;
      return { close: () => undefined };
    },
  });
  const dev = port.dev;
  ports.push(dev);
  const pool = new Mempool({ size: 256 });
  const removals: RemovalEvent[] = [];
  dev.on('rmv', (e) => removals.push(e));
  dev.configure(nb, nb);
  for (let q = 0; q < nb; q++) {
    dev.rxQueueSetup(q, { mempool: pool });
    dev.txQueueSetup(q, { mempool: pool });
  }
  if (start) dev.start();
  return { port, dev, sockets, rtnl, pool, watch, removals };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function ringOf(h: Harness, fd: number): { u8: Uint8Array; view: DataView } {
  const m = h.sockets.maps.get(fd)!;
  return { u8: new Uint8Array(m.buffer), view: new DataView(m.buffer) };
}

function sendOne(h: Harness, q = 0, len = 60): number {
  const ids = new Uint32Array(1);
  ids[0] = h.pool.alloc();
  h.pool.write(ids[0], frame(len, 1));
  const n = h.dev.txBurst(q, ids, 1);
  if (n === 0) h.pool.free(ids[0]);
  return n;
}

describe('AfPacketPort lifecycle', () => {
  it('opens one socket per queue pair at start, as af_packet does: TPACKET_V3 Rx ring, fanout, qdisc bypass', () => {
    const h = open('net_af_packet0,iface=vf0,qpairs=2', 2);
    const fds = [...h.sockets.open_].sort();
    expect(fds.length).toBe(3); // control socket + 2 queue sockets
    const q0 = fds[1]!;
    const q1 = fds[2]!;
    const log = h.sockets.log;
    for (const fd of [q0, q1]) {
      expect(log).toContain(`${fd} PACKET_VERSION=2`);
      expect(log).toContain(`${fd} PACKET_QDISC_BYPASS=1`);
      expect(log).toContain(`${fd} PACKET_IGNORE_OUTGOING=1`);
      expect(log).toContain(`${fd} RX_RING 65536x256 2048x8192 tov=1`);
      expect(log).toContain(`${fd} bind 9 proto 3`);
      expect(h.sockets.maps.get(fd)!.length).toBe(65536 * 256);
    }
    // The first socket creates the group (hash | DEFRAG | ROLLOVER | UNIQUEID | IGNORE_OUTGOING), the second joins it by id.
    expect(log).toContain(`${q0} fanout 0x${(((0x8000 | 0x1000 | 0x2000 | 0x4000) << 16) >>> 0).toString(16)}`);
    expect(log).toContain(`${q1} fanout 0x${((0x1234 | ((0x8000 | 0x1000 | 0x4000) << 16)) >>> 0).toString(16)}`);
  });

  it('honours qdisc_bypass=0 and opens no fanout group for one queue', () => {
    const h = open('net_af_packet0,iface=vf0,qdisc_bypass=0');
    expect(h.sockets.log.some((l) => l.includes('QDISC_BYPASS'))).toBe(false);
    expect(h.sockets.log.some((l) => l.includes('fanout'))).toBe(false);
  });

  it('stop closes the queue sockets and unmaps; close releases the rest', () => {
    const h = open('net_af_packet0,iface=vf0');
    expect(h.sockets.open_.size).toBe(2);
    h.dev.stop();
    expect(h.sockets.open_.size).toBe(1);
    expect(h.sockets.mapped.size).toBe(0);
    h.dev.close();
    expect(h.sockets.open_.size).toBe(0);
    expect(h.rtnl.closed).toBe(1);
  });

  it('receives from the Rx ring and sends with sendmmsg on the queue socket', () => {
    const h = open('net_af_packet0,iface=vf0');
    const fd = [...h.sockets.open_].sort()[1]!;
    const ring = ringOf(h, fd);
    const g = h.port.config.geometry;
    writeBlock({ geometry: g, mem: { u8: ring.u8, i32: new Int32Array(ring.u8.buffer) }, u8: ring.u8, view: ring.view }, 0, [{ data: frame(100, 3) }]);
    const out = new Uint32Array(4);
    expect(h.dev.rxBurst(0, out, 4)).toBe(1);
    expect(h.pool.data(out[0]!)).toEqual(frame(100, 3));
    expect(h.pool.port[out[0]!]).toBe(h.dev.portId);
    expect(ring.view.getUint32(BlockDesc.blockStatus, true)).toBe(TpStatus.KERNEL);
    expect(sendOne(h, 0, 80)).toBe(1);
    expect(h.sockets.sends).toEqual([[fd, 1]]);
    const st = h.dev.statsGet();
    expect(st.ipackets).toBe(1);
    expect(st.opackets).toBe(1);
  });

  it('attaches own_rx at start and removes it at stop', () => {
    const h = open('net_af_packet0,iface=vf0,own_rx=1');
    expect(h.port.ownRx?.pref).toBe(1);
    expect(h.rtnl.filters_.map((f) => f.pref)).toEqual([1]);
    h.dev.stop();
    expect(h.port.ownRx).toBeUndefined();
    expect(h.rtnl.filters_).toEqual([]);
  });

  it('with own_rx, binds Rx sockets muted and unmutes them only once the take-away filter is in', () => {
    const h = open('net_af_packet0,iface=vf0,own_rx=1,qpairs=2', 2, false);
    const filtersAtUnmute: number[] = [];
    const setMuted = h.sockets.setMuted.bind(h.sockets);
    h.sockets.setMuted = (fd, muted) => {
      if (!muted) filtersAtUnmute.push(h.rtnl.filters_.length);
      const boundAlready = h.sockets.log.some((l) => l.startsWith(`${fd} bind`));
      if (muted) expect(boundAlready, 'muted before bind').toBe(false);
      setMuted(fd, muted);
    };
    h.dev.start();
    expect(h.sockets.muteLog.filter((l) => l.startsWith('mute'))).toHaveLength(2);
    expect(filtersAtUnmute).toEqual([1, 1]);
    expect(h.sockets.muted.size).toBe(0);
  });

  it('without own_rx, never mutes a socket', () => {
    const h = open('net_af_packet0,iface=vf0');
    expect(h.sockets.muteLog).toEqual([]);
  });

  it('refuses an Rx mempool whose mbufs cannot hold an MTU-sized frame', () => {
    const h = open('net_af_packet0,iface=vf0', 1, false);
    expect(() => {
      h.dev.rxQueueSetup(0, { mempool: new Mempool({ size: 8, dataRoomSize: 1024 }) });
    }).toThrow(/mbufs of 896 data bytes cannot hold a frame of MTU 1500 \(1518 bytes with VLAN tag\)/);
  });
});

describe('AfPacketPort removal', () => {
  it('a Tx ENXIO makes bursts return 0 at once and emits exactly one rmv, after the burst', async () => {
    const h = open('net_af_packet0,iface=vf0');
    h.sockets.sendResult = -6;
    expect(sendOne(h)).toBe(0);
    expect(h.removals.length).toBe(0);
    expect(h.dev.rxBurst(0, new Uint32Array(4), 4)).toBe(0);
    expect(sendOne(h)).toBe(0);
    await tick();
    expect(h.removals.length).toBe(1);
    expect(h.removals[0]!.reason).toMatch(/ENXIO/);
    h.watch?.onRemoved();
    await tick();
    expect(h.removals.length).toBe(1);
    expect(() => { h.dev.setMtu(1400); }).toThrow(expect.objectContaining({ code: 'ERR_NO_DEVICE' }));
    expect(h.pool.inUse()).toBe(0);
    h.dev.close();
    expect(h.sockets.open_.size).toBe(0);
    expect(h.sockets.mapped.size).toBe(0);
    // A removed device's sockets close off the event loop (RCU waits); a live one's at once.
    expect(h.sockets.log.filter((l) => l.endsWith('close later'))).toHaveLength(2);
  });

  it('a port closed while its device is present closes its sockets synchronously', () => {
    const h = open('net_af_packet0,iface=vf0');
    h.dev.close();
    expect(h.sockets.open_.size).toBe(0);
    expect(h.sockets.log.filter((l) => l.endsWith('close later'))).toEqual([]);
  });

  it('RTM_DELLINK from the link watch removes the port', async () => {
    const h = open('net_af_packet0,iface=vf0');
    h.watch?.onRemoved();
    await tick();
    expect(h.removals.map((r) => r.reason)).toEqual(['vf0 (ifindex 9) was deleted (RTM_DELLINK)']);
    expect(sendOne(h)).toBe(0);
  });

  it('the backstop timer notices a vanished ifindex', async () => {
    const sockets = new FakeSockets();
    const cfg = parsePmdArgs(parseDevArgs('net_af_packet0,iface=vf0'), { removalCheckMs: 5 });
    const port = new AfPacketPort(cfg, { name: 'vf0', ifindex: 9, mac: VF_MAC }, 'net_af_packet', { sockets, rtnl: new FakeRtnl(), linkWatch: null });
    ports.push(port.dev);
    const got = new Promise<RemovalEvent>((r) => port.dev.once('rmv', r));
    sockets.ifindexGone = true;
    expect((await got).reason).toBe('vf0 (ifindex 9) no longer exists');
  });

  it('ENETDOWN with the ifindex still there is a link-down, not a removal', async () => {
    const h = open('net_af_packet0,iface=vf0');
    const links: boolean[] = [];
    h.dev.on('lsc', (e) => links.push(e.link.up));
    h.sockets.sendResult = -100;
    h.rtnl.current = link({ operUp: false, up: false });
    expect(sendOne(h)).toBe(0);
    h.sockets.pollErr = 0x8;
    h.sockets.sockErr = 100;
    await tick();
    await tick();
    expect(h.removals).toEqual([]);
    expect(links).toEqual([false]);
  });

  it('the link watch reports link changes as lsc', () => {
    const h = open('net_af_packet0,iface=vf0');
    const links: boolean[] = [];
    h.dev.on('lsc', (e) => links.push(e.link.up));
    h.watch?.onLink(link({ operUp: false }));
    h.watch?.onLink(link({ operUp: false }));
    h.watch?.onLink(link({ operUp: true }));
    expect(links).toEqual([false, true]);
  });
});

describe('AfPacketPort control ops', () => {
  it('promiscuous and allmulticast are socket memberships, added and dropped once', () => {
    const h = open('net_af_packet0,iface=vf0');
    const ctl = [...h.sockets.open_].sort()[0]!;
    h.dev.promiscuousEnable();
    h.dev.promiscuousEnable();
    h.dev.promiscuousDisable();
    h.dev.allmulticastEnable();
    h.dev.setMcAddrList(['01:00:5e:00:00:01', '33:33:00:00:00:01']);
    h.dev.setMcAddrList(['33:33:00:00:00:01']);
    expect(h.sockets.memberships).toEqual([
      `${ctl} add 9 type 1`,
      `${ctl} drop 9 type 1`,
      `${ctl} add 9 type 2`,
      `${ctl} add 9 type 0 1:0:5e:0:0:1`,
      `${ctl} add 9 type 0 33:33:0:0:0:1`,
      `${ctl} drop 9 type 0 1:0:5e:0:0:1`,
    ]);
  });

  it('MTU and MAC go through rtnetlink; the MTU is bounded by the ring geometry', () => {
    const h = open('net_af_packet0,iface=vf0,blocksz=4096');
    h.dev.setMtu(1400);
    expect(h.dev.getMtu()).toBe(1400);
    h.dev.defaultMacAddrSet('02:00:00:00:00:01');
    expect(h.rtnl.changes).toEqual([{ mtu: 1400 }, { mac: '02:00:00:00:00:01' }]);
    expect(h.dev.macAddrGet()).toBe('02:00:00:00:00:01');
    expect(h.dev.infoGet().maxMtu).toBe(4096 - 48 - 112 - 18);
    expect(() => {
      h.dev.setMtu(3919);
    }).toThrow(/MTU 3919 is out of range; accepted: 68..3918/);
  });

  it('link status comes from the kernel (operstate, ethtool speed)', () => {
    const h = open('net_af_packet0,iface=vf0');
    expect(h.dev.linkGet()).toEqual({ up: true, speed: 10000, duplex: 'full', autoneg: true });
  });

  it('kernel drop counters (PACKET_STATISTICS, reset on read) accumulate into imissed', () => {
    const h = open('net_af_packet0,iface=vf0');
    const fd = [...h.sockets.open_].sort()[1]!;
    h.sockets.drops.set(fd, 5);
    expect(h.dev.statsGet().imissed).toBe(5);
    h.sockets.drops.set(fd, 2);
    expect(h.dev.statsGet().imissed).toBe(7);
    expect(h.dev.xstatsGet().find((x) => x.name === 'rx_kernel_drops')?.value).toBe(7);
    h.dev.statsReset();
    expect(h.dev.statsGet().imissed).toBe(0);
  });
});
