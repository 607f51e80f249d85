import { closeFd, openNamespace, setNetns } from './native/netns.js';

/**
 * Move the calling thread (in Node: the main JS thread) into the named network namespace and
 * return a function that moves it back. Sockets opened and processes spawned from this thread
 * while inside live in that namespace; libuv's worker threads (async fs, dns) do not move.
 * Calls nest: each restore returns to the namespace that was current when its enter ran.
 */
export function enterNetns(ns: string): () => void {
  const original = openNamespace('/proc/thread-self/ns/net');
  let target: number;
  try {
    target = openNamespace(`/run/netns/${ns}`);
  } catch (error) {
    closeFd(original);
    throw error;
  }
  try {
    setNetns(target, ns);
  } catch (error) {
    closeFd(original);
    throw error;
  } finally {
    closeFd(target);
  }
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    try {
      setNetns(original, 'original namespace');
    } finally {
      closeFd(original);
    }
  };
}

/**
 * Run `fn` inside the namespace and come back afterwards, also when it throws. For an async
 * `fn` the thread stays inside until the promise settles, so everything else this thread
 * runs meanwhile (other timers, callbacks) runs inside too.
 */
export async function inNetns<T>(ns: string, fn: () => T | Promise<T>): Promise<T> {
  const restore = enterNetns(ns);
  try {
    return await fn();
  } finally {
    restore();
  }
}
