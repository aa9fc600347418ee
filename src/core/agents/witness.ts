/**
 * The witness patrol (design §2.3): GUPP enforced by code, not by an LLM
 * reading a checklist. For every agent with work on its hook:
 * - its session died (a crash) → a new session on the same hook, resuming the
 *   runtime's conversation when it has one;
 * - it sits idle at its prompt longer than `witness.idle_wake` → it is woken
 *   with a line that names its bead; the next hook event confirms the wake;
 * - after `witness.max_wakes` wakes or restarts for the same bead → it is
 *   marked stalled and escalated (comms/escalations.ts). Never a loop.
 */
import { parseDuration } from '../../shared/duration.js';
import { errorMessage } from '../../shared/errors.js';
import type { Issue } from '../beads/types.js';
import { parseIdentity } from './identity.js';
import { raiseEscalation } from '../comms/escalations.js';
import { nudgeAgent } from '../comms/nudge.js';
import { startSession } from './sessions.js';
import { stdinMessage } from './runtimes.js';
import type { AgentRecord, Town } from '../town/town.js';
import { hookedWork } from '../work/hooked.js';

export interface WitnessAction {
  agent: string;
  bead: string;
  action: 'woken' | 'restarted' | 'escalated' | 'failed';
  detail: string;
  /** A wake-up: whether the agent's next hook event confirmed it (null: not awaited). */
  confirmed?: boolean | null;
}

export interface WitnessOptions {
  rig?: string;
  /** How long a wake-up waits for the confirming hook event (default 10 s). */
  confirmSec?: number;
}

export function wakeLine(bead: Issue): string {
  return `[gt] Work is still on your hook: ${bead.id} "${bead.title}". Continue it now; when it is finished, commit and run gt done (or gt done --status ESCALATED -m "why" if you are stuck).`;
}

export async function witnessPatrol(town: Town, options: WitnessOptions = {}): Promise<WitnessAction[]> {
  const { idle_wake, max_wakes } = town.config.witness;
  const idleMs = parseDuration(idle_wake);
  const actions: WitnessAction[] = [];
  for (const agent of await town.agents(options.rig ? { rig: options.rig } : {})) {
    if (!agent.backend || agent.role === 'refinery' || agent.role === 'witness') continue;
    const [bead] = await hookedWork(town.ledger, agent.address);
    if (!bead) continue;
    try {
      const action = await patrolAgent(town, agent, bead, idleMs, max_wakes, { confirmSec: options.confirmSec ?? 10 });
      if (action) actions.push(action);
    } catch (error) {
      actions.push({ agent: agent.address, bead: bead.id, action: 'failed', detail: errorMessage(error) });
    }
  }
  return actions;
}

async function patrolAgent(
  town: Town,
  agent: AgentRecord,
  bead: Issue,
  idleMs: number,
  maxWakes: number,
  options: { confirmSec: number },
): Promise<WitnessAction | undefined> {
  const issue = await town.ledger.find(agent.id);
  const meta = issue?.metadata ?? {};
  const sameBead = meta.gupp_bead === bead.id;
  const wakes = sameBead && typeof meta.gupp_wakes === 'number' ? meta.gupp_wakes : 0;
  if (sameBead && meta.gupp_escalated === true) return undefined;
  const alive = await town.sessionAlive(agent);
  // A session someone stopped (gt mayor stop, gt down --all…) stays stopped; one that ended at a gate waits for it.
  if (!alive && typeof meta.stopped_at === 'string' && meta.stopped_at >= (agent.started_at ?? '')) return undefined;
  if (!alive && agent.state === 'waiting-gate') return undefined;
  const idleSince = Date.parse(agent.last_signal_at ?? agent.started_at ?? '');
  const idleTooLong = alive && agent.last_signal !== undefined && agent.state === 'idle' && Date.now() - idleSince >= idleMs;
  if (alive && !idleTooLong) return undefined;
  const identity = parseIdentity(agent.address);
  const witness = `${agent.rig ?? 'town'}/witness`;
  // What the witness did to this agent over this bead, for the event stream.
  const event = (kind: 'agent.stalled' | 'session.died' | 'agent.restarted' | 'agent.woken', payload: Record<string, unknown>) => ({
    kind,
    actor: witness,
    agent: agent.address,
    bead: bead.id,
    ...(agent.rig ? { rig: agent.rig } : {}),
    payload,
  });
  if (wakes >= maxWakes) {
    await town.saveAgentState(agent, { state: 'stalled', gupp_escalated: true }, event('agent.stalled', { wakes }));
    const why = alive ? `idle at its prompt after ${wakes} wake-ups` : `its session died again after ${wakes} restarts`;
    await raiseEscalation(town, {
      message: `${agent.address} is ${why} with ${bead.id} "${bead.title}" on its hook.\nLook with gt peek ${agent.address}; take the bead back with gt unsling ${bead.id}, or restart it with gt sling ${bead.id} ${agent.address} --force.`,
      headline: `STALLED ${agent.address}: ${bead.id}`,
      severity: 'high',
      source: 'witness',
      reason: 'stalled',
      subject: bead.id,
      raisedBy: witness,
      agent: agent.address,
      ...(agent.rig ? { rig: agent.rig } : {}),
    });
    return { agent: agent.address, bead: bead.id, action: 'escalated', detail: why };
  }
  const now = town.ports.now();
  await town.saveAgentState(agent, { gupp_bead: bead.id, gupp_wakes: wakes + 1, gupp_last_wake_at: now });
  if (!alive) {
    // A crash: the same worker, the same hook, the runtime's own conversation when it can resume one.
    const runtime = town.runtimeFor(identity, agent.runtime);
    const resume = agent.runtime_session;
    await town.ledger.emit(event('session.died', { state: agent.state }));
    await startSession(town, identity, {
      runtime,
      backend: agent.backend as 'tmux' | 'headless',
      hooked: true,
      ...(agent.branch ? { branch: agent.branch } : {}),
      ...(resume ? { resume } : {}),
    });
    await town.ledger.emit(event('agent.restarted', resume ? { resumed: resume } : {}));
    return { agent: agent.address, bead: bead.id, action: 'restarted', detail: resume ? `resumed session ${resume}` : 'fresh session' };
  }
  // A headless agent without a stream protocol cannot be written to: nothing to do until its session ends.
  if (agent.backend === 'headless' && stdinMessage(town.runtimeFor(identity, agent.runtime), '') === undefined) return undefined;
  // The same nudge as `gt nudge`: under the agent's nudge lock, confirmed by its next hook event.
  const nudge = await nudgeAgent(town, witness, identity, wakeLine(bead), {
    raw: true,
    ifIdle: true,
    idleWaitSec: 1,
    waitSec: options.confirmSec,
  });
  if (nudge.delivery === 'skipped') return undefined;
  await town.ledger.emit(event('agent.woken', { wakes: wakes + 1, confirmed: nudge.confirmed }));
  return { agent: agent.address, bead: bead.id, action: 'woken', detail: `idle since ${agent.last_signal_at ?? '?'}`, confirmed: nudge.confirmed };
}
