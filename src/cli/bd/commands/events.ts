import type { Command } from 'commander';
import { action, type BdContext } from '../context.js';
import { limitOption } from '../options.js';
import { jsonIssue } from '../render.js';
import { renderJson, table } from '../../output.js';
import { formatTime } from '../../../shared/time.js';
import { usageError } from '../../../shared/errors.js';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('events')
    .alias('history')
    .argument('[id]', 'only events of this issue')
    .option('--after <n>', 'only events after this position (for followers)', '0')
    .option('-n, --limit <n>', 'at most n (default 100)')
    .description('The audit trail: who changed what, when (append-only, read by position)')
    .addHelpText('after', '\nExamples:\n  bd events bd-a3f\n  bd events --after 1200 --json')
    .action(
      action(ctx, async (id, opts) => {
        const o = opts as { after: string; limit?: string };
        const after = Number(o.after);
        if (!Number.isInteger(after) || after < 0) throw usageError(`--after must be a whole number, got ${JSON.stringify(o.after)}`);
        const events = await (await ctx.ledger()).events(after, limitOption(o.limit, 100) || Number.MAX_SAFE_INTEGER, id as string | undefined);
        if (ctx.json) return ctx.io.stdout(renderJson(events.map(jsonIssue)));
        if (events.length === 0) return ctx.out('No events.');
        ctx.out(
          table(
            events.map((e) => [
              String(e.id),
              formatTime(e.created_at),
              e.actor,
              e.issue_id,
              e.event_type,
              [e.old_value !== undefined ? `${e.old_value} →` : '', e.new_value ?? '', e.comment ? `(${e.comment.split('\n')[0]})` : '']
                .filter(Boolean)
                .join(' '),
            ]),
          ),
        );
      }),
    );
}
