import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { jsonlCodec } from '../../../app/index.js';
import { GtError } from '../../../shared/errors.js';
import { action, type BdContext } from '../context.js';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('import')
    .argument('[file]', 'JSONL file (default: stdin; - for stdin)')
    .description('Upsert issues from Beads JSONL: all-or-nothing, newer local copies win')
    .option('--dry-run', 'report what would change, change nothing')
    .option('--skip-bad-lines', 'import the good lines and report the bad ones (default: a bad line aborts the whole import)')
    .addHelpText('after', '\nExamples:\n  bd import .beads/issues.jsonl\n  bd import backup.jsonl --dry-run --json\n  cat issues.jsonl | bd import')
    .action(
      action(ctx, async (file, opts) => {
        const o = opts as { dryRun?: boolean; skipBadLines?: boolean };
        const source = file === undefined || file === '-' ? '-' : resolve(ctx.cwd, file as string);
        let text: string;
        try {
          text = readFileSync(source === '-' ? 0 : source, 'utf8');
        } catch (error) {
          throw new GtError('not_found', `cannot read ${source === '-' ? 'stdin' : source}: ${(error as Error).message}`);
        }
        const { parseJsonl } = await jsonlCodec();
        const parsed = parseJsonl(text, { skipBadLines: o.skipBadLines });
        for (const bad of parsed.badLines) ctx.err(`skipped ${bad.message}`);
        if (!ctx.json && parsed.records.length > 1000) ctx.err(`Importing ${parsed.records.length} issues from ${source === '-' ? 'stdin' : source}…`);
        const ledger = await ctx.ledger();
        const result = await ledger.importRecords({ ...parsed, source: source === '-' ? 'stdin' : source, dryRun: o.dryRun });
        for (const d of result.dangling) ctx.err(`warning: ${d.issue_id} → ${d.depends_on_id} (${d.type}): target not in the ledger (kept as a dangling edge)`);
        for (const w of result.warnings) ctx.err(`warning: ${w}`);
        ctx.emit(
          { ...result, bad_lines: parsed.badLines.map((b) => ({ line: b.line, error: b.message })) },
          () =>
            `${o.dryRun ? 'Dry run: would import' : '✓ Imported'} ${result.created} new, ${result.updated} updated, ${result.unchanged} unchanged, ${result.skipped} skipped (local copy newer)` +
            `${result.tombstones_skipped ? `, ${result.tombstones_skipped} tombstone(s) ignored` : ''}${result.memories ? `, ${result.memories} memories` : ''}` +
            `${parsed.badLines.length ? `; ${parsed.badLines.length} bad line(s) skipped` : ''}`,
        );
      }),
    );
}
