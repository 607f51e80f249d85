import koffi from 'koffi';
import { ErrnoError } from '../errors.js';

export type LibraryHandle = ReturnType<typeof koffi.load>;
export type KoffiFunction = ReturnType<LibraryHandle['func']>;

let lib: LibraryHandle | undefined;
let names: Map<number, string> | undefined;

/**
 * The one libc handle every package's native shim binds its functions on. Also declares
 * the type aliases koffi lacks, once per process (koffi refuses a second declaration).
 */
export function libc(): LibraryHandle {
  if (lib === undefined) {
    lib = koffi.load('libc.so.6');
    koffi.alias('ssize_t', 'intptr_t');
    koffi.alias('socklen_t', 'uint32_t');
    koffi.alias('pid_t', 'int32_t');
  }
  return lib;
}

/** Second names of a number (glibc defines them as the first): never the one reported. */
const ERRNO_ALIASES = new Set(['EWOULDBLOCK', 'EDEADLOCK', 'ENOTSUP']);

/** The symbolic name of an errno, as strerrorname_np gives it (EAGAIN, not EWOULDBLOCK). */
export function errnoName(errno: number): string {
  names ??= new Map(Object.entries(koffi.os.errno).filter(([k]) => !ERRNO_ALIASES.has(k)).map(([k, v]) => [v, k]));
  return names.get(errno) ?? `E${errno}`;
}

/** errno of the last failed libc call (read it right after the call). */
export function lastErrno(): number {
  return koffi.errno();
}

/** Throw the typed error for the last failed call. */
export function throwErrno(syscall: string, detail?: string): never {
  const e = koffi.errno();
  throw new ErrnoError(errnoName(e), e, syscall, detail);
}

/** Turn C's `-1 + errno` into an ErrnoError; pass anything else through. */
export function check<T extends number | bigint>(ret: T, syscall: string, detail?: string): T {
  if (ret < 0) throwErrno(syscall, detail);
  return ret;
}

/** An ArrayBuffer over native memory (an mmap'd ring), no copy. */
export function viewOf(pointer: unknown, length: number): ArrayBuffer {
  return koffi.view(pointer, length);
}
