import type { Command } from 'commander';
import { parseIdentity } from '../../../core/agents/identity.js';
import { Mailbox, type MailMessage } from '../../../core/comms/mail.js';
import { wakeForMail } from '../../../core/comms/delivery.js';
import { ackEscalationMail } from '../../../core/comms/escalations.js';
import { usageError } from '../../../shared/errors.js';
import { visible } from '../../../shared/text.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';
import { registerCheck } from './mail-check.js';

function inboxTable(messages: MailMessage[]): string {
  return table([
    ['ID', 'FROM', 'SUBJECT', 'STATE'],
    ...messages.map((m) => [
      m.id,
      m.from,
      m.escalation ? `[${m.escalation}] ${m.subject}` : m.subject,
      m.acked ? 'acked' : m.read ? 'read' : m.delivered ? 'delivered' : 'new',
    ]),
  ]);
}

export default function register(program: Command, ctx: GtContext): void {
  const mail = program
    .command('mail')
    .description('Durable messages between agents and people, kept in the ledger')
    .addHelpText(
      'after',
      '\nExamples:\n  gt mail send app/polecats/nux -s "Use the v2 API" -m "See docs/api.md"\n  gt mail inbox --json\n  gt mail read hq-4f2a\n  gt mail reply hq-4f2a -m "done"\n  gt mail ack hq-4f2a\n  gt mail ack hq-4f2a --close -r "rotated the key"   # an escalation mail: resolve it\n  gt mail check --inject     # what hooks run at a turn boundary',
    );
  const as = (cmd: Command) => cmd.option('--agent <address>', "act as this agent (default: this session's agent, else human)");

  as(
    mail
      .command('send <to>')
      .description('Send a message (to: mayor, human, <rig>/polecats/<name>, <rig>/crew/<name>…)')
      .requiredOption('-s, --subject <subject>', 'subject')
      .option('-m, --message <body>', 'body', '')
      .option('--priority <n>', '0 urgent … 4 low', '2')
      .option('--json', 'machine-readable output'),
  ).action(
    action(ctx, async (to: unknown, opts: unknown) => {
      const options = opts as { subject: string; message: string; priority: string; agent?: string };
      const me = await ctx.me(options.agent);
      const town = await ctx.town();
      const recipient = parseIdentity(to as string);
      if (recipient.rig) town.rig(recipient.rig);
      const priority = Number(options.priority);
      if (!Number.isInteger(priority) || priority < 0 || priority > 4) throw usageError(`priority must be 0–4, got ${options.priority}`);
      const mailbox = new Mailbox(town.ledger, me.address);
      const sent = await mailbox.send(recipient.address, options.subject, options.message, { priority });
      const delivery = await wakeForMail(town, recipient, me.address, options.subject);
      ctx.emit({ ...sent, delivery }, () => `Sent ${sent.id} to ${sent.to}${delivery === 'stdin' ? ' (delivered to its stdin)' : ''}`);
    }),
  );

  as(
    mail
      .command('inbox')
      .description('Your messages (unacknowledged; --all for every one)')
      .option('--all', 'include acknowledged')
      .option('--json', 'machine-readable output'),
  ).action(
    action(ctx, async (opts: unknown) => {
      const options = opts as { all?: boolean; agent?: string };
      const me = await ctx.me(options.agent);
      const town = await ctx.town();
      const messages = await new Mailbox(town.ledger, me.address).inbox(me.address, { all: options.all === true });
      ctx.emit(messages, () => (messages.length === 0 ? `No mail for ${me.address}.` : inboxTable(messages)));
    }),
  );

  as(mail.command('read <id>').description('Show a message and mark it read').option('--json', 'machine-readable output')).action(
    action(ctx, async (id: unknown, opts: unknown) => {
      const me = await ctx.me((opts as { agent?: string }).agent);
      const town = await ctx.town();
      const message = await new Mailbox(town.ledger, me.address).markRead(id as string);
      ctx.emit(message, () =>
        visible(`${message.id}  from ${message.from} to ${message.to}  ${message.created_at}\nSubject: ${message.subject}\n\n${message.body}`),
      );
    }),
  );

  as(
    mail
      .command('ack <ids...>')
      .description("Mark messages handled (closes them); an escalation's mail acks the escalation too")
      .option('--close', 'for an escalation: resolve it (gt escalations close), not only ack it')
      .option('-r, --reason <text>', 'with --close: how it was resolved')
      .option('--json', 'machine-readable output'),
  ).action(
    action(ctx, async (ids: unknown, opts: unknown) => {
      const options = opts as { agent?: string; close?: boolean; reason?: string };
      const me = await ctx.me(options.agent);
      const town = await ctx.town();
      const done = await new Mailbox(town.ledger, me.address).ack(ids as string[]);
      const escalations = await ackEscalationMail(town, done, me.address, {
        ...(options.close ? { close: true } : {}),
        ...(options.reason ? { reason: options.reason } : {}),
      });
      ctx.emit({ acked: done, escalations }, () =>
        [`Acked ${done.join(', ')}`, ...(escalations.length ? [`${options.close ? 'Closed' : 'Acked'} escalation ${escalations.join(', ')}`] : [])].join('\n'),
      );
    }),
  );

  as(
    mail
      .command('reply <id>')
      .description('Reply in the same thread')
      .requiredOption('-m, --message <body>', 'body')
      .option('--json', 'machine-readable output'),
  ).action(
    action(ctx, async (id: unknown, opts: unknown) => {
      const options = opts as { message: string; agent?: string };
      const me = await ctx.me(options.agent);
      const town = await ctx.town();
      const sent = await new Mailbox(town.ledger, me.address).reply(id as string, options.message);
      ctx.emit(sent, () => `Sent ${sent.id} to ${sent.to}`);
    }),
  );

  as(mail.command('thread <id>').description('Every message of a thread, oldest first').option('--json', 'machine-readable output')).action(
    action(ctx, async (id: unknown, opts: unknown) => {
      const me = await ctx.me((opts as { agent?: string }).agent);
      const town = await ctx.town();
      const mailbox = new Mailbox(town.ledger, me.address);
      const first = await mailbox.get(id as string);
      const messages = await mailbox.thread(first.thread);
      ctx.emit(messages, () =>
        visible(messages.map((m) => `${m.id} ${m.from} → ${m.to}: ${m.subject}${m.body ? `\n  ${m.body.split('\n').join('\n  ')}` : ''}`).join('\n')),
      );
    }),
  );

  registerCheck(mail, ctx);
}
