import { defineConfig } from 'vitest/config';

/**
 * Three tiers (`npm run test:unit|test:integration|test:e2e`; `npm test` runs all):
 * - unit: logic and the domain through the in-process harness (test/support/harness.ts):
 *   real git and SQLite, no CLI processes, no build — seconds.
 * - integration: the ledger, the CLIs and the model server as real processes.
 * - e2e: whole towns: real tmux, agents, daemon, merge queue, Claude Code and Codex.
 * The CLI tiers run the bundled binaries, built once per run (global setup).
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    // Most of a town test is waiting (on git, tmux, sessions, the daemon), not computing: three
    // files at a time on these 2-core machines (vitest's default is cores - 1 = 1) took the whole
    // suite from 310 s to 222 s here, with every test still passing under a concurrent build.
    maxWorkers: 3,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['./test/support/global-setup.ts', './test/support/postgres-setup.ts'],
        },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], globalSetup: ['./test/support/global-setup.ts', './test/support/postgres-setup.ts'] },
      },
    ],
  },
});
