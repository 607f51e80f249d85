#!/usr/bin/env node
/**
 * The host-side traffic peer process: started by SimPeer as
 * `ip netns exec <host-ns> node peer-main.js <prefix>`, driven by JSON lines on stdin
 * (see peer-protocol.ts), exits when stdin closes.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { FdWatch, NetvscError } from '@netvsc/ethdev';
import { PacketSocket, ifIndex } from './native/packet.js';
import { PEER_SLOT_SIZE, PeerEngine, type PeerNative } from './peer-engine.js';
import type { PeerReply, PeerRequest } from './peer-protocol.js';

const carrierFds = new Map<string, number>();
const carrierBuf = Buffer.alloc(8);

/**
 * Carrier of a host link, read through a kept sysfs fd (pread at 0 re-reads the attribute).
 * A fd of a deleted link fails with ENODEV: it is reopened at once, since a link of the same
 * name may already be back.
 */
function carrier(ifname: string, retry = true): boolean {
  let fd = carrierFds.get(ifname);
  if (fd === undefined) {
    try {
      fd = openSync(`/sys/class/net/${ifname}/carrier`, 'r');
    } catch {
      return false;
    }
    carrierFds.set(ifname, fd);
  }
  try {
    const n = readSync(fd, carrierBuf, 0, carrierBuf.length, 0);
    return n > 0 && carrierBuf[0] === 0x31;
  } catch (error) {
    // EINVAL: the link is administratively down.
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return false;
    closeSync(fd);
    carrierFds.delete(ifname);
    return retry && carrier(ifname, false);
  }
}

const native: PeerNative = {
  open: (ifname, batch, txSlots) => PacketSocket.open(ifname, { batch, txSlots, slotSize: PEER_SLOT_SIZE }),
  exists: (ifname) => ifIndex(ifname) > 0,
  carrier,
  watch(fd, onReadable) {
    const w = new FdWatch(fd);
    w.start(onReadable);
    return { close: () => { w.close(); } };
  },
  now: () => performance.now(),
};

let engine: PeerEngine | null = null;

function reply(r: PeerReply): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

function need(): PeerEngine {
  if (!engine) throw new NetvscError('ERR_SIM_PEER', 'peer not initialised: send "init" first');
  return engine;
}

async function handle(req: PeerRequest): Promise<unknown> {
  switch (req.op) {
    case 'init':
      engine?.close();
      engine = new PeerEngine(req.args, native);
      return { pid: process.pid };
    case 'send':
      return need().send(req.args);
    case 'counters':
      need().poll();
      return need().counters();
    case 'reset':
      need().poll();
      need().reset();
      return null;
    case 'echo':
      need().setEcho(req.args.on);
      return null;
    case 'close':
      engine?.close();
      engine = null;
      setImmediate(() => process.exit(0));
      return null;
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let req: PeerRequest;
  try {
    req = JSON.parse(line) as PeerRequest;
  } catch {
    reply({ id: -1, ok: false, error: { code: 'ERR_SIM_PEER', message: `not JSON: ${line.slice(0, 80)}` } });
    return;
  }
  handle(req).then(
    (result) => {
      reply({ id: req.id, ok: true, result: result ?? null });
    },
    (error: unknown) => {
      const code = error instanceof NetvscError ? error.code : 'ERR_SIM_PEER';
      reply({ id: req.id, ok: false, error: { code, message: error instanceof Error ? error.message : String(error) } });
    },
  );
});
rl.on('close', () => {
  engine?.close();
  process.exit(0);
});
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);
