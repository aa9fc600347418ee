import type { Command } from 'commander';
import { usageError } from '../../../shared/errors.js';
import { finishBatch } from '../batch.js';
import { action, type BdContext } from '../context.js';
import { whenOption } from '../options.js';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('defer')
    .argument('<ids...>')
    .option('--until <when>', 'hide until this time and bring it back by itself (+2d, tomorrow, 2025-01-15)')
    .description('Put issues on ice: status deferred, or hidden from ready until --until')
    .addHelpText('after', '\nExamples:\n  bd defer bd-a3f\n  bd defer bd-a3f --until +3d')
    .action(
      action(ctx, async (ids, opts) => {
        const until = whenOption((opts as { until?: string }).until, '--until');
        if (until === null) throw usageError('--until needs a time', 'e.g. --until +3d');
        const ledger = await ctx.ledger();
        const result = await ledger.defer(ids as string[], until);
        return finishBatch(
          ctx,
          ids as string[],
          result,
          (issue) => `❄ Deferred ${ctx.style.bold(issue.id)}${until ? ` until ${until.slice(0, 16).replace('T', ' ')} UTC` : ''}`,
        );
      }),
    );

  program
    .command('undefer')
    .argument('<ids...>')
    .description('Bring deferred issues back (status open, no defer time)')
    .action(
      action(ctx, async (ids) => {
        const ledger = await ctx.ledger();
        const result = await ledger.undefer(ids as string[]);
        return finishBatch(ctx, ids as string[], result, (issue) => `✓ Undeferred ${ctx.style.bold(issue.id)}`);
      }),
    );
}
