/**
 * Runtime hook events (design §7.3) and what each says about an agent's
 * state. Turn boundaries are where pending mail is delivered.
 */
import type { Identity } from './identity.js';
import { Mailbox, renderInjected } from '../comms/mail.js';
import type { AgentRecord, AgentState, Town } from '../town/town.js';
import { noteRateLimit } from '../scheduler/backoff.js';
import { isRateLimit } from '../scheduler/decide.js';
import { takeHeartbeatDelivery } from '../heartbeat/state.js';
import { afterFlushTurn, noteFlushPrompt } from '../memory/flush.js';
import { noteTurnEnd } from '../comms/leader.js';

export const SIGNALS = [
  'session-start',
  'prompt-submit',
  'pre-tool',
  'post-tool',
  'stop',
  'stop-failure',
  'notification',
  'pre-compact',
  'session-end',
  // Claude Code agent teams (issue 17 §4): the agent leads a team whose members go idle and finish tasks.
  'teammate-idle',
  'task-completed',
] as const;
export type Signal = (typeof SIGNALS)[number];

export const TURN_BOUNDARIES: ReadonlySet<Signal> = new Set(['session-start', 'prompt-submit', 'stop']);

/** Runtimes whose hooks cannot show text to the model: their mail stays pending and a nudge types it in. */
const SILENT_FORMATS = new Set(['codex', 'cursor', 'copilot']);

export function stateAfter(signal: Signal, input: Record<string, unknown>): AgentState {
  switch (signal) {
    case 'stop':
    case 'stop-failure':
    case 'session-start':
    case 'session-end':
      return 'idle';
    case 'notification': {
      const text = `${typeof input.message === 'string' ? input.message : ''} ${typeof input.notification_type === 'string' ? input.notification_type : ''}`;
      return /permission/i.test(text) ? 'waiting-permission' : 'idle';
    }
    default:
      return 'working';
  }
}

/**
 * Records a signal on the agent bead (state, time, the runtime's session id and
 * transcript). A human has no bead: nothing to record. A tool call of an agent
 * already working changes nothing, so it writes nothing (one ledger write per
 * tool call would be most of the ledger's writes).
 */
export async function recordSignal(town: Town, identity: Identity, signal: Signal, input: Record<string, unknown> = {}): Promise<void> {
  const agent = await town.agent(identity);
  if (!agent) return;
  if (signal === 'teammate-idle' || signal === 'task-completed') return recordTeamLead(town, agent, input);
  // Compaction happens at the prompt (/compact) or inside a turn: it says nothing new about the state.
  const state = signal === 'pre-compact' ? agent.state : stateAfter(signal, input);
  if ((signal === 'pre-tool' || signal === 'post-tool') && agent.state === state) return;
  const fields: Record<string, string> = { last_signal: signal, last_signal_at: town.ports.now(), state };
  if (typeof input.session_id === 'string') fields.runtime_session = input.session_id;
  if (typeof input.transcript_path === 'string') fields.transcript = input.transcript_path;
  if (signal === 'stop-failure') {
    // Claude Code's StopFailure: `error` is the kind (rate_limit, invalid_request…, or unknown), `error_details`
    // the API's answer (-p mode); interactive sessions carry the message shown as `last_assistant_message`.
    const kind = typeof input.error === 'string' ? input.error : 'unknown';
    const shown = input.error_details ?? input.last_assistant_message;
    const details = typeof shown === 'string' ? `: ${shown}` : '';
    fields.last_error = `${kind}${details}`.slice(0, 500);
    fields.last_error_at = fields.last_signal_at as string;
  }
  // Two of these a turn: volatile (no audit row), and the state event is coalesced per agent.
  await town.saveAgentState(agent, fields);
  // A rate limit or an overload: the scheduler backs the runtime off and resumes this agent after the window.
  if (signal === 'stop-failure' && agent.runtime && isRateLimit(typeof input.error === 'string' ? input.error : '', fields.last_error ?? '')) {
    // The signal is recorded either way; a back-off that cannot be written (a broken town.toml) is said, not fatal.
    await noteRateLimit(town, agent.runtime, agent.address, fields.last_error ?? 'rate limited').catch((error: unknown) =>
      town.ports.progress(`warning: could not back off ${agent.runtime}: ${error instanceof Error ? error.message : String(error)}`),
    );
  }
}

/**
 * A TeammateIdle or TaskCompleted event reached this agent's hooks: it leads a
 * Claude Code agent team. Recorded on its bead (`gt agents`, the swarm view's
 * title) with a `team.formed` event the first time (or for a new team), so the
 * feed shows it; its own state is its own turn's, untouched. Later events only
 * refresh when it was last seen, at most once a minute (no write per teammate turn).
 */
async function recordTeamLead(town: Town, agent: AgentRecord, input: Record<string, unknown>): Promise<void> {
  const team = typeof input.team_name === 'string' && input.team_name !== '' ? input.team_name : undefined;
  const now = town.ports.now();
  const fresh = agent.team_lead_at === undefined || (team !== undefined && team !== agent.team);
  if (!fresh && Date.parse(now) - Date.parse(agent.team_lead_at ?? now) < 60_000) return;
  const teammate = typeof input.teammate_name === 'string' ? { teammate: input.teammate_name } : {};
  const event = fresh
    ? { kind: 'team.formed' as const, agent: agent.address, ...(agent.rig ? { rig: agent.rig } : {}), payload: { ...(team ? { team } : {}), ...teammate } }
    : undefined;
  await town.saveAgentState(agent, { team_lead_at: now, ...(team ? { team } : {}) }, event);
}

/**
 * A hook event: records it, and at a turn boundary takes the agent's pending
 * mail (exactly once) and returns it as text for the model; '' when none.
 */
export async function turnSignal(town: Town, identity: Identity, signal: Signal, input: Record<string, unknown>, format: string): Promise<string> {
  await recordSignal(town, identity, signal, input);
  if (!TURN_BOUNDARIES.has(signal)) return '';
  if (SILENT_FORMATS.has(format)) {
    // Its mail stays pending (a nudge types it in): the turn ended with nothing pending only when there is none.
    if (signal === 'stop' && (await new Mailbox(town.ledger, identity.address).pendingCount(identity.address)) === 0) await tellLeader(town, identity, input);
    return '';
  }
  // A heartbeat's wake line was typed: its message (prompt, time, events, HEARTBEAT.md) comes with this turn.
  const heartbeat = signal === 'prompt-submit' ? takeHeartbeatDelivery(town, input.prompt) : '';
  if (identity.role === 'mayor' || identity.role === 'crew') {
    if (signal === 'prompt-submit') noteFlushPrompt(town, identity, input.prompt);
    else if (signal === 'stop') afterFlushTurn(town, identity);
  }
  const messages = await new Mailbox(town.ledger, identity.address).takePending(identity.address);
  // Nothing handed over at the turn's end: the agent stops, and its leader hears of it.
  if (signal === 'stop' && messages.length === 0) await tellLeader(town, identity, input);
  return `${heartbeat}${heartbeat && messages.length ? '\n' : ''}${renderInjected(identity.address, messages)}`;
}

/** The leader's idle note; a failure to write it is said, never a reason for the hook to fail. */
async function tellLeader(town: Town, identity: Identity, input: Record<string, unknown>): Promise<void> {
  await noteTurnEnd(town, identity, input).catch((error: unknown) =>
    town.ports.progress(`warning: could not tell ${identity.address}'s leader of its turn's end: ${error instanceof Error ? error.message : String(error)}`),
  );
}
