/**
 * A town (design §1, §3): its directory, config, ledger, rigs and agents, and
 * the ports through which it reaches git, sessions and files. Every town
 * service (sling, done, mail, the refinery…) works through one Town.
 */
import { lockFile } from '../../shared/paths.js';
import { GtError, notFoundError, validationError } from '../../shared/errors.js';
import { partialIdNote, single, type Ledger } from '../beads/ledger.js';
import type { Issue } from '../beads/types.js';
import type { RigConfig, TownConfig } from './config.js';
import { agentBeadId, identityFromPath, parseIdentity, sessionName, workdirOf, type Identity, type Role } from '../agents/identity.js';
import {
  SESSION_BACKENDS,
  type BackendKind,
  type DetachedControl,
  type GitPort,
  type SessionBackend,
  type SessionProbe,
  type ShellPort,
  type TownFiles,
} from './ports.js';
import { resolveRuntime, type ResolvedRuntime } from '../agents/runtimes.js';
import type { TownEventInput } from '../events/town-events.js';
import { backendOfMode, resolveTeamMode, TEAM_MODE_ENV, type TeamMode } from '../agents/team-mode.js';
import { PROBLEM_STATES, remoteAgentState, supervisionRecord, type AgentState, type StateReading, type SupervisionRecord } from '../agents/agent-state.js';
import { parseDuration } from '../../shared/duration.js';

export { RIG_FILE, TOWN_FILE } from '../../shared/paths.js';
import { RIG_FILE, TOWN_FILE } from '../../shared/paths.js';

export interface TownPorts {
  files: TownFiles;
  git: GitPort;
  shell: ShellPort;
  /** A backend of the given kind; tmux throws when tmux is missing. */
  backend: (kind: BackendKind) => SessionBackend;
  tmuxAvailable: boolean;
  /** Inside iTerm2 with its `it2` CLI on PATH (team mode auto); asked only when a mode is resolved. */
  iterm2Available: () => boolean;
  detached: DetachedControl;
  /** Absolute path of the gt launcher agents call (`.gt/bin/gt`). */
  gtBin: string;
  /** The environment sessions start from (PATH, HOME, LANG…). */
  baseEnv: Record<string, string>;
  /** Progress for a person (stderr); never results. */
  progress: (line: string) => void;
  now: () => string;
}

/** Agent states (design §2.5): see agents/agent-state.ts. */
export type { AgentState } from '../agents/agent-state.js';

/** What the agent bead of an identity records (typed metadata, never parsed text). */
export interface AgentRecord {
  id: string;
  address: string;
  role: Role;
  rig?: string;
  name?: string;
  runtime?: string;
  backend?: BackendKind;
  session: string;
  /** Relative to the town root. */
  workdir: string;
  state: AgentState;
  branch?: string;
  run?: string;
  last_signal?: string;
  last_signal_at?: string;
  started_at?: string;
  /** The runtime's own session id (Claude Code, Codex): what a restart resumes. */
  runtime_session?: string;
  /** The last model error that ended a turn (Claude Code's StopFailure), and when. */
  last_error?: string;
  last_error_at?: string;
  /** The permission request the agent waits on (state waiting-permission). */
  permission_request?: string;
  /** When its session was stopped on purpose (the witness leaves such a session stopped). */
  stopped_at?: string;
  /** Its colour (agent-colour.ts): assigned once, on its first session, and kept. */
  colour?: string;
  /** Its own tmux pane (`%N`), recorded when its session starts: every keystroke and capture goes there (issue 17 §4). */
  pane?: string;
  /** It leads a Claude Code agent team (seen from TeammateIdle/TaskCompleted), and when that was last seen. */
  team_lead_at?: string;
  /** The Claude Code team it leads (`team_name` of those events). */
  team?: string;
  /** The team mode captured when its session started (sessions.mode resolved: tmux, iterm2 or in-process). */
  mode?: string;
  /** The host (machine) its session runs on, in a town across hosts; absent = this town's only machine. */
  host?: string;
  /** What the witness did about the bead on its hook. */
  supervision: SupervisionRecord;
  /** Open agent bead = the identity exists; closed = nuked. */
  active: boolean;
}

export function agentFromIssue(issue: Issue): AgentRecord {
  const m = issue.metadata ?? {};
  const str = (k: string) => (typeof m[k] === 'string' ? m[k] : undefined);
  const identity = parseIdentity(issue.title);
  const record: AgentRecord = {
    id: issue.id,
    address: identity.address,
    role: identity.role,
    session: str('session') ?? sessionName(identity),
    workdir: str('workdir') ?? workdirOf(identity),
    state: (str('state') as AgentState | undefined) ?? 'idle',
    supervision: supervisionRecord(m.supervision),
    active: issue.status !== 'closed',
  };
  if (identity.rig) record.rig = identity.rig;
  if (identity.name) record.name = identity.name;
  for (const key of [
    'runtime',
    'backend',
    'branch',
    'run',
    'last_signal',
    'last_signal_at',
    'started_at',
    'runtime_session',
    'last_error',
    'last_error_at',
    'permission_request',
    'stopped_at',
    'colour',
    'pane',
    'team_lead_at',
    'team',
    'mode',
    'host',
  ] as const) {
    const value = str(key);
    if (value !== undefined) (record as unknown as Record<string, string>)[key] = value;
  }
  return record;
}

/**
 * The config parsers (zod schemas). Injected, not imported: the commands that
 * agent hooks run on every turn (prime, signal, hook) never need them, and
 * loading the schemas would cost them a good part of their start-up time.
 */
export interface ConfigParsers {
  town: (text: string, file: string) => TownConfig;
  rig: (text: string, file: string) => RigConfig;
}

export class Town {
  private rigCache = new Map<string, RigConfig>();
  private townConfig: TownConfig | undefined;

  constructor(
    readonly root: string,
    readonly ledger: Ledger,
    readonly ports: TownPorts,
    private parsers?: ConfigParsers,
  ) {
    ledger.onPartialId((input, id) => ports.progress(partialIdNote(input, id)));
  }

  /** Gives a town opened without its config the parsers; the config then loads on first use. */
  useParsers(parsers: ConfigParsers): void {
    this.parsers = parsers;
  }

  private parse(): ConfigParsers {
    if (!this.parsers) throw new GtError('internal', 'this command was started without the town config');
    return this.parsers;
  }

  /** town.toml, validated on first use; a mistake names the file and the key. */
  get config(): TownConfig {
    if (!this.townConfig) {
      const path = `${this.root}/${TOWN_FILE}`;
      const text = this.ports.files.read(path);
      if (text === undefined) throw notFoundError(`no town at ${this.root} (${TOWN_FILE} is missing)`, 'create one with gt install, or set GT_ROOT');
      this.townConfig = this.parse().town(text, path);
    }
    return this.townConfig;
  }

  /** Drops the cached town.toml and rig.toml, so a long-lived process (a session host) sees edits. */
  reloadConfig(): void {
    this.townConfig = undefined;
    this.rigCache.clear();
  }

  path(...parts: string[]): string {
    return [this.root, ...parts].join('/');
  }

  // ---- rigs ----

  rigNames(): string[] {
    return this.ports.files.list(this.root).filter((name) => this.ports.files.exists(this.path(name, RIG_FILE)));
  }

  rig(name: string): RigConfig {
    const cached = this.rigCache.get(name);
    if (cached) return cached;
    const file = this.path(name, RIG_FILE);
    const text = this.ports.files.read(file);
    if (text === undefined) {
      const known = this.rigNames();
      throw notFoundError(
        `no rig named ${JSON.stringify(name)}`,
        known.length ? `rigs in this town: ${known.join(', ')}` : 'add one with gt rig add <name> <git-url-or-path>',
      );
    }
    const config = this.parse().rig(text, file);
    this.rigCache.set(name, config);
    return config;
  }

  repoDir(rig: string): string {
    return this.path(rig, '.repo.git');
  }

  /**
   * The lock every process takes to add or remove a rig's worktrees or hand out
   * its polecats: `git worktree add` is not safe against a concurrent one.
   */
  lockWorktrees(rig: string): Promise<() => void> {
    return this.ports.files.lock(this.path(lockFile(`worktrees-${rig}`)));
  }

  // ---- agents ----

  async agent(identity: Identity): Promise<AgentRecord | undefined> {
    const issue = await this.ledger.find(agentBeadId(identity));
    return issue ? agentFromIssue(issue) : undefined;
  }

  async agents(options: { rig?: string; includeInactive?: boolean } = {}): Promise<AgentRecord[]> {
    const issues = await this.ledger.list({
      types: ['agent'],
      includeEphemeral: true,
      limit: 0,
      sort: 'id',
      ...(options.includeInactive ? {} : { excludeStatuses: ['closed'] }),
      // One rig's agents: only their rows are read and parsed (the exact rig is checked below).
      ...(options.rig !== undefined ? { titleContains: `${options.rig}/` } : {}),
    });
    return issues.map(agentFromIssue).filter((a) => options.rig === undefined || a.rig === options.rig);
  }

  /** Creates the identity's agent bead, or reopens and updates it. */
  async saveAgent(
    identity: Identity,
    fields: Partial<Omit<AgentRecord, 'id' | 'address' | 'role' | 'active'>>,
    options: { event?: TownEventInput } = {},
  ): Promise<AgentRecord> {
    const id = agentBeadId(identity);
    const existing = await this.ledger.find(id);
    const events = options.event ? [options.event] : [];
    const from = existing ? agentFromIssue(existing).state : undefined;
    // A change of state is a transition like any other (agent-state.ts): its event goes with it.
    if (from !== undefined && fields.state !== undefined && fields.state !== from)
      events.unshift({ kind: 'agent.state', agent: identity.address, ...(identity.rig ? { rig: identity.rig } : {}), payload: { state: fields.state, from } });
    const townEvent = events.length ? { townEvent: events } : {};
    const metadata = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    if (!existing) {
      const issue = await this.ledger.create({
        id,
        title: identity.address,
        type: 'agent',
        prefix: 'hq',
        metadata: { session: sessionName(identity), workdir: workdirOf(identity), state: 'idle', ...metadata },
        labels: [`role:${identity.role}`, ...(identity.rig ? [`rig:${identity.rig}`] : [])],
        ...(options.event ? { townEvent: options.event } : {}),
      });
      return agentFromIssue(issue);
    }
    return agentFromIssue(
      single(await this.ledger.update([id], { setMetadata: metadata, ...(existing.status === 'closed' ? { status: 'open' } : {}), ...townEvent })),
    );
  }

  /**
   * Records an agent's volatile state (its state, last signal, wake-up
   * counters): no audit event, so two updates a turn never grow the ledger.
   * Every change of state is an `agent.state` event (from, to, why), coalesced
   * per agent; entering a problem state (stalled, gupp-violation, zombie,
   * dead) is also an `agent.problem` event, which is kept.
   */
  async saveAgentState(
    agent: Pick<AgentRecord, 'id' | 'address' | 'rig' | 'state'>,
    fields: Record<string, unknown>,
    event?: TownEventInput | TownEventInput[],
    transition: { actor?: string; payload?: Record<string, unknown> } = {},
  ): Promise<void> {
    const state = typeof fields.state === 'string' ? fields.state : undefined;
    const events = event === undefined ? [] : Array.isArray(event) ? [...event] : [event];
    if (state !== undefined && state !== agent.state) {
      const subject = { agent: agent.address, ...(agent.rig ? { rig: agent.rig } : {}), ...(transition.actor ? { actor: transition.actor } : {}) };
      const reason = typeof fields.state_reason === 'string' ? { reason: fields.state_reason } : {};
      const payload = { state, from: agent.state, ...reason, ...transition.payload };
      events.unshift({ kind: 'agent.state', ...subject, payload });
      if (PROBLEM_STATES.has(state as AgentState)) events.splice(1, 0, { kind: 'agent.problem', ...subject, payload });
    }
    single(await this.ledger.update([agent.id], { setMetadata: fields, volatile: true, ...(events.length ? { townEvent: events } : {}) }));
  }

  /** The identity of the agent running this command: GT_AGENT, else the directory it runs in. */
  identityFrom(env: Record<string, string | undefined>, cwd: string, fallback?: Identity): Identity {
    if (env.GT_AGENT) return parseIdentity(env.GT_AGENT);
    const relative = cwd === this.root ? '' : cwd.startsWith(`${this.root}/`) ? cwd.slice(this.root.length + 1) : undefined;
    const found = relative === undefined ? undefined : identityFromPath(relative);
    if (found) return found;
    if (fallback) return fallback;
    throw new GtError('usage', "cannot tell which agent you are: GT_AGENT is not set and this directory is no agent's workspace", {
      hint: 'run this inside an agent session, or pass --agent <address>',
    });
  }

  // ---- hosts (a town across machines: README "Scaling out") ----

  private heartbeats: { at: number; byHost: Map<string, string | undefined> } | undefined;

  /** This machine's host in the shared ledger (town.toml host.name); undefined in a one-machine town or without the config. */
  get hostName(): string | undefined {
    if (!this.parsers && !this.townConfig) return undefined;
    return this.config.host.name;
  }

  /** The agent's session runs on another machine: only its own host can probe it. */
  isRemote(agent: Pick<AgentRecord, 'host'>): boolean {
    const here = this.hostName;
    return agent.host !== undefined && here !== undefined && agent.host !== here;
  }

  /** A remote agent's state: what its host recorded, or host-lost once that host missed its heartbeat window. */
  async remoteReading(agent: Pick<AgentRecord, 'host' | 'state'>): Promise<StateReading> {
    const host = agent.host as string;
    const now = Date.now();
    if (!this.heartbeats || now - this.heartbeats.at > 1000) {
      const hosts = await this.ledger.list({ types: ['host'], includeEphemeral: true, limit: 0 });
      this.heartbeats = {
        at: now,
        byHost: new Map(
          hosts.map((h) => [h.title, h.status === 'closed' || typeof h.metadata?.heartbeat_at !== 'string' ? undefined : h.metadata.heartbeat_at]),
        ),
      };
    }
    const beat = this.heartbeats.byHost.get(host);
    const heartbeatAt = beat === undefined ? undefined : Date.parse(beat);
    return remoteAgentState({ recorded: agent.state, host, heartbeatAt, now }, parseDuration(this.config.host.lost_after));
  }

  /** A remote agent counts as running while its host is alive and its record says a session runs. */
  private async remoteAlive(agent: Pick<AgentRecord, 'host' | 'state' | 'backend' | 'started_at' | 'stopped_at'>): Promise<boolean> {
    if (!agent.backend) return false;
    const reading = await this.remoteReading(agent);
    if (reading.state === 'host-lost' || reading.state === 'dead' || reading.state === 'done') return false;
    return !(agent.stopped_at !== undefined && agent.stopped_at >= (agent.started_at ?? ''));
  }

  // ---- sessions ----

  /**
   * The team mode (team-mode.ts): `--mode`, else the one captured when this
   * process (the daemon, a sling) started, else GT_SESSIONS_MODE (gt up --mode),
   * else town.toml `sessions.mode`; auto resolved against this terminal.
   */
  teamMode(requested?: string): TeamMode {
    if (requested === undefined && this.capturedMode) return this.capturedMode;
    const setting = requested ?? this.ports.baseEnv[TEAM_MODE_ENV] ?? this.config.sessions.mode;
    return resolveTeamMode(setting, { tmux: this.ports.tmuxAvailable, iterm2: this.ports.iterm2Available });
  }

  /** Resolves the team mode once and keeps it for this process's lifetime (the seed's snapshot). */
  captureTeamMode(requested?: string): TeamMode {
    this.capturedMode = this.teamMode(requested);
    return this.capturedMode;
  }

  private capturedMode: TeamMode | undefined;

  backendKind(requested?: string): BackendKind {
    const choice = requested ?? this.config.sessions.backend;
    if (choice === 'tmux') {
      if (!this.ports.tmuxAvailable) throw new GtError('external', 'tmux is not installed', { hint: 'install tmux, or use --backend headless' });
      return 'tmux';
    }
    if ((SESSION_BACKENDS as readonly string[]).includes(choice)) return choice as BackendKind;
    if (choice !== 'auto') throw validationError(`unknown session backend ${JSON.stringify(choice)}`, `use ${SESSION_BACKENDS.join(', ')} or auto`);
    // sessions.backend = auto: the team mode decides (in-process runs agents headless).
    return backendOfMode(this.teamMode(), this.ports.tmuxAvailable);
  }

  /**
   * Whether a session on `backend` runs under the town host (one process for
   * every headless agent) rather than a host of its own: in team mode
   * in-process (sessions.mode, or auto where neither iTerm2 nor tmux is there).
   */
  usesTownHost(backend: BackendKind): boolean {
    if (backend !== 'headless') return false;
    try {
      return this.teamMode() === 'in-process';
    } catch {
      return false; // a forced mode whose tool is missing (iterm2 without it2): headless sessions keep a host of their own
    }
  }

  /** The runtime an identity uses: explicit, else rig/town role_agents, rig agent, town default. */
  runtimeFor(identity: Identity, explicit?: string): ResolvedRuntime {
    const roleKey = identity.role === 'human' ? undefined : identity.role;
    const rig = identity.rig ? this.rig(identity.rig) : undefined;
    const name =
      explicit ??
      (roleKey && rig ? (rig.role_agents as Record<string, string | undefined>)[roleKey] : undefined) ??
      rig?.agent ??
      (roleKey ? (this.config.role_agents as Record<string, string | undefined>)[roleKey] : undefined) ??
      this.config.default_agent;
    return resolveRuntime(name, this.config);
  }

  /** The agent's session and its process, seen apart (both false when it never had a session). */
  async sessionProbe(agent: Pick<AgentRecord, 'backend' | 'session'> & Partial<AgentRecord>): Promise<SessionProbe> {
    if (agent.host !== undefined && agent.state !== undefined && this.isRemote(agent)) {
      const alive = await this.remoteAlive(agent as AgentRecord);
      return { session: alive, process: alive };
    }
    if (!agent.backend || (agent.backend === 'tmux' && !this.ports.tmuxAvailable)) return { session: false, process: false };
    return this.ports.backend(agent.backend).probe(agent.session);
  }

  async sessionAlive(agent: Pick<AgentRecord, 'backend' | 'session'> & Partial<AgentRecord>): Promise<boolean> {
    if (!agent.backend) return false;
    if (agent.host !== undefined && agent.state !== undefined && this.isRemote(agent)) return this.remoteAlive(agent as AgentRecord);
    if (agent.backend === 'tmux' && !this.ports.tmuxAvailable) return false;
    return this.ports.backend(agent.backend).isAlive(agent.session);
  }
}
