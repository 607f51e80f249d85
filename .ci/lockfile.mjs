// Did `npm install` change what the committed lockfile installs on this machine?
//
// The registry this machine sees has flipped between listing and not listing other platforms'
// optional binaries (@nx/nx-darwin-arm64, @rollup/rollup-win32-*, ...), and npm writes the
// lockfile from what it sees: such entries come and go without changing a single installed
// package. Those are reported and tolerated; any other difference fails, as before.
//
// usage: node .ci/lockfile.mjs COMMITTED.json INSTALLED.json   (exit 0 same, 1 differs)
import { readFileSync } from 'node:fs';

const [, , committedFile, installedFile] = process.argv;
const load = (f) => JSON.parse(readFileSync(f, 'utf8'));
const committed = load(committedFile);
const installed = load(installedFile);

/** npm's os/cpu/libc rule: a list of allowed values, or of `!`-prefixed excluded ones. */
function allows(list, here) {
  if (!Array.isArray(list) || list.length === 0) return true;
  if (list.includes(`!${here}`)) return false;
  const allowed = list.filter((v) => !v.startsWith('!'));
  return allowed.length === 0 || allowed.includes(here);
}

const libc = process.report?.getReport().header.glibcVersionRuntime !== undefined ? 'glibc' : 'musl';

/** An optional package npm does not install here (its os, cpu or libc exclude this machine). */
function foreignOptional(entry) {
  return entry?.optional === true && (!allows(entry.os, process.platform) || !allows(entry.cpu, process.arch) || !allows(entry.libc, libc));
}

const a = committed.packages ?? {};
const b = installed.packages ?? {};
const tolerated = [];
const differs = [];
for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
  const x = a[key];
  const y = b[key];
  if (JSON.stringify(x) === JSON.stringify(y)) continue;
  if ((x === undefined && foreignOptional(y)) || (y === undefined && foreignOptional(x))) tolerated.push(`${x === undefined ? '+' : '-'} ${key}`);
  else differs.push(key);
}
const { packages: _a, ...restA } = committed;
const { packages: _b, ...restB } = installed;
if (JSON.stringify(restA) !== JSON.stringify(restB)) differs.push('(top-level fields)');

if (tolerated.length > 0) {
  console.log(`lockfile: ${tolerated.length} optional entries for other platforms differ (the registry's listing, nothing installed here changes); commit the lockfile npm writes when convenient`);
}
if (differs.length > 0) {
  console.log(`lockfile: what npm install resolved differs from the committed lockfile: ${differs.slice(0, 20).join(', ')}${differs.length > 20 ? ', ...' : ''}`);
  process.exit(1);
}
