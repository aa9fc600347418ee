import { launchPostgres, postgresUnavailable, POSTGRES_REQUIRED } from './postgres-server.js';

/**
 * One throwaway PostgreSQL for the test run (issue 19), unless GT_TEST_PG_URL names one already
 * (.ci/run starts its own, shared by the Node matrix legs). Test files get it through
 * GT_TEST_PG_URL; each test makes its own database on it (test/support/postgres.ts).
 * When none can be had the PostgreSQL legs are skipped with the reason printed, except in CI
 * (GT_TEST_PG_REQUIRED=1), where that is a failure.
 */
export default async function setup(): Promise<(() => void) | undefined> {
  if (process.env.GT_TEST_PG_URL) return undefined;
  const reason = postgresUnavailable();
  if (reason) {
    if (POSTGRES_REQUIRED) throw new Error(`GT_TEST_PG_REQUIRED is set but no PostgreSQL can be started: ${reason}`);
    process.stderr.write(`\n[postgres] the PostgreSQL ledger tests are SKIPPED: ${reason}\n\n`);
    return undefined;
  }
  const server = await launchPostgres();
  process.env.GT_TEST_PG_URL = server.url;
  return () => {
    server.stop();
    delete process.env.GT_TEST_PG_URL;
  };
}
