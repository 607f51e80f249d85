import { check, libc } from '@netvsc/ethdev';

// Network namespaces: a socket belongs to the namespace of the thread that created it,
// so opening one "inside" a namespace is setns -> socket -> setns back, all synchronous
// on this thread (nothing else runs on it in between).

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;

const lib = libc();
const openFn = lib.func('int open(const char *path, int flags)') as (p: string, f: number) => number;
const setnsFn = lib.func('int setns(int fd, int nstype)') as (fd: number, t: number) => number;
const closeFn = lib.func('int close(int fd)') as (fd: number) => number;

/**
 * Run `fn` with this thread in the network namespace at `path` (`/run/netns/<name>` or
 * `/proc/<pid>/ns/net`) and come back, also when `fn` throws.
 */
export function inNetns<T>(path: string, fn: () => T): T {
  const home = check(openFn('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC), 'open', '/proc/thread-self/ns/net');
  try {
    const target = check(openFn(path, O_RDONLY | O_CLOEXEC), 'open', path);
    try {
      check(setnsFn(target, CLONE_NEWNET), 'setns', path);
    } finally {
      closeFn(target);
    }
    try {
      return fn();
    } finally {
      check(setnsFn(home, CLONE_NEWNET), 'setns', 'back to the original namespace');
    }
  } finally {
    closeFn(home);
  }
}
