import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Files run one at a time: on a 2-core machine the 100k-packet fuzz run would starve the
    // agent interop test's 100 ms probes (and make it fail for the wrong reason).
    pool: 'forks',
    fileParallelism: false,
  },
});
