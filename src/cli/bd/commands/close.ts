import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { usageError } from '../../../shared/errors.js';
import { finishBatch } from '../batch.js';
import { action, ExitStatus, type BdContext } from '../context.js';
import { jsonIssue } from '../render.js';
import { renderJson, reportError } from '../../output.js';

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
    .option('--suggest-next', 'also list the issues this close made ready')
    .option('--claim-next', 'then claim the next ready issue (the agent loop: close, take the next)')
    .addHelpText('after', '\nExamples:\n  bd close bd-a3f -r "fixed in 4c1d2e"\n  bd close bd-a3f bd-9x2 --json\nExit: 1 only when none could be closed.')
    .action(
      action(ctx, async (ids, opts) => {
        const o = opts as { reason?: string; reasonFile?: string; force?: boolean; session?: string; suggestNext?: boolean; claimNext?: boolean };
        const ledger = await ctx.ledger();
        let list = ids as string[];
        if (list.length === 0) {
          const last = await ledger.lastTouched();
          if (!last) throw usageError('no issue ID provided', 'e.g. bd close bd-a3f -r "done"');
          list = [last];
        }
        const reason = o.reasonFile !== undefined ? readFileSync(o.reasonFile === '-' ? 0 : o.reasonFile, 'utf8').trim() : o.reason;
        const waiting = o.suggestNext ? new Set((await ledger.blocked({})).map((b) => b.id)) : new Set<string>();
        const result = await ledger.close(list, { reason, force: o.force, session: o.session ?? ctx.io.env.CLAUDE_SESSION_ID });
        if (!o.suggestNext && !o.claimNext) {
          return finishBatch(ctx, list, result, (issue) => `✓ Closed ${ctx.style.bold(issue.id)}: ${issue.close_reason ?? 'Closed'}`);
        }
        const unblocked = o.suggestNext ? (await ledger.ready({ limit: 0 })).filter((i) => waiting.has(i.id)) : [];
        const claimed = o.claimNext && result.done.length > 0 ? await ledger.claimNextReady({}) : undefined;
        if (ctx.json) {
          ctx.io.stdout(renderJson({ closed: result.done.map(jsonIssue), unblocked: unblocked.map(jsonIssue), claimed: claimed ? jsonIssue(claimed) : null }));
          for (const failure of result.failed) reportError(ctx.io, failure.error, true);
          return result.done.length === 0 && result.failed.length > 0 ? new ExitStatus(1) : undefined;
        }
        const status = finishBatch(ctx, list, result, (issue) => `✓ Closed ${ctx.style.bold(issue.id)}: ${issue.close_reason ?? 'Closed'}`);
        if (o.suggestNext)
          ctx.out(unblocked.length ? `Now ready:\n${unblocked.map((i) => `  ${i.id} P${i.priority} ${i.title}`).join('\n')}` : 'Nothing new is ready.');
        if (o.claimNext) ctx.out(claimed ? `✓ Claimed next: ${ctx.style.bold(claimed.id)}: ${claimed.title}` : 'No ready work to claim.');
        return status;
      }),
    );

  program
    .command('reopen')
    .argument('<ids...>', 'issue IDs')
    .description('Reopen closed issues (clears closed_at)')
    .option('-r, --reason <text>', 'why; recorded as a comment')
    .addHelpText('after', '\nExample:\n  bd reopen bd-a3f -r "regressed in 2.1"')
    .action(
      action(ctx, async (ids, opts) => {
        const ledger = await ctx.ledger();
        const list = ids as string[];
        const result = await ledger.reopen(list, (opts as { reason?: string }).reason);
        return finishBatch(ctx, list, result, (issue) => `✓ Reopened ${ctx.style.bold(issue.id)}`);
      }),
    );
}
