/**
 * Ledger benchmark (issues 2 and 18). Builds a 50,000-issue ledger with
 * 100,000 dependencies through `bd import`, then times what a user pays for
 * each hot `bd` command: a whole cold process (a fresh `node`, the bundle, the
 * ledger opened from disk), paired with `node -e 0` in the same rounds, time
 * and peak memory (bench/processes.ts). Target: ≤ 1.3× `node -e 0` for both.
 * The in-process ready query is printed beside it for comparison only: it is
 * the warm figure that once made this benchmark look better than a
 * whole-process timer did (README, Performance).
 *
 *   npm run bench:ledger            # full size
 *   BENCH_ISSUES=5000 BENCH_RUNS=9 npm run bench:ledger   # quicker
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ledger } from '../src/core/beads/ledger.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { measure, median, processTable, wallMs, type Probe } from './processes.js';

const ISSUES = Number(process.env.BENCH_ISSUES ?? 50_000);
const EDGES = ISSUES * 2;
const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const TARGET = 1.3;
const BD = resolve(import.meta.dirname, '..', 'dist', 'bd.cjs');

const log = (text: string) => process.stderr.write(`${text}\n`);

/** A deterministic pseudo-random sequence, so every run measures the same ledger. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Realistic shape: epics with children and grandchildren (parent-child), work
 * that depends on earlier work (blocks, always pointing back so the graph stays
 * acyclic), and related/discovered-from links; 45 % closed, 10 % in progress.
 */
function generate(): string {
  const random = rng(42);
  const ids = Array.from({ length: ISSUES }, (_, i) => `bench-${i.toString(36)}`);
  const deps: Array<Array<{ depends_on_id: string; type: string }>> = ids.map(() => []);
  const statuses: string[] = ids.map(() => {
    const r = random();
    return r < 0.45 ? 'closed' : r < 0.55 ? 'in_progress' : 'open';
  });
  let edges = 0;
  const has = (i: number, j: number) => deps[i]?.some((d) => d.depends_on_id === ids[j]) ?? false;
  // parent-child: every 12th issue is an epic; the next 11 are its children, some of those get a grandchild edge.
  for (let i = 0; i < ISSUES; i++) {
    const epic = i - (i % 12);
    if (i !== epic) {
      const parent = i % 12 > 8 ? epic + 1 : epic;
      if (parent !== i) {
        deps[i]?.push({ depends_on_id: ids[parent] as string, type: 'parent-child' });
        edges++;
      }
    }
  }
  const types = ['blocks', 'blocks', 'blocks', 'related', 'discovered-from'];
  while (edges < EDGES) {
    const i = 1 + Math.floor(random() * (ISSUES - 1));
    // Mostly near neighbours (chains), sometimes far back: depth grows realistically.
    const back = random() < 0.8 ? 1 + Math.floor(random() * 30) : 1 + Math.floor(random() * i);
    const j = Math.max(0, i - back);
    if (j === i || has(i, j)) continue;
    deps[i]?.push({ depends_on_id: ids[j] as string, type: types[Math.floor(random() * types.length)] as string });
    edges++;
  }
  const lines: string[] = [];
  const base = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < ISSUES; i++) {
    const created = new Date(base + i * 60_000).toISOString();
    const status = statuses[i] as string;
    const record: Record<string, unknown> = {
      id: ids[i],
      title: `Benchmark issue ${i}: ${i % 12 === 0 ? 'epic' : 'task'} for area ${i % 97}`,
      description: `Generated for the ledger benchmark. Item ${i}.`,
      status,
      priority: Math.floor(random() * 5),
      issue_type: i % 12 === 0 ? 'epic' : random() < 0.2 ? 'bug' : 'task',
      created_at: created,
      updated_at: created,
      labels: [`area:${i % 97}`, ...(random() < 0.3 ? ['backend'] : [])],
      dependencies: (deps[i] ?? []).map((d) => ({ issue_id: ids[i], ...d, created_at: created, created_by: 'bench' })),
    };
    if (status === 'closed') record.closed_at = created;
    if (status === 'in_progress') record.assignee = `agent-${i % 40}`;
    lines.push(JSON.stringify(record));
  }
  return `${lines.join('\n')}\n`;
}

/** One whole process's stdout (the set-up steps). */
function run(argv: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gt-bench-'));
  const env: NodeJS.ProcessEnv = { ...process.env, BD_ACTOR: 'bench', NO_COLOR: '1', HOME: dir, GIT_CONFIG_GLOBAL: '/dev/null' };
  delete env.BEADS_DIR;
  delete env.GT_ROOT;
  try {
    log(`generating ${ISSUES} issues with ${EDGES} dependencies…`);
    const file = join(dir, 'bench.jsonl');
    writeFileSync(file, generate());
    const IMPORTS = Number(process.env.BENCH_IMPORTS ?? 3);
    log(`bd import (whole process), ${IMPORTS} times into fresh ledgers…`);
    const imports: number[] = [];
    let cwd = '';
    for (let i = 0; i < IMPORTS; i++) {
      cwd = join(dir, `project-${i}`);
      mkdirSync(cwd);
      wallMs(['node', BD, 'init', '--prefix', 'bench'], cwd, env);
      imports.push(wallMs(['node', BD, 'import', file], cwd, env));
    }
    const importMs = median(imports);

    const bd = (...args: string[]) => ['node', BD, ...args];
    // Fresh open beads to claim, one per round (a claim takes a bead out of the ready set).
    const open = (JSON.parse(run(bd('ready', '-n', '0', '--json'), cwd, env)) as Array<{ id: string }>).map((i) => i.id);
    const shown = open[0] as string;
    const probe = (name: string, argv: (i: number) => string[], target?: number, extra: NodeJS.ProcessEnv = {}): Probe => ({
      name,
      argv,
      cwd,
      env: { ...env, ...extra },
      ...(target === undefined ? {} : { target }),
    });
    const probes: Probe[] = [
      probe('bd --version', () => bd('--version')),
      probe('bd ready -n 100 --json', () => bd('ready', '-n', '100', '--json'), TARGET),
      probe('bd create', (i) => bd('create', `bench create ${i}`, '-p', '2'), TARGET),
      probe('bd show <id> --json', () => bd('show', shown, '--json'), TARGET),
      probe('bd list -n 20', () => bd('list', '-n', '20'), TARGET),
      probe('bd update <id> --claim', (i) => bd('update', open[open.length - 1 - i] as string, '--claim'), TARGET),
      // What the first run after an install or upgrade pays: no V8 code cache yet (src/bin/launch.ts).
      probe('bd ready -n 100 --json, no compile cache', () => bd('ready', '-n', '100', '--json'), undefined, { GT_COMPILE_CACHE: 'off' }),
    ];
    log(`timing whole processes against node -e 0, ${RUNS} interleaved rounds…`);
    const measured = measure(probes, { runs: RUNS, baselineCwd: cwd, log });

    log('timing the ready query in process (warm: for comparison only)…');
    const store = SqliteLedgerStore.open(join(cwd, '.beads', 'beads.db'));
    const ledger = new Ledger(store, { actor: 'bench' });
    const inProcess: number[] = [];
    let readyCount = 0;
    for (let i = 0; i < Math.max(RUNS, 15); i++) {
      const start = process.hrtime.bigint();
      readyCount = (await ledger.ready({ limit: 100 })).length;
      inProcess.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    const stats = await ledger.stats();
    await store.close();

    process.stdout.write(
      `\nLedger: ${stats.total_issues} issues, ${EDGES} dependencies, ${stats.ready_issues} ready, ${stats.blocked_issues} blocked (ready returned ${readyCount}); ` +
        `${RUNS} rounds, medians; node ${process.version}, ${cpus().length} cores, load ${loadavg()[0]?.toFixed(1)}\n\n`,
    );
    process.stdout.write(`${processTable(measured)}\n\n`);
    process.stdout.write(`| in process | |\n|---|---|\n`);
    process.stdout.write(`| ready query, warm connection (median of ${inProcess.length}) | ${median(inProcess).toFixed(2)} ms |\n`);
    process.stdout.write(`| \`bd import\` of ${ISSUES} lines (whole process, median of ${IMPORTS}) | ${(importMs / 1000).toFixed(2)} s |\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
