/**
 * One error base for the whole stack. Match on `code`, never on `message`:
 * messages are for people and may change, codes are API.
 */
export class NetvscError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A failed system call; `code` is the errno name (`ENXIO`, `EPERM`, ...). */
export class ErrnoError extends NetvscError {
  readonly errno: number;
  readonly syscall: string;

  constructor(errnoName: string, errno: number, syscall: string, detail?: string) {
    super(errnoName, `${syscall}: ${errnoName} (errno ${errno})${detail ? `: ${detail}` : ''}`);
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** A device string that does not parse: `column` is 1-based into `input`. */
export class DevArgsError extends NetvscError {
  readonly input: string;
  readonly column: number;
  readonly expected: string;

  constructor(input: string, column: number, expected: string, found?: string) {
    const what = found === undefined ? '' : `, found ${found}`;
    super('ERR_DEVARGS', `invalid device string at column ${column}: expected ${expected}${what} in "${input}"`);
    this.input = input;
    this.column = column;
    this.expected = expected;
  }
}

/** A bad argument value (wrong range, unknown key, malformed address). */
export class InvalidArgumentError extends NetvscError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_ARG', message, options);
  }
}

/** An operation called in the wrong lifecycle state (e.g. start before configure). */
export class StateError extends NetvscError {
  constructor(message: string) {
    super('ERR_BAD_STATE', message);
  }
}

/** The driver does not implement this operation. */
export class NotSupportedError extends NetvscError {
  constructor(message: string) {
    super('ERR_NOT_SUPPORTED', message);
  }
}

/** The device is gone (removed) or was never found. */
export class NoDeviceError extends NetvscError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_NO_DEVICE', message, options);
  }
}

/** No registered driver matches a device string. */
export class DriverNotFoundError extends NetvscError {
  constructor(message: string) {
    super('ERR_DRIVER_NOT_FOUND', message);
  }
}
