/**
 * Agent sessions (design §4, §7.1): starting one with the runtime's command
 * line, gt-owned settings and environment; stopping it on purpose; restarting
 * it on the same hook. The session backend (tmux, headless) is a port.
 */
import { BIN_DIR, runDir, settingsDir } from '../../shared/paths.js';
import { GtError, notFoundError } from '../../shared/errors.js';
import { isSecretName } from '../../shared/secrets.js';
import { isLeader, permissionTimeoutMs, policyLayers } from '../governance/permissions.js';
import type { BackendKind } from '../town/ports.js';
import type { AgentRecord, AgentState, Town } from '../town/town.js';
import { hookedWork } from '../work/hooked.js';
import { checkpoint } from '../town/worktree.js';
import { gitIdentityEnv, parseIdentity, sessionName, workdirOf, type Identity } from './identity.js';
import { codexTrustedProject, launchPlan, startupPrompt, type ResolvedRuntime } from './runtimes.js';
import { claudeConfigFile } from './claude-config.js';
import { agentColour } from './agent-colour.js';

/**
 * The caller's environment less its secrets: a session gets the secret-named
 * variables (…_API_KEY, …_TOKEN, …_PASSWORD) its runtime needs to reach its
 * model and those town.toml `sessions.pass_env` names, and no others — an
 * agent has no use for the person's GITHUB_TOKEN or cloud keys (design §9).
 */
export function agentBaseEnv(baseEnv: Record<string, string>, runtime: Pick<ResolvedRuntime, 'secretEnv'>, passEnv: readonly string[]): Record<string, string> {
  const allowed = new Set([...(runtime.secretEnv ?? []), ...passEnv]);
  return Object.fromEntries(Object.entries(baseEnv).filter(([key]) => !isSecretName(key) || allowed.has(key)));
}

/** The environment every session gets (design §7.1). */
export function sessionEnv(town: Town, identity: Identity, run: string, runtime: ResolvedRuntime): Record<string, string> {
  return {
    ...agentBaseEnv(town.ports.baseEnv, runtime, town.config.sessions.pass_env),
    PATH: `${town.path(BIN_DIR)}:${town.ports.baseEnv.PATH ?? '/usr/bin:/bin'}`,
    GT_ROOT: town.root,
    GT_ROLE: identity.role,
    ...(identity.rig ? { GT_RIG: identity.rig } : {}),
    GT_AGENT: identity.address,
    GT_RUN: run,
    GT_RUNTIME: runtime.name,
    BD_ACTOR: identity.address,
    ...gitIdentityEnv(identity),
    ...runtime.env,
  };
}

export interface StartOptions {
  runtime: ResolvedRuntime;
  backend: BackendKind;
  hooked: boolean;
  branch?: string;
  resume?: string;
  /** Awaited right before the session is recorded and started: the scheduler's spacing and last back-off check; throwing starts nothing. */
  beforeStart?: () => Promise<void>;
  /** The first prompt instead of the usual start-up line (a heartbeat that starts its agent). */
  prompt?: string;
}

/**
 * Starts the identity's session in its workdir with the runtime's command
 * line, gt-owned settings and env; records it on the agent bead.
 */
/**
 * A session takes its environment (PATH, the runtime found on it) from the
 * process that starts it. The Mayor and the leaders answer permission requests,
 * so an agent that is none of them may not start one: it would run a program
 * of its choosing with a leader's identity.
 */
function refuseLeaderStartByAgent(town: Town, identity: Identity): void {
  const caller = town.ledger.actor;
  if (caller === identity.address || !(identity.role === 'mayor' || isLeader(town, identity.address))) return;
  let role: string;
  try {
    role = parseIdentity(caller).role;
  } catch {
    return;
  }
  if ((role === 'polecat' || role === 'crew') && !isLeader(town, caller))
    throw new GtError('conflict', `${caller} is an agent session and may not start ${identity.address}'s session (it answers permission requests)`, {
      hint: "a person starts it from a terminal that is no agent's session, or the daemon does",
    });
}

/**
 * Codex gets gt's broker unless the user trusted the workdir as a Codex project: the hook-trust bypass gt
 * needs for its own hook would then run that project's hooks unreviewed too (said, not silent).
 */
function brokerCodex(town: Town, workdir: string): boolean {
  const env = town.ports.baseEnv;
  const home = env.CODEX_HOME || `${env.HOME ?? ''}/.codex`;
  const trusted = codexTrustedProject(town.ports.files.read(`${home}/config.toml`), workdir);
  if (trusted === undefined) return true;
  // A session whose tool calls skip the broker is no agent gt starts (a trusted project may have been written by an agent).
  throw new GtError(
    'conflict',
    `Codex trusts ${trusted} as a project (${home}/config.toml), which covers ${workdir}: its tool calls would skip gt's permission broker`,
    {
      hint: `remove the [projects.${JSON.stringify(trusted)}] trust_level = "trusted" entry from ${home}/config.toml (or set it to "untrusted"), then start the agent again`,
    },
  );
}

export async function startSession(town: Town, identity: Identity, options: StartOptions): Promise<AgentRecord> {
  refuseLeaderStartByAgent(town, identity);
  const { runtime, backend } = options;
  const session = sessionName(identity);
  const now = town.ports.now();
  const run = `${now.replace(/[-:]/g, '').slice(0, 15)}-${session}-${Math.random().toString(36).slice(2, 6)}`;
  const dir = town.path(runDir(run));
  const plan = launchPlan(runtime, {
    headless: backend === 'headless',
    prompt: options.prompt ?? startupPrompt(identity.address, options.hooked, runtime),
    settingsDir: town.path(settingsDir(session)),
    gtBin: town.ports.gtBin,
    permissionTimeoutSec: Math.ceil(permissionTimeoutMs(policyLayers(town, identity)) / 1000),
    ...(options.resume && runtime.hooks === 'claude' ? { resume: options.resume } : {}),
    ...(runtime.hooks === 'codex' ? { brokerCodex: brokerCodex(town, town.path(workdirOf(identity))) } : {}),
  });
  if (runtime.hooks === 'claude' && backend === 'tmux') trustClaudeWorkdir(town, town.path(workdirOf(identity)));
  // Runtime settings (hook URLs, the session's wiring) are the owner's alone; written again at every start, so no fsync.
  for (const [file, content] of Object.entries(plan.files)) town.ports.files.write(file, content, 0o600, { durable: false });
  await installWorktreeHooks(town, town.path(workdirOf(identity)), plan.worktreeFiles);
  town.ports.files.mkdirp(dir);
  const bead = (await town.ledger.list({ statuses: ['hooked', 'in_progress'], assignee: identity.address, limit: 1, sort: 'created' }))[0]?.id;
  town.ports.files.write(
    `${dir}/run.json`,
    `${JSON.stringify(
      {
        run,
        agent: identity.address,
        ...(identity.rig ? { rig: identity.rig } : {}),
        ...(bead ? { bead } : {}),
        runtime: runtime.name,
        backend,
        argv: plan.argv,
        started_at: now,
        ...(options.resume ? { resumed: options.resume } : {}),
      },
      null,
      2,
    )}\n`,
    undefined,
    { durable: false },
  );
  const env = { ...sessionEnv(town, identity, run, runtime), ...plan.env };
  await options.beforeStart?.();
  const colour = await colourFor(town, identity);
  const mode = teamModeOf(town);
  const record = await town.saveAgent(
    identity,
    {
      runtime: runtime.name,
      backend,
      session,
      run,
      state: 'starting',
      started_at: now,
      ...(options.branch ? { branch: options.branch } : {}),
      ...(colour ? { colour } : {}),
      ...(mode ? { mode } : {}),
      // Across hosts: which machine runs it (its daemon supervises it; the others read it from the ledger).
      ...(town.hostName ? { host: town.hostName } : {}),
    },
    {
      event: {
        kind: 'session.started',
        agent: identity.address,
        ...(identity.rig ? { rig: identity.rig } : {}),
        ...(bead ? { bead } : {}),
        payload: { run, runtime: runtime.name, backend, ...(options.resume ? { resumed: options.resume } : {}) },
      },
    },
  );
  const started = await town.ports.backend(backend).start({
    name: session,
    cwd: town.path(record.workdir),
    argv: plan.argv,
    env,
    runDir: dir,
    ...(plan.stdinLines ? { stdinLines: plan.stdinLines } : {}),
    ...(plan.hookServer ? { hookServer: plan.hookServer } : {}),
    ...(town.usesTownHost(backend) ? { townHost: true } : {}),
  });
  // Its own pane (tmux): what gt attach and the swarm view find it by; no event, it is bookkeeping.
  if (started?.pane) {
    await town.saveAgentState(record, { pane: started.pane });
    record.pane = started.pane;
  } else if (record.pane) await town.saveAgentState(record, { pane: null });
  if (plan.typeAfterReady !== undefined && backend === 'tmux') {
    // Runtimes that take no prompt argument get it typed once they are up.
    town.ports.detached.nudge(identity.address, plan.typeAfterReady, { afterMs: runtime.readyDelayMs, waitSec: 5, raw: true });
  }
  return record;
}

/** The identity's colour: the one it has, else the first one no other agent holds (assigned once, agent-colour.ts). */
/**
 * The colours agents hold, read once per town handle for a few seconds and
 * kept up to date by colourFor: a sling of ten starts ten sessions at once,
 * which read every agent of the town ten times, and could give two new agents
 * one colour. A long-lived handle (the daemon's) reads them again after that.
 */
const coloursTaken = new WeakMap<Town, { at: number; colours: Promise<Map<string, string>> }>();
const COLOURS_FRESH_MS = 5_000;

async function colourFor(town: Town, identity: Identity): Promise<string | undefined> {
  const known = await town.agent(identity);
  if (known?.colour) return undefined;
  let taken = coloursTaken.get(town);
  if (taken === undefined || Date.now() - taken.at > COLOURS_FRESH_MS) {
    const colours = town.agents().then((agents) => new Map(agents.flatMap((a) => (a.colour ? [[a.address, a.colour] as [string, string]] : []))));
    taken = { at: Date.now(), colours };
    coloursTaken.set(town, taken);
  }
  const colours = await taken.colours;
  const colour = agentColour(
    identity.address,
    [...colours].filter(([address]) => address !== identity.address).map(([, c]) => c),
  ).name;
  colours.set(identity.address, colour);
  return colour;
}

/** The team mode this process captured (or resolves now); none when it cannot be resolved (a forced mode whose tool is missing). */
function teamModeOf(town: Town): string | undefined {
  try {
    return town.teamMode();
  } catch {
    return undefined;
  }
}

/**
 * Ends a session on purpose and records it (the witness restarts only sessions
 * that died on their own).
 */
export async function stopSession(town: Town, agent: AgentRecord, state: AgentState = 'idle', options: { graceMs?: number } = {}): Promise<void> {
  const alive = await town.sessionAlive(agent);
  // Stopped even when not alive: a tmux session keeps its pane (and log) after the agent exits.
  if (agent.backend && (agent.backend !== 'tmux' || town.ports.tmuxAvailable)) await town.ports.backend(agent.backend).stop(agent.session, options);
  // Reported only when there was a session to end; the record says it was stopped on purpose either way.
  const event = alive
    ? {
        kind: 'session.ended' as const,
        agent: agent.address,
        ...(agent.rig ? { rig: agent.rig } : {}),
        payload: { state, reason: 'stopped', ...(agent.run ? { run: agent.run } : {}) },
      }
    : undefined;
  await town.saveAgentState(agent, { state, stopped_at: town.ports.now() }, event);
}

/** Stops and starts an identity's session (handoff, crash recovery); the hook is unchanged. */
export async function restartSession(town: Town, identity: Identity): Promise<AgentRecord> {
  const agent = await town.agent(identity);
  if (!agent?.active) throw notFoundError(`no agent ${identity.address}`);
  if (agent.backend) await town.ports.backend(agent.backend).stop(agent.session);
  const runtime = town.runtimeFor(identity, agent.runtime);
  const hooked = (await hookedWork(town.ledger, identity.address)).length > 0;
  return startSession(town, identity, { runtime, backend: agent.backend ?? town.backendKind(), hooked, ...(agent.branch ? { branch: agent.branch } : {}) });
}

/**
 * Ends the session of an agent that finished its work (gt done, gt gate wait).
 * The command may run inside that very session, so then it is stopped from
 * outside, a moment later; otherwise at once.
 */
export async function endOwnSession(town: Town, agent: AgentRecord, callerAgent: string | undefined): Promise<void> {
  if (!agent.backend) return;
  if (callerAgent === agent.address) town.ports.detached.stopSession(agent.address, 300, agent.run);
  // Its state says why it stopped (waiting at a gate stays waiting); done work leaves it idle.
  else await stopSession(town, agent, agent.state === 'done' ? 'idle' : agent.state);
}

/**
 * Claude Code asks whether to trust a folder it has not seen, and an agent
 * stuck at that dialog does nothing. gt records the answer for a new
 * worktree in Claude Code's own config (`$CLAUDE_CONFIG_DIR/.claude.json`,
 * else `~/.claude.json`), changing nothing else in it.
 */
function trustClaudeWorkdir(town: Town, dir: string): void {
  const env = town.ports.baseEnv;
  const file = claudeConfigFile(env);
  if (!file) return;
  let config: { projects?: Record<string, Record<string, unknown>> } & Record<string, unknown> = {};
  const text = town.ports.files.read(file);
  if (text !== undefined) {
    try {
      config = JSON.parse(text) as typeof config;
    } catch {
      town.ports.progress(`warning: ${file} is not valid JSON; gt leaves it alone (Claude Code may ask to trust ${dir})`);
      return;
    }
  }
  if (config.projects?.[dir]?.hasTrustDialogAccepted === true) return;
  config.projects = { ...config.projects, [dir]: { ...config.projects?.[dir], hasTrustDialogAccepted: true } };
  // ~/.claude.json holds the user's account: rewritten atomically it would otherwise become 0644.
  town.ports.files.write(file, `${JSON.stringify(config, null, 2)}\n`, 0o600);
}

/** Writes hook files a runtime reads only from the project; never over the repository's own. */
async function installWorktreeHooks(town: Town, dir: string, files: Record<string, string>): Promise<void> {
  const entries = Object.entries(files);
  if (entries.length === 0) return;
  const common = await town.ports.git.probe(dir, ['rev-parse', '--path-format=absolute', '--git-common-dir']);
  const exclude = common.code === 0 ? `${common.stdout.trim()}/info/exclude` : undefined;
  const excluded = exclude ? (town.ports.files.read(exclude) ?? '') : '';
  const add: string[] = [];
  for (const [relative, content] of entries) {
    const path = `${dir}/${relative}`;
    const current = town.ports.files.read(path);
    if (current !== undefined && current !== content) {
      town.ports.progress(`warning: ${path} belongs to the repository; gt's hooks are not installed there (the agent is told to run gt prime instead)`);
      continue;
    }
    town.ports.files.write(path, content);
    if (!excluded.split('\n').includes(`/${relative}`)) add.push(`/${relative}`);
  }
  if (exclude && add.length)
    town.ports.files.write(exclude, `${excluded}${excluded === '' || excluded.endsWith('\n') ? '' : '\n'}# gt-owned hook files\n${add.join('\n')}\n`);
}

/**
 * Stops every running session of the town (gt down --all), checkpointing each
 * worker's worktree first-hand after its session ends, so nothing is lost.
 */
export async function stopAllSessions(town: Town, reason: string): Promise<{ sessions: string[]; checkpoints: string[] }> {
  const sessions: string[] = [];
  const checkpoints: string[] = [];
  for (const agent of await town.agents()) {
    // Another host's sessions are that host's to stop (gt down --all there).
    if (town.isRemote(agent) || !(await town.sessionAlive(agent))) continue;
    await stopSession(town, agent);
    sessions.push(agent.address);
    const dir = town.path(agent.workdir);
    if (agent.role !== 'mayor' && town.ports.files.exists(`${dir}/.git`)) {
      const saved = await checkpoint(town.ports.git, dir, agent.address, town.ports.now(), reason).catch(() => undefined);
      if (saved) checkpoints.push(saved.ref);
    }
  }
  return { sessions, checkpoints };
}
