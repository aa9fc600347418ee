/**
 * Running other programs: git, tmux, shell commands. The one place (with
 * tmux.ts and headless.ts) where gt spawns processes.
 */
import { spawn } from 'node:child_process';
import { GtError } from '../shared/errors.js';
import type { CommandResult, GitPort, ShellPort } from '../core/town/ports.js';

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

/** Runs a program to completion; never rejects for a non-zero exit (the caller decides). */
export function execCommand(file: string, args: string[], options: ExecOptions = {}): Promise<CommandResult & { timedOut: boolean }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: options.timeoutMs !== undefined,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
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
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** git with a clean, predictable environment (no pager, no prompts, C locale). */
export class Git implements GitPort {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  private environment(extra?: Record<string, string>): NodeJS.ProcessEnv {
    return { ...this.env, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C', ...extra };
  }

  async probe(cwd: string, args: string[], options: { env?: Record<string, string> } = {}): Promise<CommandResult> {
    return execCommand('git', args, { cwd, env: this.environment(options.env) });
  }

  async run(cwd: string, args: string[], options: { env?: Record<string, string>; onProgress?: (line: string) => void } = {}): Promise<string> {
    const progress = options.onProgress;
    const result = await execCommand('git', args, {
      cwd, env: this.environment(options.env),
      ...(progress ? { onStderr: progressLines(progress) } : {}),
    });
    if (result.code !== 0) {
      const detail = (result.stderr || result.stdout).trim().split('\n').slice(-3).join('\n');
      throw new GtError('external', `git ${args[0] ?? ''} failed in ${cwd}: ${detail}`);
    }
    return result.stdout;
  }
}

export class Shell implements ShellPort {
  async run(command: string, options: { cwd: string; env: Record<string, string>; timeoutMs: number; onOutput?: (chunk: string) => void }) {
    const onOutput = options.onOutput;
    return execCommand('sh', ['-c', command], {
      cwd: options.cwd, env: options.env, timeoutMs: options.timeoutMs,
      ...(onOutput ? { onStdout: onOutput, onStderr: onOutput } : {}),
    });
  }
}

/** True when a process with this pid exists (signal 0 probes without sending). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
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

