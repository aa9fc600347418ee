import type { Command } from 'commander';
import { followEvents, recentEvents } from '../../../core/events/follow.js';
import { TOWN_EVENT_KINDS, type TownEvent, type TownEventFilter } from '../../../core/events/town-events.js';
import type { DaemonStatus } from '../../../core/town/ports.js';
import type { Town } from '../../../core/town/town.js';
import { describeEvent, type Tone } from '../../../core/watch/describe.js';
import { DURATION, parseDuration } from '../../../shared/duration.js';
import { usageError } from '../../../shared/errors.js';
import type { Style } from '../../output.js';
import { action, type GtContext } from '../context.js';

export interface FeedEdgeOptions {
  daemonStatus: () => DaemonStatus;
  noColor: boolean;
  rig?: string;
  type?: string;
}

/** The terminal UI (src/ui/feed), handed in by the binary so the CLI never imports another edge. */
export type FeedEdge = (town: Town, options: FeedEdgeOptions) => Promise<void>;

const paint = (style: Style, tone: Tone, text: string) =>
  tone === 'good' ? style.green(text) : tone === 'bad' ? style.red(text) : tone === 'warn' ? style.yellow(text) : tone === 'dim' ? style.dim(text) : text;

/** `[HH:MM:SS] SYMBOL text`, coloured by what happened (none with NO_COLOR or into a pipe). */
export function plainLine(style: Style, event: TownEvent): string {
  const line = describeEvent(event);
  return `${style.dim(`[${event.at.slice(11, 19)}]`)} ${paint(style, line.tone, `${line.symbol} ${line.text}`)}`;
}

export function registerFeed(program: Command, ctx: GtContext, runUi: FeedEdge): void {
  program
    .command('feed')
    .description('Watch the town in the terminal: agent tree, convoys and the live event stream, a problems view, keys to act')
    .option('--plain', 'no TUI: one line per event (for pipes and logs); the default when stdout is not a terminal')
    .option('--since <when>', 'with --plain: events since a duration back (10m, 1h) or a date/time')
    .option('--rig <rig>', 'only this rig')
    .option('--type <kind>', `only this event kind or noun (${TOWN_EVENT_KINDS.slice(0, 4).join(', ')}, mr, agent…)`)
    .option('-f, --follow', 'with --plain: keep printing new events until Ctrl-C')
    .addHelpText(
      'after',
      `
Keys: j/k or arrows move, g/G top/bottom, tab or 1 2 3 switch pane, enter peeks at the
selected agent, n nudges it, a/d approve/deny its permission ask, h hands it off, p toggles
the problems view (GUPP violations, stalled, zombies, waiting on a permission or gate,
escalated; most urgent first), / searches, f filters (rig:NAME, type:KIND), esc clears, ? help,
q quits. Works at 80x24 and over SSH; NO_COLOR turns colour off.

Examples:
  gt feed
  gt feed --rig app
  gt feed --plain --since 1h --type mr
  gt feed --plain --follow >> town.log`,
    )
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { plain?: boolean; since?: string; rig?: string; type?: string; follow?: boolean };
        if (options.type && !TOWN_EVENT_KINDS.some((k) => k === options.type || k.startsWith(`${options.type?.replace(/\.\*$/, '')}.`)))
          throw usageError(`unknown event kind ${JSON.stringify(options.type)}`, `kinds: ${(TOWN_EVENT_KINDS as readonly string[]).join(', ')}`);
        const town = await ctx.town();
        const noColor = ctx.io.env.NO_COLOR !== undefined && ctx.io.env.NO_COLOR !== '';
        const tty = process.stdout.isTTY && process.stdin.isTTY;
        if (!options.plain && tty && !ctx.json) {
          const { townDaemon } = await import('../../../app/index.js');
          const daemon = townDaemon(town.root, ctx.io.env);
          await runUi(town, {
            daemonStatus: () => daemon.status(),
            noColor,
            ...(options.rig ? { rig: options.rig } : {}),
            ...(options.type ? { type: options.type } : {}),
          });
          return;
        }
        let since: string | undefined;
        if (options.since) {
          if (DURATION.test(options.since.trim())) since = new Date(Date.now() - parseDuration(options.since)).toISOString();
          else if (!Number.isNaN(Date.parse(options.since))) since = new Date(Date.parse(options.since)).toISOString();
          else throw usageError(`--since ${JSON.stringify(options.since)} is neither a duration nor a date`, 'use e.g. 10m, 2h or an ISO time');
        }
        const filter: TownEventFilter = {
          ...(options.rig ? { rig: options.rig } : {}),
          ...(options.type ? { kinds: [options.type] } : {}),
          ...(since ? { since } : {}),
        };
        const print = (event: TownEvent) => ctx.io.stdout(ctx.json ? `${JSON.stringify(event)}\n` : `${plainLine(ctx.style, event)}\n`);
        const head = await town.ledger.lastTownEventId();
        const first = since ? await town.ledger.townEvents(0, filter, Number.MAX_SAFE_INTEGER) : await recentEvents(town.ledger, filter, 50);
        first.forEach(print);
        if (!options.follow) return;
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          await followEvents(town.ledger, { after: Math.max(head, first.at(-1)?.id ?? 0), filter, signal: stop.signal }, print);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }),
    );
}
