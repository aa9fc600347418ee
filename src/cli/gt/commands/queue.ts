import type { Command } from 'commander';
import { dispatchQueue } from '../../../core/scheduler/dispatch.js';
import { listQueue, moveInQueue, removeFromQueue, type QueueEntry } from '../../../core/scheduler/queue.js';
import { usageError } from '../../../shared/errors.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

const HELP = `
A sling past capacity is queued instead of started: [scheduler] in town.toml (and rig.toml) sets
max_agents, max_per_runtime and start_spacing. The daemon (gt up) starts queued beads as agents
finish, in priority order and then the order they were queued, start_spacing apart, and never
for a runtime that is backed off after a rate limit. A queued bead is open, unassigned, labelled
gt:queued; bd show says "queued, 3rd of 7".

Examples:
  gt queue                          # the queue in dispatch order
  gt queue --json
  gt queue remove app-a3f8          # back to plain open work
  gt queue move app-c91 1           # first among its priority
  gt queue dispatch                 # start what fits now (the daemon does this every pass)`;

interface Row {
  position: number;
  id: string;
  title: string;
  priority: number;
  target: string;
  runtime: string;
  queued_at: string;
  queued_by: string;
  reason: string | null;
  attempts: number;
  last_error: string | null;
}

function rows(entries: QueueEntry[]): Row[] {
  return entries.map((e, i) => ({
    position: i + 1,
    id: e.id,
    title: e.title,
    priority: e.priority,
    target: e.target,
    runtime: e.runtime,
    queued_at: e.queued_at,
    queued_by: e.queued_by,
    reason: e.reason ?? null,
    attempts: e.attempts,
    last_error: e.last_error ?? null,
  }));
}

function render(list: Row[]): string {
  if (list.length === 0) return 'The dispatch queue is empty.';
  return table([
    ['#', 'BEAD', 'P', 'TARGET', 'RUNTIME', 'QUEUED', 'WAITING FOR', 'TITLE'],
    ...list.map((r) => [
      String(r.position),
      r.id,
      `P${r.priority}`,
      r.target,
      r.runtime,
      r.queued_at.slice(0, 19).replace('T', ' '),
      r.last_error ? `failed ${r.attempts}×: ${r.last_error.slice(0, 60)}` : (r.reason ?? '-'),
      r.title,
    ]),
  ]);
}

export default function register(program: Command, ctx: GtContext): void {
  const queue = program.command('queue').description('The dispatch queue: work slung past capacity, in the order it will start').addHelpText('after', HELP);

  queue
    .command('list', { isDefault: true })
    .description('The queue in dispatch order (priority, then first queued)')
    .option('--rig <rig>', 'only work for this rig')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const { rig } = opts as { rig?: string };
        const town = await ctx.town();
        if (rig) town.rig(rig);
        const list = rows(await listQueue(town)).filter((r) => !rig || r.target === rig || r.target.startsWith(`${rig}/`));
        ctx.emit(list, () => render(list));
      }),
    );

  queue
    .command('remove <beads...>')
    .description('Take beads out of the queue: they stay open and unassigned')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt queue remove app-a3f8 app-b71c')
    .action(
      action(ctx, async (beads: unknown) => {
        const removed = await removeFromQueue(await ctx.town(), beads as string[]);
        ctx.emit(
          removed.map((e) => ({ id: e.id, target: e.target })),
          () => removed.map((e) => `${e.id} left the queue (it is open and unassigned).`).join('\n'),
        );
      }),
    );

  queue
    .command('move <bead> <position>')
    .description('Move a queued bead to a position within its priority (priority decides first)')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nExamples:\n  gt queue move app-c91 1     # first of its priority\n  bd update app-c91 -p 0      # to jump the whole queue, raise its priority',
    )
    .action(
      action(ctx, async (bead: unknown, position: unknown) => {
        const n = Number(position);
        if (!Number.isInteger(n)) throw usageError(`position must be a whole number, got ${String(position)}`);
        const list = rows(await moveInQueue(await ctx.town(), bead as string, n));
        ctx.emit(list, () => render(list));
      }),
    );

  queue
    .command('dispatch')
    .description('Start queued beads that fit now, as the daemon does on every pass')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt queue dispatch')
    .action(
      action(ctx, async () => {
        const town = await ctx.townForSessions();
        const outcomes = await dispatchQueue(town, ctx.runtimeProbe);
        ctx.emit(outcomes, () =>
          outcomes.length === 0
            ? 'Nothing to dispatch: the queue is empty, or nothing in it fits now.'
            : table([['BEAD', 'RESULT', 'AGENT', 'DETAIL'], ...outcomes.map((o) => [o.bead, o.result, o.agent ?? '-', o.detail ?? ''])]),
        );
        return outcomes.some((o) => o.result === 'failed' || o.result === 'dropped') ? 1 : 0;
      }),
    );
}
