import { check, libc, type KoffiFunction } from '@netvsc/ethdev';

/** setns(2) and the two fd calls around it: the shim behind enterGuest(). */

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
/** CLONE_NEWNET: only the network namespace of the calling thread changes. */
const CLONE_NEWNET = 0x40000000;

const lib = libc();
const openFn = lib.func('int open(const char *path, int flags)');
const closeFn = lib.func('int close(int fd)');
const setnsFn = lib.func('int setns(int fd, int nstype)');
const gettidFn = lib.func('int32_t gettid()');

function call(fn: KoffiFunction, ...args: unknown[]): number {
  return fn(...args) as number;
}

/** Open a namespace file (`/run/netns/<name>`, `/proc/thread-self/ns/net`) read-only, close-on-exec. */
export function openNamespace(path: string): number {
  return check(call(openFn, path, O_RDONLY | O_CLOEXEC), 'open', path);
}

/** Move the calling thread into the network namespace `fd` refers to. */
export function setNetns(fd: number, what: string): void {
  check(call(setnsFn, fd, CLONE_NEWNET), 'setns', what);
}

export function closeFd(fd: number): void {
  call(closeFn, fd);
}

/** Kernel thread id of the calling thread. */
export function threadId(): number {
  return call(gettidFn);
}
