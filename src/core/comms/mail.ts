/**
 * Mail (design §1): durable messages between identities, stored as beads of
 * type `message` in the town ledger. State is in labels so it can be queried:
 * `delivery:pending` until the message reached the agent (at a turn boundary,
 * by its hook or its stdin), `read` once read; acknowledging closes it.
 * Delivery is exactly once: removing `delivery:pending` is a compare-and-set
 * in its own transaction, so two hooks racing cannot both deliver a message.
 */
import { validationError } from '../../shared/errors.js';
import { single, type Ledger } from '../beads/ledger.js';
import type { IssueDetails, IssueWithCounts } from '../beads/types.js';
import { parseIdentity } from '../agents/identity.js';

export const MAIL_LABEL = 'gt:message';
export const PENDING_LABEL = 'delivery:pending';
export const READ_LABEL = 'read';

/** `idle`: an agent's turn ended (the leader's mailbox, comms/leader.ts); one unread per agent and leader. */
export type MailKind = 'message' | 'nudge' | 'handoff' | 'protocol' | 'idle';

export interface MailMessage {
  id: string;
  from: string;
  to: string;
  subject: string;
  body: string;
  kind: MailKind;
  thread: string;
  reply_to?: string;
  priority: number;
  created_at: string;
  delivered: boolean;
  read: boolean;
  acked: boolean;
  /** The escalation this message tells of (acking the message acks it). */
  escalation?: string;
  /** The permission request this message asks a leader to answer (closed once it is answered). */
  permission?: string;
}

export function messageFrom(issue: IssueDetails | IssueWithCounts): MailMessage {
  const m = issue.metadata ?? {};
  const message: MailMessage = {
    id: issue.id,
    from: issue.sender ?? issue.created_by ?? 'unknown',
    to: issue.assignee ?? '',
    subject: issue.title,
    body: issue.description ?? '',
    kind: (typeof m.kind === 'string' ? m.kind : 'message') as MailKind,
    thread: typeof m.thread === 'string' ? m.thread : issue.id,
    priority: issue.priority,
    created_at: issue.created_at,
    delivered: !issue.labels.includes(PENDING_LABEL),
    read: issue.labels.includes(READ_LABEL),
    acked: issue.status === 'closed',
  };
  if (typeof m.reply_to === 'string') message.reply_to = m.reply_to;
  if (typeof m.escalation === 'string') message.escalation = m.escalation;
  if (typeof m.permission === 'string') message.permission = m.permission;
  return message;
}

export interface SendOptions {
  replyTo?: string;
  thread?: string;
  priority?: number;
  kind?: MailKind;
  escalation?: string;
  permission?: string;
}

export class Mailbox {
  constructor(
    private readonly ledger: Ledger,
    private readonly sender: string,
  ) {}

  async send(to: string, subject: string, body: string, options: SendOptions = {}): Promise<MailMessage> {
    const recipient = parseIdentity(to).address;
    if (subject.trim() === '') throw validationError('a message needs a subject', 'pass -s "<subject>"');
    const issue = await this.ledger.create({
      title: subject,
      description: body,
      type: 'message',
      prefix: 'hq',
      assignee: recipient,
      priority: options.priority ?? 2,
      labels: [MAIL_LABEL, PENDING_LABEL, `from:${this.sender}`],
      metadata: {
        kind: options.kind ?? 'message',
        ...(options.thread ? { thread: options.thread } : {}),
        ...(options.replyTo ? { reply_to: options.replyTo } : {}),
        ...(options.escalation ? { escalation: options.escalation } : {}),
        ...(options.permission ? { permission: options.permission } : {}),
      },
      extraFields: { sender: this.sender },
      townEvent: (id) => ({
        kind: 'mail.sent',
        actor: this.sender,
        agent: recipient,
        bead: id,
        payload: { from: this.sender, to: recipient, subject, kind: options.kind ?? 'message' },
      }),
    });
    return messageFrom(issue);
  }

  async inbox(address: string, options: { all?: boolean; kinds?: MailKind[] } = {}): Promise<MailMessage[]> {
    const issues = await this.ledger.list({
      types: ['message'],
      assignee: address,
      labelsAll: [MAIL_LABEL],
      includeEphemeral: true,
      limit: 0,
      sort: 'created',
      reverse: true,
      ...(options.all ? {} : { excludeStatuses: ['closed'] }),
    });
    const messages = issues.map(messageFrom);
    return options.kinds ? messages.filter((m) => options.kinds?.includes(m.kind)) : messages;
  }

  async get(id: string): Promise<MailMessage> {
    const [issue] = await this.ledger.show([id]);
    if (!issue || issue.issue_type !== 'message') throw validationError(`${id} is not a message`);
    return messageFrom(issue);
  }

  async markRead(id: string): Promise<MailMessage> {
    const message = await this.get(id);
    if (!message.read) await this.ledger.addLabel([message.id], READ_LABEL);
    return { ...message, read: true };
  }

  async ack(ids: string[]): Promise<string[]> {
    const done: string[] = [];
    for (const id of ids) {
      const message = await this.get(id);
      if (!message.acked) {
        single(await this.ledger.close([message.id], { reason: `acked by ${this.sender}`, force: true }));
      }
      done.push(message.id);
    }
    return done;
  }

  async reply(id: string, body: string): Promise<MailMessage> {
    const original = await this.get(id);
    const subject = original.subject.startsWith('Re: ') ? original.subject : `Re: ${original.subject}`;
    return this.send(original.from, subject, body, { replyTo: original.id, thread: original.thread });
  }

  async thread(thread: string): Promise<MailMessage[]> {
    const issues = await this.ledger.list({
      types: ['message'],
      labelsAll: [MAIL_LABEL],
      includeEphemeral: true,
      limit: 0,
      sort: 'created',
      metadataFields: { thread },
    });
    const root = await this.ledger.list({ ids: [thread], types: ['message'], limit: 0 });
    return [...root, ...issues].map(messageFrom).sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  /** The messages waiting for delivery to `address`, oldest first. */
  private pending(address: string) {
    return this.ledger.list({
      types: ['message'],
      assignee: address,
      labelsAll: [MAIL_LABEL, PENDING_LABEL],
      excludeStatuses: ['closed'],
      includeEphemeral: true,
      limit: 0,
      sort: 'created',
      reverse: true,
    });
  }

  /** How many messages wait for delivery to `address` (nothing is taken). */
  async pendingCount(address: string): Promise<number> {
    return (await this.pending(address)).length;
  }

  /** Undelivered messages for `address`, each marked delivered by exactly one caller. */
  async takePending(address: string): Promise<MailMessage[]> {
    const pending = await this.pending(address);
    const taken: MailMessage[] = [];
    for (const issue of pending) {
      const result = await this.ledger.removeLabel([issue.id], PENDING_LABEL, {
        townEvent: (id) => ({ kind: 'mail.delivered', agent: address, bead: id, payload: { from: issue.sender ?? '', subject: issue.title } }),
      });
      if (result.done[0]?.changed) taken.push({ ...messageFrom(issue), delivered: true });
    }
    return taken;
  }
}

/** Mail as an agent sees it at a turn boundary (Claude's `<system-reminder>` convention). */
export function renderInjected(address: string, messages: MailMessage[]): string {
  if (messages.length === 0) return '';
  const lines = [`<system-reminder>`, `gt: ${messages.length} new message(s) for ${address}`];
  for (const m of messages) {
    if (m.kind === 'idle') {
      // One line: who stopped, on what, and what it said last.
      lines.push(`[${m.id}] ${m.subject}`);
      continue;
    }
    const label = m.kind === 'nudge' ? 'nudge' : m.kind === 'handoff' ? 'handoff note' : 'mail';
    lines.push(`[${label} ${m.id} from ${m.from}] ${m.subject}`);
    if (m.body.trim()) lines.push(m.body.trim());
  }
  lines.push('Reply with `gt mail reply <id> -m "…"`; mark handled with `gt mail ack <id>`.', '</system-reminder>');
  return `${lines.join('\n')}\n`;
}
