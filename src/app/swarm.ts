/**
 * The swarm view, composed (issue 17 §1–2): which agents a view shows comes
 * from core/swarm; drawing it is tmux's (infra/tmux-swarm.ts) or iTerm2's
 * (infra/iterm2.ts), by the town's team mode. `gt swarm` opens or refreshes a
 * view; the daemon refreshes every open tmux view each pass, so a finished
 * polecat's pane leaves and a new sling's pane comes without a command.
 */
import { join } from 'node:path';
import { GT_DIR, lockFile, TMUX_CONF_FILE } from '../shared/paths.js';
import { GtError, notFoundError } from '../shared/errors.js';
import { parseIdentity, workdirOf } from '../core/agents/identity.js';
import { parseScopeKey, scopeKey, scopeWindowName, swarmMembers, type SwarmScope } from '../core/swarm/view.js';
import type { Town } from '../core/town/town.js';
import { insideServer, townSocket } from '../infra/tmux.js';
import { TmuxSwarm, type SwarmPlan, type SwarmState } from '../infra/tmux-swarm.js';
import { ITermSwarm, itermSession, type ITermView } from '../infra/iterm2.js';

export type { SwarmState } from '../infra/tmux-swarm.js';
export type { ITermView } from '../infra/iterm2.js';

/**
 * One change to the views at a time (gt swarm, hide/show, the daemon's pass):
 * a refresh that read the views before a hide would otherwise undo it.
 */
async function exclusively<T>(town: Town, body: () => Promise<T>): Promise<T> {
  const release = await town.ports.files.lock(town.path(lockFile('swarm')), { waitMs: 30_000 });
  try {
    return await body();
  } finally {
    release();
  }
}

/** The town's tmux server as the swarm view uses it (its config file written, as for sessions). */
function townSwarm(town: Town, env: NodeJS.ProcessEnv): TmuxSwarm {
  town.ports.backend('tmux');
  return new TmuxSwarm(townSocket(town.root, env), join(town.root, TMUX_CONF_FILE), town.ports.baseEnv);
}

export async function swarmPlan(town: Town, scope: SwarmScope): Promise<SwarmPlan> {
  const { leader, members } = await swarmMembers(town, scope);
  const abs = <T extends { address: string }>(m: T) => ({ ...m, workdir: town.path(workdirOf(parseIdentity(m.address))) });
  return { key: scopeKey(scope), name: scopeWindowName(scope), ...(leader ? { leader: abs(leader) } : {}), members: members.map(abs) };
}

export interface SwarmOpened {
  state: SwarmState;
  /** How it is shown: the current client switched to it, a window of your own tmux attached to it, or a command for your terminal. */
  show: { how: 'switched' | 'nested' | 'attach' | 'none'; command?: string[] };
}

/**
 * Opens (or refreshes) the tmux view of a scope. Inside the town's tmux the
 * caller's own pane leads and the current client shows it; inside another
 * tmux a new window there attaches to it; outside tmux the caller attaches.
 * `show: false` (--json) only builds it.
 */
async function tmuxOpen(town: Town, env: NodeJS.ProcessEnv, scope: SwarmScope, options: { show: boolean }): Promise<SwarmOpened> {
  if (!town.ports.tmuxAvailable)
    throw new GtError('external', 'the swarm view needs tmux, which is not installed', { hint: 'install tmux, or use gt agents / gt feed' });
  const swarm = townSwarm(town, env);
  const plan = await swarmPlan(town, scope);
  const inside = insideServer(swarm.socket, env) && env.TMUX_PANE ? env.TMUX_PANE : undefined;
  const window =
    (await swarm.findView(plan.key)) ??
    (await swarm.create(plan, { ...(inside ? { userPane: inside } : {}), shell: env.SHELL || '/bin/sh', cwd: town.root, env: { GT_ROOT: town.root } }));
  const state = await swarm.reconcile(window, plan);
  if (!state) throw new GtError('internal', `the swarm view ${plan.name} closed while it was being built`);
  if (!options.show) return { state, show: { how: 'none' } };
  if (insideServer(swarm.socket, env)) {
    await swarm.switchClient(window);
    return { state, show: { how: 'switched' } };
  }
  if (env.TMUX) return { state, show: { how: 'nested', command: swarm.nestedCommand(window) } };
  return { state, show: { how: 'attach', command: swarm.attachCommand(window) } };
}

/**
 * Every open view brought in step with the town (the daemon's pass); the number
 * refreshed. An iTerm2 view too, when the daemon's team mode is iterm2 and it
 * runs from that iTerm2 session's terminal (gt up from there): it2 is asked
 * only for what changed.
 */
async function refreshAll(town: Town, env: NodeJS.ProcessEnv): Promise<number> {
  let refreshed = 0;
  if (town.ports.files.exists(town.path(GT_DIR, ITERM_STATE)) && modeOrNone(town) === 'iterm2') {
    await itermOpen(town, env, undefined, { refresh: true });
    refreshed++;
  }
  if (!town.ports.tmuxAvailable) return refreshed;
  const swarm = townSwarm(town, env);
  for (const [window, key] of await swarm.views()) {
    const scope = parseScopeKey(key);
    if (!scope) continue;
    await swarm.reconcile(window, await swarmPlan(town, scope));
    refreshed++;
  }
  return refreshed;
}

/**
 * Hides an agent's pane (it goes back to its own session, where gt attach
 * still reaches it) or shows it again, in every tmux view that has it.
 */
async function hideOrShow(town: Town, env: NodeJS.ProcessEnv, address: string, hide: boolean): Promise<SwarmState[]> {
  const agent = await town.agent(parseIdentity(address));
  if (!agent?.active) throw notFoundError(`no agent ${address}`, 'see gt agents');
  const swarm = townSwarm(town, env);
  const views = await swarm.views();
  if (views.size === 0) throw notFoundError('no swarm view is open', 'open one with gt swarm');
  const states: SwarmState[] = [];
  for (const [window, key] of views) {
    const scope = parseScopeKey(key);
    if (!scope) continue;
    const plan = await swarmPlan(town, scope);
    const shown = [plan.leader, ...plan.members].some((m) => m?.session === agent.session);
    const hidden = await swarm.hidden(window);
    if (!shown && !hidden.includes(agent.session)) continue;
    await swarm.setHidden(window, hide ? [...hidden, agent.session] : hidden.filter((s) => s !== agent.session));
    const state = await swarm.reconcile(window, plan);
    if (state) states.push(state);
  }
  if (states.length === 0) throw notFoundError(`${address} is in no open swarm view`, 'gt swarm --json lists a view and its panes');
  return states;
}

const ITERM_STATE = 'swarm-iterm2.json';

function modeOrNone(town: Town): string | undefined {
  try {
    return town.teamMode();
  } catch {
    return undefined;
  }
}

/** The iTerm2 view (team mode iterm2): split panes of the current iTerm2 window, each attached to an agent's session. */
async function itermOpen(
  town: Town,
  env: NodeJS.ProcessEnv,
  scope: SwarmScope | undefined,
  options: { hide?: string; show?: string; refresh?: boolean } = {},
): Promise<ITermView> {
  const swarm = new ITermSwarm(env, town.path(GT_DIR, ITERM_STATE));
  // The daemon refreshes the view gt swarm made: around the leader it was made from.
  const leader = options.refresh ? swarm.load()?.leader : itermSession(env);
  if (!leader)
    throw new GtError('usage', 'the iTerm2 swarm view runs from an iTerm2 session (ITERM_SESSION_ID is not set)', {
      hint: 'run it in iTerm2, or use --mode tmux',
    });
  const previous = swarm.load();
  // hide/show name no scope: the one shown last.
  const plan = await swarmPlan(town, scope ?? parseScopeKey(previous?.scope ?? 'all') ?? { kind: 'all' });
  let hidden = previous?.hidden ?? [];
  if (options.hide) hidden = [...new Set([...hidden, options.hide])];
  if (options.show) hidden = hidden.filter((h) => h !== options.show);
  const alive = [];
  for (const m of [...(plan.leader ? [plan.leader] : []), ...plan.members]) {
    const agent = await town.agent(parseIdentity(m.address));
    if (agent && (await town.sessionAlive(agent))) alive.push(m);
  }
  const members = alive.map((m) => ({
    address: m.address,
    title: m.title,
    colour: m.colour.hex,
    command: ['env', `GT_ROOT=${town.root}`, town.ports.gtBin, 'attach', m.address],
  }));
  return swarm.reconcile(plan.key, leader, members, hidden);
}

/**
 * `gt down --all`: the swarm views gt made outside tmux go with the sessions they showed, so the town's
 * tmux server is left with nothing (a view inside a person's own window is theirs, and stays).
 */
export async function closeSwarmViews(town: Town, env: NodeJS.ProcessEnv): Promise<boolean> {
  if (!town.ports.tmuxAvailable) return false;
  return exclusively(town, () => townSwarm(town, env).closeOwnViews());
}

export const openTmuxSwarm = (town: Town, env: NodeJS.ProcessEnv, scope: SwarmScope, options: { show: boolean }): Promise<SwarmOpened> =>
  exclusively(town, () => tmuxOpen(town, env, scope, options));

export const refreshSwarmViews = (town: Town, env: NodeJS.ProcessEnv): Promise<number> => exclusively(town, () => refreshAll(town, env));

export const hideInSwarm = (town: Town, env: NodeJS.ProcessEnv, address: string, hide: boolean): Promise<SwarmState[]> =>
  exclusively(town, () => hideOrShow(town, env, address, hide));

export const openITermSwarm = (
  town: Town,
  env: NodeJS.ProcessEnv,
  scope: SwarmScope | undefined,
  options: { hide?: string; show?: string } = {},
): Promise<ITermView> => exclusively(town, () => itermOpen(town, env, scope, options));
