/**
 * What an agent's own process may not write to the ledger (design §9, issue 12):
 * a decision on a permission request other than "deny" (only a person or a
 * configured leader decides; an agent may withdraw its own request), and the
 * approval that lets the daemon run a command gate. The edges install this on
 * the ledger of every `gt`/`bd` process that runs with GT_AGENT set.
 */
import { GtError } from '../../shared/errors.js';
import type { ReadGuard, WriteGuard } from '../beads/guard.js';
import type { Issue } from '../beads/types.js';

/** The keys that record a person's decision on a permission request. */
export const DECISION_KEYS = ['decision', 'decided_by', 'decided_via', 'decision_reason'] as const;
/** The keys that say who vouched for a command gate's command (see work/gates.ts). */
export const GATE_APPROVAL_KEYS = ['command_approved_by', 'command_approved'] as const;

function refused(agent: string, what: string, hint: string): GtError {
  return new GtError('conflict', `${agent} is an agent session and may not ${what}`, { hint });
}

function changed(before: Issue | undefined, after: Issue, key: string): boolean {
  return JSON.stringify(before?.metadata?.[key]) !== JSON.stringify(after.metadata?.[key]);
}

export function agentWriteGuard(agent: string, isLeader: () => boolean = () => false): WriteGuard {
  return (before, after) => {
    if (GATE_APPROVAL_KEYS.some((key) => changed(before, after, key))) {
      throw refused(
        agent,
        `approve the command of a gate (${after.id})`,
        'command gates come from formulas a person installed, or a person opens them with gt gate approve',
      );
    }
    const wasRequest = before?.issue_type === 'permission';
    const isRequest = after.issue_type === 'permission';
    if (!wasRequest && !isRequest) return;
    if (isLeader()) return;
    // A new request waits for a person. Afterwards the only change an agent makes is withdrawing it
    // (closed with "deny"): that is how the broker itself closes a request nobody answered, and it
    // can never grant anything. Editing it otherwise could show a person something else than is asked.
    const fresh = before === undefined && after.status !== 'closed' && DECISION_KEYS.every((key) => after.metadata?.[key] === undefined);
    const withdrawn = wasRequest && before.status !== 'closed' && isRequest && after.status === 'closed' && after.metadata?.decision === 'deny';
    if (!fresh && !withdrawn) {
      throw refused(
        agent,
        `decide or change the permission request ${after.id}`,
        'a person answers it with gt permission approve|deny (or a leader listed in town.toml permissions.leaders)',
      );
    }
  };
}

/**
 * Town and rig config are the policy (permissions, runtimes' commands, the
 * merge test command…): an agent session never changes them through gt, and
 * the broker's protected-files rule keeps its tools from editing the files.
 */
export function agentConfigError(agent: string, file: string): GtError {
  return refused(
    agent,
    `change ${file}: town and rig config are the policy, which a person changes`,
    "run gt config from a terminal that is no agent's session",
  );
}

/**
 * What an agent's own process sees of the ledger: mail addressed to it or
 * sent by it, and no one else's (design §9: no agent reads another agent's
 * mail). Other agents' messages, and the mail events that name their
 * subjects, read as absent — through gt, bd and the event stream alike.
 */
export function agentReadGuard(agent: string): ReadGuard {
  const mine = (address: string | undefined) => address === agent;
  return {
    issue: (issue) => issue.issue_type !== 'message' || mine(issue.assignee) || mine(issue.sender) || mine(issue.created_by),
    event: (event) => !event.kind.startsWith('mail.') || mine(event.agent) || mine(event.actor),
  };
}
