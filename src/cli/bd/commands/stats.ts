import type { Command } from 'commander';
import { action, type BdContext } from '../context.js';
import { table } from '../../output.js';
import { BOOKKEEPING_TYPES } from '../../../core/beads/rules.js';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('stats')
    .alias('status')
    .description('Counts: total, by status, ready, blocked, lead time')
    .option('--include-infra', "count gt's bookkeeping too (agents, mail, merge requests, gates, convoys…)")
    .addHelpText('after', '\nExamples:\n  bd stats\n  bd stats --json\n  bd stats --include-infra')
    .action(
      action(ctx, async (opts) => {
        const ledger = await ctx.ledger();
        const s = await ledger.stats({ excludeTypes: (opts as { includeInfra?: boolean }).includeInfra ? [] : BOOKKEEPING_TYPES });
        ctx.emit(s, () =>
          [
            ctx.style.bold('Issue Statistics'),
            table([
              ['Total Issues:', String(s.total_issues)],
              ['Open:', String(s.open_issues)],
              ['In Progress:', String(s.in_progress_issues)],
              ['Hooked:', String(s.hooked_issues)],
              ['Deferred:', String(s.deferred_issues)],
              ['Pinned:', String(s.pinned_issues)],
              ['Closed:', String(s.closed_issues)],
              ['Blocked:', String(s.blocked_issues)],
              ['Ready:', String(s.ready_issues)],
              ['Epics ready to close:', String(s.epics_eligible_for_closure)],
              ['Average lead time:', `${s.average_lead_time_hours} hours`],
            ]),
          ].join('\n'),
        );
      }),
    );
}
