import { NetvscError } from '@netvsc/ethdev';
import type { FailStage } from './events.js';

/** An `exec()` command failed: spawn error, non-zero exit, signal or timeout. */
export class ExecError extends NetvscError {
  readonly command: string;
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly timedOut: boolean;

  constructor(command: string, detail: { exitCode?: number; signal?: string; timedOut?: boolean; message: string; cause?: unknown }) {
    super('ERR_EXEC', `exec(${command}): ${detail.message}`, { cause: detail.cause });
    this.command = command;
    this.exitCode = detail.exitCode;
    this.signal = detail.signal;
    this.timedOut = detail.timedOut ?? false;
  }
}

/** A port handed to the fail-safe (or found by name) already belongs to another driver, or is closed. */
export class SubDeviceBusyError extends NetvscError {
  constructor(message: string) {
    super('ERR_BUSY', message);
  }
}

/**
 * What `plug()` rejects with: one attempt to bring a sub-device in failed. `cause` is the
 * underlying error (whose own `code` says more, e.g. `ERR_DRIVER_NOT_FOUND`, `ERR_EXEC`).
 */
export class SubDeviceError extends NetvscError {
  readonly subdev: number;
  readonly stage: FailStage;
  readonly op: string;

  constructor(port: string, subdev: number, stage: FailStage, op: string, cause: Error) {
    super('ERR_SUBDEV', `${port}: sub-device ${subdev}: ${op} failed (${stage}): ${cause.message}`, { cause });
    this.subdev = subdev;
    this.stage = stage;
    this.op = op;
  }
}
