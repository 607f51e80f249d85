import { createRequire } from 'node:module';
import { errorLine, exitCodeFor, EXIT_OK, EXIT_USAGE, type Command, type Io } from './common.js';
import { demoCommand } from './demo.js';
import { detectCommand } from './detect.js';
import { probeCommand } from './probe.js';
import { runCommand } from './run.js';

export const COMMANDS: readonly Command[] = [detectCommand, probeCommand, runCommand, demoCommand];

function version(): string {
  const require = createRequire(import.meta.url);
  // dist/cli.js once bundled, src/cli/main.ts under the tests: the manifest is one or two levels up.
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(rel) as { name?: string; version?: string };
      if (pkg.name === '@netvsc/vdev') return pkg.version ?? '0.0.0';
    } catch {
      // not at this level
    }
  }
  return '0.0.0';
}

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: netvsc <command> [options]

The vdev_netvsc stack (fail-safe over TAP + VF) for Linux guests on Hyper-V / Azure.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run 'netvsc <command> --help' for the options of a command.

Options:
  -h, --help     show this help
  -V, --version  show the version

Exit codes: 0 ok, 1 runtime failure, 2 usage error / bad devargs / nothing found.
Environment: NETVSC_SYSFS_ROOT (read sysfs from a fixture tree), NETVSC_DEBUG=1 (stack traces).
`;
}

/** The whole CLI as a function: argv without `node netvsc`, returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    const topic = first === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.out.write(topic ? topic.help : usage());
    return first === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (first === '-V' || first === '--version') {
    io.out.write(`${version()}\n`);
    return EXIT_OK;
  }
  const cmd = COMMANDS.find((c) => c.name === first);
  if (!cmd) {
    io.err.write(`netvsc: unknown command "${first}"; commands: ${COMMANDS.map((c) => c.name).join(', ')} (see netvsc --help)\n`);
    return EXIT_USAGE;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    io.out.write(cmd.help);
    return EXIT_OK;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    io.err.write(errorLine(e));
    if (io.env.NETVSC_DEBUG === '1' && e instanceof Error && e.stack) io.err.write(`${e.stack}\n`);
    return exitCodeFor(e);
  }
}
