/**
 * A periodic Beads JSONL export (`bd export`'s format and selection: no wisps,
 * templates or infra types) at `export.path`, when town.toml sets
 * `export.auto = true`. The file is rewritten (atomically) only when the
 * ledger's export differs from it, so an unchanged ledger costs no write.
 */
import type { Dog, DogAction, DogContext } from './types.js';

async function run(ctx: DogContext): Promise<DogAction[]> {
  const { town } = ctx;
  const { path } = town.config.export;
  const absolute = path.startsWith('/') ? path : town.path(path);
  const result = await ctx.ports.exportLedger(town, absolute, { write: !ctx.dryRun });
  return result.changed ? [{ action: 'exported', target: path, detail: `${result.issues} issue(s)` }] : [];
}

export const exportDog: Dog = {
  name: 'export',
  description: 'The ledger as Beads JSONL at export.path (default .gt/export/issues.jsonl), rewritten when it changed; runs when export.auto = true',
  idleReason: (town) => (town.config.export.auto ? undefined : 'export.auto is off'),
  run,
};
