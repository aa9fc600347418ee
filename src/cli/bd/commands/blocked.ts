import type { Command } from 'commander';
import { action, type BdContext } from '../context.js';
import { limitOption } from '../options.js';
import { jsonIssue } from '../render.js';
import { renderJson, table } from '../../output.js';
import type { BlockedIssue } from '../../../core/beads/types.js';
import { visibleLine } from '../../../shared/text.js';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('blocked')
    .description('Issues waiting on open dependencies (computed, not the stored "blocked" status)')
    .option('--parent <id>', 'descendants of this issue')
    .option('-n, --limit <n>', 'at most n (0 = all)')
    .addHelpText(
      'after',
      '\nAn escalated bead (gt escalations) is blocked by its escalation until a person closes it.\n\nExamples:\n  bd blocked\n  bd blocked --json | jq ".[].blocked_by"',
    )
    .action(
      action(ctx, async (opts) => {
        const o = opts as { parent?: string; limit?: string };
        const ledger = await ctx.ledger();
        const issues = await ledger.blocked({ parent: o.parent, limit: limitOption(o.limit, 0) });
        // An escalation as a blocker is the reason itself: a person must answer it (gt escalations).
        const blockers = [...new Set(issues.flatMap((i) => i.blocked_by))];
        const escalations = new Map(
          blockers.length ? (await ledger.list({ ids: blockers, types: ['escalation'], includeEphemeral: true, limit: 0 })).map((e) => [e.id, e.title]) : [],
        );
        const reasons = (i: BlockedIssue) =>
          i.blocked_by.filter((id) => escalations.has(id)).map((id) => ({ escalation: id, title: escalations.get(id) as string }));
        if (ctx.json) return ctx.io.stdout(renderJson(issues.map((i) => ({ ...jsonIssue(i), ...(reasons(i).length ? { escalated: reasons(i) } : {}) }))));
        if (issues.length === 0) return ctx.out('No blocked issues.');
        const why = (i: BlockedIssue) =>
          i.blocked_by.map((id) => (escalations.has(id) ? `escalation ${id}: ${visibleLine(escalations.get(id) as string)}` : id)).join(', ');
        ctx.out(table(issues.map((i) => [ctx.style.bold(i.id), `P${i.priority}`, i.title, `blocked by ${why(i)}`])));
      }),
    );
}
