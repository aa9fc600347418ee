import type { Command } from 'commander';
import { COST_GROUPS, costReport, type CostGroup } from '../../../core/governance/costs.js';
import { usageError } from '../../../shared/errors.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

const usd = (n: number) => `$${n.toFixed(n >= 1 ? 2 : 4)}`;
const count = (n: number) => n.toLocaleString('en-US');

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('costs')
    .description("Tokens and USD from the runtimes' own usage reports, by agent, bead, convoy, rig, day or model")
    .option('--by <group>', `group by ${COST_GROUPS.join(', ')}`, 'agent')
    .option('--since <date>', 'only usage at or after this date or ISO time (e.g. 2026-11-01)')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
Sources: Claude Code's stream-json results (headless sessions; USD as Claude Code reports it) and
its transcripts (interactive sessions; USD from Anthropic's list prices), Codex's turn.completed.
Budgets in town.toml pause new dispatch when spent:
  [budgets]
  daily_usd = 50
  convoy_tokens = 2000000

Examples:
  gt costs
  gt costs --by bead --since 2026-11-01
  gt costs --by day --json`,
    )
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { by: string; since?: string };
        if (!(COST_GROUPS as readonly string[]).includes(options.by))
          throw usageError(`cannot group costs by ${JSON.stringify(options.by)}`, `use one of ${COST_GROUPS.join(', ')}`);
        if (options.since !== undefined && Number.isNaN(Date.parse(options.since)))
          throw usageError(`--since ${JSON.stringify(options.since)} is not a date`, 'use YYYY-MM-DD or an ISO time');
        const town = await ctx.town();
        const report = await costReport(town, options.by as CostGroup, options.since ? { since: options.since } : {});
        ctx.emit({ by: options.by, ...report }, () => {
          if (report.rows.length === 0) return 'No usage recorded yet.';
          const row = (r: typeof report.total) => [
            r.key,
            count(r.input_tokens),
            count(r.output_tokens),
            count(r.cache_read_tokens),
            count(r.cache_write_tokens),
            `${usd(r.usd)}${r.unpriced ? ' *' : ''}`,
            String(r.sessions),
          ];
          const lines = table([
            [options.by.toUpperCase(), 'INPUT', 'OUTPUT', 'CACHE READ', 'CACHE WRITE', 'USD', 'SESSIONS'],
            ...report.rows.map(row),
            row(report.total),
          ]);
          return report.total.unpriced ? `${lines}\n* some usage is from a model without a known price: its USD is not counted` : lines;
        });
      }),
    );
}
