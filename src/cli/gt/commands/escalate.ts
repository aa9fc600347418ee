import { Option, type Command } from 'commander';
import {
  ackEscalation,
  closeEscalation,
  ESCALATION_STATES,
  getEscalation,
  listEscalations,
  raiseEscalation,
  SEVERITIES,
  type Escalation,
  type EscalationState,
  type Severity,
} from '../../../core/comms/escalations.js';
import { hookedWork } from '../../../core/work/hooked.js';
import { usageError } from '../../../shared/errors.js';
import { visible } from '../../../shared/text.js';
import { table, type Style } from '../../output.js';
import { action, type GtContext } from '../context.js';

function severityOf(text: string): Severity {
  if (!(SEVERITIES as readonly string[]).includes(text)) throw usageError(`severity must be one of ${SEVERITIES.join(', ')}, got ${JSON.stringify(text)}`);
  return text as Severity;
}

function listOf<T extends string>(text: string | undefined, allowed: readonly T[], what: string): T[] | undefined {
  if (text === undefined) return undefined;
  const values = text.split(',').map((v) => v.trim());
  for (const v of values) if (!allowed.includes(v as T)) throw usageError(`${what} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return values as T[];
}

function age(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 60
    ? `${seconds}s`
    : seconds < 3600
      ? `${Math.round(seconds / 60)}m`
      : seconds < 86400
        ? `${Math.round(seconds / 3600)}h`
        : `${Math.round(seconds / 86400)}d`;
}

export function severityColour(style: Style, severity: Severity, text: string = severity): string {
  return severity === 'critical' || severity === 'high' ? style.red(text) : severity === 'medium' ? style.yellow(text) : style.dim(text);
}

/** Routes that did not reach anyone on the escalation's last round, for a warning line. */
function undelivered(escalation: Escalation): string[] {
  const last = Math.max(0, ...escalation.deliveries.map((d) => d.round));
  return escalation.deliveries.filter((d) => d.round === last && d.result === 'failed').map((d) => `${d.route}: ${d.detail}`);
}

function escalationsTable(style: Style, rows: Escalation[]): string {
  return table([
    ['ID', 'SEVERITY', 'STATE', 'SOURCE', 'SUBJECT', 'AGE', 'TITLE'],
    ...rows.map((e) => [
      style.bold(e.id),
      severityColour(style, e.severity),
      e.state === 'acked' ? `acked (${e.acked_by ?? '?'})` : e.state,
      e.source,
      e.subject ?? '-',
      age(e.created_at),
      visible(e.title),
    ]),
  ]);
}

function detail(e: Escalation): string {
  const lines = [
    `${e.id}  ${e.severity}  ${e.state}${e.acked_by ? ` by ${e.acked_by}` : ''}${e.closed_by ? ` by ${e.closed_by}` : ''}`,
    `Title:    ${e.title}`,
    `Source:   ${e.source} (${e.reason}), raised by ${e.raised_by} at ${e.created_at}`,
    ...(e.subject ? [`Subject:  ${e.subject}${e.blocks ? ' (blocked until this closes)' : ''}`] : []),
    ...(e.agent ? [`Agent:    ${e.agent}`] : []),
    ...(e.reescalations ? [`Raised again ${e.reescalations} time(s); last routed ${e.last_routed_at}`] : []),
    ...(e.close_reason ? [`Closed:   ${e.close_reason}`] : []),
    '',
    e.message,
    '',
    'Deliveries:',
    ...e.deliveries.map((d) => `  [${d.round}] ${d.route.padEnd(22)} ${d.result.padEnd(9)} ${d.detail}`),
  ];
  return visible(lines.join('\n'));
}

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('escalate <message...>')
    .description('Raise a problem to a person: an escalation bead, mailed along the routes of its severity')
    .addOption(new Option('-s, --severity <level>', 'how urgent: routes and re-escalation follow it').choices(SEVERITIES).default('medium'))
    .option('--bead <id>', "the bead it is about (default: an agent's hooked bead)")
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
The person's inbox (gt mail inbox as human) gets every escalation; town.toml adds routes per
severity:
  [escalation]
  stale_after = "30m"          # unacked this long → raised one severity and routed again
  max_reescalations = 2
  [escalation.routes]
  high = ["mail:mayor", "mail:dispatcher", "notify:default"]
One open escalation per bead and reason: raising the same again returns the open one.
An escalation about a bead blocks it (bd blocked shows why) until it is closed.

Examples:
  gt escalate "the staging API key expired" -s high
  gt escalate --bead app-a3f8 "the spec contradicts itself: see notes"
  gt escalations                       # what is open
  gt escalations ack hq-7k2m`,
    )
    .action(
      action(ctx, async (words: unknown, opts: unknown) => {
        const options = opts as { severity: string; bead?: string };
        const severity = severityOf(options.severity);
        const message = (words as string[]).join(' ');
        const town = await ctx.town();
        const agent = ctx.io.env.GT_AGENT;
        const subject = options.bead ?? (agent ? (await hookedWork(town.ledger, agent))[0]?.id : undefined);
        const result = await raiseEscalation(town, {
          message,
          severity,
          source: agent ? 'agent' : 'person',
          reason: `manual: ${message.slice(0, 80)}`,
          raisedBy: ctx.actor,
          ...(subject ? { subject } : {}),
          ...(agent ? { agent } : {}),
          ...(agent && agent.includes('/') ? { rig: agent.split('/')[0] } : {}),
        });
        const escalation = result.escalation;
        for (const line of undelivered(escalation)) ctx.err(`warning: ${line}`);
        ctx.emit({ ...escalation, deduped: result.deduped }, () =>
          result.deduped
            ? `${escalation.id} is already open for this (${escalation.state}); nothing new was sent`
            : `Escalated ${escalation.id} (${escalation.severity})${escalation.subject ? ` about ${escalation.subject}` : ''}: ${escalation.deliveries
                .filter((d) => d.result === 'delivered')
                .map((d) => d.to)
                .join(', ')}`,
        );
      }),
    );

  const escalations = program
    .command('escalations')
    .description('Escalations: list (default), show, ack, close')
    .addHelpText(
      'after',
      `
States: open (nobody acked it: it is raised again after escalation.stale_after), acked (a person
is on it), closed (resolved; also when its subject bead closes, e.g. merged).
Acking the escalation's mail (gt mail ack <id>) acks it; gt mail ack --close resolves it.

Examples:
  gt escalations
  gt escalations list --severity high,critical --json
  gt escalations list --state all
  gt escalations show hq-7k2m
  gt escalations ack hq-7k2m
  gt escalations close hq-7k2m -r "rotated the key"`,
    );

  const list = escalations
    .command('list', { isDefault: true })
    .description('Open and acked escalations, most severe first')
    .option('--state <states>', `comma-separated: ${ESCALATION_STATES.join(', ')}, or all (default open,acked)`)
    .option('--severity <levels>', `comma-separated: ${SEVERITIES.join(', ')}`)
    .option('--bead <id>', 'only those about this bead')
    .option('--json', 'machine-readable output');
  list.action(
    action(ctx, async (opts: unknown) => {
      const options = opts as { state?: string; severity?: string; bead?: string };
      const states = options.state === 'all' ? ESCALATION_STATES : listOf<EscalationState>(options.state, ESCALATION_STATES, 'state');
      const severities = listOf<Severity>(options.severity, SEVERITIES, 'severity');
      const town = await ctx.town();
      const subject = options.bead ? await town.ledger.resolve(options.bead) : undefined;
      const rows = await listEscalations(town, { ...(states ? { states } : {}), ...(severities ? { severities } : {}), ...(subject ? { subject } : {}) });
      ctx.emit(rows, () => (rows.length === 0 ? 'No escalations.' : escalationsTable(ctx.style, rows)));
    }),
  );

  escalations
    .command('show <id>')
    .description('An escalation in full: message, subject, deliveries')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (id: unknown) => {
        const escalation = await getEscalation(await ctx.town(), id as string);
        ctx.emit(escalation, () => detail(escalation));
      }),
    );

  escalations
    .command('ack <ids...>')
    .description('You are on it: it is not raised again, and your copy of its mail is handled')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (ids: unknown) => {
        const town = await ctx.town();
        const done: Escalation[] = [];
        for (const id of ids as string[]) done.push(await ackEscalation(town, id, ctx.actor));
        ctx.emit(done, () => done.map((e) => `Acked ${e.id}`).join('\n'));
      }),
    );

  escalations
    .command('close <ids...>')
    .description('Resolved: it closes with its mail, and the bead it held back is work again')
    .option('-r, --reason <text>', 'how it was resolved')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (ids: unknown, opts: unknown) => {
        const reason = (opts as { reason?: string }).reason;
        const town = await ctx.town();
        const done: Escalation[] = [];
        for (const id of ids as string[]) done.push(await closeEscalation(town, id, ctx.actor, reason));
        ctx.emit(done, () => done.map((e) => `Closed ${e.id}${e.subject ? ` (${e.subject} is no longer held back by it)` : ''}`).join('\n'));
      }),
    );
}
