import type { Command } from 'commander';
import { action, type BdContext } from '../context.js';
import { limitOption } from '../options.js';
import { jsonIssue } from '../render.js';
import { renderJson, table } from '../../output.js';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('blocked')
    .description('Issues waiting on open dependencies (computed, not the stored "blocked" status)')
    .option('--parent <id>', 'descendants of this issue')
    .option('-n, --limit <n>', 'at most n (0 = all)')
    .addHelpText('after', '\nExamples:\n  bd blocked\n  bd blocked --json | jq ".[].blocked_by"')
    .action(
      action(ctx, async (opts) => {
        const o = opts as { parent?: string; limit?: string };
        const ledger = await ctx.ledger();
        const issues = await ledger.blocked({ parent: o.parent, limit: limitOption(o.limit, 0) });
        if (ctx.json) return ctx.io.stdout(renderJson(issues.map(jsonIssue)));
        if (issues.length === 0) return ctx.out('No blocked issues.');
        ctx.out(table(issues.map((i) => [ctx.style.bold(i.id), `P${i.priority}`, i.title, `blocked by ${i.blocked_by.join(', ')}`])));
      }),
    );
}
