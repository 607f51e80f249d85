import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrnoError, FdWatch, waitReadable } from '../../src/index.js';

describe('FdWatch', () => {
  it('refuses fds epoll cannot watch with an ErrnoError instead of aborting the process', () => {
    const file = openSync(join(tmpdir(), `netvsc-poll-${process.pid}`), 'w');
    try {
      expect(() => {
        new FdWatch(file).start(() => undefined);
      }).toThrow(ErrnoError);
      const devnull = openSync('/dev/null', 'r');
      try {
        expect(() => {
          new FdWatch(devnull).start(() => undefined);
        }).toThrow(/epoll_ctl: EPERM.*cannot be watched/);
      } finally {
        closeSync(devnull);
      }
      expect(() => {
        new FdWatch(987654).start(() => undefined);
      }).toThrow(/EBADF/);
    } finally {
      closeSync(file);
    }
  });

  it('waitReadable times out on a quiet fd and wakes on data', async () => {
    const fifo = join(tmpdir(), `netvsc-fifo-${process.pid}`);
    execFileSync('mkfifo', [fifo]);
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      expect(await waitReadable(fd, 30)).toBe(false);
      const woke = waitReadable(fd, 5000);
      setTimeout(() => writeSync(fd, 'x'), 10);
      expect(await woke).toBe(true);
    } finally {
      closeSync(fd);
      unlinkSync(fifo);
    }
  });
});
