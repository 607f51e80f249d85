import { afterEach, describe, expect, it } from 'vitest';
import { EthDev, InvalidArgumentError, Mempool, NotSupportedError, RingPmd, StateError, ethDevList, type LinkEvent, type RemovalEvent } from '../../src/index.js';

const devs: EthDev[] = [];
function ring(name: string, loopback = true): RingPmd {
  const r = new RingPmd({ name, loopback });
  devs.push(r.dev);
  return r;
}
afterEach(() => {
  for (const d of devs.splice(0)) d.close();
});

function setup(dev: EthDev, pool: Mempool, q = 1): void {
  dev.configure(q, q);
  for (let i = 0; i < q; i++) {
    dev.rxQueueSetup(i, { mempool: pool });
    dev.txQueueSetup(i, { mempool: pool });
  }
}

describe('EthDev lifecycle', () => {
  it('walks configure -> setup -> start -> stop -> close', () => {
    const { dev } = ring('lc0');
    const pool = new Mempool({ size: 16 });
    expect(dev.state).toBe('probed');
    setup(dev, pool);
    expect(dev.state).toBe('configured');
    dev.start();
    expect(dev.started).toBe(true);
    dev.stop();
    expect(dev.state).toBe('stopped');
    dev.start();
    dev.close();
    expect(dev.state).toBe('closed');
    dev.close(); // idempotent
  });

  it('refuses out-of-order calls with a clear state error', () => {
    const { dev } = ring('lc1');
    expect(() => {
      dev.start();
    }).toThrow(/start is not allowed in state probed/);
    expect(() => {
      dev.stop();
    }).toThrow(StateError);
    dev.configure(1, 1);
    expect(() => {
      dev.start();
    }).toThrow(/Rx queue 0 is not set up/);
    const pool = new Mempool({ size: 4 });
    dev.rxQueueSetup(0, { mempool: pool });
    dev.txQueueSetup(0, { mempool: pool });
    dev.start();
    expect(() => {
      dev.configure(1, 1);
    }).toThrow(/configure is not allowed in state started/);
    expect(() => {
      dev.rxQueueSetup(0, { mempool: pool });
    }).toThrow(StateError);
    dev.close();
    expect(() => {
      dev.setMtu(1500);
    }).toThrow(/closed port/);
  });

  it('checks queue counts, queue ids and MTU bounds against device info', () => {
    const { dev } = ring('lc2');
    expect(() => {
      dev.configure(0, 1);
    }).toThrow(/Rx queue count 0 is out of range; accepted: 1\.\.8/);
    expect(() => {
      dev.configure(1, 9);
    }).toThrow(InvalidArgumentError);
    dev.configure(2, 2);
    expect(() => {
      dev.rxQueueSetup(2, { mempool: new Mempool({ size: 1 }) });
    }).toThrow(/Rx queue id 2 is out of range; accepted: 0\.\.1/);
    expect(() => {
      dev.setMtu(67);
    }).toThrow(/MTU 67 is out of range; accepted: 68\.\.9000/);
    dev.setMtu(9000);
    expect(dev.getMtu()).toBe(9000);
  });

  it('validates MAC and multicast list arguments', () => {
    const { dev } = ring('lc3');
    expect(() => {
      dev.defaultMacAddrSet('01:00:5e:00:00:01');
    }).toThrow(/non-zero unicast/);
    expect(() => {
      dev.defaultMacAddrSet('00:00:00:00:00:00');
    }).toThrow(/non-zero unicast/);
    dev.defaultMacAddrSet('02:AA:bb:cc:dd:ee');
    expect(dev.macAddrGet()).toBe('02:aa:bb:cc:dd:ee');
    expect(() => {
      dev.setMcAddrList(['02:00:00:00:00:01']);
    }).toThrow(/not a multicast address/);
    dev.setMcAddrList(['33:33:00:00:00:01', '01:00:5e:00:00:fb']);
    expect(dev.mcAddrListGet()).toEqual(['33:33:00:00:00:01', '01:00:5e:00:00:fb']);
  });

  it('tracks promiscuous and allmulticast state', () => {
    const r = ring('lc4');
    r.dev.promiscuousEnable();
    r.dev.allmulticastEnable();
    expect([r.dev.promiscuousGet(), r.dev.allmulticastGet(), r.promiscuous, r.allmulticast]).toEqual([true, true, true, true]);
    r.dev.promiscuousDisable();
    expect([r.dev.promiscuousGet(), r.promiscuous]).toEqual([false, false]);
  });

  it('lists open ports and forgets closed ones', () => {
    const { dev } = ring('lc5');
    expect(ethDevList()).toContain(dev);
    dev.owner = 'someone';
    expect(ethDevList()).not.toContain(dev);
    dev.owner = undefined;
    dev.close();
    expect(ethDevList()).not.toContain(dev);
  });
});

describe('bursts', () => {
  it('loopback ring passes mbufs through and counts per queue', () => {
    const { dev } = ring('b0');
    const pool = new Mempool({ size: 64 });
    setup(dev, pool, 2);
    dev.start();
    const tx = new Uint32Array(4);
    pool.allocBulk(tx, 4);
    tx.forEach((m, i) => {
      pool.write(m, [i, i, i]);
    });
    expect(dev.txBurst(1, tx, 4)).toBe(4);
    const rx = new Uint32Array(8);
    expect(dev.rxBurst(0, rx, 8)).toBe(0);
    expect(dev.rxBurst(1, rx, 8)).toBe(4);
    expect([...pool.data(rx[2]!)]).toEqual([2, 2, 2]);
    expect(pool.port[rx[0]!]).toBe(dev.portId);
    const s = dev.statsGet();
    expect(s.opackets).toBe(4);
    expect(s.ipackets).toBe(4);
    expect(s.qIpackets).toEqual([0, 4]);
    expect(s.obytes).toBe(12);
    expect(dev.xstatsGet().find((x) => x.name === 'rx_q1_packets')?.value).toBe(4);
    pool.freeBulk(rx, 4);
    dev.statsReset();
    expect(dev.statsGet().ipackets).toBe(0);
  });

  it('txBurst leaves the unaccepted mbufs with the caller', () => {
    const [a, b] = [new RingPmd({ name: 'b1a' }), new RingPmd({ name: 'b1b' })];
    devs.push(a.dev, b.dev);
    a.peer = b;
    const pool = new Mempool({ size: 64 });
    setup(a.dev, pool);
    b.dev.configure(1, 1);
    b.dev.rxQueueSetup(0, { mempool: pool, nbDesc: 2 });
    b.dev.txQueueSetup(0, { mempool: pool });
    a.dev.start();
    b.dev.start();
    const tx = new Uint32Array(5);
    pool.allocBulk(tx, 5);
    expect(a.dev.txBurst(0, tx, 5)).toBe(2);
    expect(pool.inUse()).toBe(5); // 2 queued at the peer, 3 still ours
    expect(a.dev.txBurst(0, tx, 3, 2)).toBe(0);
  });

  it('bursts on a stopped or removed port return 0 and never throw', () => {
    const r = ring('b2');
    const pool = new Mempool({ size: 8 });
    setup(r.dev, pool);
    const v = new Uint32Array(2);
    pool.allocBulk(v, 2);
    expect(r.dev.txBurst(0, v, 2)).toBe(0);
    r.dev.start();
    r.remove();
    expect(r.dev.txBurst(0, v, 2)).toBe(0);
    expect(r.dev.rxBurst(0, v, 2)).toBe(0);
    expect(() => r.dev.statsGet()).toThrow(/removed/);
  });

  it('rxQueueWait resolves when data arrives and false on timeout', async () => {
    const r = ring('b3');
    const pool = new Mempool({ size: 8 });
    setup(r.dev, pool);
    r.dev.start();
    expect(await r.dev.rxQueueWait(0, 10)).toBe(false);
    const waiting = r.dev.rxQueueWait(0, 5000);
    setTimeout(() => r.inject(0, [1, 2, 3]), 5);
    expect(await waiting).toBe(true);
  });

  it('rxQueueWait is refused on drivers without Rx interrupts', async () => {
    const { dev } = ring('b4');
    const plain = new EthDev('plain0', 'net_plain', {
      ...Object.fromEntries(Object.getOwnPropertyNames(RingPmd.prototype).filter((k) => k !== 'rxIntrEnable' && k !== 'rxIntrDisable').map((k) => [k, () => undefined])),
      infoGet: () => dev.infoGet(),
    } as never);
    devs.push(plain);
    await expect(plain.rxQueueWait(0)).rejects.toBeInstanceOf(NotSupportedError);
    plain.configure(1, 1);
    plain.rxQueueSetup(0, { mempool: new Mempool({ size: 4 }) });
    plain.txQueueSetup(0, { mempool: new Mempool({ size: 4 }) });
    plain.start();
    expect(() => plain.rxIntrEnable(0, () => undefined)).toThrow(NotSupportedError);
  });

  it('rxIntrEnable calls back once per arming, never inside the burst that brought the data', async () => {
    const r = ring('b5');
    const pool = new Mempool({ size: 8 });
    setup(r.dev, pool);
    expect(() => r.dev.rxIntrEnable(0, () => undefined)).toThrow(/started port/);
    r.dev.start();
    expect(() => r.dev.rxIntrEnable(1, () => undefined)).toThrow(/Rx queue id 1 is out of range; accepted: 0..0/);
    const woke: number[] = [];
    const onRx = (q: number): void => {
      woke.push(q);
    };
    expect(r.dev.rxIntrEnable(0, onRx)).toBe(true);
    r.inject(0, [1]);
    expect(woke).toEqual([]);
    await new Promise((res) => setImmediate(res));
    expect(woke).toEqual([0]);
    r.inject(0, [2]);
    await new Promise((res) => setTimeout(res, 10));
    expect(woke).toEqual([0]); // one-shot
    r.dev.rxIntrEnable(0, onRx); // data already waiting: called from the loop
    await new Promise((res) => setImmediate(res));
    expect(woke).toEqual([0, 0]);
    r.dev.rxIntrEnable(0, onRx);
    r.dev.rxIntrDisable(0);
    await new Promise((res) => setTimeout(res, 10));
    expect(woke).toHaveLength(2);
    const out = new Uint32Array(8);
    pool.freeBulk(out, r.dev.rxBurst(0, out, 8));
  });

  it('pending waits end with false when the port stops or the device is removed', async () => {
    const r = ring('b6');
    setup(r.dev, new Mempool({ size: 8 }));
    r.dev.start();
    let called = false;
    r.dev.rxIntrEnable(0, () => {
      called = true;
    });
    const waiting = r.dev.rxQueueWait(0);
    r.dev.stop();
    expect(await waiting).toBe(false);
    r.dev.start();
    r.inject(0, [1]);
    await new Promise((res) => setTimeout(res, 10));
    expect(called).toBe(false); // stop forgot the armed handler
    const out = new Uint32Array(8);
    r.dev.rxBurst(0, out, 8);
    const gone = r.dev.rxQueueWait(0);
    r.remove('pulled');
    expect(await gone).toBe(false);
    expect(r.dev.rxIntrEnable(0, () => undefined)).toBe(false);
    expect(await r.dev.rxQueueWait(0)).toBe(false);
  });
});

describe('events', () => {
  it('emits lsc only on change and rmv once', () => {
    const r = ring('e0');
    r.dev.configure(1, 1, { lsc: true });
    const lsc: LinkEvent[] = [];
    const rmv: RemovalEvent[] = [];
    r.dev.on('lsc', (e) => lsc.push(e));
    r.dev.on('rmv', (e) => rmv.push(e));
    r.setLink(false);
    r.setLink(false);
    r.setLink(true);
    expect(lsc.map((e) => e.link.up)).toEqual([false, true]);
    expect(lsc[0]!.at).toBeGreaterThan(1.6e12);
    r.remove('pulled');
    r.remove('again');
    expect(rmv).toHaveLength(1);
    expect(rmv[0]!.reason).toBe('pulled');
    expect(r.dev.removed).toBe(true);
  });
});
