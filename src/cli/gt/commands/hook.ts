import type { Command } from 'commander';
import { hookedWork } from '../../../core/work/hooked.js';
import { unslingBead } from '../../../core/work/work.js';
import { describePlace } from '../../../core/scheduler/decide.js';
import { queuedBeads } from '../../../core/scheduler/queue.js';
import { action, type GtContext } from '../context.js';

export async function hookCommand(ctx: GtContext, options: { agent?: string }): Promise<void> {
  const identity = await ctx.me(options.agent);
  const town = await ctx.town({ light: true });
  const beads = await hookedWork(town.ledger, identity.address);
  // Work slung to this agent past capacity waits in the dispatch queue: it comes to the hook when it starts.
  const queue = await queuedBeads(town.ledger);
  const queued = queue.flatMap((b, i) =>
    b.metadata?.queue_target === identity.address ? [{ id: b.id, title: b.title, priority: b.priority, position: i + 1, of: queue.length }] : [],
  );
  ctx.emit(
    {
      agent: identity.address,
      hooked: beads.map((b) => ({ id: b.id, title: b.title, status: b.status, priority: b.priority, type: b.issue_type, branch: b.metadata?.branch })),
      queued,
    },
    () =>
      [
        ...(beads.length === 0 && queued.length === 0 ? [`Nothing on the hook of ${identity.address}.`] : []),
        ...beads.map((b) => `${b.id}  ${b.title}  [${b.status}]`),
        ...queued.map((q) => `${q.id}  ${q.title}  [${describePlace(q)}]`),
      ].join('\n'),
  );
}

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('hook')
    .description("Show the work on your hook (or another agent's)")
    .option('--agent <address>', "whose hook (default: this session's agent)")
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt hook\n  gt hook --agent app/polecats/nux --json')
    .action(action(ctx, async (opts: unknown) => hookCommand(ctx, opts as { agent?: string })));

  program
    .command('unsling <bead>')
    .description('Take a bead off its hook: back to open, unassigned; the worktree is kept')
    .option('--force', "even while the worker's session runs")
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt unsling app-a3f8')
    .action(
      action(ctx, async (bead: unknown, opts: unknown) => {
        const town = await ctx.town();
        const issue = await unslingBead(town, bead as string, opts as { force?: boolean });
        ctx.emit(issue, () => `Unslung ${issue.id}: open and unassigned`);
      }),
    );
}
