#!/usr/bin/env node
/**
 * `npm run bench [-- --quick]`: the side-by-side benchmark. Prints the table, writes the JSON.
 * Exit codes: 0 ran (whatever the targets say), 1 could not run, 2 usage.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, NetvscError } from '@netvsc/ethdev';
import { privilegeStatus } from '@netvsc/sim';
import { parseArgs, USAGE } from './parse.js';
import { runBench, writeResult } from './runner.js';
import { compareResults, validateResult, type BenchResult } from './schema.js';
import { renderComparison, renderResult } from './table.js';
import { wakePathChanges } from './wakepath.js';

function compare(a: string, b: string): number {
  const load = (f: string): BenchResult => {
    const v: unknown = JSON.parse(readFileSync(f, 'utf8'));
    const errs = validateResult(v);
    if (errs.length > 0) throw new InvalidArgumentError(`${f} is not a bench result: ${errs.slice(0, 3).join('; ')}`);
    return v as BenchResult;
  };
  const before = load(a);
  const after = load(b);
  process.stdout.write(`${renderComparison(compareResults(before, after), undefined, wakePathChanges(before.machine.wakePath, after.machine.wakePath))}\n`);
  return 0;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'compare') {
    if (argv.length !== 3) {
      process.stderr.write('usage: netvsc-bench compare OLD.json NEW.json\n');
      return 2;
    }
    return compare(argv[1] ?? '', argv[2] ?? '');
  }
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const priv = privilegeStatus();
  if (!priv.ok) {
    process.stderr.write(`netvsc-bench needs root (network namespaces): ${priv.reason}\n`);
    return 1;
  }
  const log = (line: string): void => {
    process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  };
  // Interrupted: exit through process.exit, so the exit hooks run (the simulator's synchronous
  // teardown, SIGKILL to every child, DPDK's runtime directories): a signal's default action
  // would leave namespaces, veths and processes behind.
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(sig, () => {
      log(`${sig}: tearing everything down`);
      process.exit(code);
    });
  }
  const result = await runBench(opts, { log });
  const path = writeResult(opts.out, result);
  process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : `${renderResult(result)}\nresult: ${path}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    const code = e instanceof NetvscError ? ` (${e.code})` : '';
    const text = e instanceof NetvscError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
    process.stderr.write(`netvsc-bench failed${code}: ${text}\n`);
    process.exit(e instanceof InvalidArgumentError ? 2 : 1);
  },
);
