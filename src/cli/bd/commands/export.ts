import type { Command } from 'commander';
import { jsonlCodec, writeFileAtomic } from '../../../app/index.js';
import { GtError } from '../../../shared/errors.js';
import { action, type BdContext } from '../context.js';
import { resolve } from 'node:path';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('export')
    .description('Write the ledger as Beads JSONL (one issue per line, sorted by ID)')
    .option('-o, --output <file>', 'write to this file atomically (default: stdout)')
    .option('--all', 'include infra types, templates and wisps')
    .option('--include-infra', 'include agent, rig, role and message beads')
    .option('--include-templates', 'include template (proto) issues')
    .option('--include-ephemeral', 'include wisps')
    .option('--include-memories', 'include memory lines')
    .addHelpText('after', '\nExamples:\n  bd export -o .beads/issues.jsonl\n  bd export | gzip > backup.jsonl.gz')
    .action(
      action(ctx, async (opts) => {
        const o = opts as {
          output?: string;
          all?: boolean;
          includeInfra?: boolean;
          includeTemplates?: boolean;
          includeEphemeral?: boolean;
          includeMemories?: boolean;
        };
        const ledger = await ctx.ledger();
        const { issues, memories } = await ledger.exportRecords({
          includeInfra: o.all || o.includeInfra,
          includeTemplates: o.all || o.includeTemplates,
          includeEphemeral: o.all || o.includeEphemeral,
        });
        const { formatIssueLine, formatMemoryLine } = await jsonlCodec();
        const lines = function* () {
          for (const issue of issues) yield `${formatIssueLine(issue)}\n`;
          if (o.includeMemories || o.all) for (const memory of memories) yield `${formatMemoryLine(memory)}\n`;
        };
        if (o.output === undefined) {
          for (const line of lines()) ctx.io.stdout(line);
          return;
        }
        const path = resolve(ctx.cwd, o.output);
        try {
          writeFileAtomic(path, lines());
        } catch (error) {
          throw new GtError('io', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
        }
        const summary = { path, exported: issues.length, memories: o.includeMemories || o.all ? memories.length : 0 };
        if (ctx.json) ctx.emit(summary, () => '');
        else ctx.err(`✓ Exported ${issues.length} issue(s) to ${path}`);
      }),
    );
}
