import type { Command } from 'commander';
import { burnMolecule, moleculeView, pourMolecule, squashMolecule, type MoleculeView } from '../../../core/formulas/molecule.js';
import { commandGateVoucher } from '../../../core/work/gates.js';
import { collectVar } from '../../formulas.js';
import { table } from '../../output.js';
import { action, type BdContext } from '../context.js';
import { cookByName } from './cook.js';

function render(view: MoleculeView): string {
  const current = new Set(view.current.map((s) => s.id));
  return [
    `${view.root.id} ${view.root.title} — ${view.root.status}, ${view.closed}/${view.total} steps closed${view.root.ephemeral ? ' (wisp)' : ''}`,
    table([['STEP', 'STATUS', 'TITLE'], ...view.steps.map((s) => [s.id, current.has(s.id) ? `${s.status} ← now` : s.status, s.title])]),
  ].join('\n');
}

export default function register(program: Command, ctx: BdContext): void {
  const mol = program
    .command('mol')
    .description('Molecules: formulas poured into the ledger (wisps: ephemeral ones, never exported)')
    .addHelpText(
      'after',
      `
Examples:
  bd mol pour release --var version=1.2.0
  bd mol wisp quick-check
  bd mol show bd-mol-a3f8
  bd mol current bd-mol-a3f8      # the step(s) to work on now
  bd ready --mol bd-mol-a3f8
  bd mol squash bd-mol-a3f8 --summary "released"
  bd mol burn bd-wisp-9c2e`,
    );

  for (const [name, ephemeral] of [
    ['pour', false],
    ['wisp', true],
  ] as const) {
    mol
      .command(`${name} <formula>`)
      .description(
        ephemeral
          ? 'Pour an ephemeral molecule (a wisp): never exported'
          : 'Pour a formula into a persistent molecule: root, steps and edges in one transaction',
      )
      .option('--var <key=value>', 'a var (repeatable)', collectVar, {})
      .option('--assignee <who>', 'assign the root')
      .option('--dry-run', 'cook and show what would be created, create nothing')
      .option('--json', 'machine-readable output')
      .action(
        action(ctx, async (formula: unknown, opts: unknown) => {
          const o = opts as { var: Record<string, string>; assignee?: string; dryRun?: boolean };
          const cooked = await cookByName(ctx, formula as string, o.var);
          if (o.dryRun) {
            ctx.emit(
              { dry_run: true, formula: cooked.formula, steps: cooked.steps.map((s) => s.id) },
              () => `Would pour ${cooked.formula}: ${cooked.steps.length} steps (${cooked.steps.map((s) => s.id).join(', ')})`,
            );
            return;
          }
          const env = ctx.io.env;
          const location = ctx.location();
          const voucher = commandGateVoucher(cooked, { person: !env.GT_AGENT, actor: ctx.actor() }, location.kind === 'town' ? location.root : undefined);
          // In a rig, the rig's prefix (as bd create): a command gate runs in its rig's worktree.
          const prefix = ctx.createPrefix();
          const result = await pourMolecule(await ctx.ledger(), cooked, {
            ephemeral,
            ...(prefix ? { prefix } : {}),
            ...(o.assignee ? { assignee: o.assignee } : {}),
            ...(voucher ? { commandsVouchedBy: voucher } : {}),
          });
          ctx.emit(
            result,
            () => `${ephemeral ? 'Wisp' : 'Molecule'} ${result.root}: ${Object.keys(result.steps).length} steps of ${cooked.formula} (${result.created} beads)`,
          );
        }),
      );
  }

  for (const [name, what] of [
    ['show', 'The molecule and its steps'],
    ['progress', 'How many steps are closed'],
  ] as const) {
    mol
      .command(`${name} <molecule>`)
      .description(what)
      .option('--json', 'machine-readable output')
      .action(
        action(ctx, async (id: unknown) => {
          const view = await moleculeView(await ctx.ledger(), id as string);
          if (name === 'progress')
            ctx.emit(
              { molecule: view.root.id, closed: view.closed, total: view.total, status: view.root.status },
              () => `${view.root.id}: ${view.closed}/${view.total} steps closed (${view.root.status})`,
            );
          else ctx.emit(view, () => render(view));
        }),
      );
  }

  mol
    .command('current <molecule>')
    .description('The step(s) ready to work on now, and what comes next')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (id: unknown) => {
        const view = await moleculeView(await ctx.ledger(), id as string);
        const next = view.steps.filter((s) => s.status !== 'closed' && !view.current.some((c) => c.id === s.id));
        ctx.emit({ molecule: view.root.id, current: view.current, next }, () =>
          view.current.length === 0
            ? view.root.status === 'closed'
              ? `${view.root.id} is done.`
              : `${view.root.id}: nothing is ready (waiting on a gate or a blocker).`
            : [
                `Now: ${view.current.map((s) => `${s.id} ${s.title}`).join('; ')}`,
                ...(next.length ? [`Then: ${next.map((s) => s.title).join(' → ')}`] : []),
              ].join('\n'),
        );
      }),
    );

  mol
    .command('squash <molecule>')
    .description('Compress a molecule into one closed digest bead (steps deleted unless --keep-children)')
    .option('--summary <text>', 'the digest text (default: the steps and how they ended)')
    .option('--keep-children', 'keep the step beads')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (id: unknown, opts: unknown) => {
        const o = opts as { summary?: string; keepChildren?: boolean };
        const result = await squashMolecule(await ctx.ledger(), id as string, {
          ...(o.summary ? { summary: o.summary } : {}),
          ...(o.keepChildren ? { keepChildren: true } : {}),
        });
        ctx.emit(
          result,
          () =>
            `Squashed ${result.molecule} into ${result.digest} (${result.squashed.length} steps${result.deleted ? `, ${result.deleted} beads deleted` : ''})`,
        );
      }),
    );

  mol
    .command('burn <molecule>')
    .description('Delete a molecule: root, steps and gates, no digest')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (id: unknown) => {
        const deleted = await burnMolecule(await ctx.ledger(), id as string);
        ctx.emit({ deleted }, () => `Burned ${deleted.length} beads`);
      }),
    );
}
