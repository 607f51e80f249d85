import { expect } from 'vitest';

/** Matcher for a thrown NetvscError: its stable `code` and, optionally, what the message says. */
export function errorLike(code: string, message?: RegExp): Error {
  return expect.objectContaining({ code, ...(message && { message: expect.stringMatching(message) as unknown }) }) as Error;
}
