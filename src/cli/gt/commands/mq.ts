import type { Command } from 'commander';
import { effectivePriority, mergeQueue, queueStatus, rejectQueued, retryRejected, runRefinery, type MergeOutcome } from '../../../core/merge/refinery.js';
import { parseDuration } from '../../../shared/duration.js';
import { table, type Style } from '../../output.js';
import { action, type GtContext } from '../context.js';

const HELP = `
The refinery merges a rig's requests in batches (Bors-style): up to merge.batch_size of them,
in queue order, become one candidate in a fresh integration worktree; the rig's gates
(merge.setup, typecheck, lint, test in rig.toml, each with its own *_timeout) run once on it.
Green: the target fast-forwards (and is pushed when merge.push). Red: the batch is bisected,
the passing part lands and the culprits are rejected with the failing output. A branch that
does not apply is rejected alone and a resolve-conflict molecule goes back to its worker.
Queue order: priority, then arrival; a request waiting merge.aging moves up one level.
merge_via = "pr": push the branch and open a pull request with gh; a merged PR is merged.

Examples:
  gt mq list                       # every rig
  gt mq list app --json
  gt mq status app
  gt mq run app                    # what the daemon does on every pass
  gt mq retry app-mr-3fa           # a rejected request back in the queue
  gt mq reject app-mr-9c2 --reason "superseded by app-mr-a11"`;

interface QueueRow {
  id: string;
  rig: string;
  position: number;
  bead: unknown;
  branch: unknown;
  worker: unknown;
  priority: number;
  effective_priority: number;
  created_at: string;
  pr: unknown;
}

function renderOutcomes(outcomes: MergeOutcome[], style: Style): string {
  if (outcomes.length === 0) return 'Nothing to merge (or another refinery is at work).';
  const result = (r: string) => (r === 'merged' ? style.green(r) : r === 'rejected' ? style.red(r) : r);
  return table([
    ['MR', 'BEAD', 'RESULT', 'BATCH', 'COMMIT / REASON'],
    ...outcomes.map((o) => [
      o.merge_request,
      style.bold(o.bead),
      result(o.result),
      o.batch ? String(o.batch) : '-',
      o.commit?.slice(0, 12) ?? o.pr ?? o.reason ?? '',
    ]),
  ]);
}

function register(group: Command, ctx: GtContext, listName: string): void {
  group
    .command(`${listName} [rig]`)
    .description('Queued merge requests, in merge order (every rig when none is named)')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (rig: unknown) => {
        const town = await ctx.town();
        const rigs = typeof rig === 'string' ? [town.rig(rig).name] : town.rigNames();
        const now = Date.parse(town.ports.now());
        const rows: QueueRow[] = [];
        for (const name of rigs) {
          const aging = parseDuration(town.rig(name).merge.aging);
          for (const [position, mr] of (await mergeQueue(town, name)).entries()) {
            const m = mr.metadata ?? {};
            rows.push({
              id: mr.id,
              rig: name,
              position: position + 1,
              bead: m.source_issue ?? null,
              branch: m.branch ?? null,
              worker: m.worker ?? null,
              priority: mr.priority,
              effective_priority: effectivePriority(mr, now, aging),
              created_at: mr.created_at,
              pr: m.pr ?? null,
            });
          }
        }
        ctx.emit(rows, () =>
          rows.length === 0
            ? 'The merge queue is empty.'
            : table([
                ['#', 'MR', 'RIG', 'BEAD', 'BRANCH', 'WORKER', 'P'],
                ...rows.map((r) => [
                  String(r.position),
                  r.id,
                  r.rig,
                  String(r.bead),
                  String(r.branch),
                  String(r.worker),
                  r.effective_priority < r.priority ? `P${r.priority}→P${r.effective_priority}` : `P${r.priority}`,
                ]),
              ]),
        );
      }),
    );

  group
    .command('run <rig>')
    .description('Merge everything queued now (the daemon does this on every pass); exit 1 when a request was rejected')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (rig: unknown) => {
        const town = await ctx.townForSessions();
        const outcomes = await runRefinery(town, rig as string, { probe: ctx.runtimeProbe });
        ctx.emit(outcomes, () => renderOutcomes(outcomes, ctx.style));
        return outcomes.some((o) => o.result === 'rejected') ? 1 : 0;
      }),
    );
}

export default function registerAll(program: Command, ctx: GtContext): void {
  const mq = program.command('mq').description('The merge queue: list, status, run, retry, reject').addHelpText('after', HELP);
  register(mq, ctx, 'list');

  mq.command('status [rig]')
    .description('Per rig: queued, in flight, merged and rejected in 24 h, settings')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (rig: unknown) => {
        const town = await ctx.town();
        const rigs = typeof rig === 'string' ? [town.rig(rig).name] : town.rigNames();
        const statuses = await Promise.all(rigs.map((name) => queueStatus(town, name)));
        ctx.emit(statuses, () =>
          table([
            ['RIG', 'QUEUED', 'OLDEST', 'RUNNING', 'MERGED 24H', 'REJECTED 24H', 'BATCH', 'VIA', 'GATES'],
            ...statuses.map((s) => [
              s.rig,
              String(s.queued),
              s.oldest_queued_at?.slice(0, 16) ?? '-',
              s.running ? `yes${s.in_flight.length ? ` (${s.in_flight.length})` : ''}` : 'no',
              String(s.merged_24h),
              String(s.rejected_24h),
              `${s.batch_size} (${s.strategy})`,
              s.merge_via,
              s.gates.join(',') || 'none',
            ]),
          ]),
        );
      }),
    );

  mq.command('retry <mr>')
    .description('Put a rejected request back in the queue as it is')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (id: unknown) => {
        const mr = await retryRejected(await ctx.town(), id as string);
        ctx.emit(mr, () => `${mr.id} is queued again.`);
      }),
    );

  mq.command('reject <mr>')
    .description('Take a queued request out of the queue; its bead goes back to open')
    .requiredOption('--reason <text>', 'why (the worker is told)')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (id: unknown, opts: unknown) => {
        const outcome = await rejectQueued(await ctx.town(), id as string, (opts as { reason: string }).reason);
        ctx.emit(outcome, () => `${outcome.merge_request} rejected.`);
      }),
    );

  const refinery = program.command('refinery').description('The merge queue of a rig (same as gt mq)').addHelpText('after', HELP);
  register(refinery, ctx, 'queue');
}
