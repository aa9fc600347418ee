import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { afterEach } from 'vitest';
import { Ledger } from '../../src/core/beads/ledger.js';
import { SqliteLedgerStore } from '../../src/ledger/sqlite/store.js';
import { openLedgerStore } from '../../src/app/town.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BD = join(ROOT, 'dist', 'bd.cjs');
export const GT = join(ROOT, 'dist', 'gt.cjs');
export const SHARED_FIXTURES = resolve(ROOT, '..', 'shared', 'fixtures', 'beads');
export const OWN_FIXTURES = join(ROOT, 'test', 'fixtures');

const cleanups: Array<() => void | Promise<void>> = [];

/** Runs `fn` after the current test (last registered first). */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}
afterEach(async () => {
  // Last registered first: a ledger closes before its directory is removed.
  while (cleanups.length) await cleanups.pop()?.();
});

/** A fresh temp directory, removed after the test. */
export function tempDir(prefix = 'gt-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  return dir;
}

/** The environment a CLI under test sees: isolated HOME and git config, no inherited ledger. */
export function isolatedEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'LANG', 'TMPDIR', 'SYSTEMROOT']) if (process.env[key] !== undefined) env[key] = process.env[key];
  return { ...env, HOME: home, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', NO_COLOR: '1', BD_ACTOR: 'tester', ...extra };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a bundled CLI (node <script> <args>) without blocking, collecting its output. */
export function runAsync(script: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [script, ...args], options);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

export interface Workspace {
  dir: string;
  env: NodeJS.ProcessEnv;
  bd: (args: string[], options?: { input?: string; env?: Record<string, string>; cwd?: string }) => RunResult;
  bdAsync: (args: string[], options?: { env?: Record<string, string> }) => Promise<RunResult>;
  json: <T = unknown>(args: string[]) => T;
}

/** A temp project with `bd init --prefix <prefix>` done, and a runner for the real bd binary. */
export function workspace(prefix = 'test', init = true): Workspace {
  const dir = tempDir();
  const env = isolatedEnv(dir);
  const bd: Workspace['bd'] = (args, options = {}) => {
    const r = spawnSync(process.execPath, [BD, ...args], {
      cwd: options.cwd ?? dir,
      env: { ...env, ...options.env },
      input: options.input ?? '',
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const bdAsync: Workspace['bdAsync'] = (args, options = {}) => runAsync(BD, args, { cwd: dir, env: { ...env, ...options.env } });
  const json = <T>(args: string[]): T => {
    const r = bd([...args, '--json']);
    if (r.code !== 0) throw new Error(`bd ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  if (init) {
    const r = bd(['init', '--prefix', prefix]);
    if (r.code !== 0) throw new Error(`bd init failed: ${r.stderr}`);
  }
  return { dir, env, bd, bdAsync, json };
}

/** An in-process ledger on a fresh SQLite file, closed after the test. */
export async function openLedger(
  options: { actor?: string; prefix?: string; clock?: () => string; path?: string } = {},
): Promise<{ ledger: Ledger; path: string }> {
  const path = options.path ?? join(tempDir(), 'ledger.db');
  const store = SqliteLedgerStore.open(path, { create: true });
  const ledger = new Ledger(store, { actor: options.actor ?? 'tester', ...(options.clock ? { clock: options.clock } : {}) });
  cleanups.push(() => store.close());
  await ledger.setConfig('issue_prefix', options.prefix ?? 'bd');
  return { ledger, path };
}

export interface LedgerBackend {
  name: string;
  /** A fresh ledger; pass `path` (the location of another) to open a second connection to it. */
  open: typeof openLedger;
}

/** An in-process ledger on a fresh PostgreSQL database of the test server (or, given `path`, a second connection to that database's URL). */
export async function openPostgresLedger(
  options: { actor?: string; prefix?: string; clock?: () => string; path?: string } = {},
): Promise<{ ledger: Ledger; path: string }> {
  const { freshDatabase } = await import('./postgres.js');
  const url = options.path ?? (await freshDatabase());
  const store = openLedgerStore(url, { create: true });
  const ledger = new Ledger(store, { actor: options.actor ?? 'tester', ...(options.clock ? { clock: options.clock } : {}) });
  cleanups.push(() => store.close());
  await ledger.setConfig('issue_prefix', options.prefix ?? 'bd');
  return { ledger, path: url };
}

/**
 * Whether the PostgreSQL legs run: a server was given (GT_TEST_PG_URL, which the integration
 * global setup sets when it starts one) or CI requires one (GT_TEST_PG_REQUIRED: then a missing
 * server fails the tests instead of skipping them). Otherwise the reason is printed once.
 */
export const POSTGRES_TESTS = Boolean(process.env.GT_TEST_PG_URL) || process.env.GT_TEST_PG_REQUIRED === '1';
if (!POSTGRES_TESTS && !process.env.GT_TEST_PG_NOTE) {
  process.env.GT_TEST_PG_NOTE = '1';
  process.stderr.write('[postgres] no test PostgreSQL (GT_TEST_PG_URL unset): the PostgreSQL ledger tests are skipped in this worker\n');
}

/**
 * The backends the ledger conformance suite runs against: SQLite always, PostgreSQL when a test
 * server is there (see POSTGRES_TESTS). Every rule test runs against both.
 */
export const LEDGER_BACKENDS: LedgerBackend[] = [
  { name: 'sqlite', open: openLedger },
  ...(POSTGRES_TESTS ? [{ name: 'postgres', open: openPostgresLedger }] : []),
];
