import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrnoError, FdRxIntr, FdWatch, waitReadable } from '../../src/index.js';

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

describe('FdRxIntr', () => {
  it('calls back once per arming while the fd stays readable, and stops watching when nobody is armed', async () => {
    const fifo = join(tmpdir(), `netvsc-fifo-intr-${process.pid}`);
    execFileSync('mkfifo', [fifo]);
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const intr = new FdRxIntr(fd, 3);
    try {
      const woke: number[] = [];
      const onRx = (q: number): void => {
        woke.push(q);
      };
      intr.enable(onRx);
      expect(intr.enabled).toBe(true);
      writeSync(fd, 'x');
      await until(() => woke.length === 1);
      expect(woke).toEqual([3]);
      expect(intr.enabled).toBe(false);
      // Still readable (not drained) but not re-armed: no second call.
      await new Promise((res) => setTimeout(res, 20));
      expect(woke).toHaveLength(1);
      intr.enable(onRx); // level-triggered: data already there wakes at once
      await until(() => woke.length === 2);
      readSync(fd, Buffer.alloc(8));
      intr.enable(onRx);
      intr.disable();
      writeSync(fd, 'y');
      await new Promise((res) => setTimeout(res, 20));
      expect(woke).toHaveLength(2);
    } finally {
      intr.close();
      closeSync(fd);
      unlinkSync(fifo);
    }
  });
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((res) => setTimeout(res, 2));
}
