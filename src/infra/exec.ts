/**
 * Running other programs: git, tmux, shell commands. The one place (with
 * tmux.ts and headless.ts) where gt spawns processes.
 */
import { spawn, type ChildProcessWithoutNullStreams, type StdioOptions } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GtError } from '../shared/errors.js';
import { shellQuote } from '../shared/shell.js';
import type { CommandResult, GitPort, ShellPort } from '../core/town/ports.js';

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  /** Called once the child runs (a timed command leads a process group of its own: its pid is the group id). */
  onSpawn?: (pid: number) => void;
  onExit?: (pid: number) => void;
}

/** Runs a program to completion; never rejects for a non-zero exit (the caller decides). */
export function execCommand(file: string, args: string[], options: ExecOptions = {}): Promise<CommandResult & { timedOut: boolean }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: options.timeoutMs !== undefined,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            // The command may have started children of its own: stop the whole group.
            try {
              if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
            } catch {
              child.kill('SIGKILL');
            }
          }, options.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      options.onStderr?.(chunk);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (error.code === 'ENOENT') reject(new GtError('external', `${file} is not installed (not found on PATH)`, { hint: `install ${file}, or check PATH` }));
      else reject(error);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (child.pid !== undefined) options.onExit?.(child.pid);
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Settings gt's own git commands override: a key an agent managed to set in a
 * worktree (which shares the rig's `.repo.git/config`) must not run its program
 * when gt runs git for the person. core.hooksPath stays: the bare repository's
 * pre-receive hook guards pushes.
 */
export const GIT_SAFE_CONFIG = ['-c', 'core.fsmonitor=false'];

/** git with a clean, predictable environment (no pager, no prompts, C locale). */
export class Git implements GitPort {
  private readonly turns = new Map<string, GitTurns>();

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  inTurn(turn: string, cwd: string, args: string[]): Promise<CommandResult> {
    let turns = this.turns.get(turn);
    if (turns === undefined) {
      turns = new GitTurns(this.environment());
      this.turns.set(turn, turns);
    }
    return turns.run(cwd, args);
  }

  private environment(extra?: Record<string, string>): NodeJS.ProcessEnv {
    return { ...this.env, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C', ...extra };
  }

  async probe(cwd: string, args: string[], options: { env?: Record<string, string> } = {}): Promise<CommandResult> {
    return execCommand('git', [...GIT_SAFE_CONFIG, ...args], { cwd, env: this.environment(options.env) });
  }

  async run(cwd: string, args: string[], options: { env?: Record<string, string>; onProgress?: (line: string) => void } = {}): Promise<string> {
    const progress = options.onProgress;
    const result = await execCommand('git', [...GIT_SAFE_CONFIG, ...args], {
      cwd,
      env: this.environment(options.env),
      ...(progress ? { onStderr: progressLines(progress) } : {}),
    });
    if (result.code !== 0) {
      const detail = (result.stderr || result.stdout).trim().split('\n').slice(-3).join('\n');
      throw new GtError('external', `git ${args[0] ?? ''} failed in ${cwd}: ${detail}`);
    }
    return result.stdout;
  }
}

/**
 * git commands one after another in one `sh` that reads them on its stdin: each starts the moment the
 * one before it ends, not when this process next gets to a child's exit. A sling of ten polecats makes
 * ten worktrees in turn while it starts their sessions; through separate children each waited ~6 ms
 * on this process's own work (issue 17's spawn target). The shell leaves when nothing is waiting.
 */
class GitTurns {
  private shell: TurnShell | undefined;
  private next = 0;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  run(cwd: string, args: string[]): Promise<CommandResult> {
    const shell = this.shell ?? this.start();
    const id = this.next++;
    const out = shellQuote(join(shell.dir, `${id}.out`));
    const err = shellQuote(join(shell.dir, `${id}.err`));
    const command = ['git', '-C', cwd, ...GIT_SAFE_CONFIG, ...args].map(shellQuote).join(' ');
    return new Promise((resolve) => {
      shell.waiting.set(id, resolve);
      shell.child.stdin.write(`${command} </dev/null >${out} 2>${err}; echo "${id} $?"\n`);
    });
  }

  private start(): TurnShell {
    const dir = mkdtempSync(join(tmpdir(), 'gt-git-'));
    const child = spawn('sh', ['-s'], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const shell: TurnShell = { child, dir, waiting: new Map() };
    this.shell = shell;
    const read = (name: string) => {
      try {
        return readFileSync(join(dir, name), 'utf8');
      } catch {
        return '';
      }
    };
    let buffer = '';
    child.stdin.on('error', () => undefined);
    child.stderr.resume();
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
        const [id, code] = buffer.slice(0, end).split(' ').map(Number) as [number, number];
        buffer = buffer.slice(end + 1);
        const result = { code, stdout: read(`${id}.out`), stderr: read(`${id}.err`) };
        rmSync(join(dir, `${id}.out`), { force: true });
        rmSync(join(dir, `${id}.err`), { force: true });
        shell.waiting.get(id)?.(result);
        shell.waiting.delete(id);
      }
      // Nothing left to run: the shell leaves, and the next command starts another.
      if (shell.waiting.size === 0 && this.shell === shell) {
        this.shell = undefined;
        child.stdin.end();
      }
    });
    // A shell that ended with commands still waiting (killed), or never started: they fail, as a git that could not run would.
    const end = (why: string) => {
      if (this.shell === shell) this.shell = undefined;
      for (const resolve of shell.waiting.values()) resolve({ code: 127, stdout: '', stderr: `git: ${why}` });
      shell.waiting.clear();
      rmSync(dir, { recursive: true, force: true });
    };
    child.on('close', () => end('the shell running it ended'));
    child.on('error', (error) => end(`no shell to run it (${error.message})`));
    return shell;
  }
}

interface TurnShell {
  child: ChildProcessWithoutNullStreams;
  dir: string;
  waiting: Map<number, (result: CommandResult) => void>;
}

/**
 * Shell commands (gates, merge-queue tests) run as a process group of their
 * own. With a registry folder, each running group is recorded there with the
 * pid of the process that started it, so that when that process dies without
 * cleaning up (a SIGKILLed daemon), the next one finds the orphaned group
 * and ends it (`reapOrphanGroups`).
 */
export class Shell implements ShellPort {
  constructor(private readonly registry?: string) {}

  async run(command: string, options: { cwd: string; env: Record<string, string>; timeoutMs: number; onOutput?: (chunk: string) => void }) {
    const onOutput = options.onOutput;
    const registry = this.registry;
    return execCommand('sh', ['-c', command], {
      cwd: options.cwd,
      env: options.env,
      timeoutMs: options.timeoutMs,
      ...(onOutput ? { onStdout: onOutput, onStderr: onOutput } : {}),
      ...(registry
        ? {
            onSpawn: (pid: number) => {
              mkdirSync(registry, { recursive: true, mode: 0o700 });
              writeFileSync(join(registry, `${pid}.json`), JSON.stringify({ pgid: pid, owner: process.pid, command, started_at: new Date().toISOString() }), {
                mode: 0o600,
              });
            },
            onExit: (pid: number) => rmSync(join(registry, `${pid}.json`), { force: true }),
          }
        : {}),
    });
  }
}

/** Ends every recorded process group whose owner is gone; returns what it ended. */
export async function reapOrphanGroups(registry: string): Promise<Array<{ pgid: number; command: string }>> {
  let names: string[];
  try {
    names = readdirSync(registry).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const reaped: Array<{ pgid: number; command: string }> = [];
  for (const name of names) {
    const path = join(registry, name);
    let entry: { pgid?: unknown; owner?: unknown; command?: unknown };
    try {
      entry = JSON.parse(readFileSync(path, 'utf8')) as typeof entry;
    } catch {
      rmSync(path, { force: true });
      continue;
    }
    if (typeof entry.pgid !== 'number' || typeof entry.owner !== 'number') {
      rmSync(path, { force: true });
      continue;
    }
    if (processAlive(entry.owner)) continue;
    if (processAlive(entry.pgid)) {
      await killGroup(entry.pgid, 2000);
      reaped.push({ pgid: entry.pgid, command: typeof entry.command === 'string' ? entry.command : '' });
    }
    rmSync(path, { force: true });
  }
  return reaped;
}

/**
 * True when a process with this pid exists and runs (signal 0 probes without
 * sending). A zombie — killed, not yet reaped by its parent (a detached daemon's
 * parent is init, which may take its time) — is not alive: where /proc exists,
 * its state is read.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S …"; comm may hold spaces and parentheses, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The pid a file holds (a pidfile), or undefined when there is none or it is not a pid. */
export function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Set in the environment gt starts its agent hosts with (the town's tmux server, the town and session hosts). */
export const AGENT_HOST_MARK = 'GT_AGENT_HOST';

/**
 * The environment of an agent host, or of a tmux client that may start the
 * town's server: no agent's identity (a host started from an agent's command
 * must not make every agent it runs that agent), and the host mark, so a process
 * it runs with no identity of its own is never taken for a person (actingEnv).
 */
export function agentHostEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { GT_AGENT: _agent, BD_ACTOR: _actor, ...rest } = env;
  return { ...rest, [AGENT_HOST_MARK]: '1' };
}

/**
 * Starts a long-lived host that no gt process is an ancestor of: a shell starts
 * it in the background and exits, so it is re-parented at once. An agent's
 * identity is read from a process's ancestors (actingEnv): a host started by an
 * agent's `gt sling` must not have that agent above the agents it runs.
 */
export function spawnOrphan(file: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; stdio: StdioOptions }): void {
  const child = spawn('/bin/sh', ['-c', '"$@" & exit 0', 'sh', file, ...args], { ...options, env: agentHostEnv(options.env), detached: true });
  child.unref();
}

/** SIGTERM to a process group, then SIGKILL if it is still there after `graceMs`. */
export async function killGroup(pid: number, graceMs = 3000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  signal('SIGKILL');
}

/**
 * git's progress output as lines for a person: every finished line (a phase
 * ends with `, done.`), and a line git redraws in place (ended by \r, such as
 * `Receiving objects:  41%`) at most once per `everyMs` — a big clone redraws
 * thousands of times, one stderr line each would bury everything else.
 */
export function progressLines(emit: (line: string) => void, everyMs = 2000): (chunk: string) => void {
  let partial = '';
  let lastRedrawn = 0;
  return (chunk) => {
    const parts = (partial + chunk).split(/(?<=[\r\n])/);
    partial = /[\r\n]$/.test(parts[parts.length - 1] ?? '') ? '' : (parts.pop() ?? '');
    for (const part of parts) {
      const line = part.trim();
      if (line === '') continue;
      if (part.endsWith('\r')) {
        if (Date.now() - lastRedrawn < everyMs) continue;
        lastRedrawn = Date.now();
      }
      emit(line);
    }
  };
}
