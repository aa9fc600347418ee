/**
 * A town (design §1, §3): its directory, config, ledger, rigs and agents, and
 * the ports through which it reaches git, sessions and files. Every town
 * service (sling, done, mail, the refinery…) works through one Town.
 */
import { GtError, notFoundError, validationError } from '../../shared/errors.js';
import { single, type Ledger } from '../beads/ledger.js';
import type { Issue } from '../beads/types.js';
import type { RigConfig, TownConfig } from './config.js';
import { agentBeadId, identityFromPath, parseIdentity, sessionName, workdirOf, type Identity, type Role } from '../agents/identity.js';
import type { BackendKind, Detacher, GitPort, SessionBackend, ShellPort, TownFiles } from './ports.js';
import { launchPlan, resolveRuntime, startupPrompt, type ResolvedRuntime } from '../agents/runtimes.js';
import { permissionTimeoutMs, policyLayers } from '../governance/permissions.js';

export const TOWN_FILE = 'town.toml';
export const RIG_FILE = 'rig.toml';

export interface TownPorts {
  files: TownFiles;
  git: GitPort;
  shell: ShellPort;
  /** A backend of the given kind; tmux throws when tmux is missing. */
  backend: (kind: BackendKind) => SessionBackend;
  tmuxAvailable: boolean;
  detacher: Detacher;
  /** Absolute path of the gt launcher agents call (`.gt/bin/gt`). */
  gtBin: string;
  /** The environment sessions start from (PATH, HOME, LANG…). */
  baseEnv: Record<string, string>;
  /** Progress for a person (stderr); never results. */
  progress: (line: string) => void;
  now: () => string;
}

/** Agent states (design §2.5). */
export type AgentState = 'starting' | 'working' | 'idle' | 'waiting-permission' | 'waiting-gate' | 'stalled' | 'dead' | 'done';

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
  /** Open agent bead = the identity exists; closed = nuked. */
  active: boolean;
}

export function agentFromIssue(issue: Issue): AgentRecord {
  const m = (issue.metadata ?? {});
  const str = (k: string) => (typeof m[k] === 'string' ? (m[k]) : undefined);
  const identity = parseIdentity(issue.title);
  const record: AgentRecord = {
    id: issue.id, address: identity.address, role: identity.role, session: str('session') ?? sessionName(identity),
    workdir: str('workdir') ?? workdirOf(identity), state: (str('state') as AgentState | undefined) ?? 'idle', active: issue.status !== 'closed',
  };
  if (identity.rig) record.rig = identity.rig;
  if (identity.name) record.name = identity.name;
  for (const key of ['runtime', 'backend', 'branch', 'run', 'last_signal', 'last_signal_at', 'started_at', 'runtime_session', 'last_error', 'last_error_at', 'permission_request'] as const) {
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
  ) {}

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
      throw notFoundError(`no rig named ${JSON.stringify(name)}`, known.length ? `rigs in this town: ${known.join(', ')}` : 'add one with gt rig add <name> <git-url-or-path>');
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
    return this.ports.files.lock(this.path('.gt', 'locks', `worktrees-${rig}.lock`));
  }

  // ---- agents ----

  async agent(identity: Identity): Promise<AgentRecord | undefined> {
    const id = agentBeadId(identity);
    const issue = await this.ledger.store.read((tx) => tx.getIssue(id));
    return issue ? agentFromIssue(issue) : undefined;
  }

  async agents(options: { rig?: string; includeInactive?: boolean } = {}): Promise<AgentRecord[]> {
    const issues = await this.ledger.list({
      types: ['agent'], includeEphemeral: true, limit: 0, sort: 'id',
      ...(options.includeInactive ? {} : { excludeStatuses: ['closed'] }),
    });
    return issues.map(agentFromIssue).filter((a) => options.rig === undefined || a.rig === options.rig);
  }

  /** Creates the identity's agent bead, or reopens and updates it. */
  async saveAgent(identity: Identity, fields: Partial<Omit<AgentRecord, 'id' | 'address' | 'role' | 'active'>>): Promise<AgentRecord> {
    const id = agentBeadId(identity);
    const existing = await this.ledger.store.read((tx) => tx.getIssue(id));
    const metadata = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    if (!existing) {
      const issue = await this.ledger.create({
        id, title: identity.address, type: 'agent', prefix: 'hq',
        metadata: { session: sessionName(identity), workdir: workdirOf(identity), state: 'idle', ...metadata },
        labels: [`role:${identity.role}`, ...(identity.rig ? [`rig:${identity.rig}`] : [])],
      });
      return agentFromIssue(issue);
    }
    return agentFromIssue(single(await this.ledger.update([id], { setMetadata: metadata, ...(existing.status === 'closed' ? { status: 'open' } : {}) })));
  }

  /** The identity of the agent running this command: GT_AGENT, else the directory it runs in. */
  identityFrom(env: Record<string, string | undefined>, cwd: string, fallback?: Identity): Identity {
    if (env.GT_AGENT) return parseIdentity(env.GT_AGENT);
    const relative = cwd === this.root ? '' : cwd.startsWith(`${this.root}/`) ? cwd.slice(this.root.length + 1) : undefined;
    const found = relative === undefined ? undefined : identityFromPath(relative);
    if (found) return found;
    if (fallback) return fallback;
    throw new GtError('usage', 'cannot tell which agent you are: GT_AGENT is not set and this directory is no agent\'s workspace', {
      hint: 'run this inside an agent session, or pass --agent <address>',
    });
  }

  // ---- sessions ----

  backendKind(requested?: string): BackendKind {
    const choice = requested ?? this.config.sessions.backend;
    if (choice === 'tmux') {
      if (!this.ports.tmuxAvailable) throw new GtError('external', 'tmux is not installed', { hint: 'install tmux, or use --backend headless' });
      return 'tmux';
    }
    if (choice === 'headless') return 'headless';
    if (choice !== 'auto') throw validationError(`unknown session backend ${JSON.stringify(choice)}`, 'use tmux, headless or auto');
    return this.ports.tmuxAvailable ? 'tmux' : 'headless';
  }

  /** The runtime an identity uses: explicit, else rig/town role_agents, rig agent, town default. */
  runtimeFor(identity: Identity, explicit?: string): ResolvedRuntime {
    const roleKey = identity.role === 'human' ? undefined : identity.role;
    const rig = identity.rig ? this.rig(identity.rig) : undefined;
    const name = explicit
      ?? (roleKey && rig ? (rig.role_agents as Record<string, string | undefined>)[roleKey] : undefined)
      ?? rig?.agent
      ?? (roleKey ? (this.config.role_agents as Record<string, string | undefined>)[roleKey] : undefined)
      ?? this.config.default_agent;
    return resolveRuntime(name, this.config);
  }

  async sessionAlive(agent: Pick<AgentRecord, 'backend' | 'session'>): Promise<boolean> {
    if (!agent.backend) return false;
    if (agent.backend === 'tmux' && !this.ports.tmuxAvailable) return false;
    return this.ports.backend(agent.backend).isAlive(agent.session);
  }

  /** The environment every session gets (design §7.1). */
  sessionEnv(identity: Identity, run: string, runtime: ResolvedRuntime): Record<string, string> {
    const author = identity.name ?? identity.role;
    const email = `${identity.address.replace(/\//g, '.')}@gt.local`;
    return {
      ...this.ports.baseEnv,
      PATH: `${this.path('.gt', 'bin')}:${this.ports.baseEnv.PATH ?? '/usr/bin:/bin'}`,
      GT_ROOT: this.root,
      GT_ROLE: identity.role,
      ...(identity.rig ? { GT_RIG: identity.rig } : {}),
      GT_AGENT: identity.address,
      GT_RUN: run,
      GT_RUNTIME: runtime.name,
      BD_ACTOR: identity.address,
      GIT_AUTHOR_NAME: author,
      GIT_AUTHOR_EMAIL: email,
      GIT_COMMITTER_NAME: author,
      GIT_COMMITTER_EMAIL: email,
      ...runtime.env,
    };
  }

  /**
   * Starts the identity's session in its workdir with the runtime's command
   * line, gt-owned settings and env; records it on the agent bead.
   */
  async startSession(identity: Identity, options: { runtime: ResolvedRuntime; backend: BackendKind; hooked: boolean; branch?: string; resume?: string }): Promise<AgentRecord> {
    const { runtime, backend } = options;
    const session = sessionName(identity);
    const now = this.ports.now();
    const run = `${now.replace(/[-:]/g, '').slice(0, 15)}-${session}-${Math.random().toString(36).slice(2, 6)}`;
    const runDir = this.path('.gt', 'runs', run);
    const plan = launchPlan(runtime, {
      headless: backend === 'headless', prompt: startupPrompt(identity.address, options.hooked, runtime),
      settingsDir: this.path('.gt', 'settings', session), gtBin: this.ports.gtBin,
      permissionTimeoutSec: Math.ceil(permissionTimeoutMs(policyLayers(this, identity)) / 1000),
      ...(options.resume && runtime.hooks === 'claude' ? { resume: options.resume } : {}),
    });
    if (runtime.hooks === 'claude' && backend === 'tmux') this.trustClaudeWorkdir(this.path(workdirOf(identity)));
    for (const [file, content] of Object.entries(plan.files)) this.ports.files.write(file, content);
    await this.installWorktreeHooks(this.path(workdirOf(identity)), plan.worktreeFiles);
    this.ports.files.mkdirp(runDir);
    const bead = (await this.ledger.list({ statuses: ['hooked', 'in_progress'], assignee: identity.address, limit: 1, sort: 'created' }))[0]?.id;
    this.ports.files.write(`${runDir}/run.json`, `${JSON.stringify({
      run, agent: identity.address, ...(identity.rig ? { rig: identity.rig } : {}), ...(bead ? { bead } : {}), runtime: runtime.name, backend,
      argv: plan.argv, started_at: now, ...(options.resume ? { resumed: options.resume } : {}),
    }, null, 2)}\n`);
    const env = { ...this.sessionEnv(identity, run, runtime), ...plan.env };
    const record = await this.saveAgent(identity, {
      runtime: runtime.name, backend, session, run, state: 'starting', started_at: now, ...(options.branch ? { branch: options.branch } : {}),
    });
    await this.ports.backend(backend).start({
      name: session, cwd: this.path(record.workdir), argv: plan.argv, env, runDir,
      ...(plan.stdinLines ? { stdinLines: plan.stdinLines } : {}), ...(plan.hookServer ? { hookServer: plan.hookServer } : {}),
    });
    if (plan.typeAfterReady !== undefined && backend === 'tmux') {
      // Runtimes that take no prompt argument get it typed once they are up.
      this.detach(['nudge', identity.address, plan.typeAfterReady, '--after-ms', String(runtime.readyDelayMs), '--wait', '5', '--raw']);
    }
    return record;
  }

  /**
   * Claude Code asks whether to trust a folder it has not seen, and an agent
   * stuck at that dialog does nothing. gt records the answer for a new
   * worktree in Claude Code's own config (`$CLAUDE_CONFIG_DIR/.claude.json`,
   * else `~/.claude.json`), changing nothing else in it.
   */
  private trustClaudeWorkdir(dir: string): void {
    const env = this.ports.baseEnv;
    const file = env.CLAUDE_CONFIG_DIR ? `${env.CLAUDE_CONFIG_DIR}/.claude.json` : env.HOME ? `${env.HOME}/.claude.json` : undefined;
    if (!file) return;
    let config: { projects?: Record<string, Record<string, unknown>> } & Record<string, unknown> = {};
    const text = this.ports.files.read(file);
    if (text !== undefined) {
      try {
        config = JSON.parse(text) as typeof config;
      } catch {
        this.ports.progress(`warning: ${file} is not valid JSON; gt leaves it alone (Claude Code may ask to trust ${dir})`);
        return;
      }
    }
    if (config.projects?.[dir]?.hasTrustDialogAccepted === true) return;
    config.projects = { ...config.projects, [dir]: { ...config.projects?.[dir], hasTrustDialogAccepted: true } };
    this.ports.files.write(file, `${JSON.stringify(config, null, 2)}\n`);
  }

  /** Writes hook files a runtime reads only from the project; never over the repository's own. */
  private async installWorktreeHooks(dir: string, files: Record<string, string>): Promise<void> {
    const entries = Object.entries(files);
    if (entries.length === 0) return;
    const common = await this.ports.git.probe(dir, ['rev-parse', '--path-format=absolute', '--git-common-dir']);
    const exclude = common.code === 0 ? `${common.stdout.trim()}/info/exclude` : undefined;
    const excluded = exclude ? (this.ports.files.read(exclude) ?? '') : '';
    const add: string[] = [];
    for (const [relative, content] of entries) {
      const path = `${dir}/${relative}`;
      const current = this.ports.files.read(path);
      if (current !== undefined && current !== content) {
        this.ports.progress(`warning: ${path} belongs to the repository; gt's hooks are not installed there (the agent is told to run gt prime instead)`);
        continue;
      }
      this.ports.files.write(path, content);
      if (!excluded.split('\n').includes(`/${relative}`)) add.push(`/${relative}`);
    }
    if (exclude && add.length) this.ports.files.write(exclude, `${excluded}${excluded === '' || excluded.endsWith('\n') ? '' : '\n'}# gt-owned hook files\n${add.join('\n')}\n`);
  }

  /** Runs `gt <args>` detached, for work that must outlive this command (ending its own session). */
  detach(args: string[]): void {
    this.ports.detacher.gt(args, { ...this.ports.baseEnv, GT_ROOT: this.root });
  }

  async stopSession(agent: AgentRecord, state: AgentState = 'idle', options: { graceMs?: number } = {}): Promise<void> {
    if (agent.backend && (agent.backend !== 'tmux' || this.ports.tmuxAvailable)) await this.ports.backend(agent.backend).stop(agent.session, options);
    // Stopped on purpose: the witness restarts only sessions that died on their own.
    await this.ledger.update([agent.id], { setMetadata: { state, stopped_at: this.ports.now() } });
  }
}
