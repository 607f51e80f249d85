import { NetvscError } from '@netvsc/ethdev';

/** `ip`, `tc` or `sysctl` is not installed (or not on PATH / in /sbin, /usr/sbin). */
export class SimToolMissingError extends NetvscError {
  readonly tool: string;

  constructor(tool: string, why: string) {
    super('ERR_SIM_TOOL_MISSING', `the simulator needs \`${tool}\` (${why}); install iproute2/procps or put it on PATH`);
    this.tool = tool;
  }
}

/** A command the simulator ran (ip/tc/sysctl) failed; `stderr` says why. */
export class SimCommandError extends NetvscError {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(argv: readonly string[], exitCode: number | null, stderr: string, options?: { cause?: unknown }) {
    super('ERR_SIM_COMMAND', `\`${argv.join(' ')}\` failed (exit ${exitCode ?? 'signal'}): ${stderr.trim() || 'no output'}`, options);
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** The host-side traffic peer failed to start, died, or refused a request. */
export class SimPeerError extends NetvscError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SIM_PEER', message, options);
  }
}

/** The calling process lacks root / CAP_NET_ADMIN. */
export class SimPrivilegeError extends NetvscError {
  constructor(message: string) {
    super('ERR_SIM_PRIVILEGE', message);
  }
}
