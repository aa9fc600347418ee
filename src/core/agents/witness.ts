/**
 * The witness patrol (design §2.3, issue 14 §2): supervision in code, for zero
 * tokens. Each pass reads every agent through the state machine
 * (agent-state.ts), records each change of state as an event, and acts on the
 * agents with work on their hook:
 * - idle past `witness.idle_wake` → woken with a line that names its bead
 *   (the next hook event confirms it); after `max_wakes` it violates GUPP →
 *   escalated;
 * - dead (its session ended on its own) or zombie (a session without its
 *   agent process, or the reverse) → what is left is stopped and a new
 *   session starts on the same hook, resuming the runtime's conversation
 *   when it has one; restarts back off, and `crash_loop_restarts` within
 *   `crash_loop_window` is a crash loop → escalated, no more restarts;
 * - stalled (working, no signal or worktree activity for `stall_after`) →
 *   interrupted and re-primed once (its session restarted, resumed); stalled
 *   again → escalated.
 * An escalation is made in one place (`escalate`) and stops all action on
 * that bead until a new bead is hooked.
 */
import { errorMessage } from '../../shared/errors.js';
import type { Issue } from '../beads/types.js';
import type { TownEventInput } from '../events/town-events.js';
import { parseIdentity } from './identity.js';
import { raiseEscalation } from '../comms/escalations.js';
import { nudgeAgent } from '../comms/nudge.js';
import { startSession } from './sessions.js';
import { stdinMessage } from './runtimes.js';
import type { AgentRecord, Town } from '../town/town.js';
import { restartDecision, type SupervisionRecord } from './agent-state.js';
import { readAgent, restartRules, stateRules, type AgentReading } from './supervision.js';
import { pausedRuntimes, readBackoffs } from '../scheduler/backoff.js';

export interface WitnessAction {
  agent: string;
  bead: string;
  action: 'woken' | 'restarted' | 'interrupted' | 'escalated' | 'failed';
  detail: string;
  /** The state the agent was read in when the witness acted. */
  state?: string;
  /** A wake-up: whether the agent's next hook event confirmed it (null: not awaited). */
  confirmed?: boolean | null;
}

export interface WitnessOptions {
  rig?: string;
  /** Only the town's own agents (the Mayor), not any rig's. */
  townOnly?: boolean;
  /** The daemon's pass number, recorded in the events of this patrol (supervision is judged in passes). */
  pass?: number;
  /** Called after each agent: the daemon renews its lease (a wake waits up to confirmSec, and a town has many agents). */
  progress?: () => void;
  /** How long a wake-up waits for the confirming hook event (default 10 s). */
  confirmSec?: number;
}

export function wakeLine(bead: Issue): string {
  return `[gt] Work is still on your hook: ${bead.id} "${bead.title}". Continue it now; when it is finished, commit and run gt done (or gt done --status ESCALATED -m "why" if you are stuck).`;
}

export async function witnessPatrol(town: Town, options: WitnessOptions = {}): Promise<WitnessAction[]> {
  const rules = stateRules(town);
  const actions: WitnessAction[] = [];
  // A runtime backed off after a rate limit is left alone until its window ends: a wake or a restart would only hit the limit again.
  const paused = pausedRuntimes(await readBackoffs(town), Date.parse(town.ports.now()));
  for (const agent of await town.agents(options.rig ? { rig: options.rig } : {})) {
    if (options.townOnly && agent.rig !== undefined) continue;
    if (!agent.backend || agent.role === 'refinery' || agent.role === 'witness') continue;
    // Another host's agent is its own host's witness's to supervise (it shows host-lost here when that host goes quiet).
    if (town.isRemote(agent)) continue;
    let reading: AgentReading | undefined;
    try {
      reading = await readAgent(town, agent, rules);
      await recordReading(town, reading, options.pass);
      if (agent.runtime && paused[agent.runtime] !== undefined) continue;
      const action = await actOn(town, reading, { confirmSec: options.confirmSec ?? 10, pass: options.pass });
      if (action) actions.push({ ...action, state: reading.state });
    } catch (error) {
      const bead = reading?.hooked[0]?.id;
      if (bead) actions.push({ agent: agent.address, bead, action: 'failed', detail: errorMessage(error), ...(reading ? { state: reading.state } : {}) });
    }
    options.progress?.();
  }
  return actions;
}

/** A state the machine reads that differs from the recorded one is a transition: recorded, with its event. */
async function recordReading(town: Town, reading: AgentReading, pass: number | undefined): Promise<void> {
  if (reading.state === reading.agent.state) return;
  await town.saveAgentState(reading.agent, { state: reading.state, state_reason: reading.reason }, undefined, {
    actor: witnessOf(reading.agent),
    ...(pass !== undefined ? { payload: { pass } } : {}),
  });
  reading.agent = { ...reading.agent, state: reading.state };
}

function witnessOf(agent: AgentRecord): string {
  return `${agent.rig ?? 'town'}/witness`;
}

/** What the witness did to this agent over this bead, for the event stream. */
function witnessEvent(agent: AgentRecord, bead: Issue, kind: TownEventInput['kind'], payload: Record<string, unknown>, pass?: number): TownEventInput {
  return {
    kind,
    actor: witnessOf(agent),
    agent: agent.address,
    bead: bead.id,
    ...(agent.rig ? { rig: agent.rig } : {}),
    payload: pass === undefined ? payload : { ...payload, pass },
  };
}

async function saveSupervision(town: Town, agent: AgentRecord, supervision: SupervisionRecord, event?: TownEventInput | TownEventInput[]): Promise<void> {
  await town.saveAgentState(agent, { supervision }, event);
}

/** What one patrol's actions share: how long a wake waits for its confirmation, and the daemon's pass. */
interface PatrolContext {
  confirmSec: number;
  pass?: number | undefined;
}

async function actOn(town: Town, reading: AgentReading, options: PatrolContext): Promise<Omit<WitnessAction, 'state'> | undefined> {
  const { agent, observation } = reading;
  const bead = reading.hooked[0];
  if (!bead) return undefined;
  // Counters belong to the bead on the hook: a new bead starts them again.
  const supervision: SupervisionRecord = agent.supervision.bead === bead.id ? agent.supervision : { bead: bead.id, wakes: 0, restarts: [] };
  if (supervision.escalated) return undefined;
  switch (reading.state) {
    case 'dead':
      // A session someone stopped (gt mayor stop, gt down --all…) stays stopped.
      if (observation.stoppedAt !== undefined && observation.stoppedAt >= (observation.startedAt ?? 0)) return undefined;
      if (beingSlung(bead, observation.startedAt, observation.now)) return undefined;
      return restart(town, reading, bead, supervision, options.pass);
    case 'zombie':
      return restart(town, reading, bead, supervision, options.pass);
    case 'stalled':
      if (supervision.interrupted_at)
        return escalate(town, agent, bead, supervision, 'stall', `stalled again after being interrupted and re-primed (${reading.reason})`, options.pass);
      return interrupt(town, reading, bead, supervision, options.pass);
    case 'gupp-violation':
      return escalate(town, agent, bead, supervision, 'gupp-violation', `idle at its prompt after ${supervision.wakes} wake-up(s)`, options.pass);
    case 'idle':
      return wake(town, reading, bead, supervision, options);
    default:
      return undefined;
  }
}

/** Hooked after its last session started, a moment ago: gt sling is starting its session right now. */
function beingSlung(bead: Issue, startedAt: number | undefined, now: number): boolean {
  const hookedAt = typeof bead.metadata?.hooked_at === 'string' ? Date.parse(bead.metadata.hooked_at) : NaN;
  return Number.isFinite(hookedAt) && hookedAt > (startedAt ?? 0) && now - hookedAt < SLING_GRACE_MS;
}

const SLING_GRACE_MS = 60_000;

async function wake(
  town: Town,
  reading: AgentReading,
  bead: Issue,
  supervision: SupervisionRecord,
  options: PatrolContext,
): Promise<Omit<WitnessAction, 'state'> | undefined> {
  const { agent, observation } = reading;
  const { idleWakeMs } = stateRules(town);
  const since = Math.max(observation.lastSignalAt ?? observation.startedAt ?? 0, Date.parse(supervision.last_wake_at ?? '') || 0);
  if (observation.lastSignalAt === undefined || observation.now - since < idleWakeMs) return undefined;
  const identity = parseIdentity(agent.address);
  // A headless agent without a stream protocol cannot be written to: nothing to do until its session ends.
  if (agent.backend === 'headless' && stdinMessage(town.runtimeFor(identity, agent.runtime), '') === undefined) return undefined;
  // The same nudge as `gt nudge`: under the agent's nudge lock, confirmed by its next hook event.
  const nudge = await nudgeAgent(town, witnessOf(agent), identity, wakeLine(bead), { raw: true, ifIdle: true, idleWaitSec: 1, waitSec: options.confirmSec });
  if (nudge.delivery === 'skipped') return undefined;
  const wakes = supervision.wakes + 1;
  const fresh = (await town.agent(identity)) ?? agent;
  await saveSupervision(
    town,
    fresh,
    { ...supervision, wakes, last_wake_at: town.ports.now() },
    witnessEvent(agent, bead, 'agent.woken', { wakes, confirmed: nudge.confirmed }, options.pass),
  );
  return { agent: agent.address, bead: bead.id, action: 'woken', detail: `idle since ${agent.last_signal_at ?? '?'}`, confirmed: nudge.confirmed };
}

/** A dead or zombie session: what is left of it stopped, a new one on the same hook — unless it crash-loops. */
async function restart(
  town: Town,
  reading: AgentReading,
  bead: Issue,
  supervision: SupervisionRecord,
  pass: number | undefined,
): Promise<Omit<WitnessAction, 'state'> | undefined> {
  const { agent } = reading;
  const decision = restartDecision(supervision.restarts, reading.observation.now, restartRules(town));
  if (decision.action === 'crash-loop')
    return escalate(
      town,
      agent,
      bead,
      supervision,
      'crash-loop',
      `its session died again after ${decision.recent} restart(s) within witness.crash_loop_window: a crash loop, not restarted again`,
      pass,
    );
  if (decision.action === 'wait') return undefined;
  // A sling (the daemon's dispatch, beside this patrol) holds the rig's worktree lock until its sessions run: a session
  // recorded but not started yet reads as dead. Under that lock, read again and restart only what is still dead.
  const release = agent.rig ? await town.lockWorktrees(agent.rig) : () => undefined;
  let resumed: string | undefined;
  try {
    const now = await town.agent(parseIdentity(agent.address));
    const again = now ? await readAgent(town, now, stateRules(town)) : undefined;
    if (!again || (again.state !== 'dead' && again.state !== 'zombie') || again.agent.run !== agent.run) return undefined;
    resumed = await newSession(town, agent, bead, reading.state === 'zombie', pass);
  } finally {
    release();
  }
  const restarts = [...supervision.restarts, town.ports.now()].slice(-20);
  const fresh = (await town.agent(parseIdentity(agent.address))) ?? agent;
  await saveSupervision(town, fresh, { ...supervision, restarts });
  await town.ledger.emit(
    witnessEvent(agent, bead, 'agent.restarted', { reason: reading.state, restarts: decision.recent + 1, ...(resumed ? { resumed } : {}) }, pass),
  );
  return {
    agent: agent.address,
    bead: bead.id,
    action: 'restarted',
    detail: `${reading.state === 'zombie' ? `zombie (${reading.reason}); ` : ''}${resumed ? `resumed session ${resumed}` : 'fresh session'}`,
  };
}

/** Stalled mid-turn: its session is ended (the turn with it) and a new one primed on the same hook, once. */
async function interrupt(
  town: Town,
  reading: AgentReading,
  bead: Issue,
  supervision: SupervisionRecord,
  pass: number | undefined,
): Promise<Omit<WitnessAction, 'state'>> {
  const { agent } = reading;
  const resumed = await newSession(town, agent, bead, true, pass);
  const fresh = (await town.agent(parseIdentity(agent.address))) ?? agent;
  await saveSupervision(
    town,
    fresh,
    { ...supervision, interrupted_at: town.ports.now() },
    witnessEvent(agent, bead, 'agent.interrupted', { reason: reading.reason, ...(resumed ? { resumed } : {}) }, pass),
  );
  return {
    agent: agent.address,
    bead: bead.id,
    action: 'interrupted',
    detail: `${reading.reason}; ${resumed ? `resumed session ${resumed}` : 'fresh session'}, re-primed`,
  };
}

/**
 * Ends what runs of the agent's session (a hung turn, a zombie's leftover
 * process) and starts a new one on the same hook, resuming the runtime's
 * conversation when it has one. Returns the resumed session id.
 */
async function newSession(town: Town, agent: AgentRecord, bead: Issue, stopFirst: boolean, pass: number | undefined): Promise<string | undefined> {
  const identity = parseIdentity(agent.address);
  const backend = agent.backend as 'tmux' | 'headless';
  if (stopFirst) await town.ports.backend(backend).stop(agent.session);
  else await town.ledger.emit(witnessEvent(agent, bead, 'session.died', { state: agent.state }, pass));
  const runtime = town.runtimeFor(identity, agent.runtime);
  const resume = agent.runtime_session;
  await startSession(town, identity, {
    runtime,
    backend,
    hooked: true,
    ...(agent.branch ? { branch: agent.branch } : {}),
    ...(resume ? { resume } : {}),
  });
  return resume;
}

/**
 * Supervision gives up on this bead and tells a person: the one place the
 * witness escalates, through raiseEscalation (the person's inbox, the routes
 * of its severity, `escalation.raised`). Nothing more is done for the bead.
 */
async function escalate(
  town: Town,
  agent: AgentRecord,
  bead: Issue,
  supervision: SupervisionRecord,
  reason: NonNullable<SupervisionRecord['escalated']>,
  why: string,
  pass: number | undefined,
): Promise<Omit<WitnessAction, 'state'>> {
  const witness = witnessOf(agent);
  await saveSupervision(
    town,
    agent,
    { ...supervision, escalated: reason },
    reason === 'crash-loop' ? undefined : witnessEvent(agent, bead, 'agent.stalled', { reason, wakes: supervision.wakes }, pass),
  );
  // escalation.raised, the person's mail and the routes: comms/escalations.ts, the one way gt escalates.
  await raiseEscalation(town, {
    message: `${agent.address} ${why}, with ${bead.id} "${bead.title}" on its hook.\nLook with gt peek ${agent.address}; take the bead back with gt unsling ${bead.id}, or restart it with gt sling ${bead.id} ${agent.address} --force.`,
    headline: `${reason === 'crash-loop' ? 'CRASH LOOP' : 'STALLED'} ${agent.address}: ${bead.id}`,
    severity: 'high',
    source: 'witness',
    reason,
    subject: bead.id,
    raisedBy: witness,
    agent: agent.address,
    ...(agent.rig ? { rig: agent.rig } : {}),
    // The daemon pass that decided it: supervision is measured in passes.
    ...(pass !== undefined ? { eventPayload: { pass } } : {}),
  });
  return { agent: agent.address, bead: bead.id, action: 'escalated', detail: why };
}
