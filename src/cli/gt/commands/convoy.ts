import type { Command } from 'commander';
import { addToConvoy, checkConvoys, closeConvoy, convoyView, createConvoy, listConvoys, type ConvoyView } from '../../../core/work/convoys.js';
import { feedStrandedConvoys } from '../../../core/work/stranded.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

const progress = (c: ConvoyView) => `${c.closed}/${c.total}`;
const rows = (convoys: ConvoyView[]) =>
  table([['CONVOY', 'STATUS', 'DONE', 'NAME', 'OWNER'], ...convoys.map((c) => [c.id, c.status, progress(c), c.name, c.owner])]);
const detail = (c: ConvoyView) =>
  [
    `${c.id} "${c.name}" — ${c.status}, ${progress(c)} closed${c.landed_at ? `, landed ${c.landed_at}` : ''}`,
    `owner ${c.owner}${c.notify.length ? `; notify ${c.notify.join(', ')}` : ''}`,
    ...(c.beads.length
      ? ['', table([['BEAD', 'STATUS', 'ASSIGNEE', 'TITLE'], ...c.beads.map((b) => [b.id, b.status, b.assignee ?? '-', b.title])])]
      : ['(tracks no beads yet: gt convoy add)']),
  ].join('\n');

export default function register(program: Command, ctx: GtContext): void {
  const convoy = program
    .command('convoy')
    .description('Convoys: beads tracked together until every one is closed (landed)')
    .addHelpText(
      'after',
      `
A convoy lands when every bead it tracks is closed: its owner and --notify addresses get mail.
A convoy with no beads never lands; adding a bead to a landed convoy opens it again.

Examples:
  gt convoy create "Login rework" app-a1 app-b2 --notify mayor
  gt convoy add hq-cv-3fa app-c3
  gt convoy list --all --json
  gt convoy show hq-cv-3fa
  gt convoy check`,
    );

  convoy
    .command('create <name> [beads...]')
    .description('Create a convoy tracking these beads')
    .option('--notify <address...>', 'also tell these addresses when it lands')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (name: unknown, beads: unknown, opts: unknown) => {
        const town = await ctx.town();
        const me = await ctx.me();
        const view = await createConvoy(town, name as string, beads as string[], { owner: me.address, notify: (opts as { notify?: string[] }).notify ?? [] });
        ctx.emit(view, () => `Created convoy ${view.id} "${view.name}" tracking ${view.total} bead${view.total === 1 ? '' : 's'}`);
      }),
    );

  convoy
    .command('add <convoy> <beads...>')
    .description('Track more beads (reopens a landed convoy)')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (id: unknown, beads: unknown) => {
        const view = await addToConvoy(await ctx.town(), id as string, beads as string[]);
        ctx.emit(view, () => `${view.id} now tracks ${view.total} beads (${progress(view)} closed, ${view.status})`);
      }),
    );

  convoy
    .command('list')
    .description('Open convoys (--all: landed and closed too)')
    .option('--all', 'include closed convoys')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const convoys = await listConvoys(await ctx.town(), opts as { all?: boolean });
        ctx.emit(convoys, () => (convoys.length === 0 ? 'No convoys.' : rows(convoys)));
      }),
    );

  for (const name of ['show', 'status']) {
    convoy
      .command(`${name} <convoy>`)
      .description('A convoy, its beads and its progress')
      .option('--json', 'machine-readable output')
      .action(
        action(ctx, async (id: unknown) => {
          const view = await convoyView(await ctx.town(), id as string);
          ctx.emit(view, () => detail(view));
        }),
      );
  }

  convoy
    .command('close <convoy>')
    .description('Close a convoy by hand')
    .option('--reason <text>', 'why')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (id: unknown, opts: unknown) => {
        const view = await closeConvoy(await ctx.town(), id as string, (opts as { reason?: string }).reason);
        ctx.emit(view, () => `Closed convoy ${view.id}`);
      }),
    );

  convoy
    .command('stranded')
    .description('Feed stranded convoys: sling the next ready bead of each convoy nobody works on, close empty ones (the daemon does this on every pass)')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async () => {
        const actions = await feedStrandedConvoys(await ctx.townForSessions(), ctx.runtimeProbe);
        ctx.emit(actions, () =>
          actions.length === 0
            ? 'No stranded convoy.'
            : table([['CONVOY', 'ACTION', 'BEAD', 'DETAIL'], ...actions.map((a) => [a.convoy, a.action, a.bead ?? '-', a.detail])]),
        );
      }),
    );

  convoy
    .command('check')
    .description('Land every convoy whose beads are all closed (the daemon does this on every pass)')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async () => {
        const landed = await checkConvoys(await ctx.town());
        ctx.emit(landed, () =>
          landed.length === 0 ? 'No convoy landed.' : landed.map((c) => `Convoy ${c.id} "${c.name}" landed (${c.total} beads)`).join('\n'),
        );
      }),
    );
}
