import { describe, expect, it } from 'vitest';
import { OWN_RX_PROG_NAME, OwnRx, OwnRxConflictError, ownRxProgram, type OwnRxNative } from '../../src/bpf.js';
import { CLSACT_INGRESS, FakeTc, info } from './support/fake-tc.js';

function native(): OwnRxNative & { closed: number[] } {
  const closed: number[] = [];
  return { closed, load: () => 77, close: (fd) => closed.push(fd) };
}

describe('own_rx program', () => {
  it('is "r0 = TC_ACT_STOLEN; exit"', () => {
    expect([...ownRxProgram()]).toEqual([0xb7, 0, 0, 0, 4, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('OwnRx (the take-away filter)', () => {
  it('adds an ingress qdisc when there is none, attaches by fd in direct-action mode, closes the fd', () => {
    const tc = new FakeTc();
    const n = native();
    const f = OwnRx.attach(tc, 5, 1, n);
    expect(tc.log).toEqual(['add qdisc', `add bpf ${OWN_RX_PROG_NAME} pref 1 parent ffff0000 fd 77 da true`]);
    expect(n.closed).toEqual([77]);
    f.detach();
    expect(tc.log.slice(2)).toEqual(['del pref 1', 'del qdisc']);
    expect(f.attached).toBe(false);
  });

  it('leaves an existing ingress qdisc (the simulator\'s) and the filters on it alone', () => {
    const tc = new FakeTc();
    tc.qdisc = 'ingress';
    tc.filters_.push(info(49152, 'u32', null));
    const f = OwnRx.attach(tc, 5, 1, native());
    f.detach();
    expect(tc.log).toEqual([`add bpf ${OWN_RX_PROG_NAME} pref 1 parent ffff0000 fd 77 da true`, 'del pref 1']);
    expect(tc.qdisc).toBe('ingress');
    expect(tc.filters_.map((x) => x.pref)).toEqual([49152]);
  });

  it('uses the clsact ingress hook when the qdisc is clsact', () => {
    const tc = new FakeTc();
    tc.qdisc = 'clsact';
    expect(OwnRx.attach(tc, 5, 3, native()).parent).toBe(CLSACT_INGRESS);
  });

  it('replaces a filter of ours left behind by a dead process', () => {
    const tc = new FakeTc();
    tc.qdisc = 'ingress';
    tc.filters_.push(info(1, 'bpf', OWN_RX_PROG_NAME));
    OwnRx.attach(tc, 5, 1, native());
    expect(tc.log).toEqual(['del pref 1', `add bpf ${OWN_RX_PROG_NAME} pref 1 parent ffff0000 fd 77 da true`]);
  });

  it('refuses to touch a foreign filter at its pref, and still closes the program fd', () => {
    const tc = new FakeTc();
    tc.addIngressQdisc({ ifindex: 5 });
    tc.log = [];
    tc.filters_.push(info(1, 'u32', null));
    const n = native();
    const e = (() => {
      try {
        OwnRx.attach(tc, 5, 1, n);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(OwnRxConflictError);
    expect((e as OwnRxConflictError).code).toBe('ERR_OWN_RX_CONFLICT');
    expect((e as Error).message).toMatch(/pref 1 of ifindex 5 already holds u32/);
    expect(n.closed).toEqual([77]);
    expect(tc.filters_.map((x) => x.kind)).toEqual(['u32']);
  });

  it('does not fail when the device took the filter with it', () => {
    const tc = new FakeTc();
    const f = OwnRx.attach(tc, 5, 1, native());
    tc.gone = true;
    expect(() => {
      f.detach();
    }).not.toThrow();
  });
});
