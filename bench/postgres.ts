/**
 * PostgreSQL ledger benchmark (issue 19), both backends in the same run:
 *   - the hot commands agent hooks run every turn (gt prime, gt signal, gt hook, bd ready) as whole
 *     processes, interleaved with `node -e 0`, on a SQLite town and a PostgreSQL town (target:
 *     ≤ 2× node -e 0 on PostgreSQL too);
 *   - the wake-up latency of a follower (gt events --follow, the feed, the dashboard, the daemon):
 *     from the start of a write that appends a town event to the follower's wake, through
 *     PostgreSQL's LISTEN/NOTIFY and SQLite's data_version poll (a second connection each).
 *
 * Uses GT_TEST_PG_URL, or starts a throwaway PostgreSQL like the tests do.
 *
 *   npm run bench:postgres
 *   BENCH_RUNS=5 BENCH_WAKES=10 npm run bench:postgres     # quicker
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { Ledger } from '../src/core/beads/ledger.js';
import type { LedgerStore } from '../src/core/beads/store.js';
import { PostgresLedgerStore } from '../src/ledger/postgres/store.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { launchPostgres } from '../test/support/postgres-server.js';
import { timedRun as run, benchEnv } from './town-setup.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const WAKES = Number(process.env.BENCH_WAKES ?? 40);
const ROOT = resolve(import.meta.dirname, '..');
const GT = join(ROOT, 'dist', 'gt.cjs');
const BD = join(ROOT, 'dist', 'bd.cjs');
const log = (text: string) => process.stderr.write(`${text}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const p95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * 0.95))] as number;

async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await client.query(`CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8'`);
  await client.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A town with one rig and a polecat with one hooked bead; returns the env its hot commands run in. */
function town(base: string, name: string, ledgerUrl: string | undefined): { root: string; env: NodeJS.ProcessEnv } {
  const root = join(base, name);
  const env = benchEnv(base, root, `gt-bench-${name}-${process.pid}`);
  const gt = (args: string[], cwd = base) => run(['node', GT, ...args], cwd, env);
  gt(['install', root, ...(ledgerUrl ? ['--ledger', ledgerUrl] : [])]);
  const seed = join(base, `${name}-seed`);
  run(['git', 'init', '-q', '-b', 'main', seed], base, env);
  run(['git', '-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-q', '--allow-empty', '-m', 'seed'], seed, env);
  gt(['rig', 'add', 'app', seed]);
  const bead = run(
    ['node', GT, 'bd', 'create', 'A bead to prime with', '-d', 'Make the login form remember the last user name.', '--silent'],
    join(root, 'app'),
    env,
  ).stdout.trim();
  const agent = (JSON.parse(gt(['sling', bead, 'app', '--no-start', '--json']).stdout) as Array<{ agent: string }>)[0]?.agent as string;
  return { root, env: { ...env, GT_AGENT: agent } };
}

/** From the start of a write appending a town event to the wake of a follower on another connection. */
async function wakeLatency(writer: LedgerStore, follower: LedgerStore): Promise<{ wake: number[]; write: number[] }> {
  const ledger = new Ledger(writer, { actor: 'bench' });
  let woke: (() => void) | undefined;
  const stop = await follower.watch(() => woke?.());
  const wake: number[] = [];
  const write: number[] = [];
  // SQLite's poll timer does not keep a process alive on its own (a follower's own wait does).
  const alive = setInterval(() => undefined, 1000);
  try {
    for (let i = 0; i < WAKES; i++) {
      const start = performance.now();
      const arrived = new Promise<number>((r) => (woke = () => r(performance.now())));
      await ledger.emit({ kind: 'mail.sent', payload: { i } });
      write.push(performance.now() - start);
      wake.push((await arrived) - start);
      woke = undefined;
      await new Promise((r) => setTimeout(r, 30 + Math.random() * 40));
    }
  } finally {
    clearInterval(alive);
    stop();
  }
  return { wake, write };
}

async function main(): Promise<void> {
  let serverUrl = process.env.GT_TEST_PG_URL;
  const own = serverUrl ? undefined : await launchPostgres();
  serverUrl ??= own?.url as string;
  const base = mkdtempSync(join(tmpdir(), 'gt-bench-pg-'));
  try {
    log('towns: one on SQLite, one on PostgreSQL…');
    const sqlite = town(base, 'lite', undefined);
    const postgres = town(base, 'pg', await createDatabase(serverUrl, `gt_bench_${process.pid}`));
    log(`timing whole processes, ${RUNS} interleaved runs each…`);
    const commands: Record<string, string[]> = { prime: ['prime'], signal: ['signal', 'prompt-submit'], hook: ['hook'] };
    const samples = new Map<string, number[]>();
    const add = (key: string, ms: number) => samples.set(key, [...(samples.get(key) ?? []), ms]);
    for (let i = 0; i < RUNS; i++) {
      add('node', run(['node', '-e', '0'], base, process.env).ms);
      for (const [backend, t] of [
        ['sqlite', sqlite],
        ['postgres', postgres],
      ] as const) {
        for (const [name, args] of Object.entries(commands)) add(`${backend} gt ${name}`, run(['node', GT, ...args], t.root, t.env).ms);
        add(`${backend} bd ready`, run(['node', BD, 'ready'], join(t.root, 'app'), t.env).ms);
      }
    }

    log(`wake-up latency, ${WAKES} events each…`);
    const pgUrl = new URL(serverUrl);
    pgUrl.pathname = `/gt_bench_${process.pid}`;
    const pgWriter = await PostgresLedgerStore.open(pgUrl.toString());
    const pgFollower = await PostgresLedgerStore.open(pgUrl.toString());
    const pgWake = await wakeLatency(pgWriter, pgFollower);
    await pgWriter.close();
    await pgFollower.close();
    const liteFile = join(sqlite.root, '.gt', 'ledger.db');
    const liteWriter = SqliteLedgerStore.open(liteFile);
    const liteFollower = SqliteLedgerStore.open(liteFile);
    const liteWake = await wakeLatency(liteWriter, liteFollower);
    await liteWriter.close();
    await liteFollower.close();

    const node = median(samples.get('node') ?? []);
    const rows: string[][] = [['node -e 0 (baseline)', `${node.toFixed(1)} ms`, '1.00×', '']];
    for (const backend of ['sqlite', 'postgres'])
      for (const name of ['gt prime', 'gt signal', 'gt hook', 'bd ready']) {
        const ms = median(samples.get(`${backend} ${name}`) ?? []);
        rows.push([`${name} (${backend})`, `${ms.toFixed(1)} ms`, `${(ms / node).toFixed(2)}×`, backend === 'postgres' ? '≤ 2×' : '']);
      }
    const wakeRow = (name: string, r: { wake: number[]; write: number[] }) => [
      name,
      `${median(r.wake).toFixed(1)} ms (p95 ${p95(r.wake).toFixed(1)})`,
      `write ${median(r.write).toFixed(1)} ms`,
      '',
    ];
    rows.push(wakeRow('wake-up, PostgreSQL LISTEN/NOTIFY', pgWake), wakeRow('wake-up, SQLite data_version (50 ms poll)', liteWake));
    const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
    console.log(`\n${rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ')).join('\n')}`);
  } finally {
    spawnSync('tmux', ['-L', `gt-bench-lite-${process.pid}`, 'kill-server']);
    spawnSync('tmux', ['-L', `gt-bench-pg-${process.pid}`, 'kill-server']);
    rmSync(base, { recursive: true, force: true });
    own?.stop();
  }
}

await main();
