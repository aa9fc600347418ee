import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { cookFormula, type CookedFormula } from '../../../core/formulas/formula.js';
import { formulaLibrary, type FormulaLibrary } from '../../../app/index.js';
import { notFoundError } from '../../../shared/errors.js';
import { collectVar, renderCooked } from '../../formulas.js';
import { action, type BdContext } from '../context.js';

/** The ledger's .beads/formulas/, ~/.beads/formulas/, $GT_ROOT/formulas/, then built-ins. */
export async function bdFormulaLibrary(ctx: BdContext): Promise<FormulaLibrary> {
  const env = ctx.io.env;
  let beadsDir: string | undefined;
  try {
    beadsDir = dirname(ctx.location().path);
  } catch {
    beadsDir = undefined;
  }
  return formulaLibrary([
    ...(beadsDir ? [join(beadsDir, 'formulas')] : []),
    join(ctx.cwd, '.beads', 'formulas'),
    join(env.HOME ?? homedir(), '.beads', 'formulas'),
    ...(env.GT_ROOT ? [join(env.GT_ROOT, 'formulas')] : []),
  ]);
}

/** A formula of the search path, cooked with `vars`. */
export async function cookByName(ctx: BdContext, name: string, vars: Record<string, string>): Promise<CookedFormula> {
  const lib = await bdFormulaLibrary(ctx);
  const found = lib.load(name);
  if (!found)
    throw notFoundError(
      `no formula named ${JSON.stringify(name)}`,
      'formula files are <name>.formula.toml (or any *.toml) in .beads/formulas/ (bd cook lists built-ins too)',
    );
  return cookFormula(found, vars, lib.load);
}

export default function register(program: Command, ctx: BdContext): void {
  program
    .command('cook <formula>')
    .description('Resolve a formula with its vars and print the step graph (creates nothing)')
    .option('--var <key=value>', 'a var (repeatable)', collectVar, {})
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
Search path: the ledger's .beads/formulas/, ~/.beads/formulas/, $GT_ROOT/formulas/, then built-ins.

Examples:
  bd cook release --var version=1.2.0
  bd cook quick-check --json`,
    )
    .action(
      action(ctx, async (name: unknown, opts: unknown) => {
        const cooked = await cookByName(ctx, name as string, (opts as { var: Record<string, string> }).var);
        ctx.emit(cooked, () => renderCooked(cooked));
      }),
    );
}
