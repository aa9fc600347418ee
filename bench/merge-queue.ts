/**
 * Merge queue benchmark (issue 5): a rig whose test command takes about 2 s,
 * 24 merge requests each touching its own file, merged by `gt mq run` —
 * batched (merge.batch_size, default 8) against serial (batch_size = 1, one
 * rebase + test + fast-forward per request, the baseline refinery), in the
 * same run, interleaved. Two scenarios:
 *   - all green: target ratio ≤ 0.35;
 *   - 2 failing requests among the 24: both rejected, 22 merged; target ≤ 0.6.
 *
 *   npm run bench:mq
 *   BENCH_MRS=8 BENCH_TEST_SECONDS=0.5 npm run bench:mq      # quicker
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const MRS = Number(process.env.BENCH_MRS ?? 24);
const TEST_SECONDS = Number(process.env.BENCH_TEST_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const BATCH = Number(process.env.BENCH_BATCH ?? 8);
const GT = resolve(import.meta.dirname, '..', 'dist', 'gt.cjs');
const log = (text: string) => process.stderr.write(`${text}\n`);

interface Outcome {
  result: string;
  bead: string;
}

function run(argv: string[], cwd: string, env: NodeJS.ProcessEnv, okCodes = [0]): { ms: number; stdout: string } {
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (!okCodes.includes(r.status ?? -1)) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

/** A fresh town with one rig and MRS queued requests; `failing` indexes add a FAIL file the test rejects. */
function queuedTown(
  base: string,
  name: string,
  batchSize: number,
  failing: number[],
): { gt: (args: string[], ok?: number[]) => { ms: number; stdout: string } } {
  const dir = join(base, name);
  const root = join(dir, 'town');
  mkdirSync(dir);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir, GIT_CONFIG_GLOBAL: '/dev/null', NO_COLOR: '1', GT_ROOT: root };
  for (const key of ['GT_AGENT', 'BD_ACTOR', 'BEADS_DIR', 'GT_TMUX_SOCKET']) delete env[key];
  const gt = (args: string[], ok = [0]) => run(['node', GT, ...args], dir, env, ok);
  const git = (cwd: string, args: string[]) => run(['git', ...args], cwd, env);
  const seed = join(dir, 'seed');
  mkdirSync(join(seed, 'src'), { recursive: true });
  for (let f = 0; f < 50; f++) writeFileSync(join(seed, 'src', `module${f}.ts`), `export const m${f} = ${f};\n`.repeat(20));
  writeFileSync(
    join(seed, 'test.sh'),
    `#!/bin/sh\n# The rig's test suite: about ${TEST_SECONDS} s, red when a FAIL file exists.\nsleep ${TEST_SECONDS}\n! ls FAIL* >/dev/null 2>&1\n`,
  );
  chmodSync(join(seed, 'test.sh'), 0o755);
  git(seed, ['init', '-q', '-b', 'main']);
  git(seed, ['add', '-A']);
  git(seed, ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-q', '-m', 'seed']);
  git(dir, ['clone', '-q', '--bare', seed, join(dir, 'origin.git')]);
  gt(['install', root]);
  gt(['rig', 'add', 'app', join(dir, 'origin.git')]);
  gt(['config', 'set', 'merge.test', '"./test.sh"', '--rig', 'app']);
  gt(['config', 'set', 'merge.batch_size', String(batchSize), '--rig', 'app']);
  const beads = Array.from({ length: MRS }, (_, i) => run(['node', GT, 'bd', 'create', `Change ${i}`, '--silent'], join(root, 'app'), env).stdout.trim());
  const slung = JSON.parse(gt(['sling', ...beads, 'app', '--no-start', '--no-convoy', '--json']).stdout) as Array<{ agent: string }>;
  for (const [i, { agent }] of slung.entries()) {
    const work = join(root, 'app', 'polecats', agent.split('/')[2] as string);
    writeFileSync(join(work, failing.includes(i) ? `FAIL-${i}` : `change-${i}.txt`), `change ${i}\n`);
    git(work, ['add', '-A']);
    git(work, ['-c', 'user.name=w', '-c', 'user.email=w@w', 'commit', '-q', '-m', `change ${i}`]);
    gt(['done', '--agent', agent]);
  }
  return { gt };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

function main(): void {
  const base = mkdtempSync(join(tmpdir(), 'gt-bench-mq-'));
  const failing = [Math.round(MRS * 0.3), Math.round(MRS * 0.75)];
  const scenarios = [
    { name: 'all green', failing: [] as number[], target: 0.35 },
    { name: `${failing.length} failing`, failing, target: 0.6 },
  ];
  const rows: string[][] = [];
  try {
    log(`${MRS} merge requests, a ${TEST_SECONDS} s test, batch_size ${BATCH} against 1, ${ROUNDS} round(s)…`);
    for (const scenario of scenarios) {
      const times = { serial: [] as number[], batched: [] as number[] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const mode of ['serial', 'batched'] as const) {
          const name = `${scenario.failing.length}-${mode}-${round}`;
          log(`  ${scenario.name}, ${mode}: queueing ${MRS} requests…`);
          const town = queuedTown(base, name, mode === 'serial' ? 1 : BATCH, scenario.failing);
          const result = town.gt(['mq', 'run', 'app', '--json'], [0, 1]);
          const outcomes = JSON.parse(result.stdout) as Outcome[];
          const merged = outcomes.filter((o) => o.result === 'merged').length;
          const rejected = outcomes.filter((o) => o.result === 'rejected').length;
          if (merged !== MRS - scenario.failing.length || rejected !== scenario.failing.length) {
            throw new Error(
              `${scenario.name}, ${mode}: expected ${MRS - scenario.failing.length} merged and ${scenario.failing.length} rejected, got ${merged} and ${rejected}`,
            );
          }
          log(`  ${scenario.name}, ${mode}: ${(result.ms / 1000).toFixed(1)} s (${merged} merged, ${rejected} rejected)`);
          times[mode].push(result.ms);
        }
      }
      const serial = median(times.serial);
      const batched = median(times.batched);
      const ratio = batched / serial;
      rows.push([
        scenario.name,
        `${(serial / 1000).toFixed(1)} s`,
        `${(batched / 1000).toFixed(1)} s`,
        `${ratio.toFixed(2)}×`,
        `≤ ${scenario.target}`,
        ratio <= scenario.target ? 'yes' : 'NO',
      ]);
    }
    const header = ['scenario', 'serial (batch 1)', `batched (batch ${BATCH})`, 'ratio', 'target', 'met'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
    console.log(`Merge queue: ${MRS} requests, a ${TEST_SECONDS} s test (medians of ${ROUNDS} round(s))`);
    console.log(line(header));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const row of rows) console.log(line(row));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

main();
