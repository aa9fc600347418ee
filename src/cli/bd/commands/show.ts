import type { Command } from 'commander';
import { usageError } from '../../../shared/errors.js';
import { action, type BdContext } from '../context.js';
import { issueRows, jsonIssue, showText } from '../render.js';
import { renderJson } from '../../output.js';
import { QUEUE_LABEL, placeIn, queuedBeads } from '../../../core/scheduler/queue.js';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('show')
    .alias('view')
    .argument('[ids...]', 'issue IDs (full or unique partial)')
    .description('Show issues in full: fields, dependencies, dependents, comments')
    .option('--short', 'one line per issue')
    .addHelpText('after', '\nExamples:\n  bd show bd-a3f\n  bd show a3f 9x2 --json   # always a JSON array\n  bd show bd-a3f --short')
    .action(
      action(ctx, async (ids, opts) => {
        let list = ids as string[];
        const ledger = await ctx.ledger();
        if (list.length === 0) {
          const last = await ledger.lastTouched();
          if (!last) throw usageError('no issue ID provided', 'e.g. bd show bd-a3f');
          list = [last];
        }
        const details = await ledger.show(list);
        if (ctx.json) ctx.io.stdout(renderJson(details.map(jsonIssue)));
        else if ((opts as { short?: boolean }).short) ctx.out(issueRows(details, ctx.style));
        else {
          // A bead in gt's dispatch queue shows its place: "queued, 3rd of 7".
          const queue = details.some((d) => d.labels.includes(QUEUE_LABEL)) ? await queuedBeads(ledger) : [];
          const place = (id: string) => placeIn(queue, id);
          ctx.out(details.map((d) => showText(d, ctx.style, place(d.id))).join('\n\n'));
        }
      }),
    );
}
