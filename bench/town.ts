/**
 * Town benchmark (issues 3 and 17). Measures, as whole processes:
 *   - the bytes of gt prime for a polecat with one hooked bead (target < 2 KB);
 *   - spawning 10 polecats (worktree + session) with one `gt sling` under the town
 *     host (sessions.mode = "in-process"), against 10 × `git worktree add` of the
 *     same repository (target ≤ 2×), and, where tmux is installed, the same with a
 *     host process per session (headless), interleaved;
 *   - memory: the town host's RSS with 1 and with 10 agents (per additional agent,
 *     target ≤ 10 MB), against the RSS of one session's own host.
 * The hot hook commands' time and memory on a 50,000-bead town are in
 * bench/town-hot.ts, which `npm run bench:town` runs first.
 *
 *   npm run bench:town
 *   BENCH_ISSUES=3000 BENCH_RUNS=9 BENCH_SPAWNS=2 npm run bench:town     # quicker
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { timedRun as run, benchEnv, seedRepository } from './town-setup.js';

const SPAWNS = Number(process.env.BENCH_SPAWNS ?? 3);
const GT = resolve(import.meta.dirname, '..', 'dist', 'gt.cjs');
const log = (text: string) => process.stderr.write(`${text}\n`);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** Resident memory of a process, bytes (0 when it is gone). */
function rss(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

const readPid = (path: string) => Number(readFileSync(path, 'utf8').trim());
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function main(): void {
  const base = mkdtempSync(join(tmpdir(), 'gt-bench-town-'));
  const root = join(base, 'town');
  const env = benchEnv(base, root, `gt-bench-${process.pid}`);
  const gt = (args: string[], extra: NodeJS.ProcessEnv = {}) => run(['node', GT, ...args], base, { ...env, ...extra });
  const git = (cwd: string, args: string[]) => run(['git', ...args], cwd, env);
  try {
    // A repository of realistic shape: 300 files in 30 directories.
    const files: Record<string, string> = {};
    for (let d = 0; d < 30; d++) for (let f = 0; f < 10; f++) files[`pkg${d}/file${f}.ts`] = `export const v${f} = ${d * 10 + f};\n`.repeat(40);
    seedRepository(join(base, 'seed'), join(base, 'origin.git'), files, env);
    gt(['install', root]);
    // A stand-in for Claude Code: started the same way (gt-owned settings file, prompt as argument), no LLM.
    gt(['config', 'agent', 'set', 'idle', "sh -c 'exec sleep 600'", '--like', 'claude']);
    // A host per session is measured beside the town host only where tmux is installed: without it, "auto" is in-process too.
    const perSession = spawnSync('tmux', ['-V']).status === 0;
    const mode = (value: string) => gt(['config', 'set', 'sessions.mode', JSON.stringify(value)]);

    log('gt prime: one hooked bead for a polecat…');
    gt(['rig', 'add', 'app', join(base, 'origin.git')]);
    const bead = run(
      ['node', GT, 'bd', 'create', 'A bead to prime with', '-d', 'Make the login form remember the last user name. Keep the tests green.', '--silent'],
      join(root, 'app'),
      env,
    ).stdout.trim();
    const agent = (JSON.parse(gt(['sling', bead, 'app', '--no-start', '--json']).stdout) as Array<{ agent: string }>)[0]?.agent as string;
    const as = { GT_AGENT: agent };
    const primeBytes = Buffer.byteLength(gt(['prime'], as).stdout);
    log(`spawning 10 polecats, ${SPAWNS} times, against 10 × git worktree add…`);
    const slings: number[] = [];
    const ownHosts: number[] = [];
    const worktrees: number[] = [];
    const hostRss: number[] = [];
    let rigs = 0;
    const sling = (count: number, extra: string[] = []) => {
      const rig = `rig${rigs++}`;
      gt(['rig', 'add', rig, join(base, 'origin.git')]);
      const beads = Array.from({ length: count }, (_, i) =>
        run(['node', GT, 'bd', 'create', `Spawn test ${i}`, '--silent'], join(root, rig), env).stdout.trim(),
      );
      return gt(['sling', ...beads, rig, '--agent', 'idle', ...extra]).ms;
    };
    for (let r = 0; r < SPAWNS; r++) {
      const scratch = join(base, `scratch-${r}.git`);
      git(base, ['clone', '-q', '--bare', join(base, 'origin.git'), scratch]);
      let total = 0;
      for (let i = 0; i < 10; i++) total += git(scratch, ['worktree', 'add', '-q', '-b', `w${i}`, join(base, `wt-${r}-${i}`), 'main']).ms;
      worktrees.push(total);

      mode('in-process');
      slings.push(sling(10));
      gt(['down', '--all']);
      if (perSession) {
        mode('auto');
        ownHosts.push(sling(10, ['--backend', 'headless']));
        // The RSS of each session's own host, while all ten run.
        const runs = join(root, '.gt', 'runs');
        for (const dir of readdirSync(runs)) {
          try {
            const pid = readPid(join(runs, dir, 'host.pid'));
            const bytes = rss(pid);
            if (bytes > 0 && pid !== readPid(join(root, '.gt', 'town-host.pid'))) hostRss.push(bytes);
          } catch {
            // a run of the town host, or one already gone
          }
        }
        gt(['down', '--all']);
      }
    }

    log('the town host with 1 and with 10 agents…');
    mode('in-process');
    // A fresh host: the one the spawns used is told to stop, and a new one starts with the first agent.
    try {
      process.kill(readPid(join(root, '.gt', 'town-host.pid')));
    } catch {
      // it already left (idle)
    }
    sleepMs(500);
    sling(1);
    sleepMs(1000);
    const townHost = readPid(join(root, '.gt', 'town-host.pid'));
    const oneAgent = rss(townHost);
    sling(9);
    sleepMs(1000);
    const tenAgents = rss(townHost);
    gt(['down', '--all']);

    const rows: Array<[string, string, string, string]> = [
      ['gt prime output, one hooked bead', `${primeBytes} bytes`, '', '< 2048 bytes'],
      ['10 × git worktree add (baseline)', `${median(worktrees).toFixed(0)} ms`, '1.00×', ''],
      [
        'gt sling of 10 beads: 10 polecats, worktrees + sessions in the town host',
        `${median(slings).toFixed(0)} ms`,
        `${(median(slings) / median(worktrees)).toFixed(2)}× worktree add`,
        '≤ 2×',
      ],
      ...(ownHosts.length
        ? [
            [
              'the same with a host process per session (headless)',
              `${median(ownHosts).toFixed(0)} ms`,
              `${(median(ownHosts) / median(worktrees)).toFixed(2)}× worktree add`,
              '',
            ] as [string, string, string, string],
          ]
        : []),
      ['town host RSS, 1 agent', mb(oneAgent), '', ''],
      ['town host RSS, 10 agents', mb(tenAgents), `${mb((tenAgents - oneAgent) / 9)} per additional agent`, '≤ 10 MB per agent'],
      ...(hostRss.length ? [['RSS of one session host (a host per session)', mb(median(hostRss)), '', ''] as [string, string, string, string]] : []),
    ];
    const width = rows.reduce((w, r) => Math.max(w, r[0].length), 0);
    process.stdout.write(`\nTown: ${SPAWNS} runs for spawning; medians; node ${process.version}\n\n`);
    process.stdout.write(`| ${'measure'.padEnd(width)} | time | ratio | target |\n|${'-'.repeat(width + 2)}|------|------|------|\n`);
    for (const [name, time, r, target] of rows) process.stdout.write(`| ${name.padEnd(width)} | ${time} | ${r} | ${target} |\n`);
  } finally {
    spawnSync('tmux', ['-L', env.GT_TMUX_SOCKET as string, 'kill-server']);
    try {
      process.kill(readPid(join(root, '.gt', 'town-host.pid')));
    } catch {
      // none left
    }
    // Detached helpers (start-up prompts) may still be writing: retry the removal.
    rmSync(base, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

main();
