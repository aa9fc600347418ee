import type { Command } from 'commander';
import { action, type BdContext } from '../context.js';
import { jsonIssue } from '../render.js';
import { renderJson } from '../../output.js';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('delete')
    .argument('<ids...>')
    .option('-f, --force', 'really delete (without it, only a preview is shown)')
    .description('Delete issues and every edge to or from them (preview unless --force)')
    .addHelpText('after', '\nExamples:\n  bd delete bd-a3f            # preview\n  bd delete bd-a3f --force')
    .action(
      action(ctx, async (ids, opts) => {
        const ledger = await ctx.ledger();
        const list = ids as string[];
        if (!(opts as { force?: boolean }).force) {
          const preview = await ledger.deletePreview(list);
          if (ctx.json)
            return ctx.io.stdout(
              renderJson({
                preview: true,
                issues: preview.map((p) => ({ ...jsonIssue(p.issue), dependencies: p.dependencies.length, dependents: p.dependents.length })),
              }),
            );
          const lines = [ctx.style.yellow('DELETE PREVIEW (nothing deleted; add --force to delete)')];
          for (const p of preview) {
            lines.push(`  ${p.issue.id}: ${p.issue.title}`);
            if (p.dependencies.length) lines.push(`    removes ${p.dependencies.length} outgoing edge(s)`);
            if (p.dependents.length) lines.push(`    removes ${p.dependents.length} edge(s) from: ${p.dependents.map((d) => d.issue_id).join(', ')}`);
          }
          return ctx.out(lines.join('\n'));
        }
        const deleted = await ledger.delete(list);
        ctx.emit({ deleted, count: deleted.length }, () => deleted.map((id) => `✓ Deleted ${id}`).join('\n'));
      }),
    );
}
