/**
 * The headless session backend: no terminal. Each session is a small host
 * process (`gt session-host <run dir>`) that starts the agent as its child,
 * appends its output to `<run>/agent.log`, and feeds the agent's stdin from
 * `<run>/inbox/` — so a later, short-lived gt command can still talk to it.
 */
import { spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
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
import { killGroup, processAlive, readPid } from './exec.js';
import { createLogger } from '../shared/log.js';
import { writeFileAtomic } from './fs.js';

interface SessionRecord {
  name: string;
  runDir: string;
}

export class HeadlessBackend implements SessionBackend {
  readonly kind = 'headless' as const;

  /** `launcher`: argv that runs gt (node + script). */
  constructor(
    private readonly sessionsDir: string,
    private readonly launcher: string[],
    private readonly env: NodeJS.ProcessEnv,
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
    writeFileAtomic(join(spec.runDir, 'session.json'), [JSON.stringify(spec, null, 2)], 0o600);
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
    if (options.graceMs) {
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

/**
 * Serves hook events on 127.0.0.1 at `/hook/<token>/<Event>` and writes that
 * URL into the files that stand for it (0600). The token keeps other local
 * processes from speaking for the agent, so it is checked before a byte of the
 * body is read; bodies stop at HOOK_BODY_LIMIT (413), and a slow client is
 * cut off (issue 12, finding 6). HTTP on loopback rather than a Unix socket in
 * a 0700 directory: Claude Code's HTTP hooks take a URL and have no socket
 * path option, and the same URL serves every runtime gt wires this way.
 */
async function serveHooks(spec: SessionSpec, runDir: string, onHook: HookHandler): Promise<Server> {
  const hostLog = createLogger((line) => appendFileSync(join(runDir, 'host.log'), line));
  const token = randomBytes(16).toString('hex');
  const expected = Buffer.from(token);
  const tokenMatches = (given: string | undefined) => {
    const bytes = Buffer.from(given ?? '');
    return bytes.length === expected.length && timingSafeEqual(bytes, expected);
  };
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
      if (hook !== 'hook' || !tokenMatches(given) || !event) {
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
            hostLog.error(`hook ${event} failed`, { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
            // Fails closed for permissions (a non-2xx answer leaves the runtime's own prompt in charge), open for signals.
            res.writeHead(event === 'PreToolUse' || event === 'PermissionRequest' ? 500 : 200, { 'content-type': 'application/json' }).end('{}');
          },
        );
      });
    },
  );
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', () => resolvePromise()));
  server.unref();
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook/${token}`;
  for (const file of spec.hookServer?.files ?? []) {
    // The URL holds the token: the owner's alone (issue 12, finding 6).
    writeFileAtomic(file, [readFileSync(file, 'utf8').split(HOOK_URL_PLACEHOLDER).join(url)], 0o600);
  }
  return server;
}

/**
 * The host process: starts the agent as its child, serves its hooks, logs its
 * output (pipes) or leaves it on the terminal (tty), delivers inbox files to
 * its stdin in order, and records how it exited. Runs until the agent exits.
 */
export async function runSessionHost(runDir: string, options: SessionHostOptions = {}): Promise<number> {
  const spec = JSON.parse(readFileSync(join(runDir, 'session.json'), 'utf8')) as SessionSpec;
  writeFileAtomic(join(runDir, 'host.pid'), [String(process.pid)]);
  const server = spec.hookServer && options.onHook ? await serveHooks(spec, runDir, options.onHook) : undefined;
  const [file, ...args] = spec.argv;
  const tty = options.tty === true;
  const log = tty ? undefined : openSync(join(runDir, 'agent.log'), 'a');
  // On a terminal the agent stays in the pane's process group (Ctrl-C and tmux reach it); on pipes it leads its own.
  const child = spawn(file as string, args, { cwd: spec.cwd, env: spec.env, stdio: tty ? 'inherit' : ['pipe', 'pipe', log ?? 'ignore'], detached: !tty });
  if (tty) process.on('SIGINT', () => undefined);
  return new Promise((resolvePromise) => {
    const finish = (code: number, record: Record<string, unknown>) => {
      writeFileAtomic(join(runDir, 'exit.json'), [JSON.stringify({ ...record, at: new Date().toISOString() })]);
      if (log !== undefined) closeSync(log);
      server?.close();
      resolvePromise(code);
    };
    child.on('error', (error) => {
      appendFileSync(join(runDir, 'agent.log'), `gt: could not start ${file}: ${error.message}\n`);
      finish(127, { code: 127, error: error.message });
    });
    if (child.pid === undefined) return;
    writeFileAtomic(join(runDir, 'agent.pid'), [String(child.pid)]);
    const forward = () => void (tty ? child.kill('SIGTERM') : killGroup(child.pid as number));
    process.on('SIGTERM', forward);
    process.on('SIGHUP', forward);
    let poll: NodeJS.Timeout | undefined;
    let inboxWatch: FSWatcher | undefined;
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
    child.on('exit', (code, signal) => {
      if (poll) clearInterval(poll);
      inboxWatch?.close();
      finish(code ?? 1, { code, signal });
    });
  });
}
