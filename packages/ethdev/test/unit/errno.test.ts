import { describe, expect, it } from 'vitest';
import { Errno, errnoName } from '../../src/index.js';

describe('errnoName', () => {
  it('gives the name glibc reports for numbers that have two (EAGAIN, not EWOULDBLOCK)', () => {
    expect([11, 35, 95].map(errnoName)).toEqual(['EAGAIN', 'EDEADLK', 'EOPNOTSUPP']);
  });

  it('names the others, and says the number when it has no name', () => {
    expect([1, 2, 19, 22, 77].map(errnoName)).toEqual(['EPERM', 'ENOENT', 'ENODEV', 'EINVAL', 'EBADFD']);
    expect(errnoName(9999)).toBe('E9999');
  });
});

describe('Errno', () => {
  it('holds the numbers this system gives those names', () => {
    for (const [name, n] of Object.entries(Errno)) expect([name, errnoName(n)]).toEqual([name, name]);
  });
});
