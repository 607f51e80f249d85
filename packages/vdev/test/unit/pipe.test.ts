import { readFileSync, readSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrnoError } from '@netvsc/ethdev';
import { pipeOps } from '../../src/native/pipe.js';

const O_NONBLOCK = 0o4000;

/** `flags:` of /proc/self/fdinfo/<fd> (octal), with close-on-exec as the kernel reports it. */
function fdFlags(fd: number): number {
  const m = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return parseInt(m?.[1] ?? '0', 8);
}

describe('control pipe shim', () => {
  it('opens both ends non-blocking and close-on-exec', () => {
    const p = pipeOps.open();
    try {
      for (const fd of [p.read, p.write]) {
        expect(fdFlags(fd) & O_NONBLOCK).toBe(O_NONBLOCK);
        expect(fdFlags(fd) & 0o2000000).toBe(0o2000000);
      }
    } finally {
      pipeOps.close(p.read);
      pipeOps.close(p.write);
    }
  });

  it('writes whole lines the reader sees', () => {
    const p = pipeOps.open();
    try {
      const line = new TextEncoder().encode('0002:00:02.0,mac=00:15:5d:10:00:01\n');
      expect(pipeOps.write(p.write, line)).toBe(line.length);
      const buf = Buffer.alloc(128);
      const n = readSync(p.read, buf);
      expect(buf.subarray(0, n).toString()).toBe('0002:00:02.0,mac=00:15:5d:10:00:01\n');
    } finally {
      pipeOps.close(p.read);
      pipeOps.close(p.write);
    }
  });

  it("reports a full pipe as 'again' instead of blocking", () => {
    const p = pipeOps.open();
    try {
      const chunk = new Uint8Array(65536);
      let result: number | 'again' = 0;
      for (let i = 0; i < 64 && result !== 'again'; i++) result = pipeOps.write(p.write, chunk);
      expect(result).toBe('again');
    } finally {
      pipeOps.close(p.read);
      pipeOps.close(p.write);
    }
  });

  it('turns other errors into ErrnoError with the errno name', () => {
    // A number far above any descriptor this process has: never someone else's file.
    const bad = 999_999;
    expect(() => pipeOps.write(bad, new Uint8Array(1))).toThrow(ErrnoError);
    expect(() => pipeOps.write(bad, new Uint8Array(1))).toThrow(/write: EBADF/);
    expect(() => {
      pipeOps.close(bad);
    }).toThrow(/close: EBADF/);
  });
});
