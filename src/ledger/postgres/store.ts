/**
 * The ledger on PostgreSQL (issue 19), through node-postgres. Same port, same rules, same
 * schema versions as the SQLite store: the conformance suite runs against both.
 *
 * A write is one SERIALIZABLE transaction: PostgreSQL detects every conflict between concurrent
 * writers and aborts one with 40001 (or 40P01 for a deadlock); the store runs the whole
 * transaction again after a jittered back-off, so a user never sees contention and no write is
 * lost. A retry holds an advisory write lock, so under contention writers take turns. A read is a REPEATABLE READ, READ ONLY snapshot. A town event wakes its followers with
 * NOTIFY at commit (`watch`), where SQLite's are polled.
 *
 * This module is its own bundle (dist/gt-pg.cjs), loaded by src/app only for a postgres:// URL:
 * a SQLite town never parses node-postgres.
 */
import pg from 'pg';
import { GtError } from '../../shared/errors.js';
import type { BlockerInfo, ExportSelection, LedgerReader, LedgerStore, LedgerWriter } from '../../core/beads/store.js';
import type { BlockedIssue, Comment, Dependency, Issue, IssueFilter, IssueWithCounts, LedgerEvent, ReadyFilter, Stats } from '../../core/beads/types.js';
import type { TownEvent, TownEventFilter, TownEventKind } from '../../core/events/town-events.js';
import type { NotificationFilter, NotificationRecord } from '../../core/notify/types.js';
import { PG_LATEST_SCHEMA_VERSION, PG_MIGRATIONS } from './migrations.js';
import { ISSUE_COLUMNS, issueToRow, patchToColumns, rowToIssue, type Params, type Row } from '../sqlite/rows.js';
import { buildFilter, orderBy, readyConditions, type SqlDialect } from '../sqlite/queries.js';
import { maskLedgerUrl } from './url.js';

export { maskLedgerUrl } from './url.js';

export interface PostgresOptions {
  /** Create the schema in a database that has none. Otherwise such a database is an error. */
  create?: boolean;
  /** How long a write keeps retrying serialization failures in total (ms). */
  retryForMs?: number;
  /** Connections this process may hold (a CLI needs one; the daemon and dashboard a few). */
  maxConnections?: number;
}

/** Column IN list: a JS array bound as one PostgreSQL array parameter. */
export const PG_DIALECT: SqlDialect = {
  inList: (column, values, param, not) => (not ? `${column} <> ALL(${param([...values])})` : `${column} = ANY(${param([...values])})`),
  jsonText: (column, path, param) => `gt_json_text(${column}, ${param(path)}::text[])`,
  jsonHas: (column, path, param) => `(CASE WHEN gt_json_valid(${column}) THEN (${column})::jsonb #> ${param(path)}::text[] END) IS NOT NULL`,
  // Under COLLATE "C" ILIKE folds ASCII letters only: SQLite's LIKE.
  like: 'ILIKE',
  afterDash: (column) => `substr(${column}, strpos(${column}, '-') + 1)`,
  nocase: (column) => `lower(${column})`,
};

const RESOLVED = `('closed','pinned')`;
const WAITS_FOR_UNSATISFIED = `(EXISTS (SELECT 1 FROM dependencies cd JOIN issues c ON c.id = cd.issue_id
    WHERE cd.depends_on_id = d.depends_on_id AND cd.type = 'parent-child' AND c.status NOT IN ${RESOLVED})
  AND NOT (gt_json_valid(d.metadata) AND gt_json_text(d.metadata, '{gate}') = 'any-children'
    AND EXISTS (SELECT 1 FROM dependencies cd JOIN issues c ON c.id = cd.issue_id
      WHERE cd.depends_on_id = d.depends_on_id AND cd.type = 'parent-child' AND c.status = 'closed')))`;
const DIRECT_BLOCKED = `
    CASE WHEN i.status IN ${RESOLVED} THEN 0
    WHEN EXISTS (SELECT 1 FROM dependencies d JOIN issues t ON t.id = d.depends_on_id
                  WHERE d.issue_id = i.id AND d.type IN ('blocks','conditional-blocks') AND t.status NOT IN ${RESOLVED}) THEN 1
    WHEN EXISTS (SELECT 1 FROM dependencies d JOIN issues p ON p.id = d.depends_on_id
                  WHERE d.issue_id = i.id AND d.type = 'parent-child' AND p.is_blocked = 1) THEN 1
    WHEN EXISTS (SELECT 1 FROM dependencies d WHERE d.issue_id = i.id AND d.type = 'waits-for' AND ${WAITS_FOR_UNSATISFIED}) THEN 1
    ELSE 0 END`;
const INSERT_ISSUE = `INSERT INTO issues (${ISSUE_COLUMNS.join(', ')}) VALUES (${ISSUE_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;

/** Columns PostgreSQL returns as text (bigint), given back as numbers. */
const BIGINT_COLUMNS = new Set(['comments.seq', 'events.id', 'town_events.id', 'notifications.id', 'issues.original_size', 'issues.timeout_ns']);
const IDENTITY_COLUMNS: Array<[string, string]> = [
  ['comments', 'seq'],
  ['events', 'id'],
  ['town_events', 'id'],
  ['notifications', 'id'],
];

/** Serialization failure, deadlock: the transaction is run again. */
const RETRYABLE = new Set(['40001', '40P01']);
const isRetryable = (error: unknown) => error instanceof Error && 'code' in error && typeof error.code === 'string' && RETRYABLE.has(error.code);
const READ = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';
/** The advisory lock key of retried writes (and of migrations, which use their own, below). */
const WRITE_LOCK = 4739202;
const WRITE = 'BEGIN ISOLATION LEVEL SERIALIZABLE';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The text of `?` (positional) or `@name` (named) SQL with `$n` placeholders, cached by text. */
const translated = new Map<string, { text: string; names: string[] }>();
function translate(sql: string): { text: string; names: string[] } {
  let hit = translated.get(sql);
  if (hit) return hit;
  const names: string[] = [];
  let n = 0;
  // Placeholders outside quoted literals only.
  const text = sql.replace(/'(?:[^']|'')*'|\?|@([A-Za-z_][A-Za-z0-9_]*)/g, (match, name: string | undefined) => {
    if (match.startsWith("'")) return match;
    if (name === undefined) return `$${++n}`;
    const index = names.indexOf(name);
    if (index >= 0) return `$${index + 1}`;
    names.push(name);
    return `$${names.length}`;
  });
  hit = { text, names };
  if (translated.size < 2000) translated.set(sql, hit);
  return hit;
}

/** One connection inside one transaction. Remembers the first failure: a transaction that saw one never commits. */
class Conn {
  failure: Error | undefined;
  /** One statement at a time on the connection (the ledger may ask several at once inside a transaction). */
  private queue: Promise<unknown> = Promise.resolve();
  constructor(private readonly client: pg.PoolClient) {}

  /** `sql` with `?` or `@name` placeholders, or `{ raw }`: text with `$n` placeholders already. */
  query(sql: string | { raw: string }, params: unknown[] | Record<string, unknown> = []): Promise<pg.QueryResult<Row>> {
    const { text, names } = typeof sql === 'string' ? translate(sql) : { text: sql.raw, names: [] };
    const values = Array.isArray(params) ? params : names.map((name) => params[name] ?? null);
    const run = async () => {
      try {
        return await this.client.query<Row>({ text, values: values.map(toParam) });
      } catch (error) {
        this.failure ??= error instanceof Error ? error : new Error(String(error));
        throw error;
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }
  async all(sql: string, ...params: unknown[]): Promise<Row[]> {
    return (await this.query(sql, params)).rows;
  }
  async named(sql: string, params: Record<string, unknown>): Promise<Row[]> {
    return (await this.query(sql, params)).rows;
  }
  async get(sql: string, ...params: unknown[]): Promise<Row | undefined> {
    return (await this.query(sql, params)).rows[0];
  }
  async run(sql: string, ...params: unknown[]): Promise<number> {
    return (await this.query(sql, params)).rowCount ?? 0;
  }
}

/** bigint parameters go as text (node-postgres does not serialize them). */
const toParam = (value: unknown) => (typeof value === 'bigint' ? value.toString() : value);

export class PostgresLedgerStore implements LedgerStore {
  readonly location: string;
  /** Transactions run again after a serialization failure or deadlock (for tests and benches). */
  retries = 0;
  private closed = false;
  private listener: pg.Client | undefined;
  private listening: Promise<pg.Client> | undefined;
  /** Who watches, and whether only for other processes' commits. */
  private readonly watchers = new Map<() => void, boolean>();
  /** The server processes of this store's own connections: a NOTIFY from one of them is this process's own commit. */
  private readonly ownBackends = new Set<number>();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly retryForMs: number,
  ) {
    this.location = maskLedgerUrl(url);
  }

  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresLedgerStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 4,
      // An idle pool never keeps a finished command alive.
      allowExitOnIdle: true,
      idleTimeoutMillis: 10_000,
      application_name: 'gt',
    });
    // A connection that drops while idle in the pool is discarded, not thrown at the process.
    pool.on('error', () => undefined);
    const store = new PostgresLedgerStore(pool, url, options.retryForMs ?? 120_000);
    pool.on('connect', (client) => {
      const pid = (client as pg.PoolClient & { processID?: number }).processID;
      if (pid !== undefined) store.ownBackends.add(pid);
    });
    try {
      await store.prepare(options.create ?? false);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    return store;
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      // node-postgres's words for "the server wants a password and none was found".
      const message = /client password must be a string/.test((error as Error).message)
        ? 'the server asks for a password and none was given'
        : (error as Error).message;
      // 3D000: the server is there but the database is not; gt never creates databases (that takes rights a town should not hold).
      const missing = (error as { code?: unknown }).code === '3D000';
      const database = /^[a-z]+:\/\/[^/?#]*\/([^?#]+)/i.exec(this.url)?.[1] ?? '<name>';
      throw new GtError('external', `cannot connect to the ledger at ${this.location}: ${message}`, {
        hint: missing
          ? `create it first: createdb ${database} (or CREATE DATABASE ${database}), then run the command again`
          : 'is PostgreSQL running and the URL right? The password comes from the URL, PGPASSWORD or ~/.pgpass',
        cause: error,
      });
    }
  }

  /** The schema version as written (0: no gt schema in this database). */
  static async schemaOf(client: pg.PoolClient): Promise<number> {
    return PostgresLedgerStore.readVersion(client);
  }

  private static async readVersion(client: pg.PoolClient): Promise<number> {
    // One round trip on every start: the table is read directly, and its absence (42P01) is version 0.
    try {
      const row = await client.query<{ version: number }>('SELECT version FROM gt_schema');
      return row.rows[0]?.version ?? 0;
    } catch (error) {
      if (error instanceof Error && 'code' in error && error.code === '42P01') return 0;
      throw error;
    }
  }

  /** Refuses a newer schema without touching it; applies pending migrations in one transaction, one migrator at a time. */
  private async prepare(create: boolean): Promise<void> {
    const client = await this.connect();
    try {
      const version = await PostgresLedgerStore.readVersion(client);
      if (version > PG_LATEST_SCHEMA_VERSION) {
        throw new GtError('schema', `ledger ${this.location} has schema version ${version}, newer than this gt understands (${PG_LATEST_SCHEMA_VERSION})`, {
          hint: 'upgrade gt (npm install -g gt@latest); nothing was changed',
        });
      }
      if (version === PG_LATEST_SCHEMA_VERSION) return;
      if (version === 0 && !create) {
        throw new GtError('not_found', `no gt ledger in the database ${this.location}`, {
          hint: 'create one with gt install --ledger <url> (or bd init with BD_LEDGER_URL set)',
        });
      }
      await client.query('BEGIN');
      try {
        // Concurrent openers of a new database wait here; the second finds the work done.
        await client.query('SELECT pg_advisory_xact_lock(4739201)');
        // Inside the transaction a failed statement would abort it: look the table up instead of reading it blind.
        const table = await client.query<{ t: string | null }>(`SELECT to_regclass('gt_schema')::text AS t`);
        const current = table.rows[0]?.t == null ? 0 : await PostgresLedgerStore.readVersion(client);
        if (current === 0) await client.query('CREATE TABLE gt_schema (version integer NOT NULL)');
        for (const migration of PG_MIGRATIONS) {
          if (migration.version <= current) continue;
          await client.query(migration.sql);
        }
        await client.query('DELETE FROM gt_schema');
        await client.query('INSERT INTO gt_schema (version) VALUES ($1)', [PG_LATEST_SCHEMA_VERSION]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      client.release();
    }
  }

  async schemaVersion(): Promise<number> {
    const client = await this.connect();
    try {
      return await PostgresLedgerStore.readVersion(client);
    } finally {
      client.release();
    }
  }

  async integrityCheck(): Promise<string[]> {
    return this.transaction(READ, async ({ conn }) => {
      const problems: string[] = [];
      const version = Number((await conn.get('SELECT version FROM gt_schema'))?.version ?? 0);
      if (version !== PG_LATEST_SCHEMA_VERSION) problems.push(`schema version ${version}, expected ${PG_LATEST_SCHEMA_VERSION}`);
      const counts = await conn.all(
        `SELECT c.base, c.n, (SELECT COUNT(*) FROM issues WHERE strpos(id, '.') = 0 AND rtrim(rtrim(id, replace(id, '-', '')), '-') = c.base) AS actual
           FROM id_counts c`,
      );
      for (const r of counts)
        if (Number(r.n) !== Number(r.actual)) problems.push(`id_counts for ${String(r.base)} is ${Number(r.n)}, ${Number(r.actual)} issues`);
      return problems;
    });
  }

  read<T>(fn: (tx: LedgerReader) => Promise<T>): Promise<T> {
    return this.transaction(READ, fn);
  }

  write<T>(fn: (tx: LedgerWriter) => Promise<T>): Promise<T> {
    return this.transaction(WRITE, fn);
  }

  private async transaction<T>(begin: string, fn: (tx: PgTx) => Promise<T>): Promise<T> {
    if (this.closed) throw new GtError('internal', 'the ledger is closed');
    const deadline = Date.now() + this.retryForMs;
    for (let attempt = 0; ; attempt++) {
      const client = await this.connect();
      const conn = new Conn(client);
      let broken = false;
      // A write that already lost once queues for the write lock (PostgreSQL's BEGIN IMMEDIATE) before its snapshot
      // is taken: under heavy contention on the same rows (ID counters, a claimed bead) writers then take turns
      // instead of aborting each other again. A first attempt runs unlocked, concurrently with the rest.
      const locked = begin === WRITE && attempt > 0;
      try {
        if (locked) await client.query(`SELECT pg_advisory_lock(${WRITE_LOCK})`);
        await client.query(begin);
        const result = await fn(new PgTx(conn));
        // A failed statement aborts the transaction even when fn caught it: COMMIT would only roll back.
        if (conn.failure !== undefined) throw conn.failure;
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => (broken = true));
        const cause = conn.failure !== undefined && isRetryable(conn.failure) ? conn.failure : error;
        if (!isRetryable(cause) || Date.now() > deadline) throw cause;
        this.retries++;
      } finally {
        // A session lock outlives the transaction: released here, or with the connection when it is discarded.
        if (locked && !broken) await client.query(`SELECT pg_advisory_unlock(${WRITE_LOCK})`).catch(() => (broken = true));
        client.release(broken);
      }
      // Another writer won: back off with jitter (not holding the lock), then run the whole transaction again.
      await sleep(Math.min(50, 2 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random()));
    }
  }

  /**
   * Calls `wake` soon after another transaction appends town events (LISTEN gt_town_events;
   * the NOTIFY is sent at that commit). Returns a function that stops it.
   */
  async watch(wake: () => void, options: { foreign?: boolean } = {}): Promise<() => void> {
    this.watchers.set(wake, options.foreign ?? false);
    try {
      await this.listen();
    } catch (error) {
      this.watchers.delete(wake);
      throw error;
    }
    return () => {
      this.watchers.delete(wake);
      if (this.watchers.size === 0) this.unlisten();
    };
  }

  private listen(): Promise<pg.Client> {
    this.listening ??= (async () => {
      const client = new pg.Client({ connectionString: this.url, application_name: 'gt-listen' });
      client.on('notification', (message) => {
        const own = this.ownBackends.has(message.processId);
        for (const [wake, foreign] of this.watchers) if (!(own && foreign)) wake();
      });
      // A lost connection: wake everyone (they read, then wait again) and listen anew on the next watch.
      client.on('error', () => {
        this.listening = undefined;
        this.listener = undefined;
        for (const wake of this.watchers.keys()) wake();
      });
      await client.connect();
      await client.query('LISTEN gt_town_events');
      this.listener = client;
      return client;
    })();
    this.listening.catch(() => (this.listening = undefined));
    return this.listening;
  }

  private unlisten(): void {
    const client = this.listener;
    this.listener = undefined;
    this.listening = undefined;
    if (client) void client.end().catch(() => undefined);
  }

  /** Every row of these tables in one snapshot, in primary-key order (gt ledger migrate); comments.id as its JSON value. */
  async dumpTables(tables: readonly string[]): Promise<Map<string, Row[]>> {
    return this.transaction(READ, async ({ conn }) => {
      const out = new Map<string, Row[]>();
      for (const table of tables) {
        const rows = await conn.all(`SELECT * FROM ${table} ORDER BY 1`);
        // Identity and bigint columns come back as text: numbers, as SQLite gives them.
        for (const row of rows) for (const key of Object.keys(row)) if (BIGINT_COLUMNS.has(`${table}.${key}`) && row[key] !== null) row[key] = Number(row[key]);
        out.set(table, rows);
      }
      return out;
    });
  }

  /** Inserts rows as they are (IDs kept) in one transaction; `replace` empties every table first. */
  async loadTables(rows: Map<string, Row[]>, replace: boolean): Promise<void> {
    await this.transaction(WRITE, async ({ conn }) => {
      // TRUNCATE does not fire the append-only row triggers; it is a wholesale replacement.
      if (replace) await conn.query(`TRUNCATE ${[...rows.keys(), 'id_counts'].join(', ')}`);
      for (const [table, list] of rows) {
        if (list.length === 0) continue;
        const columns = Object.keys(list[0] as Row);
        const casts = columns.map((c) => (table === 'comments' && c === 'id' ? '::jsonb' : ''));
        // Many rows per statement (at most ~30,000 parameters each).
        const per = Math.max(1, Math.floor(30_000 / columns.length));
        for (let i = 0; i < list.length; i += per) {
          const chunk = list.slice(i, i + per);
          const values: unknown[] = [];
          const tuples = chunk.map((row) => {
            const marks = columns.map((c, j) => {
              const value = row[c] ?? null;
              values.push(table === 'comments' && c === 'id' ? JSON.stringify(value) : value);
              return `$${values.length}${casts[j] ?? ''}`;
            });
            return `(${marks.join(', ')})`;
          });
          await conn.query({ raw: `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}` }, values);
        }
      }
      // Positions go on after the copied ones.
      for (const [table, column] of IDENTITY_COLUMNS)
        await conn.query(
          {
            raw: `SELECT setval(pg_get_serial_sequence('${table}', '${column}'), GREATEST((SELECT max(${column}) FROM ${table}), 1), (SELECT max(${column}) FROM ${table}) IS NOT NULL)`,
          },
          [],
        );
    });
  }

  /** Rows per table (gt ledger migrate's verification). */
  async tableCounts(tables: readonly string[]): Promise<Record<string, number>> {
    return this.transaction(READ, async ({ conn }) => {
      const counts: Record<string, number> = {};
      for (const table of tables) counts[table] = Number((await conn.get(`SELECT COUNT(*) AS n FROM ${table}`))?.n ?? 0);
      return counts;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchers.clear();
    this.unlisten();
    await this.pool.end();
  }
}

/** The transaction view: the port's methods over one connection. */
class PgTx implements LedgerWriter {
  constructor(readonly conn: Conn) {}
  private get c(): Conn {
    return this.conn;
  }

  async getIssue(id: string): Promise<Issue | undefined> {
    const row = await this.c.get('SELECT * FROM issues WHERE id = ?', id);
    return row ? rowToIssue(row) : undefined;
  }
  async existingIds(ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += 10_000) {
      for (const r of await this.c.all('SELECT id FROM issues WHERE id = ANY(?)', ids.slice(i, i + 10_000))) found.add(String(r.id));
    }
    return found;
  }
  async idsStartingWith(text: string, limit: number): Promise<string[]> {
    return (await this.c.all('SELECT id FROM issues WHERE id >= ? AND id < ? ORDER BY id LIMIT ?', text, `${text}\uffff`, limit)).map((r) => String(r.id));
  }
  async idsWithHashPrefix(text: string, limit: number): Promise<string[]> {
    return (
      await this.c.all(
        `SELECT id FROM issues WHERE strpos(id, '-') > 0 AND substr(id, strpos(id, '-') + 1) ILIKE ? ESCAPE '\\' ORDER BY id LIMIT ?`,
        `${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
        limit,
      )
    ).map((r) => String(r.id));
  }
  async countTopLevel(base: string): Promise<number> {
    return Number((await this.c.get('SELECT n FROM id_counts WHERE base = ?', base))?.n ?? 0);
  }
  async labels(id: string): Promise<string[]> {
    return (await this.c.all('SELECT label FROM labels WHERE issue_id = ? ORDER BY label', id)).map((r) => String(r.label));
  }
  async labelCounts(): Promise<Array<{ label: string; count: number }>> {
    return (await this.c.all('SELECT label, COUNT(*) AS n FROM labels GROUP BY label ORDER BY label')).map((r) => ({
      label: String(r.label),
      count: Number(r.n),
    }));
  }
  async dependencies(id: string): Promise<Dependency[]> {
    return (await this.c.all('SELECT * FROM dependencies WHERE issue_id = ? ORDER BY created_at, depends_on_id', id)).map(rowToDependency);
  }
  async dependents(id: string): Promise<Dependency[]> {
    return (await this.c.all('SELECT * FROM dependencies WHERE depends_on_id = ? ORDER BY created_at, issue_id', id)).map(rowToDependency);
  }
  async getDependency(from: string, to: string): Promise<Dependency | undefined> {
    const row = await this.c.get('SELECT * FROM dependencies WHERE issue_id = ? AND depends_on_id = ?', from, to);
    return row ? rowToDependency(row) : undefined;
  }
  async blockingPathExists(from: string, to: string): Promise<boolean> {
    const row = await this.c.get(
      `WITH RECURSIVE reach(id) AS (
         SELECT ?::text COLLATE "C" UNION
         SELECT d.depends_on_id FROM dependencies d JOIN reach r ON d.issue_id = r.id
          WHERE d.type IN ('blocks','conditional-blocks'))
       SELECT 1 AS found FROM reach WHERE id = ? LIMIT 1`,
      to,
      from,
    );
    return row !== undefined;
  }
  async openBlockers(id: string): Promise<BlockerInfo[]> {
    return (
      await this.c.all(
        `SELECT t.id, t.title, t.status, t.priority, d.type FROM dependencies d JOIN issues t ON t.id = d.depends_on_id
          WHERE d.issue_id = ? AND d.type IN ('blocks','conditional-blocks') AND t.status NOT IN ${RESOLVED}
         UNION ALL
         SELECT c.id, c.title, c.status, c.priority, 'waits-for' FROM dependencies d
           JOIN dependencies cd ON cd.depends_on_id = d.depends_on_id AND cd.type = 'parent-child'
           JOIN issues c ON c.id = cd.issue_id
          WHERE d.issue_id = ? AND d.type = 'waits-for' AND c.status NOT IN ${RESOLVED}
            AND NOT (gt_json_valid(d.metadata) AND gt_json_text(d.metadata, '{gate}') = 'any-children'
                     AND EXISTS (SELECT 1 FROM dependencies cd2 JOIN issues c2 ON c2.id = cd2.issue_id
                                  WHERE cd2.depends_on_id = d.depends_on_id AND cd2.type = 'parent-child' AND c2.status = 'closed'))
         ORDER BY 4, 1`,
        id,
        id,
      )
    ).map(rowToBlocker);
  }
  async openChildren(id: string): Promise<BlockerInfo[]> {
    return (
      await this.c.all(
        `SELECT c.id, c.title, c.status, c.priority, 'parent-child' AS type FROM dependencies d JOIN issues c ON c.id = d.issue_id
          WHERE d.depends_on_id = ? AND d.type = 'parent-child' AND c.status NOT IN ${RESOLVED} ORDER BY c.id`,
        id,
      )
    ).map(rowToBlocker);
  }
  async comments(id: string): Promise<Comment[]> {
    return (await this.c.all('SELECT * FROM comments WHERE issue_id = ? ORDER BY created_at, seq', id)).map(rowToComment);
  }
  async isBlocked(id: string): Promise<boolean> {
    return Number((await this.c.get('SELECT is_blocked FROM issues WHERE id = ?', id))?.is_blocked ?? 0) === 1;
  }
  async getConfig(key: string): Promise<string | undefined> {
    const row = await this.c.get('SELECT value FROM config WHERE key = ?', key);
    return row === undefined ? undefined : String(row.value);
  }
  async listConfig(): Promise<Record<string, string>> {
    return Object.fromEntries((await this.c.all('SELECT key, value FROM config ORDER BY key')).map((r) => [String(r.key), String(r.value)]));
  }
  async list(filter: IssueFilter): Promise<IssueWithCounts[]> {
    const where = buildFilter(filter, PG_DIALECT);
    const limit = filter.limit && filter.limit > 0 ? `LIMIT ${Math.floor(filter.limit)}` : '';
    const rows = await this.c.named(
      `SELECT i.* FROM issues i ${where.sql} ORDER BY ${orderBy(filter.sort ?? 'priority', filter.reverse ?? false, PG_DIALECT)} ${limit}`,
      where.params,
    );
    return this.hydrate(rows);
  }
  async ready(filter: ReadyFilter): Promise<IssueWithCounts[]> {
    const base = buildFilter(filter, PG_DIALECT);
    const ready = readyConditions(filter, PG_DIALECT);
    const conditions = [base.sql.replace(/^WHERE /, ''), ...ready.conditions].filter(Boolean);
    const params = { ...base.params, ...ready.params };
    const limit = filter.limit && filter.limit > 0 ? `LIMIT ${Math.floor(filter.limit)}` : '';
    let order: string;
    switch (filter.policy ?? 'priority') {
      case 'priority':
        order = 'i.priority ASC, i.created_at DESC, i.id ASC';
        break;
      case 'oldest':
        order = 'i.created_at ASC, i.id ASC';
        break;
      case 'hybrid':
        params.recent = ready.recentCutoff;
        order = `(i.created_at >= @recent) DESC, CASE WHEN i.created_at >= @recent THEN i.priority END ASC, i.created_at ASC, i.id ASC`;
        break;
    }
    return this.hydrate(await this.c.named(`SELECT i.* FROM issues i WHERE ${conditions.join(' AND ')} ORDER BY ${order} ${limit}`, params));
  }
  async blocked(filter: IssueFilter): Promise<BlockedIssue[]> {
    const base = buildFilter({ ...filter, excludeStatuses: [...(filter.excludeStatuses ?? []), 'closed', 'pinned'] }, PG_DIALECT);
    const conditions = [base.sql.replace(/^WHERE /, ''), 'i.is_blocked = 1'].filter(Boolean);
    const rows = await this.c.named(
      `SELECT i.* FROM issues i WHERE ${conditions.join(' AND ')} ORDER BY i.priority ASC, i.created_at DESC, i.id ASC ${filter.limit ? `LIMIT ${Math.floor(filter.limit)}` : ''}`,
      base.params,
    );
    const result: BlockedIssue[] = [];
    for (const issue of await this.hydrate(rows)) {
      const blockers = (
        await this.c.all(
          `SELECT d.depends_on_id AS id FROM dependencies d JOIN issues t ON t.id = d.depends_on_id
            WHERE d.issue_id = ? AND d.type IN ('blocks','conditional-blocks') AND t.status NOT IN ${RESOLVED}
           UNION
           SELECT d.depends_on_id FROM dependencies d JOIN issues p ON p.id = d.depends_on_id
            WHERE d.issue_id = ? AND d.type = 'parent-child' AND p.is_blocked = 1
           UNION
           SELECT d.depends_on_id FROM dependencies d WHERE d.issue_id = ? AND d.type = 'waits-for' AND ${WAITS_FOR_UNSATISFIED}
           ORDER BY 1`,
          issue.id,
          issue.id,
          issue.id,
        )
      ).map((r) => String(r.id));
      result.push({ ...issue, blocked_by_count: blockers.length, blocked_by: blockers });
    }
    return result;
  }
  async stats(now: string, excludeTypes: string[] = []): Promise<Stats> {
    const byStatus = new Map<string, number>();
    for (const r of await this.c.all(`SELECT status, COUNT(*) AS n FROM issues WHERE ephemeral = 0 AND issue_type <> ALL(?) GROUP BY status`, excludeTypes))
      byStatus.set(String(r.status), Number(r.n));
    const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
    const ready = readyConditions({ now }, PG_DIALECT);
    const readyCount = Number((await this.c.named(`SELECT COUNT(*) AS n FROM issues i WHERE ${ready.conditions.join(' AND ')}`, ready.params))[0]?.n ?? 0);
    const blocked = Number(
      (
        await this.c.get(
          `SELECT COUNT(*) AS n FROM issues WHERE is_blocked = 1 AND status NOT IN ${RESOLVED} AND ephemeral = 0 AND issue_type <> ALL(?)`,
          excludeTypes,
        )
      )?.n ?? 0,
    );
    const eligible = Number(
      (
        await this.c.get(
          `SELECT COUNT(*) AS n FROM issues e WHERE e.issue_type = 'epic' AND e.status <> 'closed'
           AND EXISTS (SELECT 1 FROM dependencies d WHERE d.depends_on_id = e.id AND d.type = 'parent-child')
           AND NOT EXISTS (SELECT 1 FROM dependencies d JOIN issues c ON c.id = d.issue_id
                            WHERE d.depends_on_id = e.id AND d.type = 'parent-child' AND c.status <> 'closed')`,
        )
      )?.n ?? 0,
    );
    const lead = await this.c.get(
      `SELECT AVG(gt_hours(created_at, closed_at)) AS h FROM issues WHERE status = 'closed' AND closed_at IS NOT NULL AND issue_type <> ALL(?)`,
      excludeTypes,
    );
    return {
      total_issues: total,
      open_issues: byStatus.get('open') ?? 0,
      in_progress_issues: byStatus.get('in_progress') ?? 0,
      closed_issues: byStatus.get('closed') ?? 0,
      blocked_issues: blocked,
      deferred_issues: byStatus.get('deferred') ?? 0,
      ready_issues: readyCount,
      pinned_issues: byStatus.get('pinned') ?? 0,
      hooked_issues: byStatus.get('hooked') ?? 0,
      epics_eligible_for_closure: eligible,
      average_lead_time_hours: Math.round(Number(lead?.h ?? 0) * 100) / 100,
    };
  }
  async events(afterId: number, limit: number, issueId?: string): Promise<LedgerEvent[]> {
    const rows =
      issueId === undefined
        ? await this.c.all('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?', afterId, limit)
        : await this.c.all('SELECT * FROM events WHERE id > ? AND issue_id = ? ORDER BY id LIMIT ?', afterId, issueId, limit);
    return rows.map(rowToEvent);
  }
  async townEvents(afterId: number, filter: TownEventFilter, limit: number): Promise<TownEvent[]> {
    const where = ['id > ?'];
    const params: unknown[] = [afterId];
    for (const key of ['rig', 'agent', 'bead'] as const) {
      if (filter[key] !== undefined) {
        where.push(`${key} = ?`);
        params.push(filter[key]);
      }
    }
    if (filter.since !== undefined) {
      where.push('at >= ?');
      params.push(filter.since);
    }
    if (filter.kinds?.length) {
      // `mr` or `mr.*` is every mr.<verb>; anything else is one kind.
      where.push(`(${filter.kinds.map(() => `(kind = ? OR kind LIKE ? ESCAPE '\\')`).join(' OR ')})`);
      for (const kind of filter.kinds) params.push(kind, `${kind.replace(/\.\*$/, '').replace(/[\\%_]/g, (c) => `\\${c}`)}.%`);
    }
    const rows = await this.c.all(`SELECT * FROM town_events WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, ...params, limit);
    return rows.map((row) => {
      const event: TownEvent = {
        id: Number(row.id),
        kind: String(row.kind) as TownEventKind,
        actor: String(row.actor),
        payload: JSON.parse(String(row.payload)) as Record<string, unknown>,
        at: String(row.at),
      };
      for (const key of ['rig', 'bead', 'agent'] as const) if (row[key] !== null && row[key] !== undefined) event[key] = String(row[key]);
      return event;
    });
  }
  async lastTownEventId(): Promise<number> {
    return Number((await this.c.get('SELECT max(id) AS id FROM town_events'))?.id ?? 0);
  }
  async exportIssues(selection: ExportSelection): Promise<Issue[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (!selection.includeEphemeral) conditions.push('ephemeral = 0');
    if (!selection.includeTemplates) conditions.push('is_template = 0');
    if (selection.excludeTypes.length > 0) {
      conditions.push('issue_type <> ALL(?)');
      params.push(selection.excludeTypes);
    }
    const rows = await this.c.all(`SELECT * FROM issues ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY id`, ...params);
    return rows.map(rowToIssue);
  }
  async relations(ids: string[]): Promise<Map<string, { labels: string[]; dependencies: Dependency[]; comments: Comment[] }>> {
    const result = new Map<string, { labels: string[]; dependencies: Dependency[]; comments: Comment[] }>();
    for (const id of ids) result.set(id, { labels: [], dependencies: [], comments: [] });
    for (const r of await this.c.all('SELECT issue_id, label FROM labels WHERE issue_id = ANY(?) ORDER BY issue_id, label', ids))
      result.get(String(r.issue_id))?.labels.push(String(r.label));
    for (const r of await this.c.all('SELECT * FROM dependencies WHERE issue_id = ANY(?) ORDER BY issue_id, created_at, depends_on_id', ids))
      result.get(String(r.issue_id))?.dependencies.push(rowToDependency(r));
    for (const r of await this.c.all('SELECT * FROM comments WHERE issue_id = ANY(?) ORDER BY issue_id, created_at, seq', ids))
      result.get(String(r.issue_id))?.comments.push(rowToComment(r));
    return result;
  }
  async memories(): Promise<Array<{ key: string; value: string }>> {
    return (await this.c.all('SELECT key, value FROM memories ORDER BY key')).map((r) => ({ key: String(r.key), value: String(r.value) }));
  }
  async blockingEdges(): Promise<Array<{ from: string; to: string }>> {
    return (await this.c.all(`SELECT issue_id, depends_on_id FROM dependencies WHERE type IN ('blocks','conditional-blocks')`)).map((r) => ({
      from: String(r.issue_id),
      to: String(r.depends_on_id),
    }));
  }
  async notifications(filter: NotificationFilter): Promise<NotificationRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.channel !== undefined) {
      where.push('channel = ?');
      params.push(filter.channel);
    }
    if (filter.statuses && filter.statuses.length > 0) {
      where.push('status = ANY(?)');
      params.push(filter.statuses);
    }
    if (filter.dueBy !== undefined) {
      where.push('next_at <= ?');
      params.push(filter.dueBy);
    }
    if (filter.sentSince !== undefined) {
      where.push('sent_at >= ?');
      params.push(filter.sentSince);
    }
    if (filter.limit) params.push(filter.limit);
    const rows = await this.c.all(
      `SELECT * FROM notifications${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${filter.newestFirst ? 'DESC' : 'ASC'}${filter.limit ? ' LIMIT ?' : ''}`,
      ...params,
    );
    return rows.map(rowToNotification);
  }
  async notifyCursor(name: string): Promise<string | undefined> {
    const row = await this.c.get('SELECT value FROM notify_cursors WHERE name = ?', name);
    return row ? String(row.value) : undefined;
  }

  // ---- writes ----

  async insertIssue(issue: Issue): Promise<void> {
    const row = issueToRow(issue);
    await this.c.query(
      INSERT_ISSUE,
      ISSUE_COLUMNS.map((c) => row[c]),
    );
  }
  async updateIssue(id: string, patch: Partial<Issue>): Promise<void> {
    const columns = patchToColumns(patch);
    const names = Object.keys(columns);
    if (names.length > 0) await this.c.named(`UPDATE issues SET ${names.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @__id`, { ...columns, __id: id });
  }
  async deleteIssue(id: string): Promise<void> {
    await this.c.run('DELETE FROM dependencies WHERE depends_on_id = ?', id);
    await this.c.run('DELETE FROM issues WHERE id = ?', id);
    await this.c.run('DELETE FROM child_counters WHERE parent_id = ?', id);
  }
  async claimIssue(id: string, actor: string, now: string): Promise<boolean> {
    const changed = await this.c.run(
      `UPDATE issues SET assignee = ?, status = 'in_progress', started_at = COALESCE(started_at, ?), updated_at = ?
        WHERE id = ? AND status = 'open' AND (assignee IS NULL OR assignee = ?)`,
      actor,
      now,
      now,
      id,
      actor,
    );
    return changed === 1;
  }
  async nextChildNumber(parentId: string): Promise<number> {
    const counter = Number((await this.c.get('SELECT last_child FROM child_counters WHERE parent_id = ?', parentId))?.last_child ?? 0);
    let highest = 0;
    for (const r of await this.c.all('SELECT id FROM issues WHERE id > ? AND id < ?', `${parentId}.`, `${parentId}/`)) {
      const rest = String(r.id).slice(parentId.length + 1);
      if (/^\d+$/.test(rest)) highest = Math.max(highest, Number(rest));
    }
    const next = Math.max(counter, highest) + 1;
    await this.c.run(
      'INSERT INTO child_counters (parent_id, last_child) VALUES (?, ?) ON CONFLICT (parent_id) DO UPDATE SET last_child = excluded.last_child',
      parentId,
      next,
    );
    return next;
  }
  async addLabel(id: string, label: string): Promise<boolean> {
    return (await this.c.run('INSERT INTO labels (issue_id, label) VALUES (?, ?) ON CONFLICT DO NOTHING', id, label)) === 1;
  }
  async removeLabel(id: string, label: string): Promise<boolean> {
    return (await this.c.run('DELETE FROM labels WHERE issue_id = ? AND label = ?', id, label)) === 1;
  }
  async setLabels(id: string, labels: string[]): Promise<void> {
    await this.c.run('DELETE FROM labels WHERE issue_id = ?', id);
    for (const label of labels) await this.c.run('INSERT INTO labels (issue_id, label) VALUES (?, ?) ON CONFLICT DO NOTHING', id, label);
  }
  async putDependency(dep: Dependency): Promise<void> {
    await this.c.named(
      `INSERT INTO dependencies (issue_id, depends_on_id, type, created_at, created_by, metadata, thread_id)
       VALUES (@issue_id, @depends_on_id, @type, @created_at, @created_by, @metadata, @thread_id)
       ON CONFLICT (issue_id, depends_on_id) DO UPDATE SET type = excluded.type, metadata = excluded.metadata, thread_id = excluded.thread_id`,
      dependencyToRow(dep),
    );
  }
  async removeDependency(from: string, to: string): Promise<boolean> {
    return (await this.c.run('DELETE FROM dependencies WHERE issue_id = ? AND depends_on_id = ?', from, to)) === 1;
  }
  async setDependencies(id: string, deps: Dependency[]): Promise<void> {
    await this.c.run('DELETE FROM dependencies WHERE issue_id = ?', id);
    for (const dep of deps) {
      // SQLite's INSERT OR REPLACE: the whole row is the new one.
      await this.c.named(
        `INSERT INTO dependencies (issue_id, depends_on_id, type, created_at, created_by, metadata, thread_id)
         VALUES (@issue_id, @depends_on_id, @type, @created_at, @created_by, @metadata, @thread_id)
         ON CONFLICT (issue_id, depends_on_id) DO UPDATE SET type = excluded.type, created_at = excluded.created_at, created_by = excluded.created_by,
           metadata = excluded.metadata, thread_id = excluded.thread_id`,
        dependencyToRow(dep),
      );
    }
  }
  async addComment(comment: Comment): Promise<void> {
    await this.c.run(
      'INSERT INTO comments (id, issue_id, author, text, created_at) VALUES (?::jsonb, ?, ?, ?, ?)',
      JSON.stringify(comment.id),
      comment.issue_id,
      comment.author,
      comment.text,
      comment.created_at,
    );
  }
  async setComments(id: string, comments: Comment[]): Promise<void> {
    await this.c.run('DELETE FROM comments WHERE issue_id = ?', id);
    for (const c of comments)
      await this.c.run(
        'INSERT INTO comments (id, issue_id, author, text, created_at) VALUES (?::jsonb, ?, ?, ?, ?)',
        JSON.stringify(c.id),
        id,
        c.author,
        c.text,
        c.created_at,
      );
  }
  async appendEvent(event: Omit<LedgerEvent, 'id'>): Promise<void> {
    await this.c.run(
      'INSERT INTO events (issue_id, event_type, actor, old_value, new_value, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      event.issue_id,
      event.event_type,
      event.actor,
      event.old_value ?? null,
      event.new_value ?? null,
      event.comment ?? null,
      event.created_at,
    );
  }
  async appendTownEvent(event: Omit<TownEvent, 'id'>): Promise<number> {
    const row = await this.c.get(
      'INSERT INTO town_events (kind, actor, rig, bead, agent, payload, at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
      event.kind,
      event.actor,
      event.rig ?? null,
      event.bead ?? null,
      event.agent ?? null,
      JSON.stringify(event.payload),
      event.at,
    );
    return Number(row?.id);
  }
  async dropTownEvents(kind: string, agent: string, beforeId: number): Promise<void> {
    await this.c.run('DELETE FROM town_events WHERE kind = ? AND agent = ? AND id < ?', kind, agent, beforeId);
  }
  async setConfig(key: string, value: string): Promise<void> {
    await this.c.run('INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, value);
  }
  async deleteConfig(key: string): Promise<void> {
    await this.c.run('DELETE FROM config WHERE key = ?', key);
  }
  async putMemory(memory: { key: string; value: string }): Promise<void> {
    await this.c.run('INSERT INTO memories (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', memory.key, memory.value);
  }
  async refreshBlocked(seeds: string[]): Promise<void> {
    // Everything whose rule reads a seed's status: the seed, its blockers' dependents, and the waits-for dependents of its parents.
    const pending: string[] = [];
    for (const id of seeds) {
      pending.push(id);
      for (const r of await this.c.all(`SELECT issue_id FROM dependencies WHERE depends_on_id = ? AND type IN ('blocks','conditional-blocks')`, id))
        pending.push(String(r.issue_id));
      for (const r of await this.c.all(
        `SELECT w.issue_id FROM dependencies pc JOIN dependencies w ON w.depends_on_id = pc.depends_on_id AND w.type = 'waits-for'
          WHERE pc.issue_id = ? AND pc.type = 'parent-child'`,
        id,
      ))
        pending.push(String(r.issue_id));
    }
    // Worklist to a fixpoint: a changed flag re-evaluates the children under it.
    let budget = 1_000_000;
    while (pending.length > 0 && budget-- > 0) {
      const id = pending.pop() as string;
      const row = await this.c.get(`SELECT i.is_blocked AS old, ${DIRECT_BLOCKED} AS new FROM issues i WHERE i.id = ?`, id);
      if (row === undefined || Number(row.old) === Number(row.new)) continue;
      await this.c.run('UPDATE issues SET is_blocked = ? WHERE id = ?', row.new, id);
      for (const r of await this.c.all(`SELECT issue_id FROM dependencies WHERE depends_on_id = ? AND type = 'parent-child'`, id))
        pending.push(String(r.issue_id));
    }
  }
  async refreshAllBlocked(): Promise<void> {
    await this.c.run('UPDATE issues SET is_blocked = 0 WHERE is_blocked <> 0');
    await this.c.run(`UPDATE issues AS i SET is_blocked = 1 WHERE ${DIRECT_BLOCKED} = 1`);
    await this.c.run(
      `WITH RECURSIVE down(id) AS (
         SELECT id FROM issues WHERE is_blocked = 1
         UNION
         SELECT d.issue_id FROM dependencies d JOIN down ON d.depends_on_id = down.id
           JOIN issues c ON c.id = d.issue_id
          WHERE d.type = 'parent-child' AND c.status NOT IN ${RESOLVED})
       UPDATE issues SET is_blocked = 1 WHERE is_blocked = 0 AND id IN (SELECT id FROM down)`,
    );
  }
  async insertNotification(n: Parameters<LedgerWriter['insertNotification']>[0]): Promise<number | undefined> {
    const row = await this.c.get(
      `INSERT INTO notifications (channel, severity, kind, title, body, bead, dedupe_key, actions, next_at, created_at, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, dedupe_key) DO NOTHING RETURNING id`,
      n.channel,
      n.severity,
      n.kind,
      n.title,
      n.body,
      n.bead ?? null,
      n.dedupe_key ?? null,
      JSON.stringify(n.actions),
      n.next_at,
      n.created_at,
      n.created_by,
    );
    return row === undefined ? undefined : Number(row.id);
  }
  async updateNotification(id: number, patch: Parameters<LedgerWriter['updateNotification']>[1]): Promise<void> {
    const entries = Object.entries(patch);
    if (entries.length > 0)
      await this.c.run(`UPDATE notifications SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ?`, ...entries.map(([, v]) => v ?? null), id);
  }
  async claimNotification(id: number, dueBy: string, until: string): Promise<boolean> {
    return (await this.c.run(`UPDATE notifications SET next_at = ? WHERE id = ? AND status = 'pending' AND next_at <= ?`, until, id, dueBy)) === 1;
  }
  async setNotifyCursor(name: string, value: string): Promise<void> {
    await this.c.run('INSERT INTO notify_cursors (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value', name, value);
  }

  private async hydrate(rows: Row[]): Promise<IssueWithCounts[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => String(r.id));
    const labels = new Map<string, string[]>();
    for (const r of await this.c.all('SELECT issue_id, label FROM labels WHERE issue_id = ANY(?) ORDER BY label', ids)) {
      const key = String(r.issue_id);
      const list = labels.get(key) ?? [];
      list.push(String(r.label));
      labels.set(key, list);
    }
    const counts = new Map<string, Row>();
    for (const r of await this.c.all(
      `SELECT j.id,
         (SELECT COUNT(*) FROM dependencies d WHERE d.issue_id = j.id) AS dependency_count,
         (SELECT COUNT(*) FROM dependencies d WHERE d.depends_on_id = j.id) AS dependent_count,
         (SELECT COUNT(*) FROM comments c WHERE c.issue_id = j.id) AS comment_count,
         (SELECT d.depends_on_id FROM dependencies d WHERE d.issue_id = j.id AND d.type = 'parent-child' LIMIT 1) AS parent
       FROM unnest(?::text[]) AS j(id)`,
      ids,
    ))
      counts.set(String(r.id), r);
    return rows.map((row) => {
      const issue = rowToIssue(row);
      const c = counts.get(issue.id);
      const result: IssueWithCounts = {
        ...issue,
        labels: labels.get(issue.id) ?? [],
        dependency_count: Number(c?.dependency_count ?? 0),
        dependent_count: Number(c?.dependent_count ?? 0),
        comment_count: Number(c?.comment_count ?? 0),
      };
      if (c?.parent !== null && c?.parent !== undefined) result.parent = c.parent.toString();
      return result;
    });
  }
}

function rowToNotification(row: Row): NotificationRecord {
  const record: NotificationRecord = {
    id: Number(row.id),
    channel: String(row.channel),
    severity: String(row.severity) as NotificationRecord['severity'],
    kind: String(row.kind),
    title: String(row.title),
    body: String(row.body),
    actions: JSON.parse(String(row.actions)) as NotificationRecord['actions'],
    status: String(row.status) as NotificationRecord['status'],
    attempts: Number(row.attempts),
    next_at: String(row.next_at),
    created_at: String(row.created_at),
    created_by: String(row.created_by),
  };
  for (const key of ['bead', 'dedupe_key', 'last_error', 'receipt', 'sent_at'] as const)
    if (row[key] !== null && row[key] !== undefined) record[key] = String(row[key]);
  return record;
}

function rowToDependency(row: Row): Dependency {
  const dep: Dependency = {
    issue_id: String(row.issue_id),
    depends_on_id: String(row.depends_on_id),
    type: String(row.type),
    created_at: String(row.created_at),
  };
  if (row.created_by !== null && row.created_by !== undefined) dep.created_by = row.created_by.toString();
  if (row.metadata !== null && row.metadata !== undefined) dep.metadata = row.metadata.toString();
  if (row.thread_id !== null && row.thread_id !== undefined) dep.thread_id = row.thread_id.toString();
  return dep;
}

function dependencyToRow(dep: Dependency): Params {
  return {
    issue_id: dep.issue_id,
    depends_on_id: dep.depends_on_id,
    type: dep.type,
    created_at: dep.created_at,
    created_by: dep.created_by ?? null,
    metadata: dep.metadata ?? null,
    thread_id: dep.thread_id ?? null,
  };
}

function rowToComment(row: Row): Comment {
  // jsonb: a number stays a number, a string a string.
  const id = row.id as unknown;
  return {
    id: typeof id === 'number' ? id : String(id),
    issue_id: String(row.issue_id),
    author: String(row.author),
    text: String(row.text),
    created_at: String(row.created_at),
  };
}

function rowToEvent(row: Row): LedgerEvent {
  const event: LedgerEvent = {
    id: Number(row.id),
    issue_id: String(row.issue_id),
    event_type: String(row.event_type),
    actor: String(row.actor),
    created_at: String(row.created_at),
  };
  if (row.old_value != null) event.old_value = row.old_value.toString();
  if (row.new_value != null) event.new_value = row.new_value.toString();
  if (row.comment != null) event.comment = row.comment.toString();
  return event;
}

function rowToBlocker(row: Row): BlockerInfo {
  return { id: String(row.id), title: String(row.title), status: String(row.status), priority: Number(row.priority), type: String(row.type) };
}

/** What gt doctor learns of a PostgreSQL ledger without migrating it: its schema version as written, and the consistency check. */
export async function inspectPostgresLedger(url: string): Promise<{
  label: string;
  exists: boolean;
  schema_version?: number;
  latest: number;
  problems: string[];
  error?: string;
  wal_bytes: number;
}> {
  const base = { label: maskLedgerUrl(url), latest: PG_LATEST_SCHEMA_VERSION, wal_bytes: 0 };
  const pool = new pg.Pool({ connectionString: url, max: 1, application_name: 'gt-doctor' });
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    let version: number;
    try {
      version = await PostgresLedgerStore.schemaOf(client);
    } finally {
      client.release();
    }
    if (version === 0) return { exists: false, problems: [], ...base };
    if (version !== PG_LATEST_SCHEMA_VERSION) return { exists: true, schema_version: version, problems: [], ...base };
    const store = await PostgresLedgerStore.open(url, { maxConnections: 1 });
    try {
      return { exists: true, schema_version: version, problems: await store.integrityCheck(), ...base };
    } finally {
      await store.close();
    }
  } catch (error) {
    return { exists: true, problems: [], error: (error as Error).message, ...base };
  } finally {
    await pool.end().catch(() => undefined);
  }
}
