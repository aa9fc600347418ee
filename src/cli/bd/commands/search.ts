import type { Command } from 'commander';
import { usageError } from '../../../shared/errors.js';
import { action, type BdContext } from '../context.js';
import { limitOption } from '../options.js';
import { addFilterOptions, filterFrom, printIssues, type FilterOptions } from './list.js';

export default function register(program: Command, ctx: BdContext): void {
  addFilterOptions(
    program
      .command('search')
      .argument('[query]', 'text in the title or description, or an ID prefix')
      .description('Search issues (open ones unless --all or --status all)'),
  )
    .option('-n, --limit <n>', 'at most n (0 = all; default 50)')
    .option('--sort <field>', 'sort field (default priority)')
    .option('-r, --reverse', 'reverse the sort')
    .addHelpText('after', '\nExamples:\n  bd search login\n  bd search "race" --all --json\n  bd search a3f            # by ID prefix')
    .action(
      action(ctx, async (query, opts) => {
        const o = opts as FilterOptions;
        const q = (query as string | undefined)?.trim();
        if (!q && !o.titleContains && !o.descContains && !o.notesContains) throw usageError('search query is required', 'e.g. bd search login');
        const limit = limitOption(o.limit, 50);
        const filter = await filterFrom(o, ctx, true);
        const ledger = await ctx.ledger();
        const issues = await ledger.list({ ...filter, ...(q ? { query: q } : {}), limit: limit > 0 ? limit + 1 : 0 });
        printIssues(ctx, issues, limit, `No issues match ${JSON.stringify(q ?? '')}.`);
      }),
    );
}
