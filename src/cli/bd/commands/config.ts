import type { Command } from 'commander';
import { action, type BdContext } from '../context.js';
import { renderJson, table } from '../../output.js';
import { notFoundError } from '../../../shared/errors.js';

export default function register(program: Command, ctx: BdContext): void {
  const config = program
    .command('config')
    .description('Ledger settings stored in the database')
    .addHelpText(
      'after',
      `
Keys the ledger reads:
  issue_prefix          prefix of new IDs
  status.custom         custom statuses, "name:category,…" (category: active|wip|done|frozen)
  types.custom          custom issue types, "a,b"
  min_hash_length, max_hash_length, max_collision_prob   adaptive ID length
Examples:
  bd config set status.custom "review:wip,qa:active"
  bd config get issue_prefix
  bd config list --json`,
    );

  config
    .command('get')
    .argument('<key>')
    .description('Print a value')
    .action(
      action(ctx, async (key) => {
        const value = await (await ctx.ledger()).getConfig(key as string);
        if (value === undefined) throw notFoundError(`config key ${JSON.stringify(key)} is not set`, 'bd config list shows what is set');
        ctx.emit({ key, value }, () => value);
      }),
    );
  config
    .command('set')
    .argument('<key>')
    .argument('<value>')
    .description('Set a value (validated for the keys the ledger reads)')
    .action(
      action(ctx, async (key, value) => {
        await (await ctx.ledger()).setConfig(key as string, value as string);
        ctx.emit({ key, value }, () => `✓ Set ${String(key)} = ${String(value)}`);
      }),
    );
  config
    .command('unset')
    .argument('<key>')
    .description('Remove a value')
    .action(
      action(ctx, async (key) => {
        await (await ctx.ledger()).unsetConfig(key as string);
        ctx.emit({ key, unset: true }, () => `✓ Unset ${String(key)}`);
      }),
    );
  config
    .command('list')
    .description('Every setting')
    .action(
      action(ctx, async () => {
        const all = await (await ctx.ledger()).listConfig();
        if (ctx.json) return ctx.io.stdout(renderJson(all));
        ctx.out(table(Object.entries(all).map(([k, v]) => [k, v])));
      }),
    );
}
