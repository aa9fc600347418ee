/**
 * The daemon's idle pass (issue 18): a town of 50 agents and 50,000 beads in
 * which nothing changes, and the CPU one pass of the deacon costs. The agents
 * are real sessions (a `sleep` in a private tmux server, started through
 * `gt sling` like any runtime, each with a bead on its hook and its own
 * worktree), the ledger is the bench ledger (bench/ledger-data.ts) imported
 * into the town, so each pass does its real work: every rig's refinery, the
 * witness reading every agent, gates, convoys, the queue, escalations,
 * notifications, the heartbeat and the dogs.
 *
 * CPU is the daemon process's own user + system time plus that of the
 * processes it ran and waited for (tmux, git: /proc/<pid>/stat utime, stime,
 * cutime, cstime), over the passes of a measuring window, divided by the
 * passes its lease counted. The daemon's own figures (gt status --json:
 * daemon.last_pass) are printed beside it.
 *
 *   npm run bench:daemon
 *   BENCH_AGENTS=10 BENCH_ISSUES=3000 BENCH_PASSES=5 npm run bench:daemon   # the CI size
 *   BENCH_GT=/path/to/other/gt.cjs npm run bench:daemon                    # another build, e.g. before a change
 *   BENCH_PROFILE=/tmp/prof npm run bench:daemon                             # the daemon's CPU profile
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateLedgerJsonl } from './ledger-data.js';
import { benchEnv, seedRepository } from './town-setup.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 50);
const ISSUES = Number(process.env.BENCH_ISSUES ?? 50_000);
const RIGS = Math.max(1, Math.min(AGENTS, Number(process.env.BENCH_RIGS ?? 5)));
const PASSES = Number(process.env.BENCH_PASSES ?? 10);
const GT = resolve(process.env.BENCH_GT ?? join(import.meta.dirname, '..', 'dist', 'gt.cjs'));
const TICKS = 100; // USER_HZ: /proc times are in clock ticks of 10 ms on Linux
const log = (text: string) => process.stderr.write(`${text}\n`);

function run(argv: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** A process's CPU so far (ms): its own and that of the children it waited for. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command (which may hold spaces) start at state; utime is field 14, cstime 17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return (ticks * 1000) / TICKS;
}

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

interface Lease {
  pid: number;
  passes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'gt-bench-daemon-'));
  const root = join(base, 'town');
  const env = benchEnv(base, root, `gt-bench-daemon-${process.pid}`);
  const gt = (args: string[]) => run(['node', GT, ...args], root, env);
  const backend = spawnSync('tmux', ['-V']).status === 0 ? 'tmux' : 'headless';
  try {
    const files = Object.fromEntries(Array.from({ length: 20 }, (_, f) => [`file${f}.ts`, `export const v = ${f};\n`]));
    seedRepository(join(base, 'seed'), join(base, 'origin.git'), files, env);
    run(['node', GT, 'install', root], base, env);
    // A pass every second; supervision's clocks far away, so an idle agent is only read, never woken.
    writeFileSync(join(root, 'town.toml'), `${readFileSync(join(root, 'town.toml'), 'utf8')}\n[witness]\nidle_wake = "24h"\nstall_after = "24h"\n`);
    gt(['config', 'set', 'daemon.interval', '1s']);
    gt(['config', 'agent', 'set', 'idle', "sh -c 'exec sleep 3600'", '--like', 'claude']);
    const rigs = Array.from({ length: RIGS }, (_, r) => `rig${r}`);
    const prefixes: string[] = [];
    for (const rig of rigs) {
      gt(['rig', 'add', rig, join(base, 'origin.git')]);
      prefixes.push(/^prefix = "(.*)"$/m.exec(readFileSync(join(root, rig, 'rig.toml'), 'utf8'))?.[1] as string);
    }
    log(`importing ${ISSUES} beads over ${RIGS} rigs into the town ledger…`);
    const file = join(base, 'ledger.jsonl');
    const work = Array.from({ length: AGENTS }, (_, i) => ({ id: `${prefixes[i % RIGS] as string}-work${i}`, rig: rigs[i % RIGS] as string }));
    const T = '2026-11-01T00:00:00Z';
    const workLines = work.map((w, i) => JSON.stringify({ id: w.id, title: `Agent work ${i}`, status: 'open', priority: 2, created_at: T, updated_at: T }));
    writeFileSync(file, `${generateLedgerJsonl(ISSUES - AGENTS, { prefixes })}${workLines.join('\n')}\n`);
    gt(['bd', 'import', file]);
    log(`slinging ${AGENTS} beads: ${AGENTS} polecats (${backend} sessions running sleep)…`);
    for (const rig of rigs) {
      const ids = work.filter((w) => w.rig === rig).map((w) => w.id);
      if (ids.length > 0) gt(['sling', ...ids, rig, '--agent', 'idle', '--backend', backend, '--no-convoy']);
    }
    const agents = (JSON.parse(gt(['agents', '--json'])) as unknown[]).length;

    // BENCH_PROFILE=<dir>: the daemon writes a V8 CPU profile there when it stops.
    const profile = process.env.BENCH_PROFILE;
    if (profile) mkdirSync(profile, { recursive: true });
    const preload = pathToFileURL(join(import.meta.dirname, '..', 'scripts', 'cpu-profile.mjs')).href;
    run(['node', GT, 'up'], root, profile ? { ...env, NODE_OPTIONS: `--import ${preload}`, BENCH_PROFILE_DIR: resolve(profile) } : env);
    const lease = (): Lease | undefined => {
      try {
        return JSON.parse(readFileSync(join(root, '.gt', 'daemon.lease'), 'utf8')) as Lease;
      } catch {
        return undefined;
      }
    };
    const waitPasses = async (atLeast: number) => {
      const deadline = Date.now() + 600_000;
      for (;;) {
        const l = lease();
        if (l && l.passes >= atLeast) return l;
        if (Date.now() > deadline) throw new Error(`the daemon did not reach pass ${atLeast} in 10 minutes`);
        await sleep(100);
      }
    };
    // Warm-up: the first passes catch up (convoys checked in full, dogs' first runs, states recorded).
    const warm = await waitPasses(4);
    const pid = warm.pid;
    const logFile = join(root, '.gt', 'daemon.log');
    const start = { cpu: cpuMs(pid), passes: warm.passes, at: Date.now(), log: readFileSync(logFile, 'utf8').length };
    const end = await waitPasses(start.passes + PASSES);
    const cpu = cpuMs(pid) - start.cpu;
    const passes = end.passes - start.passes;
    const seconds = (Date.now() - start.at) / 1000;
    const rss = rssMiB(pid);
    const status = JSON.parse(gt(['status', '--json'])) as { daemon?: { health?: { last_pass?: { duration_ms: number; cpu_ms: number } } } };
    const own = status.daemon?.health?.last_pass;
    const actions = readFileSync(logFile, 'utf8')
      .slice(start.log)
      .split('\n')
      .filter((l) => /msg="?agent\.(woken|restarted|interrupted|escalated)/.test(l)).length;

    const perPass = cpu / passes;
    const rows: Array<[string, string, string]> = [
      ['ms CPU per idle pass (daemon + the processes it ran)', `${perPass.toFixed(1)} ms`, '≤ 100 ms'],
      ['passes measured (interval 1 s)', `${passes} in ${seconds.toFixed(1)} s`, ''],
      ["the daemon's own last pass (gt status --json: daemon.health.last_pass)", own ? `${own.duration_ms} ms, ${own.cpu_ms} ms CPU` : 'not reported', ''],
      ['daemon memory (RSS)', `${rss.toFixed(0)} MiB`, ''],
      ['supervision actions while measuring (should be 0: nothing changed)', String(actions), '0'],
    ];
    const width = rows.reduce((w, r) => Math.max(w, r[0].length), 0);
    process.stdout.write(`\nDaemon, idle town: ${agents} agents (${backend}), ${ISSUES} beads, ${RIGS} rigs; node ${process.version}; ${GT}\n\n`);
    process.stdout.write(`| ${'measure'.padEnd(width)} | value | target |\n|${'-'.repeat(width + 2)}|------|------|\n`);
    for (const [name, value, target] of rows) process.stdout.write(`| ${name.padEnd(width)} | ${value} | ${target} |\n`);
  } finally {
    spawnSync('node', [GT, 'down', '--all'], { cwd: root, env, stdio: 'ignore', timeout: 120_000 });
    spawnSync('tmux', ['-L', env.GT_TMUX_SOCKET as string, 'kill-server']);
    rmSync(base, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

await main();
