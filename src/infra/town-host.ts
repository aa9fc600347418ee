/**
 * The town host (sessions.mode = "in-process", issue 17 §2): one process runs
 * every headless agent of the town as its child and serves all their hooks on
 * one loopback port, instead of a Node host per session (~44 MB and a Node
 * start each). gt's per-agent operations (start, send, stop) reach it on a
 * Unix socket under `.gt/`; liveness stays readable from the run folder
 * (`host.pid`, `agent.pid`, `exit.json`) without it.
 *
 * One per town: its pidfile is its lock. It starts on demand (the first
 * headless start finds no socket and spawns it) and leaves once it has run
 * no agent for a while. When it dies, its agents lose their pipes; the run
 * folders say so (host gone: dead or zombie) and the witness restarts each on
 * its unchanged hook, resuming the runtime's conversation where it can.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import type { SessionSpec } from '../core/town/ports.js';
import { GtError } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/log.js';
import { GT_DIR, RUNS_DIR, TOWN_HOST_KEY, TOWN_HOST_LOGFILE, TOWN_HOST_PIDFILE, TOWN_HOST_SOCKET, TOWN_HOST_STATE } from '../shared/paths.js';
import { killGroup, processAlive, spawnOrphan } from './exec.js';
import { acquireLock, nodeTownFiles } from './files.js';
import { writeFileAtomic } from './fs.js';
import { hookToken, launchAgent, listenForHooks, writeHookUrl, type AgentProcess, type HookHandler, type TownHostLink } from './headless.js';

/** What the town host does for one agent besides running it (core/agents/session-host.ts). */
export interface HostedHandlers {
  onHook: HookHandler;
  onOutputLine: (line: string) => void;
  /** Work still queued (usage, session ids): awaited once the agent exits. */
  settle: () => Promise<void>;
}

export interface TownHostOptions {
  root: string;
  /** The handlers of one agent's session, made when it starts. */
  handlersFor: (spec: SessionSpec, runDir: string) => HostedHandlers;
  /** How long the host stays up with no agent to run (the next start would pay for a new one). */
  idleExitMs?: number;
}

export interface TownHostStatus {
  pid: number;
  /** Resident memory of the host process, bytes. */
  rss: number;
  sessions: Array<{ name: string; pid: number | undefined; run: string }>;
}

/**
 * The control socket's path: `.gt/town-host.sock`, unless that is longer than
 * a Unix socket path may be (108 bytes); then one in the temp folder named
 * after the town.
 */
export function townHostSocket(root: string): string {
  const inTown = join(root, TOWN_HOST_SOCKET);
  if (Buffer.byteLength(inTown) < 100) return inTown;
  return join(tmpdir(), `gt-town-host-${createHash('sha256').update(root).digest('hex').slice(0, 16)}.sock`);
}

interface Hosted {
  name: string;
  runDir: string;
  agent: AgentProcess;
  handlers: HostedHandlers;
  tokenId: string | undefined;
}

const readBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
};

const sleep = (ms: number) => new Promise((resolvePromise) => setTimeout(resolvePromise, ms));

/**
 * Runs the town host until it is told to stop (SIGTERM: its agents are ended
 * first) or has been idle for `idleExitMs`. Resolves with its exit code; 0
 * without doing anything when another host already holds the town.
 */
export async function runTownHost(options: TownHostOptions): Promise<number> {
  const { root } = options;
  const log: Logger = createLogger((line) => nodeTownFiles.append(join(root, TOWN_HOST_LOGFILE), line));
  let release: () => void;
  try {
    release = await acquireLock(join(root, TOWN_HOST_PIDFILE), 0);
  } catch {
    return 0; // another town host runs this town: the starter reaches that one
  }
  const socket = townHostSocket(root);
  rmSync(socket, { force: true });
  // The socket answers only a caller that read this key, as the owner can (0600): an agent's tool that reaches the
  // socket through a glob or a link gets nothing (attack review, finding 7).
  const key = randomBytes(24).toString('hex');
  writeFileAtomic(join(root, TOWN_HOST_KEY), [key], 0o600);
  const keyMatches = (given: string | undefined) => {
    const a = Buffer.from(given ?? '');
    const b = Buffer.from(`Bearer ${key}`);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const runsDir = resolve(root, RUNS_DIR);
  const sessions = new Map<string, Hosted>();
  const routes = new Map<string, { matches: (given: string) => boolean; onHook: HookHandler }>();
  // The port of the host before this one: agents it ran (and that survived it) still post there.
  let port = 0;
  try {
    port = Number((JSON.parse(readFileSync(join(root, TOWN_HOST_STATE), 'utf8')) as { port?: unknown }).port) || 0;
  } catch {
    // the first host of this town
  }
  const route = (given: string) => {
    // `<id>-<secret>`: the id finds the session, the secret is compared in constant time.
    const [id = '', secret = ''] = given.split('-');
    const entry = routes.get(id);
    return entry && entry.matches(secret) ? entry.onHook : undefined;
  };
  const hooks = await listenForHooks(route, log, port).catch(() => listenForHooks(route, log, 0));
  writeFileAtomic(join(root, TOWN_HOST_STATE), [JSON.stringify({ pid: process.pid, port: Number(new URL(hooks.base).port) })]);

  let idleTimer: NodeJS.Timeout | undefined;
  let finished: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolvePromise) => (finished = resolvePromise));
  let closing = false;
  const shutdown = (code: number) => {
    closing = true;
    if (idleTimer) clearTimeout(idleTimer);
    control.close();
    hooks.server.close();
    rmSync(socket, { force: true });
    release();
    finished(code);
  };
  const idleCheck = () => {
    if (idleTimer) clearTimeout(idleTimer);
    if (sessions.size > 0) return;
    idleTimer = setTimeout(() => {
      if (sessions.size === 0) shutdown(0);
    }, options.idleExitMs ?? 30_000);
  };

  const start = (runDir: string): { pid: number | undefined } => {
    const spec = JSON.parse(readFileSync(join(runDir, 'session.json'), 'utf8')) as SessionSpec;
    const running = sessions.get(spec.name);
    if (running) throw new GtError('conflict', `session ${spec.name} is already running`);
    writeFileAtomic(join(runDir, 'host.pid'), [String(process.pid)], 0o644, { durable: false });
    const handlers = options.handlersFor(spec, runDir);
    let tokenId: string | undefined;
    if (spec.hookServer) {
      const { token, matches } = hookToken();
      tokenId = token.slice(0, 8);
      routes.set(tokenId, { matches, onHook: handlers.onHook });
      writeHookUrl(spec, `${hooks.base}/${tokenId}-${token}`);
    }
    const agent = launchAgent(spec, runDir, { onOutputLine: handlers.onOutputLine });
    const hosted: Hosted = { name: spec.name, runDir, agent, handlers, tokenId };
    sessions.set(spec.name, hosted);
    if (idleTimer) clearTimeout(idleTimer);
    void agent.exited.then(async () => {
      if (sessions.get(spec.name) === hosted) sessions.delete(spec.name);
      await handlers.settle().catch((error: unknown) => log.error('settling a session failed', { session: spec.name, error: String(error) }));
      if (tokenId) routes.delete(tokenId);
      idleCheck();
    });
    return { pid: agent.pid };
  };

  const stop = async (name: string, graceMs: number): Promise<boolean> => {
    const hosted = sessions.get(name);
    if (!hosted) return false;
    const { agent } = hosted;
    if (graceMs > 0 && agent.stdin && !agent.stdin.writableEnded) {
      agent.stdin.end();
      await Promise.race([agent.exited, sleep(graceMs)]);
    }
    agent.kill();
    await Promise.race([agent.exited, sleep(5000)]);
    return true;
  };

  const control: Server = createServer((req, res) => {
    const answer = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const handle = async () => {
      const path = req.url ?? '/';
      if (!keyMatches(req.headers.authorization)) return answer(403, { error: 'the town host answers its owner only (no or wrong key)' });
      if (req.method === 'GET' && path === '/status') {
        const status: TownHostStatus = {
          pid: process.pid,
          rss: process.memoryUsage.rss(),
          sessions: [...sessions.values()].map((s) => ({ name: s.name, pid: s.agent.pid, run: s.runDir })),
        };
        return answer(200, status);
      }
      const body = await readBody(req);
      // A start that arrives as the host leaves is told so: the caller starts the next host.
      if (req.method === 'POST' && path === '/start') {
        // Only a run folder of this town: its session.json decides the argv and environment the host starts.
        const runDir = resolve(String(body.runDir));
        const inside = relative(runsDir, runDir);
        if (inside === '' || inside.startsWith('..') || inside.includes(sep)) return answer(403, { error: `not a run folder of this town: ${runDir}` });
        return closing ? answer(503, { error: 'the town host is stopping' }) : answer(200, start(runDir));
      }
      if (req.method === 'POST' && path === '/send') {
        const hosted = sessions.get(String(body.name));
        if (!hosted?.agent.stdin || hosted.agent.stdin.writableEnded) return answer(404, { error: `session ${String(body.name)} is not running` });
        hosted.agent.stdin.write(String(body.text));
        return answer(200, {});
      }
      if (req.method === 'POST' && path === '/stop') return answer(200, { stopped: await stop(String(body.name), Number(body.graceMs) || 0) });
      return answer(404, { error: `no ${req.method ?? ''} ${path}` });
    };
    handle().catch((error: unknown) => {
      log.error('control request failed', { path: req.url ?? '', error: error instanceof Error ? error.message : String(error) });
      answer(error instanceof GtError && error.kind === 'conflict' ? 409 : 500, { error: error instanceof Error ? error.message : String(error) });
    });
  });
  await new Promise<void>((resolvePromise, reject) => {
    control.once('error', reject);
    control.listen(socket, () => resolvePromise());
  });
  // .gt is the owner's; the socket too, where it lives in the temp folder.
  chmodSync(socket, 0o600);
  log.info('town host started', { pid: process.pid, port: new URL(hooks.base).port });

  const terminate = () => {
    log.info('town host stopping', { sessions: sessions.size });
    void Promise.all([...sessions.keys()].map((name) => stop(name, 0))).then(() => shutdown(0));
  };
  process.on('SIGTERM', terminate);
  process.on('SIGINT', terminate);
  process.on('SIGHUP', terminate);
  idleCheck();
  return done;
}

/** Talks to the town host over its socket, starting it when none runs. */
export class TownHostClient implements TownHostLink {
  private starting: Promise<void> | undefined;

  /** `launcher`: argv that runs gt (node + script). */
  constructor(
    private readonly root: string,
    private readonly launcher: string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** The host's answer to one request; undefined when no host listens. */
  async call<T>(method: 'GET' | 'POST', path: string, body?: Record<string, unknown>): Promise<T | undefined> {
    const socketPath = townHostSocket(this.root);
    if (!existsSync(socketPath)) return undefined;
    return new Promise((resolvePromise, reject) => {
      let key = '';
      try {
        key = readFileSync(join(this.root, TOWN_HOST_KEY), 'utf8').trim();
      } catch {
        // no key yet: the host answers 403 and the caller reports it
      }
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
      const req = request({ socketPath, agent: false, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text || '{}') as Record<string, unknown>;
          } catch {
            // an answer that is not JSON: reported below by status
          }
          if (res.statusCode === 200) resolvePromise(parsed as T);
          // Stopping: as if no host listened.
          else if (res.statusCode === 503) resolvePromise(undefined);
          else
            reject(
              new GtError(
                res.statusCode === 409 || res.statusCode === 403 ? 'conflict' : res.statusCode === 404 ? 'not_found' : 'external',
                `town host: ${typeof parsed.error === 'string' ? parsed.error : text}`,
                {
                  hint: `see ${join(this.root, TOWN_HOST_LOGFILE)}`,
                },
              ),
            );
        });
      });
      // No listener behind the socket file (a host that died): as if none.
      req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNREFUSED' || error.code === 'ENOENT' ? resolvePromise(undefined) : reject(error)));
      req.end(body ? JSON.stringify(body) : undefined);
    });
  }

  /** Starts the session whose spec is in `runDir` under the town host (started first when none runs). */
  async start(runDir: string): Promise<{ pid: number | undefined }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.ensure();
      const started = await this.call<{ pid: number | undefined }>('POST', '/start', { runDir });
      if (started) return started;
      // The host left between the two calls (idle, or stopping): wait for it to go, then start the next.
      await sleep(100);
    }
    throw new GtError('external', 'the town host did not take the session', { hint: `see ${join(this.root, TOWN_HOST_LOGFILE)}` });
  }

  status(): Promise<TownHostStatus | undefined> {
    return this.call<TownHostStatus>('GET', '/status');
  }

  /** Resolves once a town host answers, starting one when none does (concurrent callers share the start). */
  async ensure(): Promise<void> {
    if (await this.status()) return;
    this.starting ??= this.spawnHost().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async spawnHost(): Promise<void> {
    const [file, ...args] = this.launcher;
    nodeTownFiles.mkdirp(join(this.root, GT_DIR));
    const out = openSync(join(this.root, TOWN_HOST_LOGFILE), 'a');
    spawnOrphan(file as string, [...args, 'town-host'], { cwd: this.root, stdio: ['ignore', out, out], env: { ...this.env, GT_ROOT: this.root } });
    closeSync(out);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (await this.status()) return;
      await sleep(15);
    }
    throw new GtError('external', 'the town host did not start', { hint: `see ${join(this.root, TOWN_HOST_LOGFILE)}` });
  }

  /** Asks the host to end (its agents with it); resolves whether one was running. */
  async shutdown(graceMs = 5000): Promise<boolean> {
    const pid = nodeTownFiles.lockHolder(join(this.root, TOWN_HOST_PIDFILE));
    if (pid === undefined) return false;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (processAlive(pid) && Date.now() < deadline) await sleep(50);
    if (processAlive(pid)) await killGroup(pid, 0);
    return true;
  }
}
