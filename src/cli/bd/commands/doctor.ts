import type { Command } from 'commander';
import { action, ExitStatus, type BdContext } from '../context.js';

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('doctor')
    .description('Check the ledger: SQLite integrity, foreign keys, schema version, cycles')
    .addHelpText('after', '\nExample:\n  bd doctor --json\nExit: 1 when a problem is found.')
    .action(
      action(ctx, async () => {
        const ledger = await ctx.ledger();
        const { location, schema_version, problems } = await ledger.health();
        const cycles = await ledger.cycles();
        for (const cycle of cycles) problems.push(`dependency cycle: ${cycle.join(' ↔ ')}`);
        const report = { location, schema_version, ok: problems.length === 0, problems };
        ctx.emit(report, () =>
          report.ok
            ? `✓ Ledger healthy: ${report.location} (schema ${report.schema_version})`
            : [`✗ ${problems.length} problem(s) in ${report.location}:`, ...problems.map((p) => `  - ${p}`)].join('\n'),
        );
        return report.ok ? undefined : new ExitStatus(1);
      }),
    );
}
