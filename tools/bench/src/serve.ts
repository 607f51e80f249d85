/**
 * The child side of the control protocol (proto.ts): read requests from stdin, run them on the
 * engine one at a time, write replies to stdout. Closing stdin ends the child (after closing
 * its port), so a crashed bench leaves no measuring process behind.
 */
import { createInterface } from 'node:readline';
import { NetvscError } from '@netvsc/ethdev';
import { Engine } from './engine.js';
import type { Reply, Request } from './proto.js';

function reply(r: Reply): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

async function handle(engine: Engine, req: Request): Promise<unknown> {
  switch (req.op) {
    case 'open':
      return engine.open(req.args);
    case 'rx':
      engine.startRx(req.args);
      return null;
    case 'tx':
      engine.startTx(req.args, { track: true });
      return null;
    case 'tx-flow':
      engine.setTxFlow(req.args.flow);
      return null;
    case 'stop':
      await engine.stop();
      return null;
    case 'mark':
      return engine.mark();
    case 'ceiling':
      return engine.ceiling(req.args);
    case 'failover-report':
      return engine.failoverReport(req.args?.flows);
    case 'close':
      await engine.close();
      return null;
  }
}

/** Serve requests until stdin closes. */
export function serve(role: string): void {
  const engine = new Engine();
  let chain: Promise<void> = Promise.resolve();
  let closing = false;
  const shutdown = (code: number): void => {
    if (closing) return;
    closing = true;
    void chain
      .then(() => engine.close())
      .catch((e: unknown) => {
        process.stderr.write(`${role}: close failed: ${e instanceof Error ? e.message : String(e)}\n`);
      })
      .finally(() => process.exit(code));
  };
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      return;
    }
    // One request at a time, in order: marks must not overtake the stop before them.
    chain = chain.then(async () => {
      try {
        if (req.op === 'mark') {
          // Synchronous, and left out of the allocation figures with the reply it writes.
          engine.meter.own(() => {
            reply({ id: req.id, ok: true, result: engine.mark() });
          });
        } else reply({ id: req.id, ok: true, result: await handle(engine, req) });
      } catch (e) {
        const raw = e instanceof NetvscError ? e.code : (e as { code?: unknown }).code;
        const code = typeof raw === 'string' ? raw : 'ERR_BENCH_CHILD';
        reply({ id: req.id, ok: false, error: { code, message: e instanceof Error ? e.message : String(e) } });
      }
    });
  });
  rl.on('close', () => {
    shutdown(0);
  });
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      shutdown(1);
    });
  }
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, role })}\n`);
}
