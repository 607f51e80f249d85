// Sum vitest's per-package "Tests ..." lines into the one closing line CI reads.
import { readFileSync } from 'node:fs';

const [, , file, status] = process.argv;
const text = readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0;
let failed = 0;
let skipped = 0;
let files = 0;
for (const line of text.split('\n')) {
  const m = /^\s*(?:\S+\s+)?Tests\s+(.*)\(\d+\)\s*$/.exec(line);
  if (!m) continue;
  files++;
  for (const [, n, what] of m[1].matchAll(/(\d+)\s+(passed|failed|skipped|todo)/g)) {
    if (what === 'passed') passed += Number(n);
    else if (what === 'failed') failed += Number(n);
    else skipped += Number(n);
  }
}
if (status !== '0' && failed === 0) failed = 1; // a build, lint or typecheck failure
console.log(`(${files} test runs summed)`);
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
