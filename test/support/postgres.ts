/**
 * A throwaway PostgreSQL for tests (issue 19). `.ci/run` starts one server for the whole run and
 * exports its URL as GT_TEST_PG_URL; without it (a developer's `npm test`) the test global setup
 * starts one the same way (test/support/postgres-setup.ts), and a process that has neither starts
 * its own on first use and stops it when it exits.
 *
 * The server: `initdb` into a temp directory, `pg_ctl start` listening on a loopback port and a
 * Unix socket in that directory, password authentication over TCP (so URLs carry a password,
 * as a user's do). PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as the
 * `postgres` user, which owns the data directory.
 *
 * API (stable: other tests build on it):
 *   postgresUnavailable()       why no server can be had (undefined when one can)
 *   startPostgres()             the shared server: { url, createDatabase(name?), dropDatabase(url), stop() }
 *   freshDatabase(prefix?)      a new empty database for the current test, dropped after it
 */
import { randomBytes } from 'node:crypto';
import { onCleanup } from './env.js';
import { launchPostgres, postgresUnavailable, type ServerProcess } from './postgres-server.js';

export { launchPostgres, postgresBinDir, postgresUnavailable, POSTGRES_REQUIRED, type ServerProcess } from './postgres-server.js';

export interface TestPostgres {
  /** The maintenance database's URL (user, password, loopback host and port). */
  url: string;
  /** Creates an empty database (a unique name when none is given) and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Drops a database made by createDatabase, ending its connections first. */
  dropDatabase(url: string): Promise<void>;
  /** Stops the server if this process started it (a shared one from GT_TEST_PG_URL is left running). */
  stop(): Promise<void>;
}

type PgClient = { connect(): Promise<void>; query(sql: string, params?: unknown[]): Promise<unknown>; end(): Promise<void> };

async function admin<T>(url: string, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url }) as unknown as PgClient;
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

let shared: Promise<TestPostgres> | undefined;

/** The test PostgreSQL of this run: GT_TEST_PG_URL's, or one this process starts (stopped at exit). */
export function startPostgres(): Promise<TestPostgres> {
  shared ??= (async () => {
    let url = process.env.GT_TEST_PG_URL;
    let own: ServerProcess | undefined;
    if (!url) {
      const reason = postgresUnavailable();
      if (reason) throw new Error(`no test PostgreSQL: ${reason}`);
      own = await launchPostgres();
      url = own.url;
      const server = own;
      process.once('exit', () => server.stop());
    }
    const base = url;
    return {
      url: base,
      async createDatabase(name = `gt_test_${randomBytes(6).toString('hex')}`) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
        await admin(base, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`));
        return withDatabase(base, name);
      },
      async dropDatabase(dbUrl) {
        const name = new URL(dbUrl).pathname.slice(1);
        await admin(base, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      },
      stop: async () => {
        own?.stop();
        shared = undefined;
        return Promise.resolve();
      },
    };
  })();
  return shared;
}

/** A new empty database on the test server for the current test, dropped after it (after everything registered later, such as stores, is closed). */
export async function freshDatabase(): Promise<string> {
  const server = await startPostgres();
  const url = await server.createDatabase();
  onCleanup(() => server.dropDatabase(url));
  return url;
}
