import type { Command } from 'commander';
import { migrateTownLedger } from '../../../app/index.js';
import { action, type GtContext } from '../context.js';

export default function register(program: Command, ctx: GtContext): void {
  const ledger = program.command('ledger').description("The town's ledger (SQLite file or PostgreSQL database)");
  ledger
    .command('migrate')
    .description('Copy the town ledger to PostgreSQL (or back to SQLite), verify it, then switch town.toml to it')
    .requiredOption('--to <url|path>', 'a postgres:// URL (password from PGPASSWORD or ~/.pgpass), or `sqlite` for .gt/ledger.db')
    .option('--force', 'replace what the target already holds (still only after verification)')
    .option('--json', 'machine-readable result')
    .addHelpText(
      'after',
      `
The daemon must be stopped (gt down). The copy is verified before the town switches: every table has
the same number of rows, and bd export --all of both ledgers is byte-identical. On any failure the
town keeps its ledger and town.toml is unchanged. The old ledger is left as it was.

Examples:
  gt down
  PGPASSWORD=… gt ledger migrate --to postgres://gt@db.internal:5432/town
  gt ledger migrate --to sqlite            # back to .gt/ledger.db
  gt up`,
    )
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { to: string; force?: boolean };
        const result = await migrateTownLedger(ctx.townRoot(), ctx.io.env, options.to, { force: options.force ?? false }, (line) => ctx.err(line));
        ctx.emit(result, () =>
          [
            `✓ Copied and verified ${result.from} → ${result.to}`,
            ...Object.entries(result.tables).map(([table, n]) => `  ${table.padEnd(15)} ${n}`),
            `  bd export --all identical (${result.export_bytes} bytes)`,
            result.switched ? `town.toml now uses ${result.to} (the old ledger is kept as it was)` : 'town.toml unchanged (the copy is not the town ledger)',
          ].join('\n'),
        );
      }),
    );
}
