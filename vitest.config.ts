import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds the CLI bundle once for every suite that spawns it (test/cli/helpers.ts).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One test file per core. Vitest's default leaves one core to its main process (one worker on
    // a 2-core machine), but that process idles, and most CLI tests wait on a child: one worker
    // kept the second core nearly idle.
    maxWorkers: availableParallelism(),
    reporters: ['default'],
  },
});
