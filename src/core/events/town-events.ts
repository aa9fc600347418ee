/**
 * The town event stream (design §9): every meaningful happening as one typed
 * event with a position (its id). The feed, the dashboard, notifications and
 * `gt events --follow` read it by position, so nothing is missed and nothing
 * is read twice. An event is appended in the same transaction as the change it
 * reports, so it becomes visible exactly when that change commits.
 *
 * Names are `noun.verb`. Add a kind here when a new happening needs one; never
 * rename one that shipped (followers filter on them).
 */
export const TOWN_EVENT_KINDS = [
  'bead.slung',
  'bead.unslung',
  'session.started',
  'session.ended',
  'session.died',
  'agent.state',
  'agent.woken',
  'agent.restarted',
  'agent.stalled',
  'agent.resumed',
  'agent.problem',
  'agent.interrupted',
  'daemon.recovered',
  'mail.sent',
  'mail.delivered',
  'nudge.sent',
  'nudge.confirmed',
  'work.done',
  'mr.queued',
  'mr.merged',
  'mr.rejected',
  'convoy.landed',
  'gate.opened',
  'gate.escalated',
  'permission.asked',
  'permission.decided',
  'permission.rule_added',
  'escalation.raised',
  'escalation.acked',
  'escalation.closed',
  'escalation.reescalated',
  'budget.stopped',
  'bead.queued',
  'bead.dispatched',
  'bead.dequeued',
  'runtime.backoff',
  'runtime.resumed',
  'notification.sent',
  'notification.failed',
  'notification.answered',
  'notification.refused',
  'heartbeat.sent',
  'heartbeat.skipped',
  'heartbeat.ok',
  'heartbeat.alert',
  'heartbeat.failed',
  'memory.flush_requested',
  'dog.ran',
  'polecat.reclaimed',
  'polecat.removed',
  'team.formed',
  'host.joined',
  'host.lost',
  'host.returned',
  'rig.placed',
  'rig.moved',
] as const;

export type TownEventKind = (typeof TOWN_EVENT_KINDS)[number];

/**
 * Kinds whose older events are dropped when a newer one for the same agent
 * arrives: agent state flips twice a turn, and a follower needs the current
 * state, not ten thousand past ones. The ledger stays flat however long agents
 * run (the audit trail records no state churn either).
 */
export const COALESCED_KINDS: ReadonlySet<TownEventKind> = new Set(['agent.state']);

export interface TownEventInput {
  kind: TownEventKind;
  /** Who caused it; the ledger's actor when omitted. */
  actor?: string;
  rig?: string;
  bead?: string;
  agent?: string;
  payload?: Record<string, unknown>;
}

export interface TownEvent {
  /** The position: strictly increasing, the cursor followers keep. */
  id: number;
  kind: TownEventKind;
  actor: string;
  rig?: string;
  bead?: string;
  agent?: string;
  payload: Record<string, unknown>;
  at: string;
}

export interface TownEventFilter {
  kinds?: string[];
  rig?: string;
  agent?: string;
  bead?: string;
  /** Only events at or after this time (ISO). */
  since?: string;
}

/** A kind filter entry matches exactly (`mr.merged`) or by its noun (`mr`, `mr.*`). */
export function kindMatches(kind: string, patterns: string[]): boolean {
  return patterns.some((p) => p === kind || kind.startsWith(`${p.replace(/\.\*$/, '')}.`));
}

export function isTownEventKind(text: string): text is TownEventKind {
  return (TOWN_EVENT_KINDS as readonly string[]).includes(text);
}
