import { spawn, type ChildProcess } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { FdWatch, NotSupportedError } from '@netvsc/ethdev';
import { MAX_LINE } from './args.js';
import { ExecError } from './errors.js';
import { READ_AGAIN, readNonBlocking, setNonBlocking } from './native/fd.js';

/** Output beyond this is refused (the command is killed). */
const MAX_OUTPUT = 1 << 20;

/** Only the three native calls the fd source needs, so tests can hand in a fake. */
export interface FdNative {
  setNonBlocking(fd: number): void;
  /** Bytes read, 0 at end of file, `READ_AGAIN` when nothing is pending; throws on errors. */
  read(fd: number, buf: Uint8Array): number;
  /** Call `onReadable` whenever `fd` is readable; returns a stop function. */
  watch(fd: number, onReadable: () => void): () => void;
}

export const realFdNative: FdNative = {
  setNonBlocking,
  read: readNonBlocking,
  watch(fd, onReadable) {
    // koffi's poll aborts the process (not throws) on a descriptor epoll refuses: a regular
    // file, /dev/null, a closed number. Only pipes and sockets are watched; others are read by the timer.
    const st = fstatSync(fd);
    if (!st.isFIFO() && !st.isSocket()) throw new NotSupportedError(`fd ${fd} is not a pipe or socket: not watched, read on every upkeep round`);
    const w = new FdWatch(fd);
    w.start(onReadable);
    // The fail-safe must not keep the process alive: the application's loop does that.
    w.ref(false);
    return () => {
      w.close();
    };
  },
};

/**
 * Cuts a byte stream into lines and keeps only what fail-safe wants: the newest complete
 * line of what arrived. A partial line waits for its end; a line longer than `MAX_LINE`
 * is dropped whole (up to its newline), as is an empty or blank one.
 */
export class LineAssembler {
  readonly #decoder = new TextDecoder('utf-8', { fatal: false });
  #partial = '';
  #overflow = false;

  /** Feed bytes; return the newest complete, non-blank line among them, trimmed. */
  push(bytes: Uint8Array): string | undefined {
    const text = this.#decoder.decode(bytes, { stream: true });
    let newest: string | undefined;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const piece = this.#partial + text.slice(start, nl);
      this.#partial = '';
      start = nl + 1;
      if (this.#overflow) {
        this.#overflow = false;
        continue;
      }
      const line = piece.trim();
      if (line !== '' && piece.length <= MAX_LINE) newest = line;
    }
    if (!this.#overflow) {
      this.#partial += text.slice(start);
      if (this.#partial.length > MAX_LINE) {
        this.#partial = '';
        this.#overflow = true;
      }
    }
    return newest;
  }
}

/**
 * `fd(<n>)`: a descriptor somebody else writes device strings to, one per line (the
 * vdev_netvsc pipe). The descriptor is made non-blocking and drained on every look and
 * whenever it turns readable, so the writer never finds it full; it is never closed here.
 * The newest complete line wins; with nothing new, the last line seen is offered again
 * (a removed VF usually comes back at the address it had).
 */
export class FdSource {
  readonly fd: number;
  readonly #native: FdNative;
  readonly #buf = new Uint8Array(MAX_LINE);
  readonly #lines = new LineAssembler();
  #prepared = false;
  #eof = false;
  #fresh: string | undefined;
  #last: string | undefined;
  #stopWatch: (() => void) | undefined;

  constructor(fd: number, native: FdNative = realFdNative) {
    this.fd = fd;
    this.#native = native;
  }

  /** The writer closed its end: nothing new will come, the last line stays on offer. */
  get eof(): boolean {
    return this.#eof;
  }

  /** A line that arrived since the last `take()`, if any. */
  get fresh(): string | undefined {
    return this.#fresh;
  }

  /** The newest line ever seen. */
  get last(): string | undefined {
    return this.#last;
  }

  /** Read everything pending; true when a new complete line arrived. Throws `ErrnoError` (e.g. EBADF). */
  drain(): boolean {
    if (this.#eof) return false;
    if (!this.#prepared) {
      this.#native.setNonBlocking(this.fd);
      this.#prepared = true;
    }
    let got = false;
    for (;;) {
      const n = this.#native.read(this.fd, this.#buf);
      if (n === READ_AGAIN) break;
      if (n === 0) {
        this.#eof = true;
        this.#stopWatch?.();
        this.#stopWatch = undefined;
        break;
      }
      const line = this.#lines.push(this.#buf.subarray(0, n));
      if (line !== undefined) {
        this.#fresh = line;
        this.#last = line;
        got = true;
      }
    }
    return got;
  }

  /** Drain, then hand out the newest line (fresh, else the last one seen); undefined if none ever came. */
  take(): string | undefined {
    this.drain();
    this.#fresh = undefined;
    return this.#last;
  }

  /** Forget the fresh marker (the line equals what is plugged already). */
  consumeFresh(): void {
    this.#fresh = undefined;
  }

  /**
   * Drain whenever the descriptor turns readable and call `onLine` when a new complete line
   * came. Descriptors epoll refuses (regular files) are simply not watched: the upkeep timer
   * still reads them. Read errors stop the watch; the next attempt reports them.
   */
  watch(onLine: () => void): void {
    if (this.#stopWatch || this.#eof) return;
    try {
      this.#stopWatch = this.#native.watch(this.fd, () => {
        let got = false;
        try {
          got = this.drain();
        } catch {
          this.unwatch();
        }
        if (got) onLine();
      });
    } catch {
      this.#stopWatch = undefined;
    }
  }

  unwatch(): void {
    this.#stopWatch?.();
    this.#stopWatch = undefined;
  }
}

/** Runs a command and resolves with its stdout; the real one is `/bin/sh -c`. */
export type CommandRunner = (command: string, timeoutMs: number) => { result: Promise<string>; kill: () => void };

/**
 * `/bin/sh -c command` in its own process group, so a timeout or `cancel()` kills the
 * shell and whatever it started (killing only the shell would leave a child holding the
 * output pipe open, and the result would wait for it).
 */
export const shellRunner: CommandRunner = (command, timeoutMs) => {
  let child: ChildProcess | undefined;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const killGroup = (): void => {
    const pid = child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const result = new Promise<string>((resolve, reject) => {
    const c = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    child = c;
    const chunks: Buffer[] = [];
    let size = 0;
    let failure: ExecError | undefined;
    c.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_OUTPUT) {
        failure ??= new ExecError(command, { message: `printed more than ${MAX_OUTPUT} bytes` });
        killGroup();
      } else chunks.push(b);
    });
    c.on('error', (e) => {
      failure ??= new ExecError(command, { message: e.message, cause: e });
    });
    c.on('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      if (failure !== undefined) reject(failure);
      else if (timedOut) reject(new ExecError(command, { timedOut: true, signal: 'SIGKILL', message: `timed out after ${timeoutMs} ms` }));
      else if (signal !== null) reject(new ExecError(command, { signal, message: `killed by ${signal}` }));
      else if (code !== 0) reject(new ExecError(command, { exitCode: code ?? -1, message: `exited with status ${code ?? -1}` }));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
  });
  return { result, kill: killGroup };
};

/**
 * `exec(<command>)`: the first line the command prints is the device string. Runs
 * asynchronously with a timeout, so the event loop never waits for it. A failing command
 * (non-zero exit, signal, timeout) is an error; no output or a blank first line means
 * "nothing yet", like DPDK.
 */
export class ExecSource {
  readonly command: string;
  readonly timeoutMs: number;
  readonly #run: CommandRunner;
  #kill: (() => void) | undefined;

  constructor(command: string, timeoutMs: number, runner: CommandRunner = shellRunner) {
    this.command = command;
    this.timeoutMs = timeoutMs;
    this.#run = runner;
  }

  async take(): Promise<string | undefined> {
    const { result, kill } = this.#run(this.command, this.timeoutMs);
    this.#kill = kill;
    let out: string;
    try {
      out = await result;
    } finally {
      this.#kill = undefined;
    }
    return firstLine(this.command, out);
  }

  /** Kill a running command (fail-safe close). */
  cancel(): void {
    this.#kill?.();
  }
}

/** The first line of `out` (terminated or not), trimmed; undefined when blank. */
export function firstLine(command: string, out: string): string | undefined {
  const nl = out.indexOf('\n');
  const raw = nl < 0 ? out : out.slice(0, nl);
  if (raw.length > MAX_LINE) {
    throw new ExecError(command, { message: `first output line is ${raw.length} bytes; accepted: at most ${MAX_LINE}` });
  }
  const line = raw.trim();
  return line === '' ? undefined : line;
}
