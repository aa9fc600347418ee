/**
 * The headless session backend: no terminal. Each session is a small host
 * process (`gt session-host <run dir>`) that starts the agent as its child,
 * appends its output to `<run>/agent.log`, and feeds the agent's stdin from
 * `<run>/inbox/` — so a later, short-lived gt command can still talk to it.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GtError } from '../shared/errors.js';
import type { SessionBackend, SessionSpec } from '../core/town/ports.js';
import { killGroup, processAlive } from './exec.js';
import { writeFileAtomic } from './fs.js';

interface SessionRecord {
  name: string;
  runDir: string;
}

export class HeadlessBackend implements SessionBackend {
  readonly kind = 'headless' as const;

  /** `launcher`: argv that runs gt (node + script). */
  constructor(private readonly sessionsDir: string, private readonly launcher: string[], private readonly env: NodeJS.ProcessEnv) {}

  private record(name: string): SessionRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.sessionsDir, `${name}.json`), 'utf8')) as SessionRecord;
    } catch {
      return undefined;
    }
  }

  private agentPid(record: SessionRecord): number | undefined {
    try {
      const pid = Number(readFileSync(join(record.runDir, 'agent.pid'), 'utf8'));
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async start(spec: SessionSpec): Promise<void> {
    if (await this.isAlive(spec.name)) throw new GtError('conflict', `session ${spec.name} is already running`);
    mkdirSync(join(spec.runDir, 'inbox'), { recursive: true });
    mkdirSync(this.sessionsDir, { recursive: true });
    writeFileAtomic(join(spec.runDir, 'session.json'), [JSON.stringify(spec, null, 2)]);
    writeFileAtomic(join(this.sessionsDir, `${spec.name}.json`), [JSON.stringify({ name: spec.name, runDir: spec.runDir })]);
    const [file, ...args] = this.launcher;
    const host = spawn(file as string, [...args, 'session-host', spec.runDir], { detached: true, stdio: 'ignore', env: this.env, cwd: spec.runDir });
    host.unref();
    // Return once the agent runs, so isAlive is true as soon as start resolves.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (existsSync(join(spec.runDir, 'agent.pid')) || existsSync(join(spec.runDir, 'exit.json'))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new GtError('external', `headless session ${spec.name} did not start within 10 s`, { hint: `see ${join(spec.runDir, 'host.log')}` });
  }

  async isAlive(name: string): Promise<boolean> {
    const record = this.record(name);
    if (!record || existsSync(join(record.runDir, 'exit.json'))) return false;
    const pid = this.agentPid(record);
    return pid !== undefined && processAlive(pid);
  }

  async send(name: string, text: string): Promise<void> {
    const record = this.record(name);
    if (!record || !(await this.isAlive(name))) throw new GtError('conflict', `session ${name} is not running`);
    const inbox = join(record.runDir, 'inbox');
    const file = `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    writeFileSync(join(inbox, `.${file}.tmp`), text.endsWith('\n') ? text : `${text}\n`);
    renameSync(join(inbox, `.${file}.tmp`), join(inbox, `${file}.msg`));
  }

  async capture(name: string, lines: number): Promise<string> {
    const record = this.record(name);
    if (!record) throw new GtError('not_found', `no headless session ${name}`);
    try {
      return `${readFileSync(join(record.runDir, 'agent.log'), 'utf8').split('\n').slice(-lines - 1).join('\n')}`;
    } catch {
      return '';
    }
  }

  async stop(name: string): Promise<void> {
    const record = this.record(name);
    if (!record) return;
    const pid = this.agentPid(record);
    if (pid !== undefined && processAlive(pid)) await killGroup(pid);
  }

  async list(): Promise<string[]> {
    try {
      return readdirSync(this.sessionsDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
    } catch {
      return [];
    }
  }

  attachCommand(): undefined {
    return undefined;
  }
}

/**
 * The host process: starts the agent, logs its output, delivers inbox files
 * to its stdin in order, and records how it exited. Runs until the agent exits.
 */
export function runSessionHost(runDir: string): Promise<number> {
  const spec = JSON.parse(readFileSync(join(runDir, 'session.json'), 'utf8')) as SessionSpec;
  const log = openSync(join(runDir, 'agent.log'), 'a');
  const [file, ...args] = spec.argv;
  const child = spawn(file as string, args, { cwd: spec.cwd, env: spec.env, stdio: ['pipe', log, log], detached: true });
  return new Promise((resolvePromise) => {
    child.on('error', (error) => {
      appendFileSync(join(runDir, 'agent.log'), `gt: could not start ${file}: ${error.message}\n`);
      writeFileAtomic(join(runDir, 'exit.json'), [JSON.stringify({ code: 127, error: error.message })]);
      resolvePromise(127);
    });
    const stdin = child.stdin;
    if (child.pid === undefined || stdin === null) return;
    writeFileAtomic(join(runDir, 'agent.pid'), [String(child.pid)]);
    stdin.on('error', () => undefined);
    for (const line of spec.stdinLines ?? []) stdin.write(`${line}\n`);
    const inbox = join(runDir, 'inbox');
    const deliver = () => {
      let names: string[] = [];
      try {
        names = readdirSync(inbox).filter((f) => f.endsWith('.msg')).sort();
      } catch {
        return;
      }
      for (const name of names) {
        const path = join(inbox, name);
        stdin.write(readFileSync(path, 'utf8'));
        rmSync(path, { force: true });
      }
    };
    const poll = setInterval(deliver, 100);
    const forward = () => void killGroup(child.pid as number);
    process.on('SIGTERM', forward);
    process.on('SIGHUP', forward);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      writeFileAtomic(join(runDir, 'exit.json'), [JSON.stringify({ code, signal, at: new Date().toISOString() })]);
      closeSync(log);
      resolvePromise(code ?? 1);
    });
  });
}
