/**
 * What a person can do from the dashboard: each action is a POST under
 * `/api/` with form fields, a direct call into core (never a shell string).
 * Dangerous ones answer 409 with a confirmation until the request says
 * `confirm=yes`: the server decides what needs confirming, not the page.
 */
import { parseIdentity } from '../../core/agents/identity.js';
import { restartSession, stopSession } from '../../core/agents/sessions.js';
import { wakeForMail } from '../../core/comms/delivery.js';
import { ackEscalation } from '../../core/comms/escalations.js';
import { Mailbox } from '../../core/comms/mail.js';
import { nudgeAgent } from '../../core/comms/nudge.js';
import { alwaysAllow } from '../../core/governance/always-allow.js';
import { answerPermission } from '../../core/governance/permissions.js';
import { rejectQueued, retryRejected } from '../../core/merge/refinery.js';
import type { Town } from '../../core/town/town.js';
import { createConvoy } from '../../core/work/convoys.js';
import { slingBeads, type RuntimeProbe } from '../../core/work/work.js';
import { GtError, notFoundError, usageError } from '../../shared/errors.js';

export type Form = Record<string, string>;

export interface ActionContext {
  town: Town;
  probe: RuntimeProbe;
  prepareSessions: () => void;
}

/** Where a field's suggestions come from (a datalist the page fills). */
export type Suggestions = 'beads' | 'agents' | 'targets' | 'permissions' | 'queued' | 'rejected' | 'escalations';

export interface Field {
  name: string;
  label: string;
  list?: Suggestions;
  optional?: boolean;
  long?: boolean;
}

export interface ActionSpec {
  /** The path under /api/. */
  path: string;
  title: string;
  fields: Field[];
  /** Why it needs confirming, when it does. */
  confirm?: (form: Form) => string;
  run: (ctx: ActionContext, form: Form) => Promise<{ message: string; data?: unknown }>;
}

const need = (form: Form, name: string): string => {
  const value = form[name]?.trim();
  if (!value) throw usageError(`${name} is required`);
  return value;
};

async function agentRecord(town: Town, address: string) {
  const identity = parseIdentity(address);
  const agent = await town.agent(identity);
  if (!agent?.active) throw notFoundError(`no agent ${identity.address}`);
  return { identity, agent };
}

export const ACTIONS: ActionSpec[] = [
  {
    path: 'sling',
    title: 'Sling a bead to a rig or agent',
    fields: [
      { name: 'bead', label: 'Bead', list: 'beads' },
      { name: 'target', label: 'Rig or agent', list: 'targets' },
      { name: 'runtime', label: 'Runtime (default: the rig’s)', optional: true },
    ],
    run: async ({ town, probe, prepareSessions }, form) => {
      prepareSessions();
      const runtime = form.runtime?.trim();
      const results = await slingBeads(town, [need(form, 'bead')], need(form, 'target'), runtime ? { runtime } : {}, probe);
      return { message: results.map((r) => `Slung ${r.bead} to ${r.agent}${r.spawned ? ' (new polecat)' : ''}`).join('; '), data: results };
    },
  },
  {
    path: 'nudge',
    title: 'Nudge an agent',
    fields: [
      { name: 'agent', label: 'Agent', list: 'agents' },
      { name: 'message', label: 'Message', long: true },
    ],
    run: async ({ town }, form) => {
      const result = await nudgeAgent(town, town.ledger.actor, parseIdentity(need(form, 'agent')), need(form, 'message'), { waitSec: 0, idleWaitSec: 2 });
      return { message: `Nudged ${result.agent} (${result.delivery})`, data: result };
    },
  },
  {
    path: 'mail',
    title: 'Send mail',
    fields: [
      { name: 'to', label: 'To', list: 'agents' },
      { name: 'subject', label: 'Subject' },
      { name: 'body', label: 'Message', long: true, optional: true },
    ],
    run: async ({ town }, form) => {
      const to = parseIdentity(need(form, 'to'));
      const subject = need(form, 'subject');
      const sent = await new Mailbox(town.ledger, town.ledger.actor).send(to.address, subject, form.body ?? '');
      const delivery = await wakeForMail(town, to, town.ledger.actor, subject);
      return { message: `Mail ${sent.id} to ${to.address} (${delivery})`, data: { ...sent, delivery } };
    },
  },
  ...(['approve', 'deny'] as const).map((verb): ActionSpec => ({
    path: `permission/${verb}`,
    title: `${verb === 'approve' ? 'Approve' : 'Deny'} a permission ask`,
    fields: [
      { name: 'id', label: 'Request', list: 'permissions' },
      { name: 'reason', label: 'Reason', optional: true },
    ],
    run: async ({ town }, form) => {
      const reason = form.reason?.trim();
      const view = await answerPermission(
        town,
        need(form, 'id'),
        verb === 'approve' ? 'allow' : 'deny',
        { by: town.ledger.actor, via: 'person' },
        reason || undefined,
      );
      return { message: `${view.id}: ${view.status} (${view.agent} ${view.tool})`, data: view };
    },
  })),
  {
    // "Always allow": approve and add the request's suggested rule to the rig's policy (a person's answer: the dashboard's user).
    path: 'permission/always',
    title: 'Always allow a permission ask (adds the rule to the policy)',
    fields: [
      { name: 'id', label: 'Request', list: 'permissions' },
      { name: 'rule', label: 'Suggested rule (1 = the narrowest)', optional: true },
      { name: 'reason', label: 'Reason', optional: true },
    ],
    run: async ({ town }, form) => {
      const choice = Number(form.rule?.trim() || '1');
      if (!Number.isInteger(choice) || choice < 1) throw usageError(`rule ${JSON.stringify(form.rule)} is not a rule number`, 'use 1, 2, …');
      const view = await alwaysAllow(town, need(form, 'id'), { by: town.ledger.actor, via: 'person' }, choice, form.reason?.trim() || undefined);
      return { message: `${view.id}: ${view.status}; added to ${view.rule_added?.file ?? 'the policy'}: ${view.rule_added?.rule ?? ''}`, data: view };
    },
  },
  {
    path: 'escalation/ack',
    title: 'Acknowledge an escalation',
    fields: [{ name: 'id', label: 'Escalation', list: 'escalations' }],
    run: async ({ town }, form) => {
      const escalation = await ackEscalation(town, need(form, 'id'), town.ledger.actor);
      return { message: `Acknowledged ${escalation.id}`, data: escalation };
    },
  },
  {
    path: 'mq/retry',
    title: 'Retry a rejected merge request',
    fields: [{ name: 'id', label: 'Merge request', list: 'rejected' }],
    run: async ({ town }, form) => {
      const mr = await retryRejected(town, need(form, 'id'));
      return { message: `${mr.id} is queued again`, data: mr };
    },
  },
  {
    path: 'mq/reject',
    title: 'Reject a queued merge request',
    fields: [
      { name: 'id', label: 'Merge request', list: 'queued' },
      { name: 'reason', label: 'Reason', optional: true },
    ],
    confirm: (form) => `Reject ${form.id ?? '?'}? Its bead goes back to open and its worker is told.`,
    run: async ({ town }, form) => {
      const outcome = await rejectQueued(town, need(form, 'id'), form.reason?.trim() || 'rejected from the dashboard');
      return { message: `${outcome.merge_request} rejected`, data: outcome };
    },
  },
  {
    path: 'agent/stop',
    title: 'Stop an agent’s session',
    fields: [{ name: 'agent', label: 'Agent', list: 'agents' }],
    confirm: (form) => `Stop ${form.agent ?? '?'}? Its session ends now; its hook and worktree stay.`,
    run: async ({ town }, form) => {
      const { agent } = await agentRecord(town, need(form, 'agent'));
      await stopSession(town, agent);
      return { message: `Stopped ${agent.address}` };
    },
  },
  {
    path: 'agent/restart',
    title: 'Restart an agent’s session',
    fields: [{ name: 'agent', label: 'Agent', list: 'agents' }],
    confirm: (form) => `Restart ${form.agent ?? '?'}? Its current turn is cut short; it resumes from its hook.`,
    run: async ({ town, prepareSessions }, form) => {
      const { identity } = await agentRecord(town, need(form, 'agent'));
      prepareSessions();
      const record = await restartSession(town, identity);
      return { message: `Restarted ${record.address} (${record.session})` };
    },
  },
  {
    path: 'convoy/create',
    title: 'Create a convoy',
    fields: [
      { name: 'name', label: 'Name' },
      { name: 'beads', label: 'Beads (space or comma separated)', list: 'beads' },
    ],
    run: async ({ town }, form) => {
      const beads = need(form, 'beads')
        .split(/[\s,]+/)
        .filter(Boolean);
      const view = await createConvoy(town, need(form, 'name'), beads, { owner: town.ledger.actor });
      return { message: `Convoy ${view.id} “${view.name}” tracks ${view.total} beads`, data: view };
    },
  },
];

/** HTTP status for an error a core call raised. */
export function statusOf(error: unknown): 400 | 404 | 409 | 500 | 502 {
  if (!(error instanceof GtError)) return 500;
  switch (error.kind) {
    case 'usage':
    case 'validation':
    case 'ambiguous':
      return 400;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'external':
      return 502;
    default:
      return 500;
  }
}
