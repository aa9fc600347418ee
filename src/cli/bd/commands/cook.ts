import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { cookFormula } from '../../../core/formulas/formula.js';
import { FormulaLibrary } from '../../../infra/formulas.js';
import { notFoundError } from '../../../shared/errors.js';
import { collectVar, renderCooked } from '../../formulas.js';
import { action, type BdContext } from '../context.js';

export default function register(program: Command, ctx: BdContext): void {
  program.command('cook <formula>').description('Resolve a formula with its vars and print the step graph (creates nothing)')
    .option('--var <key=value>', 'a var (repeatable)', collectVar, {}).option('--json', 'machine-readable output')
    .addHelpText('after', `
Search path: the ledger's .beads/formulas/, ~/.beads/formulas/, $GT_ROOT/formulas/, then built-ins.

Examples:
  bd cook release --var version=1.2.0
  bd cook quick-check --json`)
    .action(action(ctx, async (name: unknown, opts: unknown) => {
      const env = ctx.io.env;
      let beadsDir: string | undefined;
      try {
        beadsDir = dirname(ctx.location().path);
      } catch {
        beadsDir = undefined;
      }
      const lib = new FormulaLibrary([
        ...(beadsDir ? [join(beadsDir, 'formulas')] : []), join(ctx.cwd, '.beads', 'formulas'),
        join(env.HOME ?? homedir(), '.beads', 'formulas'), ...(env.GT_ROOT ? [join(env.GT_ROOT, 'formulas')] : []),
      ]);
      const found = lib.load(name as string);
      if (!found) throw notFoundError(`no formula named ${JSON.stringify(name)}`, 'formula files are <name>.formula.toml in .beads/formulas/');
      const cooked = cookFormula(found, (opts as { var: Record<string, string> }).var, lib.load);
      ctx.emit(cooked, () => renderCooked(cooked));
    }));
}
