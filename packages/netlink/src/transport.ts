import { Errno, ErrnoError, errnoName } from '@netvsc/ethdev';
import type { AttrsIn, Schema } from './codec/codec.js';
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN } from './codec/constants.js';
import { decodeAck, encodeMessage, splitMessages, type Family, type RawMessage } from './codec/message.js';
import type { RawNetlinkSocket } from './native/socket.js';

const EINTR_DUMP_RETRIES = 3;

/** One request as the family modules describe it. */
export interface Request<H, S extends Schema> {
  readonly family: Family<H, S>;
  readonly type: number;
  /** Extra nlmsg flags (NLM_F_CREATE, NLM_F_EXCL, ...); REQUEST/ACK/DUMP are added here. */
  readonly flags?: number;
  readonly header: Partial<H>;
  readonly attrs: AttrsIn<S>;
  /** Names the operation in errors, e.g. `RTM_NEWTFILTER`. */
  readonly op: string;
  /** Names the object in errors, e.g. `dev 4 parent ffff: pref 10`. */
  readonly target?: string;
}

/**
 * The request/response layer every rtnetlink family uses: sequence numbers, acks, dumps,
 * NLMSG_ERROR -> ErrnoError with the kernel's extended-ack text. Synchronous by design:
 * control operations are synchronous in this project, and a receive timeout bounds each wait.
 */
export class NetlinkTransport {
  readonly #sock: RawNetlinkSocket;
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  readonly #timeoutMs: number;
  #seq: number;

  constructor(sock: RawNetlinkSocket, timeoutMs: number, bufferBytes = 65536) {
    this.#sock = sock;
    this.#buf = new Uint8Array(bufferBytes);
    this.#view = new DataView(this.#buf.buffer);
    this.#timeoutMs = timeoutMs;
    // Distinct starting points keep two sockets' traces apart in `nlmon` captures.
    this.#seq = (Date.now() & 0xffff) << 8;
  }

  get socket(): RawNetlinkSocket {
    return this.#sock;
  }

  /** Send and wait for the kernel's ack; throws ErrnoError on a negative ack. */
  ack<H, S extends Schema>(req: Request<H, S>): void {
    const seq = this.#send(req, NLM_F_REQUEST | NLM_F_ACK | (req.flags ?? 0));
    for (;;) {
      for (const m of this.#receive(req)) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR) {
          this.#throwIfError(m, req);
          return;
        }
      }
    }
  }

  /** Send a non-dump get and decode its single reply; null when the kernel says ENODEV/ENOENT. */
  get<H, S extends Schema, T>(req: Request<H, S>, decodeReply: (m: RawMessage) => T): T | null {
    const seq = this.#send(req, NLM_F_REQUEST | (req.flags ?? 0));
    for (;;) {
      for (const m of this.#receive(req)) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR) {
          const ack = decodeAck(m);
          if (ack.error === -19 || ack.error === -2) return null;
          this.#throwIfError(m, req);
          continue;
        }
        return decodeReply(m);
      }
    }
  }

  /** Send a dump request and decode every reply until NLMSG_DONE (retried if interrupted). */
  dump<H, S extends Schema, T>(req: Request<H, S>, decodeItem: (m: RawMessage) => T | undefined): T[] {
    for (let attempt = 0; ; attempt++) {
      const items: T[] = [];
      let interrupted = false;
      const seq = this.#send(req, NLM_F_REQUEST | NLM_F_DUMP | (req.flags ?? 0));
      let done = false;
      while (!done) {
        for (const m of this.#receive(req)) {
          if (m.seq !== seq) continue;
          if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
          if (m.type === NLMSG_DONE) {
            // A failed dump reports its errno as the DONE payload.
            const err = m.length >= 4 ? m.view.getInt32(m.offset, true) : 0;
            if (err < 0) throw this.#error(-err, req);
            done = true;
            break;
          }
          if (m.type === NLMSG_ERROR) {
            this.#throwIfError(m, req);
            continue;
          }
          if (m.type === NLMSG_NOOP || m.type === NLMSG_OVERRUN) continue;
          const item = decodeItem(m);
          if (item !== undefined) items.push(item);
        }
      }
      if (!interrupted || attempt >= EINTR_DUMP_RETRIES) return items;
    }
  }

  close(): void {
    this.#sock.close();
  }

  #send<H, S extends Schema>(req: Request<H, S>, flags: number): number {
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    const msg = encodeMessage(req.family, { type: req.type, flags, seq: this.#seq }, req.header, req.attrs);
    this.#sock.send(msg);
    return this.#seq;
  }

  #receive<H, S extends Schema>(req: Request<H, S>): RawMessage[] {
    const n = this.#sock.recv(this.#buf, false);
    if (n < 0) {
      throw new ErrnoError('ETIMEDOUT', Errno.ETIMEDOUT, req.op, `no reply from the kernel within ${this.#timeoutMs} ms${describe(req)}`);
    }
    return splitMessages(this.#buf, this.#view, n);
  }

  #throwIfError<H, S extends Schema>(m: RawMessage, req: Request<H, S>): void {
    const ack = decodeAck(m);
    if (ack.error < 0) throw this.#error(-ack.error, req, ack.message);
  }

  #error<H, S extends Schema>(errno: number, req: Request<H, S>, kernelMessage?: string): ErrnoError {
    const parts = [req.target, kernelMessage === undefined ? undefined : `kernel says: ${kernelMessage}`].filter((p) => p !== undefined);
    return new ErrnoError(errnoName(errno), errno, req.op, parts.length ? parts.join('; ') : undefined);
  }
}

function describe<H, S extends Schema>(req: Request<H, S>): string {
  return req.target === undefined ? '' : ` (${req.target})`;
}
