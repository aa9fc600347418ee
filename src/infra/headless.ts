/**
 * The headless session backend: no terminal. Each session is a small host
 * process (`gt session-host <run dir>`) that starts the agent as its child,
 * appends its output to `<run>/agent.log`, and feeds the agent's stdin from
 * `<run>/inbox/` — so a later, short-lived gt command can still talk to it.
 */
import { spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  watch,
  writeFileSync,
  writeSync,
  type FSWatcher,
} from 'node:fs';
import { join } from 'node:path';
import { GtError } from '../shared/errors.js';
import type { SessionBackend, SessionProbe, SessionSpec } from '../core/town/ports.js';
import { HOOK_URL_PLACEHOLDER } from '../core/agents/runtimes.js';
import { killGroup, processAlive, readPid, spawnOrphan } from './exec.js';
import { createLogger, type Logger } from '../shared/log.js';
import { writeFileAtomic } from './fs.js';

/** What the headless backend asks of the town host (town-host.ts: TownHostClient). */
export interface TownHostLink {
  /** Resolves once a town host answers, starting one when none does. */
  ensure(): Promise<void>;
  /** Starts the session whose spec is in `runDir` under the town host. */
  start(runDir: string): Promise<{ pid: number | undefined }>;
  /** The host's answer to one request; undefined when no host listens. */
  call<T>(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>): Promise<T | undefined>;
}

interface SessionRecord {
  name: string;
  runDir: string;
  /** Run by the town host (see town-host.ts), not by a host of its own. */
  host?: 'town';
}

export class HeadlessBackend implements SessionBackend {
  readonly kind = 'headless' as const;

  /** `launcher`: argv that runs gt (node + script). */
  constructor(
    private readonly sessionsDir: string,
    private readonly launcher: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly townHost?: TownHostLink,
  ) {}

  private record(name: string): SessionRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.sessionsDir, `${name}.json`), 'utf8')) as SessionRecord;
    } catch {
      return undefined;
    }
  }

  private agentPid(record: SessionRecord): number | undefined {
    return readPid(join(record.runDir, 'agent.pid'));
  }

  async start(spec: SessionSpec): Promise<void> {
    if (await this.isAlive(spec.name)) throw new GtError('conflict', `session ${spec.name} is already running`);
    mkdirSync(join(spec.runDir, 'inbox'), { recursive: true });
    mkdirSync(this.sessionsDir, { recursive: true });
    // The agent's environment (API keys) is in it: the owner's alone (issue 12, finding 5).
    writeFileAtomic(join(spec.runDir, 'session.json'), [JSON.stringify(spec, null, 2)], 0o600, { durable: false });
    const inTownHost = spec.townHost === true && this.townHost !== undefined;
    writeFileAtomic(
      join(this.sessionsDir, `${spec.name}.json`),
      [JSON.stringify({ name: spec.name, runDir: spec.runDir, ...(inTownHost ? { host: 'town' } : {}) })],
      0o644,
      { durable: false },
    );
    // One process for every agent: no Node start, no ledger open, no host per session. The host has written agent.pid when it answers.
    if (inTownHost) {
      await this.townHost?.start(spec.runDir);
      return;
    }
    const [file, ...args] = this.launcher;
    spawnOrphan(file as string, [...args, 'session-host', spec.runDir], { stdio: 'ignore', env: this.env, cwd: spec.runDir });
    // Return once the agent runs, so isAlive is true as soon as start resolves.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (existsSync(join(spec.runDir, 'agent.pid')) || existsSync(join(spec.runDir, 'exit.json'))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new GtError('external', `headless session ${spec.name} did not start within 10 s`, { hint: `see ${join(spec.runDir, 'host.log')}` });
  }

  async hostStatus(): Promise<{ pid: number; rss: number; sessions: number } | undefined> {
    const status = await this.townHost?.call<{ pid: number; rss: number; sessions: unknown[] }>('GET', '/status').catch(() => undefined);
    return status ? { pid: status.pid, rss: status.rss, sessions: status.sessions.length } : undefined;
  }

  async prepare(spec: Pick<SessionSpec, 'townHost'>): Promise<void> {
    if (spec.townHost) await this.townHost?.ensure();
  }

  async isAlive(name: string): Promise<boolean> {
    const record = this.record(name);
    if (!record || existsSync(join(record.runDir, 'exit.json'))) return false;
    const pid = this.agentPid(record);
    return pid !== undefined && processAlive(pid);
  }

  /** The host is the session; its child, the agent, the process. A host killed alone leaves the agent running: a zombie. */
  async probe(name: string): Promise<SessionProbe> {
    const record = this.record(name);
    if (!record) return { session: false, process: false };
    const host = readPid(join(record.runDir, 'host.pid'));
    const agent = this.agentPid(record);
    const exited = existsSync(join(record.runDir, 'exit.json'));
    return { session: !exited && host !== undefined && processAlive(host), process: agent !== undefined && processAlive(agent) };
  }

  async send(name: string, text: string): Promise<void> {
    const record = this.record(name);
    if (!record || !(await this.isAlive(name))) throw new GtError('conflict', `session ${name} is not running`);
    if (record.host === 'town' && this.townHost) {
      const sent = await this.townHost.call('POST', '/send', { name, text: text.endsWith('\n') ? text : `${text}\n` }).catch(() => undefined);
      if (!sent) throw new GtError('conflict', `session ${name} is not running (its town host is gone)`);
      return;
    }
    const inbox = join(record.runDir, 'inbox');
    const file = `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    writeFileSync(join(inbox, `.${file}.tmp`), text.endsWith('\n') ? text : `${text}\n`);
    renameSync(join(inbox, `.${file}.tmp`), join(inbox, `${file}.msg`));
  }

  async capture(name: string, lines: number): Promise<string> {
    const record = this.record(name);
    if (!record) throw new GtError('not_found', `no headless session ${name}`);
    try {
      return `${readFileSync(join(record.runDir, 'agent.log'), 'utf8')
        .split('\n')
        .slice(-lines - 1)
        .join('\n')}`;
    } catch {
      return '';
    }
  }

  async stop(name: string, options: { graceMs?: number } = {}): Promise<void> {
    const record = this.record(name);
    if (!record) return;
    const pid = this.agentPid(record);
    if (pid === undefined || !processAlive(pid)) return;
    // The town host ends its own child (end of input first, with a grace); an agent it no longer runs is ended here.
    if (
      record.host === 'town' &&
      this.townHost &&
      (await this.townHost.call<{ stopped: boolean }>('POST', '/stop', { name, graceMs: options.graceMs ?? 0 }))?.stopped
    ) {
      if (!processAlive(pid)) return;
    } else if (options.graceMs) {
      writeFileSync(join(record.runDir, 'inbox', END_OF_INPUT), '');
      const deadline = Date.now() + options.graceMs;
      while (Date.now() < deadline && !existsSync(join(record.runDir, 'exit.json'))) await new Promise((r) => setTimeout(r, 50));
    }
    if (processAlive(pid)) await killGroup(pid);
  }

  async list(): Promise<string[]> {
    try {
      return readdirSync(this.sessionsDir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, -5))
        .sort();
    } catch {
      return [];
    }
  }

  attachCommand(): undefined {
    return undefined;
  }

  async stopAll(): Promise<void> {
    for (const name of await this.list()) await this.stop(name);
  }
}

/** Put in a session's inbox: the agent's stdin is closed once earlier messages are delivered. */
const END_OF_INPUT = 'zz-end-of-input';

/** Answers one runtime hook event (its JSON body) with the JSON the runtime acts on. */
export type HookHandler = (event: string, body: Record<string, unknown>) => Promise<Record<string, unknown>>;

export interface SessionHostOptions {
  /** The agent runs on this process's terminal (a tmux pane) instead of pipes. */
  tty?: boolean;
  onHook?: HookHandler;
  /** Each line the agent prints (pipes only): where a stream protocol's session id and usage are read. */
  onOutputLine?: (line: string) => void;
}

/** The largest hook body read (a tool call's input with a whole file in it stays well under it). */
export const HOOK_BODY_LIMIT = 1024 * 1024;
/** How long a client may take to send its headers and its body (not how long the answer may take: a permission waits for a person). */
export const HOOK_REQUEST_TIMEOUT_MS = 10_000;

/** Routes a hook request's token to the handler of the agent it belongs to (undefined: refused). */
export type HookRoute = (token: string) => HookHandler | undefined;

/** A per-session token and the check of a given one (constant time). */
export function hookToken(): { token: string; matches: (given: string) => boolean } {
  const token = randomBytes(16).toString('hex');
  const expected = Buffer.from(token);
  return {
    token,
    matches: (given) => {
      const bytes = Buffer.from(given);
      return bytes.length === expected.length && timingSafeEqual(bytes, expected);
    },
  };
}

/**
 * Serves hook events on 127.0.0.1 at `/hook/<token>/<Event>`. The token keeps
 * other local processes from speaking for an agent, so it is checked before a
 * byte of the body is read; bodies stop at HOOK_BODY_LIMIT (413), and a slow
 * client is cut off (issue 12, finding 6). HTTP on loopback rather than a Unix
 * socket in a 0700 directory: Claude Code's HTTP hooks take a URL and have no
 * socket path option, and the same URL serves every runtime gt wires this way.
 * `port` 0 takes any free port; the town host asks for the one it had before.
 */
export async function listenForHooks(route: HookRoute, log: Logger, port = 0): Promise<{ server: Server; base: string }> {
  const refuse = (res: ServerResponse, status: number) => {
    // Connection: close, and the request is not read on: its body is never buffered.
    res.writeHead(status, { connection: 'close' }).end();
    res.once('finish', () => res.req.destroy());
  };
  // Node checks the timeouts every connectionsCheckingInterval (30 s by default): once a second here.
  const server = createServer(
    { headersTimeout: HOOK_REQUEST_TIMEOUT_MS, requestTimeout: HOOK_REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000 },
    (req, res) => {
      const [, hook, given, event] = (req.url ?? '').split('/');
      const onHook = hook === 'hook' && given && event ? route(given) : undefined;
      if (!onHook || !event) {
        refuse(res, 404);
        return;
      }
      if (Number(req.headers['content-length'] ?? 0) > HOOK_BODY_LIMIT) {
        refuse(res, 413);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = false;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > HOOK_BODY_LIMIT) {
          if (!tooLarge) refuse(res, 413);
          tooLarge = true;
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (tooLarge) return;
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        } catch {
          // An unreadable body is still an event.
        }
        onHook(event, body).then(
          (answer) => {
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
          },
          (error: unknown) => {
            log.error(`hook ${event} failed`, { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
            // Fails closed for permissions (a non-2xx answer leaves the runtime's own prompt in charge), open for signals.
            res.writeHead(event === 'PreToolUse' || event === 'PermissionRequest' ? 500 : 200, { 'content-type': 'application/json' }).end('{}');
          },
        );
      });
    },
  );
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  server.unref();
  const address = server.address();
  return { server, base: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook` };
}

/** Writes a session's hook URL into the files that stand for it; the URL holds the token: the owner's alone (issue 12, finding 6). */
export function writeHookUrl(spec: SessionSpec, url: string): void {
  for (const file of spec.hookServer?.files ?? []) writeFileAtomic(file, [readFileSync(file, 'utf8').split(HOOK_URL_PLACEHOLDER).join(url)], 0o600);
}

/** A running agent process: its stdin (pipes only), and how it ends. */
export interface AgentProcess {
  pid: number | undefined;
  stdin: Writable | null;
  /** Resolves with its exit code once exit.json is written. */
  exited: Promise<number>;
  /** Ends it (its process group on pipes). */
  kill: () => void;
}

/**
 * Starts a session's agent as a child of this process: its output appended to
 * `<run>/agent.log` (pipes) or left on the terminal (tty), its first stdin
 * lines written, `agent.pid` and, once it exits, `exit.json` recorded. Shared
 * by a session's own host and the town host.
 */
export function launchAgent(spec: SessionSpec, runDir: string, options: { tty?: boolean; onOutputLine?: (line: string) => void } = {}): AgentProcess {
  const [file, ...args] = spec.argv;
  const tty = options.tty === true;
  const log = tty ? undefined : openSync(join(runDir, 'agent.log'), 'a');
  // On a terminal the agent stays in the pane's process group (Ctrl-C and tmux reach it); on pipes it leads its own.
  const child = spawn(file as string, args, { cwd: spec.cwd, env: spec.env, stdio: tty ? 'inherit' : ['pipe', 'pipe', log ?? 'ignore'], detached: !tty });
  let settled = false;
  const exited = new Promise<number>((resolvePromise) => {
    const finish = (code: number, record: Record<string, unknown>) => {
      if (settled) return;
      settled = true;
      writeFileAtomic(join(runDir, 'exit.json'), [JSON.stringify({ ...record, at: new Date().toISOString() })]);
      if (log !== undefined) closeSync(log);
      resolvePromise(code);
    };
    child.on('error', (error) => {
      appendFileSync(join(runDir, 'agent.log'), `gt: could not start ${file}: ${error.message}\n`);
      finish(127, { code: 127, error: error.message });
    });
    child.on('exit', (code, signal) => finish(code ?? 1, { code, signal }));
  });
  if (child.pid !== undefined) writeFileAtomic(join(runDir, 'agent.pid'), [String(child.pid)], 0o644, { durable: false });
  const { stdin, stdout } = child;
  if (stdout && log !== undefined) {
    let partial = '';
    stdout.on('data', (chunk: Buffer) => {
      writeSync(log, chunk);
      if (!options.onOutputLine) return;
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) options.onOutputLine(line);
    });
  }
  if (stdin) {
    stdin.on('error', () => undefined);
    // A runtime without a stdin protocol gets end-of-file at once (Codex exec waits for it).
    if (spec.stdinLines === undefined) stdin.end();
    for (const line of spec.stdinLines ?? []) stdin.write(`${line}\n`);
  }
  return {
    pid: child.pid,
    stdin,
    exited,
    kill: () => {
      if (child.pid === undefined || settled) return;
      if (tty) child.kill('SIGTERM');
      else void killGroup(child.pid);
    },
  };
}

/**
 * The host process: starts the agent as its child, serves its hooks, logs its
 * output (pipes) or leaves it on the terminal (tty), delivers inbox files to
 * its stdin in order, and records how it exited. Runs until the agent exits.
 */
export async function runSessionHost(runDir: string, options: SessionHostOptions = {}): Promise<number> {
  const spec = JSON.parse(readFileSync(join(runDir, 'session.json'), 'utf8')) as SessionSpec;
  writeFileAtomic(join(runDir, 'host.pid'), [String(process.pid)], 0o644, { durable: false });
  let server: Server | undefined;
  if (spec.hookServer && options.onHook) {
    const { token, matches } = hookToken();
    const onHook = options.onHook;
    const hooks = await listenForHooks(
      (given) => (matches(given) ? onHook : undefined),
      createLogger((line) => appendFileSync(join(runDir, 'host.log'), line)),
    );
    server = hooks.server;
    writeHookUrl(spec, `${hooks.base}/${token}`);
  }
  const tty = options.tty === true;
  if (tty) process.on('SIGINT', () => undefined);
  const agent = launchAgent(spec, runDir, { tty, ...(options.onOutputLine ? { onOutputLine: options.onOutputLine } : {}) });
  process.on('SIGTERM', agent.kill);
  process.on('SIGHUP', agent.kill);
  let poll: NodeJS.Timeout | undefined;
  let inboxWatch: FSWatcher | undefined;
  const { stdin } = agent;
  if (stdin && agent.pid !== undefined) {
    const inbox = join(runDir, 'inbox');
    const deliver = () => {
      let names: string[] = [];
      try {
        names = readdirSync(inbox)
          .filter((f) => f.endsWith('.msg'))
          .sort();
      } catch {
        return;
      }
      if (stdin.writableEnded) return;
      for (const name of names) {
        const path = join(inbox, name);
        try {
          stdin.write(readFileSync(path, 'utf8'));
          rmSync(path, { force: true });
        } catch {
          // Taken by a delivery a moment ago.
        }
      }
      if (existsSync(join(inbox, END_OF_INPUT))) stdin.end();
    };
    // inotify delivers a message at once; the poll is the fallback where watching is not possible.
    try {
      inboxWatch = watch(inbox, deliver);
    } catch {
      // no watch: the poll alone delivers, within 100 ms
    }
    poll = setInterval(deliver, inboxWatch ? 1000 : 100);
  }
  const code = await agent.exited;
  if (poll) clearInterval(poll);
  inboxWatch?.close();
  server?.close();
  return code;
}
