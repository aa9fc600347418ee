/**
 * Whole-process timing for the benchmarks: what a user (or an agent's hook)
 * pays for one command — a fresh `node`, the bundle, the ledger opened from
 * disk, the query, the output — never a warm in-process call.
 *
 * Each round runs the baseline (`node -e 0`) and then every command once, in
 * the same order, so a burst of noise on this shared machine hits the baseline
 * and the commands of that round alike; the ratio reported is the median of
 * the per-round ratios. Peak memory (the kernel's max RSS of the process,
 * through GNU time) is taken in separate runs, so the time measured never
 * includes the extra exec of the wrapper.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Probe {
  name: string;
  /** Builds the command line for round `i` (a claim needs a fresh bead each time). */
  argv: (i: number) => string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The target ratio to `node -e 0`, printed beside the result. */
  target?: number;
}

export interface ProbeResult {
  name: string;
  ms: number;
  ratio: number;
  rssKiB: number | undefined;
  rssRatio: number | undefined;
  target: number | undefined;
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const GNU_TIME = '/usr/bin/time';

function spawn(argv: string[], cwd: string, env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r;
}

/** Wall time of one whole process, in ms. */
export function wallMs(argv: string[], cwd: string, env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint();
  spawn(argv, cwd, env);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Peak resident memory of one whole process (KiB), or undefined without GNU time. */
export function peakRssKiB(argv: string[], cwd: string, env: NodeJS.ProcessEnv): number | undefined {
  if (!existsSync(GNU_TIME)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gt-bench-rss-'));
  try {
    const out = join(dir, 'rss');
    spawn([GNU_TIME, '-f', '%M', '-o', out, ...argv], cwd, env);
    return Number(readFileSync(out, 'utf8').trim().split('\n').pop());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Times `node -e 0` and each probe in `runs` interleaved rounds (after one
 * untimed warm-up round: the page cache and gt's compile cache are what a user
 * has from the second command on), then their peak memory in `memoryRuns`.
 */
export function measure(
  probes: Probe[],
  options: { runs: number; memoryRuns?: number; baselineCwd: string; log?: (line: string) => void },
): {
  node: { ms: number; rssKiB: number | undefined };
  results: ProbeResult[];
} {
  const node = ['node', '-e', '0'];
  const { runs, baselineCwd } = options;
  const memoryRuns = options.memoryRuns ?? Math.min(runs, 5);
  const env = probes[0]?.env ?? process.env;
  let round = 0;
  wallMs(node, baselineCwd, env);
  for (const probe of probes) wallMs(probe.argv(round), probe.cwd, probe.env);
  round++;
  const base: number[] = [];
  const times = probes.map(() => [] as number[]);
  const ratios = probes.map(() => [] as number[]);
  for (let i = 0; i < runs; i++, round++) {
    const b = wallMs(node, baselineCwd, env);
    base.push(b);
    probes.forEach((probe, p) => {
      const ms = wallMs(probe.argv(round), probe.cwd, probe.env);
      times[p]?.push(ms);
      ratios[p]?.push(ms / b);
    });
    options.log?.(`  round ${i + 1}/${runs}`);
  }
  const baseRss: number[] = [];
  const rss = probes.map(() => [] as number[]);
  for (let i = 0; i < memoryRuns; i++, round++) {
    const b = peakRssKiB(node, baselineCwd, env);
    if (b !== undefined) baseRss.push(b);
    probes.forEach((probe, p) => {
      const kib = peakRssKiB(probe.argv(round), probe.cwd, probe.env);
      if (kib !== undefined) rss[p]?.push(kib);
    });
  }
  const nodeRss = baseRss.length ? median(baseRss) : undefined;
  return {
    node: { ms: median(base), rssKiB: nodeRss },
    results: probes.map((probe, p) => {
      const kib = rss[p]?.length ? median(rss[p]) : undefined;
      return {
        name: probe.name,
        ms: median(times[p] as number[]),
        ratio: median(ratios[p] as number[]),
        rssKiB: kib,
        rssRatio: kib !== undefined && nodeRss !== undefined ? kib / nodeRss : undefined,
        target: probe.target,
      };
    }),
  };
}

/** The table the ledger and town benchmarks print (markdown, as the README shows it). */
export function processTable(measured: ReturnType<typeof measure>): string {
  const mib = (kib: number | undefined) => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(1)} MiB`);
  const x = (r: number | undefined) => (r === undefined ? 'n/a' : `${r.toFixed(2)}×`);
  const verdict = (r: ProbeResult) => {
    if (r.target === undefined) return '';
    const ok = r.ratio <= r.target && (r.rssRatio === undefined || r.rssRatio <= r.target);
    return `≤ ${r.target}× ${ok ? 'met' : 'NOT met'}`;
  };
  const rows: string[][] = [
    ['`node -e 0` (baseline)', `${measured.node.ms.toFixed(1)} ms`, '1.00×', mib(measured.node.rssKiB), '1.00×', ''],
    ...measured.results.map((r) => [`\`${r.name}\``, `${r.ms.toFixed(1)} ms`, x(r.ratio), mib(r.rssKiB), x(r.rssRatio), verdict(r)]),
  ];
  const head = ['command', 'time (median)', 'time ÷ node -e 0', 'peak RSS (median)', 'RSS ÷ node -e 0', 'target'];
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
