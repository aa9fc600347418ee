/**
 * The commands agent hooks run on every turn, on a town of real size (issue
 * 18): a town whose ledger holds 50,000 beads and ~100,000 dependencies, and a
 * polecat with one hooked bead. Times `gt prime`, `gt signal prompt-submit`,
 * `gt hook` and `gt mail check --inject` as cold whole processes, paired with
 * `node -e 0` in the same rounds, and their peak memory (bench/processes.ts).
 * Target: ≤ 1.3× `node -e 0` for both. `npm run bench:town` runs it first.
 *
 *   node --import tsx bench/town-hot.ts
 *   BENCH_ISSUES=3000 BENCH_RUNS=3 node --import tsx bench/town-hot.ts     # quicker
 *   BENCH_BEFORE=/path/to/other/dist node --import tsx bench/town-hot.ts     # A/B against another build
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateLedgerJsonl } from './ledger-data.js';
import { measure, processTable, type Probe } from './processes.js';
import { benchEnv, seedRepository } from './town-setup.js';

const ISSUES = Number(process.env.BENCH_ISSUES ?? 50_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 21);
const TARGET = 1.3;
const BEFORE = process.env.BENCH_BEFORE;
// BENCH_DIST: measure another build's dist/ (a copy, so rebuilding this tree cannot disturb a run).
const GT = join(resolve(process.env.BENCH_DIST ?? join(import.meta.dirname, '..', 'dist')), 'gt.cjs');
const log = (text: string) => process.stderr.write(`${text}\n`);

function run(argv: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function main(): void {
  const base = mkdtempSync(join(tmpdir(), 'gt-bench-town-hot-'));
  const root = join(base, 'town');
  const env = benchEnv(base, root, `gt-bench-hot-${process.pid}`);
  const gt = (args: string[], cwd = base) => run(['node', GT, ...args], cwd, env);
  try {
    seedRepository(join(base, 'seed'), join(base, 'origin.git'), { 'README.md': 'bench\n' }, env);
    gt(['install', root]);
    log(`importing ${ISSUES} beads with ${ISSUES * 2} dependencies into the town ledger…`);
    const file = join(base, 'beads.jsonl');
    writeFileSync(file, generateLedgerJsonl(ISSUES, { prefixes: ['hq'] }));
    gt(['bd', 'import', file], root);
    gt(['rig', 'add', 'app', join(base, 'origin.git')]);
    const bead = gt(
      ['bd', 'create', 'A bead to prime with', '-d', 'Make the login form remember the last user name. Keep the tests green.', '--silent'],
      join(root, 'app'),
    ).trim();
    const agent = (JSON.parse(gt(['sling', bead, 'app', '--no-start', '--json'])) as Array<{ agent: string }>)[0]?.agent as string;
    gt(['mail', 'send', agent, '-s', 'Heads up', '-m', 'The login tests are flaky on CI; rerun once before you dig.']);

    const as = { ...env, GT_AGENT: agent };
    const probes: Probe[] = [];
    // BENCH_BEFORE=<another build's dist/>: the same commands from that build too, in the same rounds (an A/B).
    const builds: Array<[string, string]> = [['', GT], ...(BEFORE ? ([[' (before)', join(resolve(BEFORE), 'gt.cjs')]] as Array<[string, string]>) : [])];
    for (const [suffix, bin] of builds) {
      const probe = (name: string, args: string[]): Probe => ({
        name: `${name}${suffix}`,
        argv: () => ['node', bin, ...args],
        cwd: base,
        env: as,
        target: TARGET,
      });
      probes.push(
        probe('gt prime', ['prime']),
        probe('gt signal prompt-submit', ['signal', 'prompt-submit']),
        probe('gt hook', ['hook']),
        probe('gt mail check --inject', ['mail', 'check', '--inject']),
      );
    }
    log(`timing whole processes against node -e 0, ${RUNS} interleaved rounds…`);
    const measured = measure(probes, { runs: RUNS, baselineCwd: base, log });
    process.stdout.write(
      `\nTown hot commands: a town ledger of ${ISSUES} beads (+ the town's own), a polecat with one hooked bead and one unread message; ` +
        `${RUNS} rounds, medians; node ${process.version}, ${cpus().length} cores, load ${loadavg()[0]?.toFixed(1)}\n\n${processTable(measured)}\n`,
    );
  } finally {
    spawnSync('tmux', ['-L', env.GT_TMUX_SOCKET as string, 'kill-server']);
    rmSync(base, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

main();
