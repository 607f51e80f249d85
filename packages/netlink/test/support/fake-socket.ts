import type { RawNetlinkSocket } from '../../src/index.js';

/** A scripted netlink socket: each send() is answered by `respond`, replies queue as datagrams. */
export class FakeSocket implements RawNetlinkSocket {
  readonly fd = -1;
  readonly portId = 4242;
  readonly sent: Uint8Array[] = [];
  readonly queue: Uint8Array[] = [];
  readonly groups: number[] = [];
  closed = false;
  respond: (request: Uint8Array, seq: number) => Uint8Array[] = () => [];

  send(message: Uint8Array): void {
    this.sent.push(message.slice());
    const seq = new DataView(message.buffer, message.byteOffset).getUint32(8, true);
    this.queue.push(...this.respond(message, seq));
  }

  recv(into: Uint8Array): number {
    const d = this.queue.shift();
    if (d === undefined) return -1;
    into.set(d);
    return d.length;
  }

  addMembership(group: number): void {
    this.groups.push(group);
  }

  setReceiveTimeout(): void {
    // Fake: the empty queue already behaves as an expired timeout.
  }

  setReceiveBuffer(): void {
    // Fake: nothing to size.
  }

  close(): void {
    this.closed = true;
  }
}

/** Concatenate messages into one datagram (as the kernel batches dump replies). */
export function datagram(...messages: Uint8Array[]): Uint8Array {
  const n = messages.reduce((s, m) => s + ((m.length + 3) & ~3), 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const m of messages) {
    out.set(m, o);
    o += (m.length + 3) & ~3;
  }
  return out;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
