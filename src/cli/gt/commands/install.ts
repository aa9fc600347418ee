import type { Command } from 'commander';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Ledger } from '../../../core/beads/ledger.js';
import { installPorts, isPostgresLocation, maskLedgerUrl } from '../../../app/index.js';
import { GtError } from '../../../shared/errors.js';
import { installTown } from '../../../core/town/rigs.js';
import { action, type GtContext } from '../context.js';

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('install [dir]')
    .description('Create a town: town.toml, .gt/ (ledger, logs, runs), mayor/. Safe to re-run: nothing existing is overwritten')
    .option('--name <name>', 'town name (default: the directory name)')
    .option('--force', 'install into a non-empty directory, or repair the missing parts of an existing town')
    .option(
      '--ledger <url>',
      'keep the ledger in PostgreSQL (postgres://user@host:port/db; the password from PGPASSWORD or ~/.pgpass) instead of .gt/ledger.db',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  gt install            # ~/gt\n  gt install ./town --name work\n  gt install ~/gt --force   # put back a deleted mayor/ or ledger\n  PGPASSWORD=… gt install ./team --ledger postgres://gt@db.internal:5432/town   # a town on PostgreSQL',
    )
    .action(
      action(ctx, async (dirArg: unknown, opts: unknown) => {
        const options = opts as { name?: string; force?: boolean; ledger?: string };
        if (options.ledger !== undefined) {
          if (!isPostgresLocation(options.ledger))
            throw new GtError('usage', `--ledger takes a postgres:// URL, not ${JSON.stringify(maskLedgerUrl(options.ledger))}`);
          // Whatever is in argv, every process of the machine can read (ps): say so, and never repeat the password.
          if (maskLedgerUrl(options.ledger) !== options.ledger)
            ctx.err(
              'warning: a password in --ledger is visible to other local users while gt install runs; prefer PGPASSWORD or ~/.pgpass (town.toml keeps the URL, mode 0600)',
            );
        }
        const root = resolve(ctx.cwd, typeof dirArg === 'string' ? dirArg : join(ctx.io.env.HOME ?? homedir(), 'gt'));
        let ledger: Ledger | undefined;
        try {
          const result = await installTown(
            root,
            options.name ?? basename(root),
            installPorts(root, ctx.io.env, (opened) => (ledger = opened)),
            { ...options, ...(options.ledger !== undefined ? { shownLedger: maskLedgerUrl(options.ledger) } : {}) },
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
