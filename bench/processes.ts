/**
 * Whole-process timing for the benchmarks: what a user (or an agent's hook)
 * pays for one command — a fresh `node`, the bundle, the ledger opened from
 * disk, the query, the output — never a warm in-process call.
 *
 * Each round runs the baseline (`node -e 0`) and then every command once, in
 * the same order, so a burst of noise on this shared machine hits the baseline
 * and the commands of that round alike; the ratio reported is the median of
 * the per-round ratios. Each sample is the child's own wall time and CPU time
 * (user + system), as bash's `time` reads them (getrusage of the child, in
 * ms): on a shared, loaded machine the wall time mostly measures the wait for
 * a core, the CPU time what the process itself costs. Peak memory (the
 * kernel's max RSS of the process, through GNU time) is taken in separate
 * runs.
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
  cpuMs: number;
  cpuRatio: number;
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

/** Wall time of one whole process, in ms (set-up steps). */
export function wallMs(argv: string[], cwd: string, env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint();
  spawn(argv, cwd, env);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

let timeFile: string | undefined;

/**
 * Wall and CPU time (user + system) of one whole process, in ms, measured by
 * bash around the child alone; its stdout and stderr stay pipes, as a hook's are.
 */
export function timed(argv: string[], cwd: string, env: NodeJS.ProcessEnv): { wall: number; cpu: number } {
  timeFile ??= join(mkdtempSync(join(tmpdir(), 'gt-bench-time-')), 'time');
  spawn(['bash', '-c', 'TIMEFORMAT="%3R %3U %3S"; { time "$@" 2>&8; } 8>&2 2>"$0"', timeFile, ...argv], cwd, env);
  const [wall, user, system] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).map(Number) as [number, number, number];
  return { wall: wall * 1000, cpu: (user + system) * 1000 };
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
  node: { ms: number; cpuMs: number; rssKiB: number | undefined };
  results: ProbeResult[];
} {
  const node = ['node', '-e', '0'];
  const { runs, baselineCwd } = options;
  const memoryRuns = options.memoryRuns ?? Math.min(runs, 5);
  const env = probes[0]?.env ?? process.env;
  let round = 0;
  timed(node, baselineCwd, env);
  for (const probe of probes) timed(probe.argv(round), probe.cwd, probe.env);
  round++;
  const base: number[] = [];
  const baseCpu: number[] = [];
  const times = probes.map(() => [] as number[]);
  const ratios = probes.map(() => [] as number[]);
  const cpus = probes.map(() => [] as number[]);
  const cpuRatios = probes.map(() => [] as number[]);
  for (let i = 0; i < runs; i++, round++) {
    const b = timed(node, baselineCwd, env);
    base.push(b.wall);
    baseCpu.push(b.cpu);
    probes.forEach((probe, p) => {
      const t = timed(probe.argv(round), probe.cwd, probe.env);
      times[p]?.push(t.wall);
      ratios[p]?.push(t.wall / b.wall);
      cpus[p]?.push(t.cpu);
      // A CPU time under the clock's 1 ms grain cannot be a baseline; such a round counts as 1 ms.
      cpuRatios[p]?.push(t.cpu / Math.max(b.cpu, 1));
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
    node: { ms: median(base), cpuMs: median(baseCpu), rssKiB: nodeRss },
    results: probes.map((probe, p) => {
      const kib = rss[p]?.length ? median(rss[p]) : undefined;
      return {
        name: probe.name,
        ms: median(times[p] as number[]),
        ratio: median(ratios[p] as number[]),
        cpuMs: median(cpus[p] as number[]),
        cpuRatio: median(cpuRatios[p] as number[]),
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
    const target = r.target;
    const missed = [
      ...(r.ratio > target ? ['time'] : []),
      ...(r.cpuRatio > target ? ['CPU'] : []),
      ...(r.rssRatio !== undefined && r.rssRatio > target ? ['RSS'] : []),
    ];
    return `≤ ${target}×: ${missed.length ? `NOT met (${missed.join(', ')})` : 'met'}`;
  };
  const n = measured.node;
  const rows: string[][] = [
    ['`node -e 0` (baseline)', `${n.ms.toFixed(1)} ms`, '1.00×', `${n.cpuMs.toFixed(0)} ms`, '1.00×', mib(n.rssKiB), '1.00×', ''],
    ...measured.results.map((r) => [
      `\`${r.name}\``,
      `${r.ms.toFixed(1)} ms`,
      x(r.ratio),
      `${r.cpuMs.toFixed(0)} ms`,
      x(r.cpuRatio),
      mib(r.rssKiB),
      x(r.rssRatio),
      verdict(r),
    ]),
  ];
  const head = ['command', 'wall', 'wall ÷ node', 'CPU', 'CPU ÷ node', 'peak RSS', 'RSS ÷ node', 'target'];
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
