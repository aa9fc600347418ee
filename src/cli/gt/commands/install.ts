import type { Command } from 'commander';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Ledger } from '../../../core/beads/ledger.js';
import { installPorts } from '../../../app/index.js';
import { installTown } from '../../../core/town/rigs.js';
import { action, type GtContext } from '../context.js';

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('install [dir]')
    .description('Create a town: town.toml, .gt/ (ledger, logs, runs), mayor/. Safe to re-run: nothing existing is overwritten')
    .option('--name <name>', 'town name (default: the directory name)')
    .option('--force', 'install into a non-empty directory, or repair the missing parts of an existing town')
    .addHelpText(
      'after',
      '\nExamples:\n  gt install            # ~/gt\n  gt install ./town --name work\n  gt install ~/gt --force   # put back a deleted mayor/ or ledger',
    )
    .action(
      action(ctx, async (dirArg: unknown, opts: unknown) => {
        const options = opts as { name?: string; force?: boolean };
        const root = resolve(ctx.cwd, typeof dirArg === 'string' ? dirArg : join(ctx.io.env.HOME ?? homedir(), 'gt'));
        let ledger: Ledger | undefined;
        try {
          const result = await installTown(
            root,
            options.name ?? basename(root),
            installPorts(root, ctx.io.env, (opened) => (ledger = opened)),
            options,
          );
          ctx.emit(result, () =>
            result.existed && result.created.length === 0
              ? `A town already exists at ${root}; nothing changed (gt install --force fills in missing parts).`
              : `${result.existed ? 'Repaired' : 'Created'} town at ${root}${result.created.length ? `:\n${result.created.map((c) => `  + ${c}`).join('\n')}` : ''}\nNext: cd ${root} && gt rig add <name> <git-url-or-path>`,
          );
        } finally {
          await ledger?.release();
        }
      }),
    );
}
