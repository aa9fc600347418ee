/**
 * `gt ledger migrate --to <url|path>` (issue 19): a town's ledger copied between SQLite and
 * PostgreSQL, either way, and verified before the town is switched: the row count of every table
 * is equal, and `bd export --all` of both is byte-identical. The copy is one transaction on the
 * target; town.toml changes only after the verification passed, so a failure changes nothing the
 * town uses (a target that was empty is emptied again).
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Row } from '../ledger/sqlite/rows.js';
import { Ledger } from '../core/beads/ledger.js';
import type { LedgerStore } from '../core/beads/store.js';
import { GtError } from '../shared/errors.js';
import { TOWN_FILE, TOWN_LEDGER } from '../shared/paths.js';
import { nodeTownFiles } from '../infra/files.js';
import { daemonControl } from '../infra/daemon-control.js';
import { SqliteLedgerStore } from '../ledger/sqlite/store.js';
import { LEDGER_TABLES } from '../ledger/postgres/migrations.js';
import { isPostgresUrl, maskLedgerUrl } from '../ledger/postgres/url.js';
import { ledgerUrlOf } from '../ledger/locate.js';
import { sameRealm } from '../ledger/postgres/lazy.js';
import { loadPostgres, townLedger } from './town.js';

/** What both stores offer for a raw copy. */
interface CopyStore extends LedgerStore {
  dumpTables(tables: readonly string[]): Promise<Map<string, Row[]>>;
  loadTables(rows: Map<string, Row[]>, replace: boolean): Promise<void>;
  tableCounts(tables: readonly string[]): Promise<Record<string, number>>;
}

export interface LedgerMigration {
  from: string;
  to: string;
  /** Rows per table, equal on both sides. */
  tables: Record<string, number>;
  /** Bytes of `bd export --all`, identical on both sides. */
  export_bytes: number;
  /** Whether town.toml now names the target. */
  switched: boolean;
}

const COUNTED = [...LEDGER_TABLES, 'id_counts'];

async function openCopyStore(location: string, create: boolean): Promise<CopyStore> {
  if (isPostgresUrl(location)) {
    const { PostgresLedgerStore } = await loadPostgres();
    return PostgresLedgerStore.open(location, { create });
  }
  return SqliteLedgerStore.open(location, { create });
}

/** `bd export --all`, as bd writes it. */
async function exportAll(store: LedgerStore): Promise<string> {
  const ledger = new Ledger(store, { actor: 'gt' });
  const { issues, memories } = await ledger.exportRecords({ includeInfra: true, includeTemplates: true, includeEphemeral: true });
  const { formatIssueLine, formatMemoryLine } = await import('../ledger/jsonl.js');
  return [...issues.map((i) => `${formatIssueLine(i)}\n`), ...memories.map((m) => `${formatMemoryLine(m)}\n`)].join('');
}

/** town.toml with `ledger.url` set to `url`, or removed (undefined: the SQLite file). Other lines stay as they are. */
function withLedgerUrl(text: string, url: string | undefined): string {
  const lines = text.split('\n');
  const out: string[] = [];
  let inLedger = false;
  for (const line of lines) {
    if (/^\s*\[/.test(line)) inLedger = /^\s*\[ledger\]\s*(#.*)?$/.test(line);
    if (inLedger && /^\s*url\s*=/.test(line)) continue;
    if (!inLedger && /^\s*ledger\s*\.\s*url\s*=/.test(line)) continue;
    out.push(line);
    if (inLedger && /^\s*\[ledger\]/.test(line) && url !== undefined) out.push(`url = ${JSON.stringify(url)}`);
  }
  let result = out.join('\n');
  if (url !== undefined && ledgerUrlOf(result) !== url) result = `${result.replace(/\n*$/, '\n')}\n[ledger]\nurl = ${JSON.stringify(url)}\n`;
  return result;
}

export async function migrateTownLedger(
  root: string,
  env: NodeJS.ProcessEnv,
  target: string,
  options: { force?: boolean },
  progress: (line: string) => void,
): Promise<LedgerMigration> {
  const source = townLedger(root);
  const townSqlite = join(root, TOWN_LEDGER);
  const to = isPostgresUrl(target) ? target : target === 'sqlite' ? townSqlite : resolve(target);
  const shown = (location: string) => (isPostgresUrl(location) ? maskLedgerUrl(location) : location);
  if (to === source) throw new GtError('usage', `the town's ledger is already ${shown(source)}`);
  if (!isPostgresUrl(source) && !isPostgresUrl(to))
    throw new GtError('usage', 'gt ledger migrate copies between SQLite and PostgreSQL: give a postgres:// URL (or, from PostgreSQL, a file path or `sqlite`)');
  if (daemonControl(root, env).status().running)
    throw new GtError('conflict', 'the town daemon is running: writes during the copy would be lost; nothing was changed', {
      hint: 'gt down, then migrate, then gt up',
    });

  // A SQLite target is written beside its place and moved in only after verification.
  const sqliteTarget = !isPostgresUrl(to);
  if (sqliteTarget && existsSync(to) && !options.force)
    throw new GtError('conflict', `${to} already exists; nothing was changed`, { hint: 'pass --force to replace it (after verification)' });
  const staging = sqliteTarget ? join(dirname(to), `.migrating-${process.pid}.db`) : to;
  if (sqliteTarget) for (const suffix of ['', '-wal', '-shm']) rmSync(`${staging}${suffix}`, { force: true });

  const from = await openCopyStore(source, false);
  let into: CopyStore | undefined;
  let loaded = false;
  let emptyBefore = true;
  try {
    into = await openCopyStore(staging, true);
    const before = await into.tableCounts(COUNTED);
    emptyBefore = Object.values(before).every((n) => n === 0);
    if (!emptyBefore && !options.force)
      throw new GtError(
        'conflict',
        `the target ledger ${shown(to)} is not empty (${Object.entries(before)
          .filter(([, n]) => n > 0)
          .map(([t, n]) => `${n} ${t}`)
          .join(', ')}); nothing was changed`,
        {
          hint: 'pass --force to replace what it holds',
        },
      );
    progress(`reading ${shown(source)}…`);
    const rows = await from.dumpTables(LEDGER_TABLES);
    progress(`copying ${[...rows.values()].reduce((n, r) => n + r.length, 0)} rows to ${shown(to)}…`);
    await into.loadTables(rows, !emptyBefore);
    loaded = true;

    progress('verifying: rows per table, and bd export --all of both…');
    const [a, b] = [await from.tableCounts(COUNTED), await into.tableCounts(COUNTED)];
    const differing = COUNTED.filter((t) => a[t] !== b[t]);
    if (differing.length > 0)
      throw new GtError('internal', `verification failed: row counts differ for ${differing.map((t) => `${t} (${a[t]} vs ${b[t]})`).join(', ')}`);
    const [exportA, exportB] = [await exportAll(from), await exportAll(into)];
    if (exportA !== exportB) throw new GtError('internal', `verification failed: bd export --all differs (${exportA.length} vs ${exportB.length} bytes)`);
    await into.close();
    into = undefined;

    // Verified: now the town switches.
    if (sqliteTarget) {
      for (const suffix of ['-wal', '-shm']) rmSync(`${to}${suffix}`, { force: true });
      renameSync(staging, to);
    }
    const townFile = join(root, TOWN_FILE);
    const switched = isPostgresUrl(to) || to === townSqlite;
    if (switched) nodeTownFiles.write(townFile, withLedgerUrl(nodeTownFiles.read(townFile) ?? '', isPostgresUrl(to) ? to : undefined), 0o600);
    return { from: shown(source), to: shown(to), tables: a, export_bytes: Buffer.byteLength(exportA), switched };
  } catch (error) {
    // Nothing the town uses changed; a target that was empty is left empty.
    if (into && loaded && emptyBefore && !sqliteTarget) await into.loadTables(new Map(LEDGER_TABLES.map((t) => [t, []])), true).catch(() => undefined);
    throw sameRealm(error);
  } finally {
    await into?.close();
    await from.close();
    if (sqliteTarget) for (const suffix of ['', '-wal', '-shm']) rmSync(`${staging}${suffix}`, { force: true });
  }
}
