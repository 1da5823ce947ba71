import { defineConfig } from 'vitest/config';

// Suites start real servers (nginx, squid, sshd) and real packaging tools; on the
// 2-core machines CI runs on, two files at a time keeps them from starving each other.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default'],
  },
});
