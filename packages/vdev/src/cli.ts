#!/usr/bin/env node
import { main } from './cli/main.js';

// The first SIGINT/SIGTERM asks the running command to stop and tear everything down; a
// second one means the user gave up waiting.
const controller = new AbortController();
let signals = 0;
const onSignal = (sig: NodeJS.Signals): void => {
  signals++;
  if (signals > 1) {
    process.stderr.write(`netvsc: second ${sig}, exiting without cleanup\n`);
    process.exit(130);
  }
  controller.abort(sig);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await main(process.argv.slice(2), {
  out: process.stdout,
  err: process.stderr,
  env: process.env,
  signal: controller.signal,
});
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
process.exitCode = code;
