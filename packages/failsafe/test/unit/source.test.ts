import { fstatSync, writeSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrnoError } from '@netvsc/ethdev';
import { ExecError, READ_AGAIN, type FdNative } from '../../src/index.js';
import { closeFd, openPipe } from '../../src/native/fd.js';
import { ExecSource, FdSource, LineAssembler, firstLine } from '../../src/source.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('LineAssembler: the newest complete line wins', () => {
  it('keeps a partial line until its end arrives', () => {
    const l = new LineAssembler();
    expect(l.push(enc('0002:00:'))).toBeUndefined();
    expect(l.push(enc('02.0'))).toBeUndefined();
    expect(l.push(enc('\n'))).toBe('0002:00:02.0');
  });

  it('of several lines in one chunk, takes the newest', () => {
    const l = new LineAssembler();
    expect(l.push(enc('0001:00:02.0\n0002:00:02.0\n0003:00:0'))).toBe('0002:00:02.0');
    expect(l.push(enc('2.0\n'))).toBe('0003:00:02.0');
  });

  it('ignores blank lines, trims spaces and CR', () => {
    const l = new LineAssembler();
    expect(l.push(enc('\n  \n'))).toBeUndefined();
    expect(l.push(enc('  net_ring_a \r\n\n'))).toBe('net_ring_a');
  });

  it('drops an over-long line up to its newline, then recovers', () => {
    const l = new LineAssembler();
    expect(l.push(enc('x'.repeat(3000)))).toBeUndefined();
    expect(l.push(enc('y'.repeat(3000)))).toBeUndefined();
    expect(l.push(enc('zzz\nok\n'))).toBe('ok');
  });

  it('reassembles a multi-byte character split across reads', () => {
    const l = new LineAssembler();
    const bytes = enc('dev_é\n');
    expect(l.push(bytes.subarray(0, 5))).toBeUndefined();
    expect(l.push(bytes.subarray(5))).toBe('dev_é');
  });
});

describe('FdSource over a real pipe', () => {
  const fds: number[] = [];
  afterEach(() => {
    for (const fd of fds.splice(0)) {
      try {
        closeFd(fd);
      } catch {
        // already closed by the test
      }
    }
  });
  const pipe = (): [number, number] => {
    const p = openPipe();
    fds.push(...p);
    return p;
  };

  it('reads without blocking, offers the newest line, then the last one again', () => {
    const [r, w] = pipe();
    const src = new FdSource(r);
    expect(src.take()).toBeUndefined(); // empty pipe: no wait, nothing
    writeSync(w, 'net_ring_a\nnet_ring_b\n');
    expect(src.take()).toBe('net_ring_b');
    expect(src.fresh).toBeUndefined();
    writeSync(w, 'net_ring_');
    expect(src.take()).toBe('net_ring_b'); // partial: the last complete line stands
    writeSync(w, 'c\n');
    expect(src.drain()).toBe(true);
    expect(src.fresh).toBe('net_ring_c');
    expect(src.take()).toBe('net_ring_c');
  });

  it('at end of file keeps offering the last line and is not closed by us', () => {
    const [r, w] = pipe();
    const src = new FdSource(r);
    writeSync(w, '0002:00:02.0\n');
    closeFd(w);
    expect(src.take()).toBe('0002:00:02.0');
    expect(src.eof).toBe(true);
    expect(src.take()).toBe('0002:00:02.0');
    expect(() => fstatSync(r)).not.toThrow();
  });

  it('a closed descriptor is an ErrnoError EBADF', () => {
    const [r] = pipe();
    closeFd(r);
    const src = new FdSource(r);
    expect(() => src.take()).toThrow(ErrnoError);
    expect(() => src.take()).toThrow(expect.objectContaining({ code: 'EBADF' }) as Error);
  });

  it('watches the descriptor and reports a complete new line only', async () => {
    const [r, w] = pipe();
    const src = new FdSource(r);
    let lines = 0;
    src.watch(() => lines++);
    writeSync(w, 'abc');
    await new Promise((res) => setTimeout(res, 20));
    expect(lines).toBe(0);
    writeSync(w, '\n');
    const until = Date.now() + 2000;
    while (lines === 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 2));
    expect(lines).toBe(1);
    expect(src.fresh).toBe('abc');
    src.unwatch();
  });
});

describe('FdSource with a fake native layer', () => {
  it('stops at EAGAIN, sets non-blocking once, and keeps chunks', () => {
    const chunks = [enc('a\nb'), enc('\n')];
    let nonBlocking = 0;
    const fake: FdNative = {
      setNonBlocking: () => {
        nonBlocking++;
      },
      read: (_fd, buf) => {
        const c = chunks.shift();
        if (c === undefined) return READ_AGAIN;
        buf.set(c);
        return c.length;
      },
      watch: () => () => undefined,
    };
    const src = new FdSource(7, fake);
    expect(src.take()).toBe('b');
    expect(src.take()).toBe('b');
    expect(nonBlocking).toBe(1);
  });
});

describe('ExecSource through /bin/sh', () => {
  it('takes the first output line', async () => {
    expect(await new ExecSource('printf "net_ring_a\\nnet_ring_b\\n"', 5000).take()).toBe('net_ring_a');
  });

  it('takes an unterminated single line', async () => {
    expect(await new ExecSource('printf 0002:00:02.0', 5000).take()).toBe('0002:00:02.0');
  });

  it('no output, or a blank first line, is "nothing yet"', async () => {
    expect(await new ExecSource('true', 5000).take()).toBeUndefined();
    expect(await new ExecSource('printf "\\nlater\\n"', 5000).take()).toBeUndefined();
  });

  it('a failing command is an ExecError with its exit status', async () => {
    const err = await new ExecSource('echo net_ring_a; exit 3', 5000).take().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    expect(err).toMatchObject({ code: 'ERR_EXEC', exitCode: 3, timedOut: false });
  });

  it('a command killed by a signal says so', async () => {
    const err = await new ExecSource('kill -9 $$', 5000).take().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_EXEC', signal: 'SIGKILL', timedOut: false });
  });

  it('a hanging command is killed at the timeout', async () => {
    const err = await new ExecSource('sleep 30', 100).take().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_EXEC', timedOut: true });
  });

  it('cancel() kills a running command', async () => {
    const src = new ExecSource('sleep 30', 60_000);
    const p = src.take().catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    src.cancel();
    expect(await p).toBeInstanceOf(ExecError);
  });

  it('refuses an over-long first line', () => {
    expect(() => firstLine('x', 'a'.repeat(5000))).toThrow(/at most 4096/);
  });
});
