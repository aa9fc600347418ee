import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { cookFormula } from '../../../core/formulas/formula.js';
import { formulaLibrary as loadFormulas, type FormulaLibrary } from '../../../app/index.js';
import { notFoundError } from '../../../shared/errors.js';
import { HOME_GT_DIR } from '../../../shared/paths.js';
import { collectVar, renderCooked } from '../../formulas.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

/** Rig `.beads/formulas/` (in its refinery checkout), town `formulas/`, `~/.gt/formulas/`, then built-ins. */
export async function formulaLibrary(ctx: GtContext, rig?: string): Promise<FormulaLibrary> {
  const town = await ctx.town();
  const rigs = rig ? [town.rig(rig).name] : town.rigNames();
  return loadFormulas([
    ...rigs.map((r) => town.path(r, 'refinery', '.beads', 'formulas')),
    town.path('formulas'),
    join(ctx.io.env.HOME ?? homedir(), HOME_GT_DIR, 'formulas'),
  ]);
}

export default function register(program: Command, ctx: GtContext): void {
  const formula = program
    .command('formula')
    .description('Formulas: TOML workflow templates that molecules are poured from')
    .addHelpText(
      'after',
      `
Search path (earlier shadows later): <rig>/.beads/formulas/, <town>/formulas/, ~/.gt/formulas/,
then gt's built-ins (polecat-work, code-review, release, tdd-cycle, shell-demo, resolve-conflict).

Examples:
  gt formula list
  gt formula show release --json
  gt formula cook release --var version=1.2.0`,
    );

  formula
    .command('list')
    .description('Every formula on the search path')
    .option('--rig <rig>', "only this rig's folder (and the town's)")
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const entries = (await formulaLibrary(ctx, (opts as { rig?: string }).rig)).list();
        ctx.emit(entries, () => table([['FORMULA', 'SOURCE', 'DESCRIPTION'], ...entries.map((e) => [e.name, e.source, e.description])]));
      }),
    );

  formula
    .command('show <name>')
    .description('A formula: vars and steps (its errors, when it has any)')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (name: unknown) => {
        const found = (await formulaLibrary(ctx)).load(name as string);
        if (!found) throw notFoundError(`no formula named ${JSON.stringify(name)}`, 'see gt formula list');
        ctx.emit(found, () =>
          [
            `${found.name} v${found.version} (${found.type}) — ${found.source}`,
            found.description,
            '',
            ...Object.entries(found.vars).map(
              ([k, v]) =>
                `var ${k}${v.required ? ' (required)' : v.default !== undefined ? ` = ${v.default}` : ''}${v.description ? ` — ${v.description}` : ''}`,
            ),
            ...found.steps.map((s) => `step ${s.id}: ${s.title ?? ''}${s.needs?.length ? ` (needs ${s.needs.join(', ')})` : ''}`),
          ].join('\n'),
        );
      }),
    );

  formula
    .command('cook <name>')
    .description('The resolved step graph for these vars (nothing is created; same as bd cook)')
    .option('--var <key=value>', 'a var (repeatable)', collectVar, {})
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (name: unknown, opts: unknown) => {
        const lib = await formulaLibrary(ctx);
        const found = lib.load(name as string);
        if (!found) throw notFoundError(`no formula named ${JSON.stringify(name)}`, 'see gt formula list');
        const cooked = cookFormula(found, (opts as { var: Record<string, string> }).var, lib.load);
        ctx.emit(cooked, () => renderCooked(cooked));
      }),
    );
}
