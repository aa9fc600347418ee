import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { freshDatabase, postgresUnavailable, POSTGRES_REQUIRED, startPostgres } from '../support/postgres.js';

const unavailable = postgresUnavailable();
if (unavailable && !POSTGRES_REQUIRED) console.warn(`[postgres] test server tests skipped: ${unavailable}`);

// The throwaway server every PostgreSQL test runs on: a database per test, isolated from the others.
describe.skipIf(unavailable !== undefined && !POSTGRES_REQUIRED)('the test PostgreSQL', () => {
  it('gives each test its own empty database, with password authentication over loopback', async () => {
    const server = await startPostgres();
    expect(new URL(server.url).password).not.toBe('');
    const [a, b] = [await freshDatabase(), await freshDatabase()];
    expect(a).not.toBe(b);
    const client = new pg.Client({ connectionString: a });
    await client.connect();
    try {
      await client.query('CREATE TABLE t (x int)');
      const tables = await client.query<{ n: string }>(`SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'`);
      expect(Number(tables.rows[0]?.n)).toBe(1);
    } finally {
      await client.end();
    }
    const other = new pg.Client({ connectionString: b });
    await other.connect();
    try {
      const tables = await other.query<{ n: string }>(`SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'`);
      expect(Number(tables.rows[0]?.n)).toBe(0);
    } finally {
      await other.end();
    }
    const wrong = new URL(a);
    wrong.password = 'wrong';
    const rejected = new pg.Client({ connectionString: wrong.toString() });
    await expect(rejected.connect()).rejects.toThrow(/password authentication failed/);
  });
});
