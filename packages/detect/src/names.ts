import { InvalidInterfaceNameError } from './errors.js';

/**
 * Check an interface name before it becomes part of a path: non-empty, shorter than
 * IFNAMSIZ (16), no '/', no whitespace, not "." or "..". Throws InvalidInterfaceNameError.
 */
export function validateIfaceName(name: string): void {
  if (name.length === 0) throw new InvalidInterfaceNameError(name, 'empty');
  if (name.length >= 16) throw new InvalidInterfaceNameError(name, `${name.length} characters (IFNAMSIZ is 16 including the NUL)`);
  if (name === '.' || name === '..') throw new InvalidInterfaceNameError(name, 'a path component');
  if (name.includes('/')) throw new InvalidInterfaceNameError(name, "contains '/'");
  if (/\s/.test(name)) throw new InvalidInterfaceNameError(name, 'contains whitespace');
  // NUL would silently truncate the path in libc.
  if (name.includes('\0')) throw new InvalidInterfaceNameError(name, 'contains NUL');
}

/** Whether `name` passes validateIfaceName. */
export function isValidIfaceName(name: string): boolean {
  try {
    validateIfaceName(name);
    return true;
  } catch {
    return false;
  }
}
