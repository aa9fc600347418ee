/**
 * The embedded ledger: one SQLite file in WAL mode, shared by every process of a
 * town. Writers take the lock up front (BEGIN IMMEDIATE), wait on a busy timeout,
 * and retry on contention, so "database is locked" never reaches a user; a
 * transaction is all-or-nothing even under SIGKILL.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import DatabaseNapi from 'better-sqlite3-napi';
import { GtError } from '../../shared/errors.js';
import type { BlockerInfo, ExportSelection, LedgerReader, LedgerStore, LedgerWriter } from '../../core/beads/store.js';
import type { BlockedIssue, Comment, Dependency, Issue, IssueFilter, IssueWithCounts, LedgerEvent, ReadyFilter, Stats } from '../../core/beads/types.js';
import type { TownEvent, TownEventFilter, TownEventKind } from '../../core/events/town-events.js';
import type { NotificationFilter, NotificationRecord } from '../../core/notify/types.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations.js';
import { ISSUE_COLUMNS, issueToValues, patchToColumns, rowToIssue, valuesToIssue, type Params, type Row } from './rows.js';
import { buildFilter, HYDRATE_COUNTS_SQL, HYDRATE_LABELS_SQL, orderBy, readyConditions } from './queries.js';

export interface SqliteOptions {
  /** Create the file (and schema) when missing. Otherwise a missing file is an error. */
  create?: boolean;
  readonly?: boolean;
  /** How long one attempt waits for the write lock (ms). */
  busyTimeoutMs?: number;
  /** How long a write keeps retrying on contention in total (ms). */
  retryForMs?: number;
}

const RESOLVED = `('closed','pinned')`;
/** Below this many issues a load goes row by row (see bulkLoad). */
const BULK_LOAD_MIN_ROWS = 2_000;
/**
 * A waits-for edge `d` still waits: its spawner has an unresolved child, unless the gate is
 * any-children and one child is already closed.
 */
const WAITS_FOR_UNSATISFIED = `(EXISTS (SELECT 1 FROM dependencies cd JOIN issues c ON c.id = cd.issue_id
    WHERE cd.depends_on_id = d.depends_on_id AND cd.type = 'parent-child' AND c.status NOT IN ${RESOLVED})
  AND NOT (json_valid(d.metadata) AND json_extract(d.metadata, '$.gate') = 'any-children'
    AND EXISTS (SELECT 1 FROM dependencies cd JOIN issues c ON c.id = cd.issue_id
      WHERE cd.depends_on_id = d.depends_on_id AND cd.type = 'parent-child' AND c.status = 'closed')))`;
const INSERT_ISSUE = `INSERT INTO issues (${ISSUE_COLUMNS.join(', ')}) VALUES (${ISSUE_COLUMNS.map(() => '?').join(', ')})`;

const isBusy = (error: unknown) => error instanceof Error && 'code' in error && typeof error.code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(error.code);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The SQLite driver for this Node. better-sqlite3 12 (Node 20) compiles its
 * addon at install; on Node 24 that addon aborts the process when the garbage
 * collector frees a statement (`Assertion failed: (env) != nullptr` in
 * RemoveEnvironmentCleanupHook: node::ObjectWrap changed in Node 24, see
 * WiseLibs/better-sqlite3#1515). better-sqlite3 13 is built on Node-API, ships
 * its addon prebuilt inside the npm package (nothing to compile), and needs
 * Node 22 — so Node 22 and later use 13, Node 20 uses 12. One JavaScript API.
 */
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const NAPI = NODE_MAJOR >= 22;
const Driver = NAPI ? DatabaseNapi : Database;

/** The driver this Node loads (tests that look into a ledger file use it too). */
export const SqliteDatabase = Driver;

/**
 * In the bundled CLI (CommonJS), point the driver straight at its addon: it
 * skips the directory search on every start (measured ~3 ms), and a bundle's
 * own folder is not the package's.
 */
function nativeBinding(): string | undefined {
  if (typeof require !== 'function') return undefined;
  try {
    if (!NAPI) return require.resolve('better-sqlite3/build/Release/better_sqlite3.node');
    // Its prebuilt addons are named <platform>-<arch>, with linuxmusl for musl's libc (as its own loader tells them apart).
    const musl = process.platform === 'linux' && /\/ld-musl-[^/\s]*\.so/.test(readFileSync('/proc/self/maps', 'latin1'));
    // Its package exports no file paths, so the folder comes from its package.json.
    return join(dirname(require.resolve('better-sqlite3-napi/package.json')), 'prebuilds', `${musl ? 'linuxmusl' : process.platform}-${process.arch}.node`);
  } catch {
    return undefined;
  }
}

interface PendingWrite {
  fn: (tx: LedgerWriter) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class SqliteLedgerStore implements LedgerStore {
  readonly location: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly retryForMs: number;
  /** Serializes transactions of this process: one connection, one transaction at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** The wake-up port: who watches, the poll of data_version, whether this transaction appended town events. */
  private readonly watchers = new Map<() => void, boolean>();
  private watchTimer: NodeJS.Timeout | undefined;
  private dataVersion = -1;
  private eventsHead = -1;
  private appended = false;
  /** Writes waiting for the next group commit (see write). */
  private pendingWrites: PendingWrite[] = [];

  private constructor(path: string, db: Database.Database, retryForMs: number) {
    this.location = path;
    this.db = db;
    this.retryForMs = retryForMs;
  }

  static open(path: string, options: SqliteOptions = {}): SqliteLedgerStore {
    let db: Database.Database;
    try {
      const addon = nativeBinding();
      db = new Driver(path, {
        ...(addon === undefined ? {} : { nativeBinding: addon }),
        fileMustExist: !options.create,
        readonly: options.readonly ?? false,
        timeout: options.busyTimeoutMs ?? 10_000,
      });
    } catch (error) {
      throw new GtError('not_found', `cannot open ledger ${path}: ${(error as Error).message}`, {
        hint: 'run `bd init` to create a ledger here, or set BEADS_DIR to an existing .beads directory',
        cause: error,
      });
    }
    const store = new SqliteLedgerStore(path, db, options.retryForMs ?? 120_000);
    try {
      store.prepareConnection(options);
    } catch (error) {
      db.close();
      throw error;
    }
    return store;
  }

  private prepareConnection(options: SqliteOptions): void {
    let version: number;
    try {
      version = this.db.pragma('user_version', { simple: true }) as number;
    } catch (error) {
      throw new GtError('schema', `${this.location} is not a gt ledger: ${(error as Error).message}`, { cause: error });
    }
    if (version > LATEST_SCHEMA_VERSION) {
      throw new GtError('schema', `ledger ${this.location} has schema version ${version}, newer than this gt understands (${LATEST_SCHEMA_VERSION})`, {
        hint: 'upgrade gt (npm install -g gt@latest); nothing was changed',
      });
    }
    this.db.pragma('foreign_keys = ON');
    if (options.readonly) {
      if (version < LATEST_SCHEMA_VERSION) throw new GtError('schema', `ledger ${this.location} needs a migration; open it writable once`);
      return;
    }
    // FULL: a commit is on disk when bd says it is (a write that is reported never vanishes).
    this.db.pragma('synchronous = FULL');
    if (version < LATEST_SCHEMA_VERSION) this.migrate();
    if (this.db.pragma('journal_mode', { simple: true }) !== 'wal') this.db.pragma('journal_mode = WAL');
  }

  /** Applies pending migrations in one transaction; concurrent openers serialize on the write lock. */
  private migrate(): void {
    this.withBusyRetrySync(() => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const current = this.db.pragma('user_version', { simple: true }) as number;
        for (const migration of MIGRATIONS) {
          if (migration.version <= current) continue;
          this.db.exec(migration.sql);
          this.db.pragma(`user_version = ${migration.version}`);
        }
        this.db.exec('COMMIT');
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  private withBusyRetrySync(fn: () => void): void {
    const deadline = Date.now() + this.retryForMs;
    for (;;) {
      try {
        fn();
        return;
      } catch (error) {
        if (!isBusy(error) || Date.now() > deadline) throw error;
      }
    }
  }

  async schemaVersion(): Promise<number> {
    return Promise.resolve(this.db.pragma('user_version', { simple: true }) as number);
  }

  async integrityCheck(): Promise<string[]> {
    const rows = this.db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    const problems = rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
    const fk = this.db.pragma('foreign_key_check') as unknown[];
    if (fk.length > 0) problems.push(`${fk.length} foreign key violation(s)`);
    return Promise.resolve(problems);
  }

  /** A consistent snapshot for several queries (WAL: readers never block writers). */
  read<T>(fn: (tx: LedgerReader) => Promise<T>): Promise<T> {
    return this.transaction('BEGIN', fn);
  }

  /**
   * One writer at a time, lock taken up front so the transaction never fails half-way on contention.
   * Group commit: writes asked for in the same turn of the event loop, or while an earlier transaction runs, are made together, each in a
   * savepoint of one transaction, and committed (one fsync, `synchronous = FULL`) before any of them
   * resolves. Each stays atomic on its own: one that fails is rolled back to its savepoint and rejects,
   * and the others commit. A sling of ten polecats made 21 commits one by one (issue 17's spawn target).
   */
  write<T>(fn: (tx: LedgerWriter) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new GtError('internal', 'the ledger is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pendingWrites.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      // The first write waiting takes its place in the queue; the batch starts at the end of this turn of the
      // event loop (setImmediate), so the writes that children's exits and replies of the same turn ask for join it.
      if (this.pendingWrites.length === 1)
        void this.serialize(async () => {
          await new Promise((resolveTurn) => setImmediate(resolveTurn));
          await this.commitWrites();
        });
    });
  }

  private async commitWrites(): Promise<void> {
    const batch = this.pendingWrites;
    this.pendingWrites = [];
    try {
      await this.commitBatch(batch);
    } catch (error) {
      // Only a failure of SQLite itself outside any write (a ROLLBACK that fails) gets here: nobody is left waiting.
      for (const write of batch) write.reject(error);
    }
  }

  private async commitBatch(batch: PendingWrite[]): Promise<void> {
    const [only] = batch;
    if (batch.length === 1 && only) {
      await this.transactionNow('BEGIN IMMEDIATE', only.fn).then(only.resolve, only.reject);
      return;
    }
    const deadline = Date.now() + this.retryForMs;
    for (let attempt = 0; ; attempt++) {
      const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
      try {
        this.db.exec('BEGIN IMMEDIATE');
        this.appended = false;
        for (const write of batch) {
          this.db.exec('SAVEPOINT gt_write');
          try {
            outcomes.push({ ok: true, value: await write.fn(this.tx) });
            this.db.exec('RELEASE gt_write');
          } catch (error) {
            // SQLite may have ended the whole transaction (a full disk): the batch goes one by one below.
            if (!this.db.inTransaction) throw error;
            this.db.exec('ROLLBACK TO gt_write');
            this.db.exec('RELEASE gt_write');
            outcomes.push({ ok: false, error });
          }
        }
        this.db.exec('COMMIT');
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        if (isBusy(error) && Date.now() <= deadline) {
          // Contention past the busy timeout: back off with jitter and run the whole batch again.
          await sleep(Math.min(200, 5 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
          continue;
        }
        // Nothing of the batch is committed: each write runs alone, so only the one at fault fails.
        for (const write of batch) await this.transactionNow('BEGIN IMMEDIATE', write.fn).then(write.resolve, write.reject);
        return;
      }
      if (this.appended) for (const [wake, foreign] of this.watchers) if (!foreign) wake();
      batch.forEach((write, i) => {
        const outcome = outcomes[i];
        if (outcome?.ok) write.resolve(outcome.value);
        else write.reject(outcome?.error);
      });
      return;
    }
  }

  private transaction<T>(begin: string, fn: (tx: LedgerWriter) => Promise<T>): Promise<T> {
    return this.serialize(() => this.transactionNow(begin, fn));
  }

  /** One transaction, retried on contention; the caller holds the serialize queue. */
  private async transactionNow<T>(begin: string, fn: (tx: LedgerWriter) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.retryForMs;
    for (let attempt = 0; ; attempt++) {
      try {
        this.db.exec(begin);
        this.appended = false;
        const result = await fn(this.tx);
        this.db.exec('COMMIT');
        // This connection's own commits do not move data_version: its watchers are told here.
        if (this.appended) for (const [wake, foreign] of this.watchers) if (!foreign) wake();
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        if (!isBusy(error) || Date.now() > deadline) throw error;
        // Contention past the busy timeout: back off with jitter and run the whole transaction again.
        await sleep(Math.min(200, 5 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
      }
    }
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new GtError('internal', 'the ledger is closed'));
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Wakes `wake` when another connection commits (PRAGMA data_version moves: a read of a
   * counter in shared memory, no I/O) or this one appends town events. Polled every 50 ms
   * only while someone watches.
   */
  async watch(wake: () => void, options: { foreign?: boolean } = {}): Promise<() => void> {
    this.watchers.set(wake, options.foreign ?? false);
    if (!this.watchTimer) {
      this.dataVersion = this.db.pragma('data_version', { simple: true }) as number;
      this.eventsHead = Number(this.get('SELECT max(id) AS id FROM town_events')?.id ?? 0);
      this.watchTimer = setInterval(() => {
        if (this.closed) return;
        const version = this.db.pragma('data_version', { simple: true }) as number;
        if (version === this.dataVersion) return;
        this.dataVersion = version;
        // Another connection committed: wake only if it appended town events (not for every bd update).
        const head = Number(this.get('SELECT max(id) AS id FROM town_events')?.id ?? 0);
        if (head === this.eventsHead) return;
        this.eventsHead = head;
        for (const w of this.watchers.keys()) w();
      }, 50);
      this.watchTimer.unref();
    }
    return Promise.resolve(() => {
      this.watchers.delete(wake);
      if (this.watchers.size === 0 && this.watchTimer) {
        clearInterval(this.watchTimer);
        this.watchTimer = undefined;
      }
    });
  }

  /** Every row of these tables in one snapshot, in primary-key order (gt ledger migrate). */
  async dumpTables(tables: readonly string[]): Promise<Map<string, Row[]>> {
    return this.serialize(async () => {
      this.db.exec('BEGIN');
      try {
        const out = new Map<string, Row[]>();
        for (const table of tables) out.set(table, this.db.prepare(`SELECT * FROM ${table} ORDER BY 1`).all() as Row[]);
        return Promise.resolve(out);
      } finally {
        this.db.exec('COMMIT');
      }
    });
  }

  /** Inserts rows as they are (IDs kept) in one transaction; `replace` empties every table first. */
  async loadTables(rows: Map<string, Row[]>, replace: boolean): Promise<void> {
    return this.serialize(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        if (replace) {
          // The append-only guards stand aside for a wholesale replacement only.
          this.db.exec('DROP TRIGGER IF EXISTS events_append_only_delete');
          for (const table of [...rows.keys()].reverse()) this.db.exec(`DELETE FROM ${table}`);
          this.db.exec('DELETE FROM id_counts');
          this.db.exec(`CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END`);
        }
        for (const [table, list] of rows) {
          if (list.length === 0) continue;
          const columns = Object.keys(list[0] as Row);
          const insert = this.db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
          for (const row of list) insert.run(columns.map((c) => row[c] ?? null));
        }
        this.db.exec('COMMIT');
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
      return Promise.resolve();
    });
  }

  /** Rows per table (gt ledger migrate's verification). */
  async tableCounts(tables: readonly string[]): Promise<Record<string, number>> {
    return this.read(async () => Promise.resolve(Object.fromEntries(tables.map((t) => [t, Number(this.get(`SELECT COUNT(*) AS n FROM ${t}`)?.n ?? 0)]))));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = undefined;
    this.watchers.clear();
    this.closed = true;
    this.statements.clear();
    this.db.close();
  }

  private stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private all(sql: string, ...params: unknown[]): Row[] {
    return this.stmt(sql).all(...params) as Row[];
  }

  /** Issues from a `SELECT i.* …`, read as raw rows (see valuesToIssue); `once` for SQL built per call, not worth keeping. */
  private issuesOf(sql: string, params: unknown, once = false): Issue[] {
    let statement = once ? undefined : this.statements.get(`raw:${sql}`);
    if (statement === undefined) {
      statement = this.db.prepare(sql).raw(true);
      if (!once) this.statements.set(`raw:${sql}`, statement);
    }
    const columns = statement.columns().map((c) => c.name);
    return (statement.all(params) as unknown[][]).map((values) => valuesToIssue(values, columns));
  }

  private get(sql: string, ...params: unknown[]): Row | undefined {
    return this.stmt(sql).get(...params) as Row | undefined;
  }

  private run(sql: string, ...params: unknown[]): Database.RunResult {
    return this.stmt(sql).run(...params);
  }

  // ---- the transaction view: synchronous SQL behind the async port ----

  private readonly tx: LedgerWriter = {
    getIssue: async (id) => {
      const row = this.get('SELECT * FROM issues WHERE id = ?', id);
      return Promise.resolve(row ? rowToIssue(row) : undefined);
    },
    existingIds: async (ids) => {
      const found = new Set<string>();
      for (let i = 0; i < ids.length; i += 10_000) {
        for (const r of this.all('SELECT id FROM issues WHERE id IN (SELECT value FROM json_each(?))', JSON.stringify(ids.slice(i, i + 10_000))))
          found.add(String(r.id));
      }
      return Promise.resolve(found);
    },
    idsStartingWith: async (text, limit) =>
      Promise.resolve(this.all(`SELECT id FROM issues WHERE id >= ? AND id < ? ORDER BY id LIMIT ?`, text, `${text}\uffff`, limit).map((r) => String(r.id))),
    idsWithHashPrefix: async (text, limit) =>
      Promise.resolve(
        this.all(
          `SELECT id FROM issues WHERE instr(id, '-') > 0 AND substr(id, instr(id, '-') + 1) LIKE ? ESCAPE '\\' ORDER BY id LIMIT ?`,
          `${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
          limit,
        ).map((r) => String(r.id)),
      ),
    countTopLevel: async (base) => Promise.resolve(Number(this.get('SELECT n FROM id_counts WHERE base = ?', base)?.n ?? 0)),
    labelCounts: async () =>
      Promise.resolve(
        this.all('SELECT label, COUNT(*) AS n FROM labels GROUP BY label ORDER BY label').map((r) => ({ label: String(r.label), count: Number(r.n) })),
      ),
    labels: async (id) => Promise.resolve(this.all('SELECT label FROM labels WHERE issue_id = ? ORDER BY label', id).map((r) => String(r.label))),
    dependencies: async (id) =>
      Promise.resolve(this.all('SELECT * FROM dependencies WHERE issue_id = ? ORDER BY created_at, depends_on_id', id).map(rowToDependency)),
    dependents: async (id) =>
      Promise.resolve(this.all('SELECT * FROM dependencies WHERE depends_on_id = ? ORDER BY created_at, issue_id', id).map(rowToDependency)),
    getDependency: async (from, to) => {
      const row = this.get('SELECT * FROM dependencies WHERE issue_id = ? AND depends_on_id = ?', from, to);
      return Promise.resolve(row ? rowToDependency(row) : undefined);
    },
    blockingPathExists: async (from, to) => {
      // Adding from → to closes a cycle iff `to` already reaches `from`.
      const row = this.get(
        `WITH RECURSIVE reach(id) AS (
           SELECT ? UNION
           SELECT d.depends_on_id FROM dependencies d JOIN reach r ON d.issue_id = r.id
            WHERE d.type IN ('blocks','conditional-blocks'))
         SELECT 1 AS found FROM reach WHERE id = ? LIMIT 1`,
        to,
        from,
      );
      return Promise.resolve(row !== undefined);
    },
    openBlockers: async (id) =>
      Promise.resolve(
        this.all(
          `SELECT t.id, t.title, t.status, t.priority, d.type FROM dependencies d JOIN issues t ON t.id = d.depends_on_id
          WHERE d.issue_id = ? AND d.type IN ('blocks','conditional-blocks') AND t.status NOT IN ${RESOLVED}
         UNION ALL
         SELECT c.id, c.title, c.status, c.priority, 'waits-for' FROM dependencies d
           JOIN dependencies cd ON cd.depends_on_id = d.depends_on_id AND cd.type = 'parent-child'
           JOIN issues c ON c.id = cd.issue_id
          WHERE d.issue_id = ? AND d.type = 'waits-for' AND c.status NOT IN ${RESOLVED}
            AND NOT (json_valid(d.metadata) AND json_extract(d.metadata, '$.gate') = 'any-children'
                     AND EXISTS (SELECT 1 FROM dependencies cd2 JOIN issues c2 ON c2.id = cd2.issue_id
                                  WHERE cd2.depends_on_id = d.depends_on_id AND cd2.type = 'parent-child' AND c2.status = 'closed'))
         ORDER BY 4, 1`,
          id,
          id,
        ).map(rowToBlocker),
      ),
    openChildren: async (id) =>
      Promise.resolve(
        this.all(
          `SELECT c.id, c.title, c.status, c.priority, 'parent-child' AS type FROM dependencies d JOIN issues c ON c.id = d.issue_id
          WHERE d.depends_on_id = ? AND d.type = 'parent-child' AND c.status NOT IN ${RESOLVED} ORDER BY c.id`,
          id,
        ).map(rowToBlocker),
      ),
    comments: async (id) => Promise.resolve(this.all('SELECT * FROM comments WHERE issue_id = ? ORDER BY created_at, seq', id).map(rowToComment)),
    isBlocked: async (id) => Promise.resolve(Number(this.get('SELECT is_blocked FROM issues WHERE id = ?', id)?.is_blocked ?? 0) === 1),
    getConfig: async (key) => {
      const row = this.get('SELECT value FROM config WHERE key = ?', key);
      return Promise.resolve(row === undefined ? undefined : String(row.value));
    },
    listConfig: async () =>
      Promise.resolve(Object.fromEntries(this.all('SELECT key, value FROM config ORDER BY key').map((r) => [String(r.key), String(r.value)]))),
    list: async (filter) => Promise.resolve(this.listIssues(filter)),
    ready: async (filter) => Promise.resolve(this.readyIssues(filter)),
    blocked: async (filter) => Promise.resolve(this.blockedIssues(filter)),
    stats: async (now, excludeTypes) => Promise.resolve(this.computeStats(now, excludeTypes ?? [])),
    events: async (afterId, limit, issueId) =>
      Promise.resolve(
        (issueId === undefined
          ? this.all('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?', afterId, limit)
          : this.all('SELECT * FROM events WHERE id > ? AND issue_id = ? ORDER BY id LIMIT ?', afterId, issueId, limit)
        ).map(rowToEvent),
      ),
    townEvents: async (afterId, filter, limit) => Promise.resolve(this.selectTownEvents(afterId, filter, limit)),
    lastTownEventId: async () => Promise.resolve(Number(this.get('SELECT max(id) AS id FROM town_events')?.id ?? 0)),
    exportIssues: async (selection) => Promise.resolve(this.selectForExport(selection)),
    relations: async (ids) => Promise.resolve(this.loadRelations(ids)),
    memories: async () =>
      Promise.resolve(this.all('SELECT key, value FROM memories ORDER BY key').map((r) => ({ key: String(r.key), value: String(r.value) }))),
    notifications: async (filter) => Promise.resolve(this.selectNotifications(filter)),
    notifyCursor: async (name) => {
      const row = this.get('SELECT value FROM notify_cursors WHERE name = ?', name);
      return Promise.resolve(row ? String(row.value) : undefined);
    },
    blockingEdges: async () =>
      Promise.resolve(
        this.all(`SELECT issue_id, depends_on_id FROM dependencies WHERE type IN ('blocks','conditional-blocks')`).map((r) => ({
          from: String(r.issue_id),
          to: String(r.depends_on_id),
        })),
      ),

    insertIssue: async (issue) => {
      // Positional binding: measurably cheaper than 50 named parameters on bulk imports.
      this.run(INSERT_ISSUE, issueToValues(issue));
      return Promise.resolve();
    },
    updateIssue: async (id, patch) => {
      const columns = patchToColumns(patch);
      const names = Object.keys(columns);
      if (names.length > 0) this.run(`UPDATE issues SET ${names.map((c) => `${c} = @${c}`).join(', ')} WHERE id = @__id`, { ...columns, __id: id });
      return Promise.resolve();
    },
    deleteIssue: async (id) => {
      this.run('DELETE FROM dependencies WHERE depends_on_id = ?', id);
      this.run('DELETE FROM issues WHERE id = ?', id);
      this.run('DELETE FROM child_counters WHERE parent_id = ?', id);
      return Promise.resolve();
    },
    claimIssue: async (id, actor, now) =>
      Promise.resolve(
        this.run(
          `UPDATE issues SET assignee = ?, status = 'in_progress', started_at = COALESCE(started_at, ?), updated_at = ?
          WHERE id = ? AND status = 'open' AND (assignee IS NULL OR assignee = ?)`,
          actor,
          now,
          now,
          id,
          actor,
        ).changes === 1,
      ),
    nextChildNumber: async (parentId) => {
      const counter = Number(this.get('SELECT last_child FROM child_counters WHERE parent_id = ?', parentId)?.last_child ?? 0);
      // Children imported or created elsewhere also count, so a number is never reused.
      let highest = 0;
      for (const r of this.all(`SELECT id FROM issues WHERE id > ? AND id < ?`, `${parentId}.`, `${parentId}/`)) {
        const rest = String(r.id).slice(parentId.length + 1);
        if (/^\d+$/.test(rest)) highest = Math.max(highest, Number(rest));
      }
      const next = Math.max(counter, highest) + 1;
      this.run(
        'INSERT INTO child_counters (parent_id, last_child) VALUES (?, ?) ON CONFLICT (parent_id) DO UPDATE SET last_child = excluded.last_child',
        parentId,
        next,
      );
      return Promise.resolve(next);
    },
    addLabel: async (id, label) => Promise.resolve(this.run('INSERT OR IGNORE INTO labels (issue_id, label) VALUES (?, ?)', id, label).changes === 1),
    removeLabel: async (id, label) => Promise.resolve(this.run('DELETE FROM labels WHERE issue_id = ? AND label = ?', id, label).changes === 1),
    setLabels: async (id, labels) => {
      this.run('DELETE FROM labels WHERE issue_id = ?', id);
      for (const label of labels) this.run('INSERT OR IGNORE INTO labels (issue_id, label) VALUES (?, ?)', id, label);
      return Promise.resolve();
    },
    putDependency: async (dep) => {
      this.run(
        `INSERT INTO dependencies (issue_id, depends_on_id, type, created_at, created_by, metadata, thread_id)
         VALUES (@issue_id, @depends_on_id, @type, @created_at, @created_by, @metadata, @thread_id)
         ON CONFLICT (issue_id, depends_on_id) DO UPDATE SET type = excluded.type, metadata = excluded.metadata, thread_id = excluded.thread_id`,
        dependencyToRow(dep),
      );
      return Promise.resolve();
    },
    removeDependency: async (from, to) =>
      Promise.resolve(this.run('DELETE FROM dependencies WHERE issue_id = ? AND depends_on_id = ?', from, to).changes === 1),
    setDependencies: async (id, deps) => {
      this.run('DELETE FROM dependencies WHERE issue_id = ?', id);
      for (const dep of deps) {
        this.run(
          `INSERT OR REPLACE INTO dependencies (issue_id, depends_on_id, type, created_at, created_by, metadata, thread_id)
           VALUES (@issue_id, @depends_on_id, @type, @created_at, @created_by, @metadata, @thread_id)`,
          dependencyToRow(dep),
        );
      }
      return Promise.resolve();
    },
    addComment: async (comment) => {
      this.run(
        'INSERT INTO comments (id, issue_id, author, text, created_at) VALUES (?, ?, ?, ?, ?)',
        comment.id,
        comment.issue_id,
        comment.author,
        comment.text,
        comment.created_at,
      );
      return Promise.resolve();
    },
    setComments: async (id, comments) => {
      this.run('DELETE FROM comments WHERE issue_id = ?', id);
      for (const c of comments)
        this.run('INSERT INTO comments (id, issue_id, author, text, created_at) VALUES (?, ?, ?, ?, ?)', c.id, id, c.author, c.text, c.created_at);
      return Promise.resolve();
    },
    appendEvent: async (event) => {
      this.run(
        'INSERT INTO events (issue_id, event_type, actor, old_value, new_value, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        event.issue_id,
        event.event_type,
        event.actor,
        event.old_value ?? null,
        event.new_value ?? null,
        event.comment ?? null,
        event.created_at,
      );
      return Promise.resolve();
    },
    insertNotification: async (n) => {
      const result = this.run(
        `INSERT INTO notifications (channel, severity, kind, title, body, bead, dedupe_key, actions, next_at, created_at, created_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel, dedupe_key) DO NOTHING`,
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
      return Promise.resolve(result.changes === 0 ? undefined : Number(result.lastInsertRowid));
    },
    updateNotification: async (id, patch) => {
      const entries = Object.entries(patch);
      if (entries.length > 0)
        this.run(`UPDATE notifications SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ?`, ...entries.map(([, v]) => v ?? null), id);
      return Promise.resolve();
    },
    claimNotification: async (id, dueBy, until) =>
      Promise.resolve(this.run(`UPDATE notifications SET next_at = ? WHERE id = ? AND status = 'pending' AND next_at <= ?`, until, id, dueBy).changes === 1),
    setNotifyCursor: async (name, value) => {
      this.run('INSERT INTO notify_cursors (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value', name, value);
      return Promise.resolve();
    },
    appendTownEvent: async (event) => {
      this.appended = true;
      const result = this.run(
        'INSERT INTO town_events (kind, actor, rig, bead, agent, payload, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        event.kind,
        event.actor,
        event.rig ?? null,
        event.bead ?? null,
        event.agent ?? null,
        JSON.stringify(event.payload),
        event.at,
      );
      return Promise.resolve(Number(result.lastInsertRowid));
    },
    dropTownEvents: async (kind, agent, beforeId) => {
      this.run('DELETE FROM town_events WHERE kind = ? AND agent = ? AND id < ?', kind, agent, beforeId);
      return Promise.resolve();
    },
    setConfig: async (key, value) => {
      this.run('INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, value);
      return Promise.resolve();
    },
    deleteConfig: async (key) => {
      this.run('DELETE FROM config WHERE key = ?', key);
      return Promise.resolve();
    },
    putMemory: async (memory) => {
      this.run('INSERT INTO memories (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', memory.key, memory.value);
      return Promise.resolve();
    },
    refreshBlocked: async (ids) => {
      this.refreshBlockedFrom(ids);
      return Promise.resolve();
    },
    refreshAllBlocked: async () => {
      this.refreshEverything();
      return Promise.resolve();
    },
    bulkLoad: async (rows) => Promise.resolve(this.bulkLoad(rows)),
  };

  private selectNotifications(filter: NotificationFilter): NotificationRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.channel !== undefined) {
      where.push('channel = ?');
      params.push(filter.channel);
    }
    if (filter.statuses && filter.statuses.length > 0) {
      where.push(`status IN (${filter.statuses.map(() => '?').join(', ')})`);
      params.push(...filter.statuses);
    }
    if (filter.dueBy !== undefined) {
      where.push('next_at <= ?');
      params.push(filter.dueBy);
    }
    if (filter.sentSince !== undefined) {
      where.push('sent_at >= ?');
      params.push(filter.sentSince);
    }
    const sql = `SELECT * FROM notifications${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${filter.newestFirst ? 'DESC' : 'ASC'}${
      filter.limit ? ' LIMIT ?' : ''
    }`;
    if (filter.limit) params.push(filter.limit);
    return this.all(sql, ...params).map(rowToNotification);
  }

  private selectTownEvents(afterId: number, filter: TownEventFilter, limit: number): TownEvent[] {
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
      where.push(`(${filter.kinds.map(() => '(kind = ? OR kind GLOB ?)').join(' OR ')})`);
      for (const kind of filter.kinds) params.push(kind, `${kind.replace(/\.\*$/, '')}.*`);
    }
    return this.all(`SELECT * FROM town_events WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, ...params, limit).map((row) => {
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

  // ---- blocked state (materialized, as Beads' is_blocked; research/beads.md §3) ----

  /** The blocked rule for one issue, given its parents' flags. */
  private static readonly DIRECT_BLOCKED = `
    CASE WHEN i.status IN ${RESOLVED} THEN 0
    WHEN EXISTS (SELECT 1 FROM dependencies d JOIN issues t ON t.id = d.depends_on_id
                  WHERE d.issue_id = i.id AND d.type IN ('blocks','conditional-blocks') AND t.status NOT IN ${RESOLVED}) THEN 1
    WHEN EXISTS (SELECT 1 FROM dependencies d JOIN issues p ON p.id = d.depends_on_id
                  WHERE d.issue_id = i.id AND d.type = 'parent-child' AND p.is_blocked = 1) THEN 1
    WHEN EXISTS (SELECT 1 FROM dependencies d WHERE d.issue_id = i.id AND d.type = 'waits-for' AND ${WAITS_FOR_UNSATISFIED}) THEN 1
    ELSE 0 END`;

  private refreshBlockedFrom(seeds: string[]): void {
    // Everything whose rule reads a seed's status: the seed, its blockers' dependents,
    // and the waits-for dependents of its parents (fan-in gates).
    const pending: string[] = [];
    for (const id of seeds) {
      pending.push(id);
      for (const r of this.all(`SELECT issue_id FROM dependencies WHERE depends_on_id = ? AND type IN ('blocks','conditional-blocks')`, id))
        pending.push(String(r.issue_id));
      for (const r of this.all(
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
      const row = this.get(`SELECT i.is_blocked AS old, ${SqliteLedgerStore.DIRECT_BLOCKED} AS new FROM issues i WHERE i.id = ?`, id);
      if (row === undefined || Number(row.old) === Number(row.new)) continue;
      this.run('UPDATE issues SET is_blocked = ? WHERE id = ?', row.new, id);
      for (const r of this.all(`SELECT issue_id FROM dependencies WHERE depends_on_id = ? AND type = 'parent-child'`, id)) pending.push(String(r.issue_id));
    }
  }

  /**
   * Sets the record tables' secondary indexes and the id_counts insert trigger aside for a large load
   * (an import of 50,000 issues spent half its SQL time keeping them up row by row), then builds them
   * once from the schema's own text. DDL is transactional in SQLite: a failed load restores them on
   * rollback. A load smaller than what is there goes row by row: a rebuild reads the whole table.
   */
  private bulkLoad(rows: number): { finish(): Promise<void> } {
    const present = Number(this.get('SELECT COUNT(*) AS n FROM issues')?.n ?? 0);
    if (rows < BULK_LOAD_MIN_ROWS || present > rows) return { finish: async () => Promise.resolve() };
    const aside = this.all(
      `SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL
          AND ((type = 'index' AND tbl_name IN ('issues', 'dependencies', 'labels', 'comments', 'events')) OR (type = 'trigger' AND name = 'id_counts_insert'))`,
    );
    for (const entry of aside) this.db.exec(`DROP ${entry.type === 'trigger' ? 'TRIGGER' : 'INDEX'} "${String(entry.name)}"`);
    return {
      finish: async () => {
        for (const entry of aside) this.db.exec(String(entry.sql));
        if (aside.some((entry) => entry.type === 'trigger')) {
          // What the trigger would have counted, counted once (the same base expression).
          this.db.exec(`DELETE FROM id_counts;
            INSERT INTO id_counts (base, n) SELECT rtrim(rtrim(id, replace(id, '-', '')), '-'), COUNT(*) FROM issues WHERE instr(id, '.') = 0 GROUP BY 1;`);
        }
        return Promise.resolve();
      },
    };
  }

  private refreshEverything(): void {
    this.run('UPDATE issues SET is_blocked = 0 WHERE is_blocked <> 0');
    // Direct causes first (blockers, fan-in gates), then push the flag down the parent-child tree.
    this.run(`UPDATE issues AS i SET is_blocked = 1 WHERE ${SqliteLedgerStore.DIRECT_BLOCKED} = 1`);
    this.run(
      `WITH RECURSIVE down(id) AS (
         SELECT id FROM issues WHERE is_blocked = 1
         UNION
         SELECT d.issue_id FROM dependencies d JOIN down ON d.depends_on_id = down.id
           JOIN issues c ON c.id = d.issue_id
          WHERE d.type = 'parent-child' AND c.status NOT IN ${RESOLVED})
       UPDATE issues SET is_blocked = 1 WHERE is_blocked = 0 AND id IN (SELECT id FROM down)`,
    );
  }

  // ---- queries ----

  /** Labels, counts and parent onto issues this read decoded (it changes them). */
  private hydrate(issues: Issue[]): IssueWithCounts[] {
    if (issues.length === 0) return [];
    const ids = issues.map((i) => i.id);
    const json = JSON.stringify(ids);
    const labels = new Map<string, string[]>();
    for (const r of this.all(HYDRATE_LABELS_SQL, json)) {
      const key = String(r.issue_id);
      const list = labels.get(key) ?? [];
      list.push(String(r.label));
      labels.set(key, list);
    }
    const counts = new Map<string, Row>();
    for (const r of this.all(HYDRATE_COUNTS_SQL, json)) counts.set(String(r.id), r);
    // In place: the issues are this read's own, just decoded (a copy of each was ~3 KB of garbage per row).
    return issues.map((issue) => {
      const c = counts.get(issue.id);
      const result = issue as IssueWithCounts;
      result.labels = labels.get(issue.id) ?? [];
      result.dependency_count = Number(c?.dependency_count ?? 0);
      result.dependent_count = Number(c?.dependent_count ?? 0);
      result.comment_count = Number(c?.comment_count ?? 0);
      if (c?.parent !== null && c?.parent !== undefined) result.parent = c.parent.toString();
      return result;
    });
  }

  private listIssues(filter: IssueFilter): IssueWithCounts[] {
    const where = buildFilter(filter);
    const limit = filter.limit && filter.limit > 0 ? `LIMIT ${Math.floor(filter.limit)}` : '';
    // Cached like every other statement: the values are bound, so the daemon's lists (agents, hooks, queues) reuse a few shapes each pass.
    return this.hydrate(
      this.issuesOf(`SELECT i.* FROM issues i ${where.sql} ORDER BY ${orderBy(filter.sort ?? 'priority', filter.reverse ?? false)} ${limit}`, where.params),
    );
  }

  private readyIssues(filter: ReadyFilter): IssueWithCounts[] {
    const base = buildFilter(filter);
    const ready = readyConditions(filter);
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
        // Issues from the last 48 hours first, by priority; then older ones oldest first.
        params.recent = ready.recentCutoff;
        order = `(i.created_at >= @recent) DESC, CASE WHEN i.created_at >= @recent THEN i.priority END ASC, i.created_at ASC, i.id ASC`;
        break;
    }
    const sql = `SELECT i.* FROM issues i WHERE ${conditions.join(' AND ')} ORDER BY ${order} ${limit}`;
    return this.hydrate(this.issuesOf(sql, params));
  }

  private blockedIssues(filter: IssueFilter): BlockedIssue[] {
    const base = buildFilter({ ...filter, excludeStatuses: [...(filter.excludeStatuses ?? []), 'closed', 'pinned'] });
    const conditions = [base.sql.replace(/^WHERE /, ''), 'i.is_blocked = 1'].filter(Boolean);
    const rows = this.issuesOf(
      `SELECT i.* FROM issues i WHERE ${conditions.join(' AND ')} ORDER BY i.priority ASC, i.created_at DESC, i.id ASC ${filter.limit ? `LIMIT ${Math.floor(filter.limit)}` : ''}`,
      base.params,
      true,
    );
    return this.hydrate(rows).map((issue) => {
      const blockers = this.all(
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
      ).map((r) => String(r.id));
      return { ...issue, blocked_by_count: blockers.length, blocked_by: blockers };
    });
  }

  private computeStats(now: string, excludeTypes: string[]): Stats {
    // Types left out of every count (gt's bookkeeping for bd stats), as a json_each list so one statement serves any list.
    const types = JSON.stringify(excludeTypes);
    const notExcluded = `issue_type NOT IN (SELECT value FROM json_each(@types))`;
    const byStatus = new Map<string, number>();
    for (const r of this.stmt(`SELECT status, COUNT(*) AS n FROM issues WHERE ephemeral = 0 AND ${notExcluded} GROUP BY status`).all({ types }) as Row[])
      byStatus.set(String(r.status), Number(r.n));
    const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
    const ready = readyConditions({ now });
    const readyCount = Number((this.stmt(`SELECT COUNT(*) AS n FROM issues i WHERE ${ready.conditions.join(' AND ')}`).get(ready.params) as Row).n);
    const blocked = Number(
      (
        this.stmt(`SELECT COUNT(*) AS n FROM issues WHERE is_blocked = 1 AND status NOT IN ${RESOLVED} AND ephemeral = 0 AND ${notExcluded}`).get({
          types,
        }) as Row
      ).n,
    );
    const eligible = Number(
      this.get(
        `SELECT COUNT(*) AS n FROM issues e WHERE e.issue_type = 'epic' AND e.status <> 'closed'
         AND EXISTS (SELECT 1 FROM dependencies d WHERE d.depends_on_id = e.id AND d.type = 'parent-child')
         AND NOT EXISTS (SELECT 1 FROM dependencies d JOIN issues c ON c.id = d.issue_id
                          WHERE d.depends_on_id = e.id AND d.type = 'parent-child' AND c.status <> 'closed')`,
      )?.n ?? 0,
    );
    const lead = this.stmt(
      `SELECT AVG((julianday(closed_at) - julianday(created_at)) * 24) AS h FROM issues WHERE status = 'closed' AND closed_at IS NOT NULL AND ${notExcluded}`,
    ).get({ types }) as Row | undefined;
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

  private selectForExport(selection: ExportSelection): Issue[] {
    const conditions: string[] = [];
    if (!selection.includeEphemeral) conditions.push('ephemeral = 0');
    if (!selection.includeTemplates) conditions.push('is_template = 0');
    if (selection.excludeTypes.length > 0) conditions.push(`issue_type NOT IN (SELECT value FROM json_each(@types))`);
    const sql = `SELECT * FROM issues ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY id`;
    return (this.db.prepare(sql).all(selection.excludeTypes.length ? { types: JSON.stringify(selection.excludeTypes) } : {}) as Row[]).map(rowToIssue);
  }

  private loadRelations(ids: string[]): Map<string, { labels: string[]; dependencies: Dependency[]; comments: Comment[] }> {
    const result = new Map<string, { labels: string[]; dependencies: Dependency[]; comments: Comment[] }>();
    for (const id of ids) result.set(id, { labels: [], dependencies: [], comments: [] });
    const json = JSON.stringify(ids);
    for (const r of this.all('SELECT issue_id, label FROM labels WHERE issue_id IN (SELECT value FROM json_each(?)) ORDER BY issue_id, label', json)) {
      result.get(String(r.issue_id))?.labels.push(String(r.label));
    }
    for (const r of this.all(
      'SELECT * FROM dependencies WHERE issue_id IN (SELECT value FROM json_each(?)) ORDER BY issue_id, created_at, depends_on_id',
      json,
    )) {
      result.get(String(r.issue_id))?.dependencies.push(rowToDependency(r));
    }
    for (const r of this.all('SELECT * FROM comments WHERE issue_id IN (SELECT value FROM json_each(?)) ORDER BY issue_id, created_at, seq', json)) {
      result.get(String(r.issue_id))?.comments.push(rowToComment(r));
    }
    return result;
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
  return {
    id: typeof row.id === 'number' || typeof row.id === 'bigint' ? Number(row.id) : String(row.id),
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

/** What `gt doctor` learns of a ledger file without the store: opened read-only, so a newer or damaged file is only looked at. */
export interface SqliteInspection {
  exists: boolean;
  schema_version?: number;
  latest: number;
  problems: string[];
  error?: string;
  wal_bytes: number;
}

function openRaw(path: string, readonly: boolean): Database.Database {
  const addon = nativeBinding();
  return new Driver(path, { fileMustExist: true, readonly, timeout: 10_000, ...(addon ? { nativeBinding: addon } : {}) });
}

/** quick_check (O(N), not integrity_check's O(N log N)) and foreign keys; the schema version as written, even one newer than this gt. */
export function inspectSqliteLedger(path: string): SqliteInspection {
  let wal_bytes = 0;
  try {
    wal_bytes = statSync(`${path}-wal`).size;
  } catch {
    // no write-ahead log
  }
  const base = { latest: LATEST_SCHEMA_VERSION, wal_bytes };
  if (!existsSync(path)) return { exists: false, problems: [], ...base };
  let db: Database.Database | undefined;
  try {
    db = openRaw(path, true);
    const version = db.pragma('user_version', { simple: true }) as number;
    const problems = (db.pragma('quick_check') as Array<{ quick_check: string }>).map((r) => r.quick_check).filter((r) => r !== 'ok');
    const fk = db.pragma('foreign_key_check') as unknown[];
    if (fk.length > 0) problems.push(`${fk.length} foreign key violation(s)`);
    return { exists: true, schema_version: version, problems, ...base };
  } catch (error) {
    return { exists: true, problems: [], error: (error as Error).message, ...base };
  } finally {
    db?.close();
  }
}

/** Folds the write-ahead log into the database and truncates it; readers in the middle of a snapshot keep what they need. */
export function checkpointSqliteWal(path: string): void {
  const db = openRaw(path, false);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}
