/**
 * Runtime hook events (design §7.3) and what each says about an agent's
 * state. Turn boundaries are where pending mail is delivered.
 */
import type { Identity } from './identity.js';
import type { AgentState, Town } from './town.js';

export const SIGNALS = ['session-start', 'prompt-submit', 'pre-tool', 'post-tool', 'stop', 'notification', 'pre-compact', 'session-end'] as const;
export type Signal = (typeof SIGNALS)[number];

export const TURN_BOUNDARIES: ReadonlySet<Signal> = new Set(['session-start', 'prompt-submit', 'stop']);

export function stateAfter(signal: Signal, input: Record<string, unknown>): AgentState {
  switch (signal) {
    case 'stop':
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

/** Records a signal on the agent bead (state, time, the runtime's session id). A human has no bead: nothing to record. */
export async function recordSignal(town: Town, identity: Identity, signal: Signal, input: Record<string, unknown> = {}): Promise<void> {
  const agent = await town.agent(identity);
  if (!agent) return;
  const fields: Record<string, string> = { last_signal: signal, last_signal_at: town.ports.now(), state: stateAfter(signal, input) };
  if (typeof input.session_id === 'string') fields.runtime_session = input.session_id;
  await town.ledger.update([agent.id], { setMetadata: fields });
}
