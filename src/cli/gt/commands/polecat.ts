import type { Command } from 'commander';
import { parseIdentity, polecatIdentity } from '../../../core/agents/identity.js';
import { listPolecats, nukePolecat } from '../../../core/work/work.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

export default function register(program: Command, ctx: GtContext): void {
  const polecat = program
    .command('polecat')
    .description('Polecats: ephemeral-session workers with a persistent identity and worktree')
    .addHelpText(
      'after',
      '\nExamples:\n  gt polecat list --json\n  gt polecat nuke app/polecats/nux\n  gt polecat nuke nux --rig app --force   # saves the work on refs/gt/checkpoints/... first',
    );

  polecat
    .command('list')
    .description('Polecats, their state, hook and unsaved work')
    .option('--rig <rig>', 'only this rig')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const town = await ctx.town();
        const rows = await listPolecats(town, (opts as { rig?: string }).rig);
        ctx.emit(rows, () =>
          rows.length === 0
            ? 'No polecats yet: gt sling <bead> <rig> spawns them.'
            : table([
                ['POLECAT', 'STATE', 'SESSION', 'HOOK', 'BRANCH', 'UNSAVED'],
                ...rows.map((r) => [
                  r.agent,
                  r.state,
                  r.session_alive ? 'running' : '-',
                  r.hooked.join(',') || '-',
                  r.branch ?? '(detached)',
                  r.dirty || r.unmerged ? `${r.dirty} changed, ${r.unmerged} unmerged` : '-',
                ]),
              ]),
        );
      }),
    );

  polecat
    .command('nuke <polecat>')
    .description('Remove a polecat: session, worktree, identity. Refuses while it holds unsaved work or a hooked bead')
    .option('--rig <rig>', 'the rig, when <polecat> is a bare name')
    .option('--force', 'save its work on a checkpoint ref, hand its bead back, then remove it')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (name: unknown, opts: unknown) => {
        const options = opts as { rig?: string; force?: boolean };
        const text = name as string;
        const identity = text.includes('/') ? parseIdentity(text) : polecatIdentity(options.rig ?? '', text);
        if (!text.includes('/') && !options.rig) {
          ctx.err('Error: give the polecat as <rig>/polecats/<name>, or pass --rig');
          return 2;
        }
        const town = await ctx.town();
        const result = await nukePolecat(town, identity, options);
        ctx.emit(result, () =>
          [
            `Nuked ${result.agent}${result.checkpoint ? `; its work is saved on ${result.checkpoint}` : ''}${result.unhooked.length ? `; ${result.unhooked.join(', ')} back to open` : ''}`,
            ...(result.checkpoints_held?.length ? [`Stash entries and tags saved on ${result.checkpoints_held.join(', ')}`] : []),
            ...(result.ignored_dropped.length ? [`Dropped ignored files (never checkpointed): ${result.ignored_dropped.join(', ')}`] : []),
          ].join('\n'),
        );
      }),
    );
}
