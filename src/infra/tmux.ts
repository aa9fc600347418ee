/**
 * The tmux session backend: one private server per town (`tmux -L <socket>`),
 * one session per agent, named from its identity. Panes stay after their
 * process exits (remain-on-exit), so a crash leaves its last screen to read.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { GtError } from '../shared/errors.js';
import { shellQuote } from '../shared/shell.js';
import type { SessionBackend, SessionProbe, SessionSpec } from '../core/town/ports.js';
import { agentHostEnv, execCommand, killGroup, processAlive, readPid } from './exec.js';
import { writeFileAtomic } from './fs.js';

/** `<town name>-<6 hex of sha256(realpath)>`, as Gas Town does; GT_TMUX_SOCKET overrides. */
export function townSocket(root: string, env: NodeJS.ProcessEnv): string {
  if (env.GT_TMUX_SOCKET) return env.GT_TMUX_SOCKET;
  let real = root;
  try {
    real = realpathSync(root);
  } catch {
    // not created yet
  }
  const name =
    basename(real)
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, '-')
      .slice(0, 20) || 'town';
  return `gt-${name}-${createHash('sha256').update(real).digest('hex').slice(0, 6)}`;
}

export const TMUX_CONF = `# gt's private tmux server for this town (written by gt; regenerated on start)
set -g remain-on-exit on
set -g history-limit 50000
set -g mouse on
set -g status-style "bg=colour236,fg=colour250"
set -g status-left "[gt #S] "
set -g status-left-length 40
set -g pane-border-status top
set -g pane-border-format " #{pane_title} "
`;

/**
 * One argument as tmux's own parser reads it: tmux takes an argument ending in
 * `;` as the end of a command (tmux(1), COMMANDS), so an env value such as
 * `history -a;` ended the command before the next `-e`, and a nudge lost its
 * last `;`. A trailing `\;` is a literal `;` (and keeps what precedes it).
 */
export function tmuxWord(word: string): string {
  return word.endsWith(';') ? `${word.slice(0, -1)}\\;` : word;
}

/** A session's environment as `export K='v'` lines for sh; names sh cannot export are left out. */
export function paneEnv(env: Record<string, string>): string {
  return Object.entries(env)
    .filter(([key]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
    .map(([key, value]) => `export ${key}=${shellQuote(value)}\n`)
    .join('');
}

export async function tmuxAvailable(env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    return (await execCommand('tmux', ['-V'], { env })).code === 0;
  } catch {
    return false;
  }
}

/** How long one `list-panes -a` answers probes (about one daemon pass's patrol). */
const PANE_SNAPSHOT_MS = 1000;

/** An agent's pane as `list-panes -a` reports it. */
export interface AgentPane {
  id: string;
  /** The session name it was started for (`@gt_session`); '' for a pane gt did not start. */
  tag: string;
  /** The session it sits in now. */
  session: string;
  window: string;
  dead: boolean;
  pid?: number;
  placeholder: boolean;
  title: string;
  /** Its run directory (`@gt_run`). */
  run: string;
}

const PANE_FIELDS = [
  '#{pane_id}',
  '#{@gt_session}',
  '#{session_name}',
  '#{window_id}',
  '#{pane_dead}',
  '#{pane_pid}',
  '#{@gt_placeholder}',
  '#{pane_title}',
  '#{@gt_run}',
];
export const PANE_FORMAT = PANE_FIELDS.join('\t');

export function parsePaneLine(line: string): AgentPane | undefined {
  const [id, tag, session, window, dead, pid, placeholder, title, ...run] = line.split('\t');
  if (!id?.startsWith('%') || session === undefined || window === undefined) return undefined;
  const number = Number(pid);
  return {
    id,
    tag: tag ?? '',
    session,
    window,
    dead: dead === '1',
    ...(pid && Number.isInteger(number) ? { pid: number } : {}),
    placeholder: (placeholder ?? '') !== '',
    title: title ?? '',
    run: run.join('\t'),
  };
}

export class TmuxBackend implements SessionBackend {
  readonly kind = 'tmux' as const;

  /** `launcher`: argv that runs gt (node + script), for agents that run under a session host. */
  constructor(
    readonly socket: string,
    private readonly confFile: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly launcher: string[] = [],
  ) {}

  private async tmux(args: string[], env: NodeJS.ProcessEnv = this.env): Promise<{ code: number; stdout: string; stderr: string }> {
    // Any client may start the town's server, which runs every agent: it must carry no agent's identity (agentHostEnv).
    return execCommand('tmux', ['-u', '-L', this.socket, '-f', this.confFile, ...args], { env: agentHostEnv(env) });
  }

  private async check(args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
    const result = await this.tmux(args, env);
    if (result.code !== 0) throw new GtError('external', `tmux ${args[0] ?? ''} failed: ${result.stderr.trim() || result.stdout.trim()}`);
    return result.stdout;
  }

  /**
   * The agent's own pane (issue 17 §4): the pane tagged with its session name
   * (`@gt_session`), wherever it sits now — its own window, or the swarm view.
   * Never "the session's active pane": Claude Code's teammates split the
   * agent's window, and keys sent to a session or window target go to
   * whichever pane has focus. A session started before panes were tagged:
   * its first untagged pane. One tmux call for every pane of the server.
   */
  async agentPane(name: string, options: { fresh?: boolean } = {}): Promise<AgentPane | undefined> {
    let legacy: AgentPane | undefined;
    for (const pane of await this.panes(options.fresh ?? true)) {
      if (pane.tag === name) return pane;
      if (!legacy && pane.tag === '' && !pane.placeholder && pane.session === name) legacy = pane;
    }
    return legacy;
  }

  /**
   * Every pane of the server. Observations (probe, isAlive) share one `list-panes -a` for a moment:
   * the witness reads every agent each daemon pass, and one tmux client per agent was most of an idle
   * pass's CPU at 50 agents. Whatever acts on a pane asks afresh; starting or stopping drops the snapshot.
   */
  private async panes(fresh: boolean): Promise<AgentPane[]> {
    if (fresh || !this.snapshot || Date.now() - this.snapshot.at >= PANE_SNAPSHOT_MS) {
      const at = Date.now();
      const list = this.tmux(['list-panes', '-a', '-F', PANE_FORMAT]).then((result) =>
        // No server (nothing started yet, or all stopped): no panes.
        result.code === 0 ? result.stdout.split('\n').flatMap((line) => parsePaneLine(line) ?? []) : [],
      );
      this.snapshot = { at, list };
    }
    return this.snapshot.list;
  }

  private snapshot: { at: number; list: Promise<AgentPane[]> } | undefined;

  private async paneOf(name: string): Promise<string> {
    const pane = await this.agentPane(name);
    if (!pane) throw new GtError('not_found', `no tmux pane for session ${name}`, { hint: 'see gt agents; start it again with gt sling or gt crew start' });
    return pane.id;
  }

  async start(spec: SessionSpec): Promise<{ pane: string }> {
    const old = await this.agentPane(spec.name);
    if (old && !old.dead) throw new GtError('conflict', `tmux session ${spec.name} is already running`, { hint: `stop it first, or attach with gt attach` });
    // A dead pane left by remain-on-exit (in its session or the swarm view): replace it, keep nothing running twice.
    if (old) await this.tmux(['kill-pane', '-t', old.id]);
    await this.tmux(['kill-session', '-t', `=${spec.name}`]);
    // The command waits (up to 5 s) for a go file, so piping the pane to the run's log
    // starts before its first byte of output; then it execs, keeping the pane's TTY.
    const go = `${spec.runDir}/.pane-ready`;
    mkdirSync(spec.runDir, { recursive: true });
    // An agent whose hooks gt serves over HTTP runs under a session host that stays in the pane.
    let argv = spec.argv;
    if (spec.hookServer) {
      // It holds the agent's environment: the owner's alone (issue 12, finding 5).
      writeFileAtomic(join(spec.runDir, 'session.json'), [JSON.stringify(spec, null, 2)], 0o600, { durable: false });
      argv = [...this.launcher, 'session-host', spec.runDir, '--tty'];
    }
    // The environment never goes on a command line (issue 12, finding 5): `-e K=V` put every API key in
    // the tmux server's argv, which any local user reads with ps. The pane's shell reads it from a file
    // only its owner reads, and removes it.
    const envFile = `${spec.runDir}/.pane-env`;
    writeFileAtomic(envFile, [paneEnv(spec.env)], 0o600);
    const gate = [
      'sh',
      '-c',
      'i=0; while [ ! -e "$0" ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i+1)); done; . "$1"; rm -f "$1"; shift; exec "$@"',
      go,
      envFile,
      ...argv,
    ];
    // tmux gives a new session the PATH of the client that creates it, whatever -e says.
    const client = spec.env.PATH ? { ...this.env, PATH: spec.env.PATH } : this.env;
    const pane = `=${spec.name}:`;
    // One tmux client for the whole set-up (each is a process); the pane's output
    // also goes to the run's log, which outlives the session. The pane's own options
    // (-p) name its session and run: they travel with the pane into the swarm view.
    const created = await this.check(
      [
        'new-session',
        '-d',
        '-P',
        '-F',
        '#{pane_id}',
        '-s',
        spec.name,
        '-c',
        tmuxWord(spec.cwd),
        '-x',
        '200',
        '-y',
        '50',
        '--',
        ...gate.map(tmuxWord),
        ';',
        'set-option',
        '-t',
        pane,
        'remain-on-exit',
        'on',
        ';',
        'select-pane',
        '-t',
        pane,
        '-T',
        spec.name,
        ';',
        'set-option',
        '-p',
        '-t',
        pane,
        '@gt_session',
        spec.name,
        ';',
        // Where the session host records its agent's pid: probe() reads it back.
        'set-option',
        '-p',
        '-t',
        pane,
        '@gt_run',
        tmuxWord(spec.runDir),
        ';',
        'pipe-pane',
        '-t',
        pane,
        '-o',
        `cat >> ${shellQuote(`${spec.runDir}/agent.log`)}`,
      ],
      client,
    );
    writeFileSync(go, '');
    this.snapshot = undefined;
    return { pane: created.trim().split('\n')[0] ?? '' };
  }

  async isAlive(name: string): Promise<boolean> {
    const pane = await this.agentPane(name, { fresh: false });
    return pane !== undefined && !pane.dead;
  }

  async probe(name: string): Promise<SessionProbe> {
    const pane = await this.agentPane(name, { fresh: false });
    if (!pane) return { session: false, process: false };
    const session = !pane.dead;
    // Under a session host (Claude Code) the pane runs the host and the agent is its child; else the pane runs the agent.
    const agentPid = pane.run ? readPid(join(pane.run, 'agent.pid')) : undefined;
    if (agentPid !== undefined) return { session, process: processAlive(agentPid) };
    return { session, process: session && pane.pid !== undefined && processAlive(pane.pid) };
  }

  async send(name: string, text: string): Promise<void> {
    const pane = await this.paneOf(name);
    // Literal text first, then Enter as its own key: TUIs treat a pasted newline as text.
    await this.check(['send-keys', '-t', pane, '-l', tmuxWord(text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').replace(/\t/g, ' '))]);
    await new Promise((r) => setTimeout(r, 150));
    await this.check(['send-keys', '-t', pane, 'Enter']);
  }

  async capture(name: string, lines: number): Promise<string> {
    return this.check(['capture-pane', '-p', '-J', '-t', await this.paneOf(name), '-S', `-${Math.max(1, lines)}`]);
  }

  async stop(name: string): Promise<void> {
    const pane = await this.agentPane(name);
    // The pane's process leads its own process group: stop the agent and everything it started.
    if (pane && !pane.dead && pane.pid !== undefined) await killGroup(pane.pid);
    // A session host that died alone leaves its agent running (a zombie): it goes too.
    const agentPid = pane?.run ? readPid(join(pane.run, 'agent.pid')) : undefined;
    if (agentPid !== undefined && processAlive(agentPid)) await killGroup(agentPid);
    // Its pane goes wherever it is (the swarm view too), then its session.
    if (pane) await this.tmux(['kill-pane', '-t', pane.id]);
    await this.tmux(['kill-session', '-t', `=${name}`]);
    this.snapshot = undefined;
  }

  /** Agent sessions; the swarm view's own session is none. */
  async list(): Promise<string[]> {
    const result = await this.tmux(['list-sessions', '-F', '#{session_name}\t#{@gt_swarm}']);
    if (result.code !== 0) return [];
    return result.stdout
      .split('\n')
      .map((line) => line.split('\t'))
      .filter(([name, swarm]) => name !== undefined && name !== '' && !swarm)
      .map(([name]) => name as string);
  }

  /** With its pane (`%N`): the session that holds the pane now (the swarm view, say), that pane selected. */
  attachCommand(name: string, pane?: string): string[] {
    return ['tmux', '-u', '-L', this.socket, '-f', this.confFile, 'attach-session', '-t', pane ?? `=${name}`];
  }

  /** Stops the town's whole tmux server. */
  async stopAll(): Promise<void> {
    this.snapshot = undefined;
    await this.tmux(['kill-server']);
  }
}

/** The socket file of a tmux server by name: tmux(1) keeps them in $TMUX_TMPDIR (else /tmp)/tmux-<uid>/<name>. */
export function socketPath(socket: string, env: NodeJS.ProcessEnv): string {
  return join(env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, socket);
}

/** Whether this process runs inside a pane of that server ($TMUX is `<socket path>,<pid>,<session>`). */
export function insideServer(socket: string, env: NodeJS.ProcessEnv): boolean {
  const path = (env.TMUX ?? '').split(',')[0];
  if (!path) return false;
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  return real(path) === real(socketPath(socket, env));
}

/** The town's tmux server as `gt doctor` sees it: tmux installed, its socket file, and whether a server answers there. */
export async function tmuxServerProbe(
  socket: string,
  env: NodeJS.ProcessEnv,
): Promise<{ installed: boolean; version?: string; socketPath: string; socketExists: boolean; running: boolean }> {
  const path = socketPath(socket, env);
  const socketExists = existsSync(path);
  let version: string | undefined;
  try {
    const result = await execCommand('tmux', ['-V'], { env });
    if (result.code !== 0) return { installed: false, socketPath: path, socketExists, running: false };
    version = /(\d+\.\d+[a-z]?)/.exec(result.stdout)?.[1];
  } catch {
    return { installed: false, socketPath: path, socketExists, running: false };
  }
  // list-sessions never starts a server: it fails with "no server running" or "error connecting" when none answers.
  const running = socketExists && (await execCommand('tmux', ['-L', socket, 'list-sessions'], { env })).code === 0;
  return { installed: true, ...(version ? { version } : {}), socketPath: path, socketExists, running };
}
