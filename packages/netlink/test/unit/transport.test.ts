import { describe, expect, it } from 'vitest';
import { parseEtherAddr, type ErrnoError } from '@netvsc/ethdev';
import { encodeMessage, nl as C, RtNetlink, splitMessages } from '../../src/index.js';
import { linkFamily } from '../../src/link.js';
import { FakeSocket, datagram } from '../support/fake-socket.js';
import { ackReply, doneReply } from '../support/kernel.js';

function linkMsg(seq: number, index: number, name: string, flags = C.NLM_F_MULTI, msgFlags = 0): Uint8Array {
  return encodeMessage(
    linkFamily,
    { type: C.RTM_NEWLINK, flags: flags | msgFlags, seq },
    { index, type: C.ARPHRD_ETHER, flags: C.IFF_UP | C.IFF_RUNNING },
    { ifname: name, address: parseEtherAddr(`00:15:5d:00:00:0${index}`), mtu: 1500, operstate: C.IF_OPER_UP },
  );
}

function caught(fn: () => unknown): ErrnoError {
  try {
    fn();
  } catch (e) {
    return e as ErrnoError;
  }
  throw new Error('expected a throw');
}

describe('request/response', () => {
  it('collects a dump spread over several datagrams until NLMSG_DONE', () => {
    const s = new FakeSocket();
    s.respond = (_req, seq) => [datagram(linkMsg(seq, 1, 'eth0'), linkMsg(seq, 2, 'eth1')), datagram(linkMsg(seq, 3, 'eth2'), doneReply(seq))];
    const rt = RtNetlink.open({ socket: s });
    expect(rt.links().map((l) => [l.index, l.name, l.mac, l.operUp])).toEqual([
      [1, 'eth0', '00:15:5d:00:00:01', true],
      [2, 'eth1', '00:15:5d:00:00:02', true],
      [3, 'eth2', '00:15:5d:00:00:03', true],
    ]);
    const [req] = splitMessages(s.sent[0]!, new DataView(s.sent[0]!.buffer), s.sent[0]!.length);
    expect(req!.type).toBe(C.RTM_GETLINK);
    expect(req!.flags).toBe(C.NLM_F_REQUEST | C.NLM_F_DUMP);
  });

  it('ignores replies to an older sequence number (a request that timed out earlier)', () => {
    const s = new FakeSocket();
    s.respond = (_req, seq) => [datagram(linkMsg(seq - 1, 9, 'stale'), ackReply(seq - 1, 1)), datagram(linkMsg(seq, 1, 'eth0'), doneReply(seq))];
    expect(RtNetlink.open({ socket: s }).links().map((l) => l.name)).toEqual(['eth0']);
  });

  it('uses a fresh sequence number per request', () => {
    const s = new FakeSocket();
    s.respond = (_req, seq) => [ackReply(seq, 0)];
    const rt = RtNetlink.open({ socket: s });
    rt.setLink(1, { up: true });
    rt.setLink(1, { up: false });
    const seqs = s.sent.map((m) => new DataView(m.buffer).getUint32(8, true));
    expect(seqs[1]).toBe(seqs[0]! + 1);
  });

  it('turns a negative ack into ErrnoError carrying the kernel extended-ack text', () => {
    const s = new FakeSocket();
    s.respond = (_req, seq) => [ackReply(seq, 17, 'Exclusivity flag on, cannot modify')];
    const err = caught(() => {
      RtNetlink.open({ socket: s }).addIngressQdisc({ ifindex: 4 });
    });
    expect(err.code).toBe('EEXIST');
    expect(err.errno).toBe(17);
    expect(err.syscall).toBe('RTM_NEWQDISC');
    expect(err.message).toBe('RTM_NEWQDISC: EEXIST (errno 17): dev 4 ingress; kernel says: Exclusivity flag on, cannot modify');
  });

  it('reports an error without extended ack by errno alone', () => {
    const s = new FakeSocket();
    s.respond = (_req, seq) => [ackReply(seq, 1)];
    const err = caught(() => {
      RtNetlink.open({ socket: s }).deleteFilter({ ifindex: 2, pref: 7 });
    });
    expect(err.code).toBe('EPERM');
    expect(err.message).toBe('RTM_DELTFILTER: EPERM (errno 1): dev 2 parent ffff: pref 7 protocol 0x0003');
  });

  it('times out with ETIMEDOUT instead of hanging when the kernel does not answer', () => {
    const s = new FakeSocket();
    const err = caught(() => RtNetlink.open({ socket: s, timeoutMs: 50 }).links());
    expect(err.code).toBe('ETIMEDOUT');
    expect(err.message).toContain('within 50 ms');
  });

  it('repeats a dump the kernel marks as interrupted', () => {
    const s = new FakeSocket();
    let calls = 0;
    s.respond = (_req, seq) => {
      calls++;
      const name = calls === 1 ? 'old' : 'new';
      return [datagram(linkMsg(seq, 1, name, C.NLM_F_MULTI, calls === 1 ? C.NLM_F_DUMP_INTR : 0), doneReply(seq))];
    };
    expect(RtNetlink.open({ socket: s }).links().map((l) => l.name)).toEqual(['new']);
    expect(calls).toBe(2);
  });

  it('raises the errno a failed dump puts in NLMSG_DONE', () => {
    const s = new FakeSocket();
    s.respond = (_req, seq) => [doneReply(seq, C.NLM_F_MULTI, -90)];
    expect(caught(() => RtNetlink.open({ socket: s }).links()).code).toBe('EMSGSIZE');
  });

  it('returns null for a get answered with ENODEV', () => {
    const s = new FakeSocket();
    s.respond = (_req, seq) => [ackReply(seq, 19, 'no such device')];
    expect(RtNetlink.open({ socket: s }).link('eth9')).toBeNull();
  });

  it('closes its socket', () => {
    const s = new FakeSocket();
    RtNetlink.open({ socket: s }).close();
    expect(s.closed).toBe(true);
  });
});
