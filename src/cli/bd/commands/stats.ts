import type { Command } from 'commander';
import { action, type BdContext } from '../context.js';
import { table } from '../../output.js';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('stats')
    .alias('status')
    .description('Counts: total, by status, ready, blocked, lead time')
    .addHelpText('after', '\nExamples:\n  bd stats\n  bd stats --json')
    .action(
      action(ctx, async () => {
        const ledger = await ctx.ledger();
        const s = await ledger.stats();
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
