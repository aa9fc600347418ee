import type { Command } from 'commander';
import { mergeQueue, runRefinery } from '../../../core/town/refinery.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

export default function register(program: Command, ctx: GtContext): void {
  const refinery = program.command('refinery').description('The merge queue of a rig (the daemon runs it too)')
    .addHelpText('after', '\nExamples:\n  gt refinery queue app\n  gt refinery run app --json');

  refinery.command('run <rig>').description('Merge every waiting request now: rebase, test, fast-forward, close')
    .option('--json', 'machine-readable output')
    .action(action(ctx, async (rig: unknown) => {
      const town = await ctx.town();
      town.rig(rig as string);
      const outcomes = await runRefinery(town, rig as string);
      ctx.emit(outcomes, () => outcomes.length === 0 ? 'Nothing to merge (or another refinery is at work).'
        : table([['MR', 'BEAD', 'RESULT', 'COMMIT / REASON'], ...outcomes.map((o) => [o.merge_request, o.bead, o.result, o.commit?.slice(0, 12) ?? o.reason ?? ''])]));
      return outcomes.some((o) => o.result === 'rejected') ? 1 : 0;
    }));

  refinery.command('queue <rig>').description('Waiting merge requests, in merge order').option('--json', 'machine-readable output')
    .action(action(ctx, async (rig: unknown) => {
      const town = await ctx.town();
      town.rig(rig as string);
      const queue = await mergeQueue(town, rig as string);
      const rows = queue.map((mr) => ({ id: mr.id, bead: mr.metadata?.source_issue, branch: mr.metadata?.branch, worker: mr.metadata?.worker, priority: mr.priority, created_at: mr.created_at }));
      ctx.emit(rows, () => rows.length === 0 ? 'The merge queue is empty.' : table([['MR', 'BEAD', 'BRANCH', 'WORKER', 'P'], ...rows.map((r) => [r.id, String(r.bead), String(r.branch), String(r.worker), `P${r.priority}`])]));
    }));
}
