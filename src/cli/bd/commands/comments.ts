import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { formatTime } from '../../../shared/time.js';
import { validationError } from '../../../shared/errors.js';
import { action, type BdContext } from '../context.js';
import { jsonIssue } from '../render.js';
import { renderJson } from '../../output.js';

export default function register(program: Command, ctx: BdContext): void {
  const comments = program
    .command('comments')
    .alias('comment')
    .argument('[id]', 'list the comments of this issue')
    .description('Comments on issues')
    .addHelpText(
      'after',
      '\nExamples:\n  bd comments bd-a3f\n  bd comments add bd-a3f "Repro: log in twice"\n  bd comments add bd-a3f -f notes.md --author alice',
    )
    .action(
      action(ctx, async (id) => {
        if (id === undefined) return comments.outputHelp();
        const ledger = await ctx.ledger();
        const list = await ledger.comments(id as string);
        if (ctx.json) return ctx.io.stdout(renderJson(list.map(jsonIssue)));
        ctx.out(
          list.length
            ? list
                .map(
                  (c) =>
                    `[${c.author}] ${formatTime(c.created_at)}\n${c.text
                      .split('\n')
                      .map((l) => `  ${l}`)
                      .join('\n')}`,
                )
                .join('\n\n')
            : `No comments on ${id as string}.`,
        );
      }),
    );

  comments
    .command('add')
    .argument('<id>')
    .argument('[text]')
    .option('-f, --file <file>', 'read the text from a file (- for stdin)')
    .option('--author <name>', 'author (default: the actor)')
    .description('Add a comment')
    .action(
      action(ctx, async (id, text, opts) => {
        const o = opts as { file?: string; author?: string };
        let body = text as string | undefined;
        if (o.file !== undefined) {
          try {
            body = readFileSync(o.file === '-' ? 0 : o.file, 'utf8');
          } catch (error) {
            throw validationError(`cannot read ${o.file}: ${(error as Error).message}`);
          }
        }
        const ledger = await ctx.ledger();
        const comment = await ledger.addComment(id as string, body ?? '', o.author);
        ctx.emit(jsonIssue(comment), () => `✓ Comment added to ${comment.issue_id}`);
      }),
    );
}
