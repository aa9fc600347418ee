import type { Command } from 'commander';
import type { Identity } from '../../../core/agents/identity.js';
import { appendLongTermMemory, appendMemoryLog, rollupMemory, searchMemory, showMemory } from '../../../core/memory/memory.js';
import { usageError } from '../../../shared/errors.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

/** Whose memory: `--agent`, else the agent of this session, else (a person at a terminal) the Mayor's. */
// show, add and search read no town.toml (memory dates are local, the budget fixed): the config's schemas are not loaded.
async function whose(ctx: GtContext, agent: string | undefined): Promise<Identity> {
  const identity = await ctx.me(agent);
  return identity.role === 'human' ? { address: 'mayor', role: 'mayor' } : identity;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw usageError(`${flag} ${JSON.stringify(text)} is not a whole number`);
  return n;
}

export default function register(program: Command, ctx: GtContext): void {
  const memory = program
    .command('memory')
    .description("An agent's memory, kept in git: MEMORY.md and daily logs memory/YYYY-MM-DD.md")
    .addHelpText(
      'after',
      `
The Mayor's home (mayor/) and each crew member's (.gt/homes/<rig>/crew/<name>) is a git
repository; every change gt makes there is a commit by the agent's identity.

Examples:
  gt memory show                     # MEMORY.md, today's and yesterday's logs (the Mayor's, from a terminal)
  gt memory add "The release moved to Friday"
  gt memory add --long-term "Ada owns the billing rig"
  gt memory search release friday --json
  gt memory show --agent app/crew/max --days 7
  gt memory rollup --after-days 14   # daily logs older than 14 days into weekly files`,
    );

  memory
    .command('show')
    .description('MEMORY.md and the latest daily logs')
    .option('--agent <address>', 'whose memory (default: this session, else the Mayor)')
    .option('--days <n>', 'daily logs of this many days back, today included', '2')
    .option('--date <YYYY-MM-DD>', 'only the log of this day')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { agent?: string; days: string; date?: string };
        if (options.date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(options.date)) throw usageError(`--date ${JSON.stringify(options.date)}: use YYYY-MM-DD`);
        const identity = await whose(ctx, options.agent);
        const town = await ctx.town({ light: true });
        const view = showMemory(town, identity, { days: positiveInt(options.days, '--days'), ...(options.date ? { date: options.date } : {}) });
        ctx.emit(view, () =>
          view.files.length ? view.files.map((f) => `==> ${f.file} <==\n${f.text.trimEnd()}`).join('\n\n') : `No memory yet in ${view.home}.`,
        );
      }),
    );

  memory
    .command('add <text...>')
    .description("Append to today's log (memory/YYYY-MM-DD.md), or with --long-term to MEMORY.md, and commit it")
    .option('--agent <address>', 'whose memory (default: this session, else the Mayor)')
    .option('--long-term', 'to MEMORY.md (curated, loaded by every prime) instead of the daily log')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (words: unknown, opts: unknown) => {
        const options = opts as { agent?: string; longTerm?: boolean };
        const identity = await whose(ctx, options.agent);
        const town = await ctx.town({ light: true });
        const text = (words as string[]).join(' ');
        const entry = options.longTerm ? await appendLongTermMemory(town, identity, text) : await appendMemoryLog(town, identity, text);
        ctx.emit(entry, () => `${entry.file}: ${entry.line}${entry.commit ? ` (${entry.commit.slice(0, 8)})` : ''}`);
      }),
    );

  memory
    .command('search <query...>')
    .description('Full-text search over MEMORY.md, the daily logs and the weekly roll-ups (every word must match)')
    .option('--agent <address>', 'whose memory (default: this session, else the Mayor)')
    .option('--limit <n>', 'at most this many lines', '50')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (words: unknown, opts: unknown) => {
        const options = opts as { agent?: string; limit: string };
        const identity = await whose(ctx, options.agent);
        const town = await ctx.town({ light: true });
        const hits = searchMemory(town, identity, (words as string[]).join(' '), { limit: positiveInt(options.limit, '--limit') });
        ctx.emit(hits, () => (hits.length ? table([['FILE', 'LINE', 'TEXT'], ...hits.map((h) => [h.file, String(h.line), h.text])]) : 'No match.'));
      }),
    );

  memory
    .command('rollup')
    .description('Roll daily logs older than N days into weekly files (memory/weekly/YYYY-Www.md), one commit')
    .option('--agent <address>', 'whose memory (default: this session, else the Mayor)')
    .option('--after-days <n>', 'default: memory.rollup_after_days in town.toml (14)')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { agent?: string; afterDays?: string };
        const identity = await whose(ctx, options.agent);
        const town = await ctx.town();
        const days = options.afterDays !== undefined ? positiveInt(options.afterDays, '--after-days') : town.config.memory.rollup_after_days;
        const rolled = await rollupMemory(town, identity, days);
        ctx.emit(rolled, () =>
          rolled.weeks.length ? rolled.weeks.map((w) => `${w.file}: ${w.days.join(', ')}`).join('\n') : `No daily log older than ${days} days.`,
        );
      }),
    );
}
