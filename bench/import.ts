/**
 * `bd import` of 50,000 issues (issue 18: ≤ 3 s), timed as whole processes
 * into fresh ledgers: wall time and CPU (the child's user + system time, from
 * this process's /proc cutime/cstime), with `node -e 0` measured in the same
 * run, interleaved. BENCH_BASE_BD names another build's bd.cjs to time paired
 * with this one (before/after a change, same run).
 *
 *   npm run bench:import
 *   BENCH_ISSUES=3000 BENCH_RUNS=3 npm run bench:import    # the CI size
 *   BENCH_BASE_BD=/tmp/old/dist/bd.cjs npm run bench:import
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateLedgerJsonl } from './ledger-data.js';

const ISSUES = Number(process.env.BENCH_ISSUES ?? 50_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BD = resolve(import.meta.dirname, '..', 'dist', 'bd.cjs');
const BASE_BD = process.env.BENCH_BASE_BD ? resolve(process.env.BENCH_BASE_BD) : undefined;
const log = (text: string) => process.stderr.write(`${text}\n`);

/** CPU (ms) of the children this process has waited for so far (Linux: clock ticks of 10 ms). */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

function timed(argv: string[], cwd: string, env: NodeJS.ProcessEnv): { ms: number; cpu: number } {
  const cpu = childrenCpuMs();
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return { ms, cpu: childrenCpuMs() - cpu };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'gt-bench-import-'));
  const env: NodeJS.ProcessEnv = { ...process.env, BD_ACTOR: 'bench', NO_COLOR: '1', HOME: dir, GIT_CONFIG_GLOBAL: '/dev/null' };
  delete env.BEADS_DIR;
  delete env.GT_ROOT;
  try {
    log(`generating ${ISSUES} issues with ${ISSUES * 2} dependencies…`);
    const file = join(dir, 'bench.jsonl');
    writeFileSync(file, generateLedgerJsonl(ISSUES));
    const builds: Array<[string, string]> = [['this build', BD], ...(BASE_BD ? [['base build', BASE_BD] as [string, string]] : [])];
    const samples = new Map<string, { ms: number[]; cpu: number[] }>();
    for (const name of ['node', ...builds.map(([b]) => b)]) samples.set(name, { ms: [], cpu: [] });
    log(`bd import (whole process) into fresh ledgers, ${RUNS} interleaved runs${BASE_BD ? ' per build' : ''}…`);
    for (let i = 0; i < RUNS; i++) {
      const node = timed(['node', '-e', '0'], dir, env);
      samples.get('node')?.ms.push(node.ms);
      samples.get('node')?.cpu.push(node.cpu);
      for (const [name, bd] of builds) {
        const cwd = join(dir, `${name.replace(' ', '-')}-${i}`);
        mkdirSync(cwd);
        timed(['node', bd, 'init', '--prefix', 'bench'], cwd, env);
        const t = timed(['node', bd, 'import', file], cwd, env);
        samples.get(name)?.ms.push(t.ms);
        samples.get(name)?.cpu.push(t.cpu);
        rmSync(cwd, { recursive: true, force: true });
      }
    }
    const node = samples.get('node') as { ms: number[]; cpu: number[] };
    const rows: Array<[string, string, string, string]> = [
      ['node -e 0 (baseline)', `${median(node.ms).toFixed(0)} ms`, `${median(node.cpu).toFixed(0)} ms`, ''],
    ];
    const first = samples.get('this build') as { ms: number[] };
    for (const [name] of builds) {
      const s = samples.get(name) as { ms: number[]; cpu: number[] };
      const vs = name === 'this build' ? '' : ` (this build: ${(median(first.ms) / median(s.ms)).toFixed(2)}×)`;
      rows.push([
        `bd import of ${ISSUES} issues, ${name}`,
        `${(median(s.ms) / 1000).toFixed(2)} s${vs}`,
        `${(median(s.cpu) / 1000).toFixed(2)} s`,
        name === 'this build' ? '≤ 3 s' : '',
      ]);
    }
    const width = rows.reduce((w, r) => Math.max(w, r[0].length), 0);
    process.stdout.write(`\nImport: ${ISSUES} issues, ${ISSUES * 2} dependencies, fresh ledger each run; ${RUNS} runs, medians; node ${process.version}\n\n`);
    process.stdout.write(`| ${'measure'.padEnd(width)} | wall | CPU | target |\n|${'-'.repeat(width + 2)}|------|------|------|\n`);
    for (const [name, wall, cpu, target] of rows) process.stdout.write(`| ${name.padEnd(width)} | ${wall} | ${cpu} | ${target} |\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
