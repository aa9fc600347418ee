import type { Command } from 'commander';
import { followEvents, recentEvents } from '../../../core/events/follow.js';
import { TOWN_EVENT_KINDS, type TownEvent, type TownEventFilter } from '../../../core/events/town-events.js';
import { DURATION, parseDuration } from '../../../shared/duration.js';
import { usageError } from '../../../shared/errors.js';
import { action, type GtContext } from '../context.js';

interface EventsOptions {
  follow?: boolean;
  since?: string;
  after?: string;
  rig?: string;
  agent?: string;
  bead?: string;
  type?: string[];
  limit: string;
}

const collect = (value: string, previous: string[] | undefined) => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];

/** `--since 10m` (a duration back from now) or an ISO date/time. */
function sinceTime(text: string, now: number): string {
  if (DURATION.test(text.trim())) return new Date(now - parseDuration(text)).toISOString();
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) throw usageError(`--since ${JSON.stringify(text)} is neither a duration nor a date`, 'use e.g. 10m, 2h, 2026-11-27 or an ISO time');
  return new Date(parsed).toISOString();
}

function line(ctx: GtContext, event: TownEvent): string {
  const fields = Object.entries(event.payload).map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`);
  const subject = [event.rig, event.bead, event.agent].filter(Boolean).join(' ');
  return `${ctx.style.dim(`${event.at.slice(0, 19)}Z #${event.id}`)} ${ctx.style.bold(event.kind.padEnd(18))} ${subject}${fields.length ? `  ${ctx.style.dim(fields.join(' '))}` : ''}`;
}

/** Every kind, for help and errors (a plain string: joining the literal tuple's type is too deep for the compiler). */
const KIND_LIST: string = (TOWN_EVENT_KINDS as readonly string[]).join(', ');

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('events')
    .description("The town's event stream: slings, sessions, agent states, mail, done, merges, convoys, gates, permissions, in order")
    .option('-f, --follow', 'keep printing new events as they happen (until Ctrl-C)')
    .option('--since <when>', 'only events at or after this time: a duration back from now (10m, 2h) or an ISO date/time')
    .option('--after <id>', 'only events after this position (the #id a previous run printed): resume without gaps')
    .option('--rig <rig>', 'only events of this rig')
    .option('--agent <address>', 'only events of this agent')
    .option('--bead <id>', 'only events about this bead')
    .option('--type <kinds>', 'only these kinds (comma-separated, repeatable); a noun alone (mr, agent) means all its verbs', collect)
    .option('--limit <n>', 'without --since/--after: the last n events', '50')
    .option('--json', 'machine-readable: a JSON array, or with --follow one JSON object per line')
    .addHelpText(
      'after',
      `
Kinds: ${KIND_LIST}.
agent.state events are coalesced: the ledger keeps each agent's latest state only.

Examples:
  gt events                         # the last 50
  gt events --follow --json         # one JSON object per line, as they happen
  gt events --since 1h --type mr,convoy.landed
  gt events --after 1234 --follow   # resume where you left off`,
    )
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as EventsOptions;
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit <= 0) throw usageError(`--limit ${JSON.stringify(options.limit)} is not a positive whole number`);
        const after = options.after === undefined ? undefined : Number(options.after);
        if (after !== undefined && (!Number.isInteger(after) || after < 0))
          throw usageError(`--after ${JSON.stringify(options.after)} is not an event position`, 'use the #id gt events printed');
        const types = options.type ?? [];
        const unknown = types.filter((t) => !TOWN_EVENT_KINDS.some((k) => k === t || k.startsWith(`${t.replace(/\.\*$/, '')}.`)));
        if (unknown.length) throw usageError(`unknown event kind ${unknown.map((t) => JSON.stringify(t)).join(', ')}`, `kinds: ${KIND_LIST}`);
        const filter: TownEventFilter = {
          ...(options.rig ? { rig: options.rig } : {}),
          ...(options.agent ? { agent: options.agent } : {}),
          ...(options.bead ? { bead: options.bead } : {}),
          ...(types.length ? { kinds: types } : {}),
          ...(options.since ? { since: sinceTime(options.since, Date.now()) } : {}),
        };
        const town = await ctx.town({ light: true });
        const ledger = town.ledger;
        // Read the head before the first page: following from max(head, last shown) then misses nothing.
        const head = await ledger.lastTownEventId();
        const first =
          after !== undefined || options.since
            ? await ledger.townEvents(after ?? 0, filter, Number.MAX_SAFE_INTEGER)
            : await recentEvents(ledger, filter, limit);
        if (!options.follow) {
          ctx.emit(first, () => (first.length === 0 ? 'No events.' : first.map((e) => line(ctx, e)).join('\n')));
          return;
        }
        const print = (event: TownEvent) => ctx.io.stdout(ctx.json ? `${JSON.stringify(event)}\n` : `${line(ctx, event)}\n`);
        first.forEach(print);
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const start = Math.max(head, first.at(-1)?.id ?? 0, after ?? 0);
          await followEvents(ledger, { after: start, filter, signal: stop.signal }, print);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }),
    );
}
