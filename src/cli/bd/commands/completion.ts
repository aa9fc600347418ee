import type { Command } from 'commander';
import { usageError } from '../../../shared/errors.js';
import { completionScript, completionSpec, registerAll, SHELLS, type Shell } from '../../completion.js';
import { action, type BdContext } from '../context.js';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('completion <shell>')
    .description(`Shell completion script (${SHELLS.join(', ')}): commands, flags and issue IDs`)
    .addHelpText(
      'after',
      `
Install:
  bash:  echo 'source <(bd completion bash)' >> ~/.bashrc
  zsh:   echo 'source <(bd completion zsh)' >> ~/.zshrc      # after compinit
  fish:  bd completion fish > ~/.config/fish/completions/bd.fish
Issue IDs are read from the ledger at TAB time.

Examples:
  bd completion bash > /etc/bash_completion.d/bd`,
    )
    .action(
      action(ctx, async (shell) => {
        if (!(SHELLS as readonly string[]).includes(shell as string))
          throw usageError(`no completion for ${JSON.stringify(shell)}`, `one of: ${SHELLS.join(', ')}`);
        const COMMANDS = ctx.commands ?? [];
        await registerAll(program, COMMANDS, ctx);
        const hidden = new Set(COMMANDS.filter((c) => c.hidden).flatMap((c) => c.names));
        ctx.io.stdout(completionScript(shell as Shell, 'bd', completionSpec(program, hidden)));
      }),
    );

  program
    .command('__complete <kind> [prefix]')
    .description('Values for shell completion (hidden)')
    .action(
      action(ctx, async (kind, prefix) => {
        if (kind !== 'beads') return;
        const start = typeof prefix === 'string' ? prefix : '';
        let ledger;
        // Best effort: outside a ledger there is nothing to offer, and no error to show.
        try {
          ledger = await ctx.ledger();
        } catch {
          return;
        }
        const issues = await ledger.list({ excludeStatuses: ['closed'], excludeTypes: ['message', 'agent'], limit: 300, sort: 'updated', reverse: true });
        const lines = issues.filter((i) => i.id.startsWith(start)).map((i) => `${i.id}\t${i.title.replace(/\s+/g, ' ').slice(0, 60)}`);
        if (lines.length) ctx.io.stdout(`${lines.join('\n')}\n`);
      }),
    );
}
