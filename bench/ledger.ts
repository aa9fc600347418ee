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
 *   BENCH_BEFORE=/path/to/other/dist npm run bench:ledger   # A/B against another build, same rounds
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ledger } from '../src/core/beads/ledger.js';
import { SqliteLedgerStore } from '../src/ledger/sqlite/store.js';
import { generateLedgerJsonl } from './ledger-data.js';
import { measure, median, processTable, wallMs, type Probe } from './processes.js';

const ISSUES = Number(process.env.BENCH_ISSUES ?? 50_000);
const EDGES = ISSUES * 2;
const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const TARGET = 1.3;
const BEFORE = process.env.BENCH_BEFORE;
// BENCH_DIST: measure another build's dist/ (a copy, so rebuilding this tree cannot disturb a run).
const BD = join(resolve(process.env.BENCH_DIST ?? join(import.meta.dirname, '..', 'dist')), 'bd.cjs');

const log = (text: string) => process.stderr.write(`${text}\n`);

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
    writeFileSync(file, generateLedgerJsonl(ISSUES));
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

    // Fresh open beads to claim, one per run (a claim takes a bead out of the ready set).
    const open = (JSON.parse(run(['node', BD, 'ready', '-n', '0', '--json'], cwd, env)) as Array<{ id: string }>).map((i) => i.id);
    const shown = open[0] as string;
    const probes: Probe[] = [];
    // BENCH_BEFORE=<another build's dist/>: the same commands from that build too, in the same rounds (an A/B).
    const builds: Array<[string, string]> = [['', BD], ...(BEFORE ? ([[' (before)', join(resolve(BEFORE), 'bd.cjs')]] as Array<[string, string]>) : [])];
    for (const [suffix, bin] of builds) {
      const bd = (...args: string[]) => ['node', bin, ...args];
      const probe = (name: string, argv: (i: number) => string[], target?: number, extra: NodeJS.ProcessEnv = {}): Probe => ({
        name: `${name}${suffix}`,
        argv,
        cwd,
        env: { ...env, ...extra },
        ...(target === undefined ? {} : { target }),
      });
      probes.push(
        probe('bd --version', () => bd('--version')),
        probe('bd ready -n 100 --json', () => bd('ready', '-n', '100', '--json'), TARGET),
        probe('bd create', (i) => bd('create', `bench create ${i}`, '-p', '2'), TARGET),
        probe('bd show <id> --json', () => bd('show', shown, '--json'), TARGET),
        probe('bd list -n 20', () => bd('list', '-n', '20'), TARGET),
        probe('bd update <id> --claim', () => bd('update', open.pop() as string, '--claim'), TARGET),
      );
    }
    // What the first run after an install or upgrade pays: no V8 code cache yet (src/bin/launch.ts).
    probes.push({
      name: 'bd ready -n 100 --json, no compile cache',
      argv: () => ['node', BD, 'ready', '-n', '100', '--json'],
      cwd,
      env: { ...env, GT_COMPILE_CACHE: 'off' },
    });
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
