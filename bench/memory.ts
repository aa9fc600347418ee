/**
 * Memory search benchmark (issue 15 §2: "fast on a year of logs"). A Mayor
 * home with 365 daily logs (40 entries each, ~2.4 MB) and a MEMORY.md; times,
 * interleaved in the same run:
 *   - `gt memory search <two words> --json` as a whole process, against
 *     `node -e 0`, `gt memory --help` (gt's own start, no search) and
 *     `grep -ril` over the same files (the baseline a person would reach for);
 *   - the search in process (no process start), reported in milliseconds.
 *
 *   npm run bench:memory
 *   BENCH_RUNS=5 npm run bench:memory      # quicker
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openTown } from '../src/app/index.js';
import { searchMemory } from '../src/core/memory/memory.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const GT = resolve(import.meta.dirname, '..', 'dist', 'gt.cjs');
const log = (text: string) => process.stderr.write(`${text}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

function time(argv: string[], cwd: string, env: NodeJS.ProcessEnv, okCodes = [0]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (!okCodes.includes(r.status ?? -1)) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return ms;
}

const WORDS = ['deploy', 'review', 'billing', 'release', 'refinery', 'convoy', 'flaky', 'budget', 'polecat', 'rollback', 'migration', 'latency'];

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'gt-bench-memory-'));
  const root = join(base, 'town');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: base, GIT_CONFIG_GLOBAL: '/dev/null', NO_COLOR: '1', GT_ROOT: root };
  for (const key of ['GT_AGENT', 'BD_ACTOR', 'BEADS_DIR']) delete env[key];
  try {
    time(['node', GT, 'install', root], base, env);
    const logs = join(root, 'mayor', 'memory');
    mkdirSync(logs, { recursive: true });
    let bytes = 0;
    const day0 = Date.UTC(2025, 10, 27);
    for (let d = 0; d < 365; d++) {
      const date = new Date(day0 + d * 86_400_000).toISOString().slice(0, 10);
      const lines = [`# ${date}`, ''];
      for (let i = 0; i < 40; i++) {
        const a = WORDS[(d * 7 + i) % WORDS.length] as string;
        const b = WORDS[(d * 3 + i * 5) % WORDS.length] as string;
        lines.push(
          `- ${String(8 + (i % 12)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')} heartbeat ok: checked the ${a} queue and the ${b} notes, nothing new`,
        );
      }
      // One needle, on one day only.
      if (d === 200) lines.push('- 12:00 the staging certificate expires on March 3');
      const text = `${lines.join('\n')}\n`;
      bytes += text.length;
      writeFileSync(join(logs, `${date}.md`), text);
    }
    log(`365 daily logs, ${(bytes / 1e6).toFixed(1)} MB`);
    const query = ['staging', 'certificate'];
    const samples: Record<'node' | 'gtStart' | 'gt' | 'grep', number[]> = { node: [], gtStart: [], gt: [], grep: [] };
    for (let i = 0; i < RUNS; i++) {
      samples.node.push(time(['node', '-e', '0'], base, env));
      samples.gtStart.push(time(['node', GT, 'memory', '--help'], base, env));
      samples.gt.push(time(['node', GT, 'memory', 'search', ...query, '--json'], base, env));
      samples.grep.push(time(['grep', '-ril', query[1] as string, join(root, 'mayor')], base, env));
    }
    const town = await openTown(root, env, 'human', () => undefined);
    const inProcess: number[] = [];
    let hits = 0;
    for (let i = 0; i < RUNS; i++) {
      const start = process.hrtime.bigint();
      hits = searchMemory(town, { address: 'mayor', role: 'mayor' }, query.join(' ')).length;
      inProcess.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    await town.ledger.release();
    if (hits !== 1) throw new Error(`expected 1 hit, found ${hits}`);
    const node = median(samples.node);
    const row = (name: string, ms: number, baseline = node) => `| ${name} | ${ms.toFixed(1)} ms | ${(ms / baseline).toFixed(2)}× |`;
    process.stdout.write(
      [
        '| measure | time | ratio |',
        '|---|---|---|',
        row('`node -e 0`', node),
        row('`gt memory --help` (gt starting, no search)', median(samples.gtStart)),
        row('`gt memory search staging certificate --json`', median(samples.gt)),
        row('`grep -ril certificate` over the same files', median(samples.grep)),
        `| search in process (365 logs) | ${median(inProcess).toFixed(1)} ms | |`,
        '',
        `(${RUNS} interleaved runs, medians; Node ${process.versions.node})`,
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

await main();
