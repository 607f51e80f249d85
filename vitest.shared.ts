// Base vitest config merged by every package (see packages/*/vitest.config.ts).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests share the kernel's network stack: run files one at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
