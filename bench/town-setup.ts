/**
 * What the town benchmarks share: the environment a bench's town runs in, and
 * a seed repository for its rigs to clone.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Its own HOME and tmux socket, no colour, and nothing of the caller's identity or ledger. */
export function benchEnv(base: string, root: string, socket: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: base, GIT_CONFIG_GLOBAL: '/dev/null', NO_COLOR: '1', GT_ROOT: root, GT_TMUX_SOCKET: socket };
  for (const key of ['GT_AGENT', 'BD_ACTOR', 'BEADS_DIR', 'BD_LEDGER_URL']) delete env[key];
  return env;
}

/** One whole process (it must succeed): its wall time and its stdout. */
export function timedRun(argv: string[], cwd: string, env: NodeJS.ProcessEnv): { ms: number; stdout: string } {
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0] as string, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

function git(args: string[], cwd: string, env: NodeJS.ProcessEnv): void {
  const r = spawnSync('git', args, { cwd, env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
}

/** `files` (path → text) committed on main in `seed`, then cloned bare to `origin`; returns `origin`. */
export function seedRepository(seed: string, origin: string, files: Record<string, string>, env: NodeJS.ProcessEnv): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(seed, path)), { recursive: true });
    writeFileSync(join(seed, path), text);
  }
  git(['init', '-q', '-b', 'main'], seed, env);
  git(['add', '-A'], seed, env);
  git(['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-q', '-m', 'seed'], seed, env);
  git(['clone', '-q', '--bare', seed, origin], dirname(origin), env);
  return origin;
}
