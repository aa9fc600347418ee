import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { usageError } from '../../../shared/errors.js';
import { finishBatch } from '../batch.js';
import { action, type BdContext } from '../context.js';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('close')
    .alias('done')
    .argument('[ids...]', 'issue IDs (default: the last one touched)')
    .description('Close issues; refused while open issues block them (--force overrides)')
    .option('-r, --reason <text>', 'why (default "Closed")')
    .option('--reason-file <file>', 'read the reason from a file (- for stdin)')
    .option('-f, --force', 'close even with open blockers or open children')
    .option('--session <id>', 'agent session that closed it (default CLAUDE_SESSION_ID)')
    .addHelpText('after', '\nExamples:\n  bd close bd-a3f -r "fixed in 4c1d2e"\n  bd close bd-a3f bd-9x2 --json\nExit: 1 only when none could be closed.')
    .action(action(ctx, async (ids, opts) => {
      const o = opts as { reason?: string; reasonFile?: string; force?: boolean; session?: string };
      const ledger = await ctx.ledger();
      let list = ids as string[];
      if (list.length === 0) {
        const last = await ledger.lastTouched();
        if (!last) throw usageError('no issue ID provided', 'e.g. bd close bd-a3f -r "done"');
        list = [last];
      }
      const reason = o.reasonFile !== undefined ? readFileSync(o.reasonFile === '-' ? 0 : o.reasonFile, 'utf8').trim() : o.reason;
      const result = await ledger.close(list, { reason, force: o.force, session: o.session ?? ctx.io.env.CLAUDE_SESSION_ID });
      return finishBatch(ctx, list, result, (issue) => `✓ Closed ${ctx.style.bold(issue.id)}: ${issue.close_reason ?? 'Closed'}`);
    }));

  program
    .command('reopen')
    .argument('<ids...>', 'issue IDs')
    .description('Reopen closed issues (clears closed_at)')
    .option('-r, --reason <text>', 'why; recorded as a comment')
    .addHelpText('after', '\nExample:\n  bd reopen bd-a3f -r "regressed in 2.1"')
    .action(action(ctx, async (ids, opts) => {
      const ledger = await ctx.ledger();
      const list = ids as string[];
      const result = await ledger.reopen(list, (opts as { reason?: string }).reason);
      return finishBatch(ctx, list, result, (issue) => `✓ Reopened ${ctx.style.bold(issue.id)}`);
    }));
}
