/**
 * A real town for a test: a temp directory, an isolated HOME and git config,
 * a private tmux socket, a source repository with a bare origin, and a runner
 * for the real `gt` binary. Everything it started is stopped after the test.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { GT, isolatedEnv, onCleanup, runAsync, tempDir, type RunResult } from './env.js';

export interface TestTown {
  base: string;
  root: string;
  env: NodeJS.ProcessEnv;
  socket: string;
  gt: (args: string[], options?: { cwd?: string; env?: Record<string, string>; input?: string }) => RunResult;
  gtAsync: (args: string[], options?: { env?: Record<string, string> }) => Promise<RunResult>;
  /** `gt <args> --json`, parsed; fails the test on a non-zero exit. */
  json: <T = unknown>(args: string[], options?: { env?: Record<string, string> }) => T;
  git: (cwd: string, args: string[]) => string;
  tmux: (args: string[]) => RunResult;
  /** A bare origin with one commit (README, test.sh); returns its path. */
  origin: (name?: string) => string;
  /** A bead in the rig with `run` steps for the shell runtime; returns its ID. */
  bead: (title: string, steps: string[], extra?: string[]) => string;
}

let counter = 0;

export function sh(cwd: string, command: string, args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed in ${cwd}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export function makeTown(options: { install?: boolean; rig?: string; test?: string } = {}): TestTown {
  const base = tempDir('gt-town-');
  const root = join(base, 'town');
  const socket = `gt-test-${process.pid}-${++counter}`;
  const env = isolatedEnv(base, { GT_TMUX_SOCKET: socket, GT_ROOT: root });
  delete env.BD_ACTOR;
  const gt: TestTown['gt'] = (args, o = {}) => {
    const r = spawnSync(process.execPath, [GT, ...args], {
      cwd: o.cwd ?? base,
      env: { ...env, ...o.env },
      input: o.input ?? '',
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const gtAsync: TestTown['gtAsync'] = (args, o = {}) => runAsync(GT, args, { cwd: base, env: { ...env, ...o.env } });
  const json: TestTown['json'] = <T>(args: string[], o: { env?: Record<string, string> } = {}) => {
    const r = gt([...args, '--json'], o);
    if (r.code !== 0) throw new Error(`gt ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const git: TestTown['git'] = (cwd, args) => sh(cwd, 'git', args, env);
  const tmux: TestTown['tmux'] = (args) => {
    const r = spawnSync('tmux', ['-L', socket, ...args], { env, encoding: 'utf8' });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const origin: TestTown['origin'] = (name = 'app') => {
    const seed = join(base, `${name}-seed`);
    mkdirSync(seed, { recursive: true });
    writeFileSync(join(seed, 'README.md'), `# ${name}\n`);
    writeFileSync(join(seed, 'test.sh'), '#!/bin/sh\n# fails when any file named FAIL exists\n! ls FAIL* >/dev/null 2>&1\n');
    chmodSync(join(seed, 'test.sh'), 0o755);
    git(seed, ['init', '-q', '-b', 'main']);
    git(seed, ['add', '-A']);
    git(seed, ['-c', 'user.name=seed', '-c', 'user.email=seed@test', 'commit', '-q', '-m', 'initial']);
    const bare = join(base, `${name}.git`);
    git(base, ['clone', '-q', '--bare', seed, bare]);
    return bare;
  };
  const bead: TestTown['bead'] = (title, steps, extra = []) => {
    const description = `${title}\n\n\`\`\`run\n${steps.join('\n')}\n\`\`\``;
    const r = gt(['bd', 'create', title, '-d', description, '--silent', ...extra], { cwd: join(root, options.rig ?? 'app') });
    if (r.code !== 0) throw new Error(`bd create failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  const town: TestTown = { base, root, env, socket, gt, gtAsync, json, git, tmux, origin, bead };
  onCleanup(() => stopEverything(town));
  if (options.install !== false) {
    expect(gt(['install', root]).code).toBe(0);
    if (options.rig) {
      const added = gt(['rig', 'add', options.rig, origin(options.rig)]);
      if (added.code !== 0) throw new Error(`rig add failed: ${added.stderr}`);
      if (options.test) expect(gt(['config', 'set', 'merge.test', JSON.stringify(options.test), '--rig', options.rig]).code).toBe(0);
    }
  }
  return town;
}

/** Stops the town's daemon, its tmux server and every headless agent it started. */
export function stopEverything(town: Pick<TestTown, 'root' | 'socket' | 'env'>): void {
  spawnSync('tmux', ['-L', town.socket, 'kill-server'], { env: town.env });
  const pidfile = join(town.root, '.gt', 'daemon.pid');
  const kill = (pid: number, group: boolean) => {
    for (const target of group ? [-pid, pid] : [pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // gone, or not a group leader (an agent on a tmux pane shares its host's group)
      }
    }
  };
  const pids: number[] = [];
  if (existsSync(pidfile)) pids.push(Number(readFileSync(pidfile, 'utf8')));
  for (const pid of pids) kill(pid, false);
  const runs = join(town.root, '.gt', 'runs');
  if (existsSync(runs)) {
    for (const run of readdirSync(runs)) {
      for (const [file, group] of [
        ['host.pid', false],
        ['agent.pid', true],
      ] as const) {
        const path = join(runs, run, file);
        if (!existsSync(path)) continue;
        const pid = Number(readFileSync(path, 'utf8'));
        kill(pid, group);
        pids.push(pid);
      }
    }
  }
  // And every other process of this town: detached helpers (a delayed session stop, a nudge), shell
  // commands in groups of their own. They carry GT_ROOT; one still opening the ledger would race the
  // removal of the directory (ENOTEMPTY on .gt).
  const marker = `GT_ROOT=${town.root}\0`;
  for (const entry of existsSync('/proc') ? readdirSync('/proc') : []) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').includes(marker)) {
        kill(pid, false);
        pids.push(pid);
      }
    } catch {
      // gone, or not ours to read
    }
  }
  // Wait for them to be gone: a dying agent still writing would race the removal of its directory.
  const deadline = Date.now() + 3000;
  // A killed process its parent has not reaped yet (a zombie) is gone for this purpose.
  const alive = (pid: number) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat[stat.lastIndexOf(')') + 2] !== 'Z';
    } catch {
      try {
        process.kill(pid, 0);
        return existsSync(`/proc/${pid}`) || !existsSync('/proc');
      } catch {
        return false;
      }
    }
  };
  while (Date.now() < deadline && pids.some(alive)) spawnSync('sleep', ['0.05']);
}

/** Polls `check` until it returns a value (not undefined/false), or fails after `ms`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
