import { describe, expect, it } from 'vitest';
import { loadProgram, OWN_RX_PROG_NAME, OwnRx, OwnRxConflictError, ownRxProgram, PROG_LOAD_ATTEMPTS, type OwnRxNative } from '../../src/bpf.js';
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

describe('loadProgram', () => {
  /** A kernel answering from a script: each entry is an fd or -errno; `log` fills the buffer. */
  function kernel(answers: number[], log = '') {
    const calls: ('plain' | 'log')[] = [];
    const once = (buf: Uint8Array | null): number => {
      calls.push(buf === null ? 'plain' : 'log');
      if (buf !== null) buf.set(new TextEncoder().encode(`${log}\0`));
      return answers.shift() ?? -22;
    };
    return { once, calls };
  }

  it('retries while the kernel answers EAGAIN (a signal was pending), as libbpf does', () => {
    const k = kernel([-11, -11, 42]);
    expect(loadProgram(k.once, 'p')).toBe(42);
    expect(k.calls).toEqual(['plain', 'plain', 'plain']);
  });

  it('gives up after PROG_LOAD_ATTEMPTS EAGAINs with and without the log, naming EAGAIN', () => {
    const k = kernel(Array<number>(2 * PROG_LOAD_ATTEMPTS).fill(-11), 'processed 2 insns');
    expect(() => loadProgram(k.once, 'nvsc_own_rx')).toThrow(/bpf\(BPF_PROG_LOAD\): EAGAIN \(errno 11\): program "nvsc_own_rx": verifier: processed 2 insns/);
    expect(k.calls).toEqual([...Array<string>(PROG_LOAD_ATTEMPTS).fill('plain'), ...Array<string>(PROG_LOAD_ATTEMPTS).fill('log')]);
  });

  it('does not retry a refusal, but loads once more with the verifier log for the error', () => {
    const k = kernel([-22, -22], 'R0 !read_ok');
    let err: unknown;
    try {
      loadProgram(k.once, 'p');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'EINVAL', errno: 22, syscall: 'bpf(BPF_PROG_LOAD)' });
    expect((err as Error).message).toContain('verifier: R0 !read_ok');
    expect(k.calls).toEqual(['plain', 'log']);
  });

  it('takes an fd the logged load returns', () => {
    const k = kernel([-1, 9]);
    expect(loadProgram(k.once, 'p')).toBe(9);
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
