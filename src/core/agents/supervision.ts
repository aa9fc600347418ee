/**
 * What gt observes of an agent, gathered through the town's ports and read by
 * the one state machine (agent-state.ts): `gt agents`, `gt polecat list`,
 * `gt status` and the witness all read agents through `readAgent`, so they
 * show the same state.
 */
import { parseDuration } from '../../shared/duration.js';
import type { Issue } from '../beads/types.js';
import type { SessionProbe } from '../town/ports.js';
import type { AgentRecord, Town } from '../town/town.js';
import { hookedWork } from '../work/hooked.js';
import { agentState, type AgentObservation, type RestartRules, type StateReading, type StateRules } from './agent-state.js';
import { parseIdentity } from './identity.js';

export interface AgentReading extends StateReading {
  agent: AgentRecord;
  hooked: Issue[];
  probe: SessionProbe;
  observation: AgentObservation;
}

export function stateRules(town: Town): StateRules {
  const { stall_after, idle_wake, max_wakes } = town.config.witness;
  return { stallAfterMs: parseDuration(stall_after), idleWakeMs: parseDuration(idle_wake), maxWakes: max_wakes };
}

export function restartRules(town: Town): RestartRules {
  const { restart_backoff, crash_loop_restarts, crash_loop_window } = town.config.witness;
  return { backoffMs: parseDuration(restart_backoff), crashLoopRestarts: crash_loop_restarts, crashLoopWindowMs: parseDuration(crash_loop_window) };
}

const time = (iso: string | undefined) => {
  const t = iso === undefined ? NaN : Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
};

/** Whether the agent's runtime reports its turns through hooks (an unknown runtime is assumed to). */
function runtimeSignals(town: Town, agent: AgentRecord): boolean {
  try {
    return town.runtimeFor(parseIdentity(agent.address), agent.runtime).hooks !== 'none';
  } catch {
    return true;
  }
}

/**
 * The newest commit or file change in the agent's worktree (epoch ms): a
 * working agent that writes files or commits is not stalled even when its
 * runtime fires no hook (a long tool call). Only changed files are looked at.
 */
export async function worktreeActivity(town: Town, agent: AgentRecord): Promise<number | undefined> {
  const dir = town.path(agent.workdir);
  if (!town.ports.files.exists(`${dir}/.git`)) return undefined;
  const { git, files } = town.ports;
  let newest: number | undefined;
  const commit = await git.probe(dir, ['log', '-1', '--format=%ct']);
  if (commit.code === 0 && commit.stdout.trim()) newest = Number(commit.stdout.trim()) * 1000;
  const status = await git.probe(dir, ['status', '--porcelain', '-z', '--untracked-files=all']);
  if (status.code === 0) {
    // Entries are "XY path" (a rename adds its old path as the next entry, which no longer exists: skipped).
    for (const entry of status.stdout.split('\0').slice(0, 500)) {
      const path = entry.slice(3);
      if (!path) continue;
      const at = files.modifiedAt(`${dir}/${path}`);
      if (at !== undefined && (newest === undefined || at > newest)) newest = at;
    }
  }
  return newest;
}

/** Reads one agent: its liveness, hook and signals through the state machine (worktree activity only when it matters). */
export async function readAgent(town: Town, agent: AgentRecord, rules: StateRules = stateRules(town), now = Date.now()): Promise<AgentReading> {
  const [probe, hooked] = await Promise.all([town.sessionProbe(agent), hookedWork(town.ledger, agent.address)]);
  if (town.isRemote(agent)) {
    // Another host's agent: that host's witness reads it; here it is what the ledger says, or host-lost.
    const reading = await town.remoteReading(agent);
    const observation: AgentObservation = {
      recorded: agent.state,
      session: probe.session,
      process: probe.process,
      hooked: hooked.length > 0,
      signals: true,
      now,
      wakes: 0,
    };
    return { ...reading, agent, hooked, probe, observation };
  }
  const supervision = agent.supervision;
  const observation: AgentObservation = {
    recorded: agent.state,
    session: probe.session,
    process: probe.process,
    hooked: hooked.length > 0,
    signals: runtimeSignals(town, agent),
    now,
    lastSignalAt: time(agent.last_signal_at),
    startedAt: time(agent.started_at),
    stoppedAt: time(agent.stopped_at),
    wakes: hooked[0] && supervision.bead === hooked[0].id ? supervision.wakes : 0,
  };
  let reading = agentState(observation, rules);
  if (reading.state === 'stalled') {
    // Quiet by its hooks: does its worktree say otherwise?
    observation.activityAt = await worktreeActivity(town, agent);
    reading = agentState(observation, rules);
  }
  return { ...reading, agent, hooked, probe, observation };
}

/** Every agent of the town (or a rig), read. */
export async function readAgents(town: Town, options: { rig?: string } = {}): Promise<AgentReading[]> {
  const rules = stateRules(town);
  const now = Date.now();
  return Promise.all((await town.agents(options.rig ? { rig: options.rig } : {})).map((agent) => readAgent(town, agent, rules, now)));
}
