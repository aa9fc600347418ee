import type { Command } from 'commander';
import { usageError } from '../../../shared/errors.js';
import { finishBatch } from '../batch.js';
import { action, type BdContext } from '../context.js';
import { renderJson, table } from '../../output.js';

export default function register(program: Command, ctx: BdContext): void {
  const label = program
    .command('label')
    .description('Labels on issues')
    .addHelpText('after', '\nExamples:\n  bd label add bd-a3f bd-9x2 backend\n  bd label remove bd-a3f backend\n  bd label list bd-a3f\n  bd label list-all');

  const change = (verb: 'add' | 'remove') =>
    label
      .command(verb)
      .argument('<ids-and-label...>', 'one or more issue IDs, then the label')
      .description(verb === 'add' ? 'Add a label to issues' : 'Remove a label from issues')
      .action(
        action(ctx, async (args) => {
          const list = args as string[];
          if (list.length < 2) throw usageError('give one or more issue IDs and then the label', `e.g. bd label ${verb} bd-a3f backend`);
          const name = list[list.length - 1] as string;
          const ledger = await ctx.ledger();
          const result = verb === 'add' ? await ledger.addLabel(list.slice(0, -1), name) : await ledger.removeLabel(list.slice(0, -1), name);
          const rows = {
            ...result,
            done: result.done.map((r) => ({ issue_id: r.id, label: r.label, status: r.changed ? (verb === 'add' ? 'added' : 'removed') : 'unchanged' })),
          };
          return finishBatch(ctx, [], rows, (r) =>
            verb === 'add' ? `✓ Added label '${r.label}' to ${r.issue_id}` : `✓ Removed label '${r.label}' from ${r.issue_id}`,
          );
        }),
      );
  change('add');
  change('remove');

  label
    .command('list')
    .argument('<id>')
    .description("An issue's labels")
    .action(
      action(ctx, async (id) => {
        const ledger = await ctx.ledger();
        const labels = (await ledger.labels(id as string)) as string[];
        if (ctx.json) return ctx.io.stdout(renderJson(labels));
        ctx.out(labels.length ? labels.join('\n') : `${String(id)} has no labels.`);
      }),
    );

  label
    .command('list-all')
    .description('Every label in use, with counts')
    .action(
      action(ctx, async () => {
        const ledger = await ctx.ledger();
        const labels = (await ledger.labels()) as Array<{ label: string; count: number }>;
        if (ctx.json) return ctx.io.stdout(renderJson(labels));
        ctx.out(labels.length ? table(labels.map((l) => [l.label, String(l.count)])) : 'No labels.');
      }),
    );
}
