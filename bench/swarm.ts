/**
 * A swarm on one machine (issue 19): 50 beads slung at once to 50 polecats of
 * the shell runtime, headless (whatever headless backend this build has), and
 * the daemon's refinery merging all 50. Each bead's step waits for a go file
 * until all 50 agents run, so the memory per agent is measured with all of
 * them alive: the proportional set size (PSS: shared pages split between the
 * processes sharing them) of every process of the town except the daemon,
 * divided by the agents. Reports the wall time from the sling to the last
 * bead merged and closed, and the daemon's pass time while it worked (its
 * lease's last_pass, sampled).
 *
 *   npm run bench:swarm
 *   BENCH_AGENTS=4 npm run bench:swarm     # the CI size
 *   BENCH_MODE=tmux npm run bench:swarm    # a session host per agent instead of the town host
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { benchEnv, seedRepository } from './town-setup.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 50);
const GT = resolve(process.env.BENCH_GT ?? join(import.meta.dirname, '..', 'dist', 'gt.cjs'));
const INTERVAL = process.env.BENCH_INTERVAL ?? '2s';
const MODE = process.env.BENCH_MODE ?? 'in-process';
const log = (text: string) => process.stderr.write(`${text}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(argv: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The town's processes (GT_ROOT in their environment, or working inside the town) but those skipped: PSS in MiB and the agents they serve. */
function townMemory(root: string, skip: number[]): { mib: number; processes: number; agents: number } {
  let kib = 0;
  let processes = 0;
  const agents = new Set<string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || skip.includes(Number(entry)) || Number(entry) === process.pid) continue;
    const environ = read(`/proc/${entry}/environ`) ?? '';
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${entry}/cwd`);
    } catch {
      continue; // gone
    }
    if (!environ.split('\0').includes(`GT_ROOT=${root}`) && !cwd.startsWith(`${root}/`)) continue;
    if (process.env.BENCH_DEBUG) log(`${entry} ${cwd} ${(read(`/proc/${entry}/cmdline`) ?? '').replace(/\0/g, ' ').slice(0, 120)}`);
    const pss = /^Pss:\s+(\d+) kB/m.exec(read(`/proc/${entry}/smaps_rollup`) ?? '');
    if (!pss) continue;
    kib += Number(pss[1]);
    processes++;
    const agent = environ.split('\0').find((v) => v.startsWith('GT_AGENT='));
    if (agent) agents.add(agent);
  }
  return { mib: kib / 1024, processes, agents: agents.size };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'gt-bench-swarm-'));
  const root = join(base, 'town');
  const env = benchEnv(base, root, `gt-bench-swarm-${process.pid}`);
  const gt = (args: string[]) => run(['node', GT, ...args], root, env);
  try {
    const origin = seedRepository(join(base, 'seed'), join(base, 'origin.git'), { 'README.md': '# swarm\n', 'swarm/.keep': '' }, env);
    run(['node', GT, 'install', root], base, env);
    gt(['config', 'set', 'daemon.interval', INTERVAL]);
    // The team mode: "in-process" runs every headless agent under one town host (the default here).
    gt(['config', 'set', 'sessions.mode', MODE]);
    gt(['rig', 'add', 'app', origin]);
    const prefix = /^prefix = "(.*)"$/m.exec(readFileSync(join(root, 'app', 'rig.toml'), 'utf8'))?.[1] as string;
    // Each bead writes a file of its own (no two conflict), as independent tasks would.
    const go = join(base, 'go');
    const T = new Date().toISOString();
    const ids = Array.from({ length: AGENTS }, (_, i) => `${prefix}-swarm${i}`);
    const lines = ids.map((id, i) =>
      JSON.stringify({
        id,
        title: `Swarm task ${i}`,
        // Each waits for the go file, so all of them are alive at once (the memory sample), then writes.
        description: `Write result ${i}.\n\n\`\`\`run\nwhile [ ! -e ${go} ]; do sleep 0.2; done\necho "result ${i}" > swarm/task-${i}.txt\n\`\`\``,
        status: 'open',
        priority: 2,
        created_at: T,
        updated_at: T,
      }),
    );
    const file = join(base, 'swarm.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    gt(['bd', 'import', file]);
    gt(['up']);
    const lease = () => {
      try {
        return JSON.parse(readFileSync(join(root, '.gt', 'daemon.lease'), 'utf8')) as { pid: number; last_pass?: { duration_ms: number; cpu_ms: number } };
      } catch {
        return undefined;
      }
    };
    for (let i = 0; i < 300 && !lease(); i++) await sleep(100);
    const daemon = lease()?.pid ?? -1;

    log(`slinging ${AGENTS} beads at once: ${AGENTS} shell polecats, headless…`);
    const started = Date.now();
    const sling = spawn('node', [GT, 'sling', ...ids, 'app', '--agent', 'shell', '--backend', 'headless'], {
      cwd: root,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let slingErr = '';
    sling.stderr.on('data', (chunk: Buffer) => (slingErr += chunk.toString()));
    const slung = new Promise<number>((r) => sling.on('exit', (code) => r(code ?? -1)));
    let slingMs: number | undefined;
    void slung.then(() => (slingMs = Date.now() - started));

    const passes: Array<{ duration_ms: number; cpu_ms: number }> = [];
    let lastPassAt = '';
    let peak = { mib: 0, processes: 0, agents: 0 };
    const samplePass = () => {
      const l = lease() as { last_pass?: { at?: string; duration_ms: number; cpu_ms: number } } | undefined;
      if (l?.last_pass?.at && l.last_pass.at !== lastPassAt) {
        lastPassAt = l.last_pass.at;
        passes.push(l.last_pass);
      }
    };
    const deadline = started + Number(process.env.BENCH_TIMEOUT_S ?? 1800) * 1000;
    const check = async (what: string, done: () => boolean) => {
      for (;;) {
        samplePass();
        if (done()) return;
        if (slingMs !== undefined && (await slung) !== 0) throw new Error(`gt sling failed: ${slingErr}`);
        if (Date.now() > deadline) throw new Error(`${what}: not reached after ${(Date.now() - started) / 1000} s`);
        await sleep(500);
      }
    };
    // All agents alive at once (each waits for the go file): memory sampled until every one runs.
    await check(`${AGENTS} agents alive`, () => {
      // Not the daemon, nor gt sling itself (a command, not an agent).
      const memory = townMemory(root, [daemon, sling.pid ?? -1]);
      if (memory.agents > peak.agents || (memory.agents === peak.agents && memory.mib > peak.mib)) peak = memory;
      return slingMs !== undefined && memory.agents >= AGENTS;
    });
    const allAlive = Date.now();
    writeFileSync(go, '');
    const ledger = new Database(join(root, '.gt', 'ledger.db'), { readonly: true, fileMustExist: true });
    const closed = ledger.prepare(`SELECT COUNT(*) AS n FROM issues WHERE status = 'closed' AND id IN (SELECT value FROM json_each(?))`);
    const merged = () => {
      const text = spawnSync('git', ['--git-dir', origin, 'ls-tree', '--name-only', 'main', 'swarm/'], { encoding: 'utf8' }).stdout;
      return text.split('\n').filter((l) => /task-\d+\.txt$/.test(l)).length;
    };
    let closedCount = 0;
    await check(`all ${AGENTS} merged and closed`, () => {
      closedCount = (closed.get(JSON.stringify(ids)) as { n: number }).n;
      return closedCount >= AGENTS && merged() >= AGENTS;
    });
    ledger.close();
    const wall = (Date.now() - started) / 1000;

    const rows: Array<[string, string]> = [
      [`wall time: gt sling of ${AGENTS} beads → all ${AGENTS} merged on origin and closed`, `${wall.toFixed(1)} s`],
      ['of which gt sling itself (worktrees + sessions, one at a time)', slingMs === undefined ? '—' : `${(slingMs / 1000).toFixed(1)} s`],
      [`of which from all ${AGENTS} running to all merged (the work, done, the refinery)`, `${((Date.now() - allAlive) / 1000).toFixed(1)} s`],
      [
        `daemon pass while working (interval ${INTERVAL}; ${passes.length} passes): median / max`,
        passes.length ? `${median(passes.map((p) => p.duration_ms))} / ${Math.max(...passes.map((p) => p.duration_ms))} ms` : 'not reported',
      ],
      [
        'daemon pass CPU while working: median / max',
        passes.length ? `${median(passes.map((p) => p.cpu_ms))} / ${Math.max(...passes.map((p) => p.cpu_ms))} ms` : 'not reported',
      ],
      [
        `memory per agent, all ${peak.agents} alive (PSS of the town's ${peak.processes} processes but the daemon)`,
        `${(peak.mib / Math.max(1, peak.agents)).toFixed(1)} MiB (${peak.mib.toFixed(0)} MiB in all)`,
      ],
      ['beads closed', `${closedCount} of ${AGENTS}`],
    ];
    const width = rows.reduce((w, r) => Math.max(w, r[0].length), 0);
    process.stdout.write(`\nSwarm: ${AGENTS} shell agents, headless (sessions.mode ${MODE}), one rig, one machine; node ${process.version}; ${GT}\n\n`);
    process.stdout.write(`| ${'measure'.padEnd(width)} | value |\n|${'-'.repeat(width + 2)}|------|\n`);
    for (const [name, value] of rows) process.stdout.write(`| ${name.padEnd(width)} | ${value} |\n`);
  } finally {
    spawnSync('node', [GT, 'down', '--all'], { cwd: root, env, stdio: 'ignore', timeout: 120_000 });
    spawnSync('tmux', ['-L', env.GT_TMUX_SOCKET as string, 'kill-server']);
    rmSync(base, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

await main();
