/**
 * Compaction of gt's own closed bookkeeping. Closed wisps (ephemeral
 * molecules, never exported) go after `wisps_after`; closed mail, merge
 * requests, gates, permission requests and removed agents' beads after
 * `closed_after`. A bead is kept while anything linked to it (a
 * parent, a child, a dependency either way) is still open, so nothing that
 * is still in use loses its history. Work beads (tasks, bugs…) are never
 * compacted: they are the person's record.
 *
 * Not compacted: the audit trail (`events`), which the ledger keeps append-only
 * by a trigger; agent-state churn never reaches it (state writes are volatile).
 */
import { parseDuration } from '../../shared/duration.js';
import type { Issue } from '../beads/types.js';
import type { Dog, DogAction, DogContext } from './types.js';

/** gt's bookkeeping types that compaction removes once closed and old. */
export const COMPACTED_TYPES = ['message', 'merge-request', 'gate', 'permission', 'agent'];

async function linkedOpen(ctx: DogContext, id: string): Promise<boolean> {
  const { ledger } = ctx.town;
  // A dangling edge (its other end already gone) holds nothing open.
  return (await ledger.listDependencies(id, 'both')).some((e) => e.status !== undefined && e.status !== 'closed');
}

async function run(ctx: DogContext): Promise<DogAction[]> {
  const { town } = ctx;
  const { ledger } = town;
  const settings = town.config.dogs.compact;
  const now = Date.parse(town.ports.now());
  const before = (duration: string) => new Date(now - parseDuration(duration)).toISOString();
  const candidates: Array<{ issue: Issue; why: string }> = [];
  const wisps = await ledger.list({ statuses: ['closed'], includeEphemeral: true, closedBefore: before(settings.wisps_after), limit: 0, sort: 'id' });
  for (const issue of wisps) if (issue.ephemeral) candidates.push({ issue, why: `closed wisp, closed ${issue.closed_at ?? '?'}` });
  const seen = new Set(candidates.map((c) => c.issue.id));
  const closed = await ledger.list({
    types: COMPACTED_TYPES,
    statuses: ['closed'],
    includeEphemeral: true,
    closedBefore: before(settings.closed_after),
    limit: 0,
    sort: 'id',
  });
  for (const issue of closed) if (!seen.has(issue.id)) candidates.push({ issue, why: `closed ${issue.issue_type}, closed ${issue.closed_at ?? '?'}` });
  const actions: DogAction[] = [];
  const doomed: string[] = [];
  for (const { issue, why } of candidates) {
    if (await linkedOpen(ctx, issue.id)) continue;
    actions.push({ action: 'compacted', target: issue.id, detail: `${why}: ${issue.title}` });
    doomed.push(issue.id);
  }
  // One transaction per batch: a crash leaves whole batches done, the next run does the rest.
  if (!ctx.dryRun) for (let i = 0; i < doomed.length; i += 200) await ledger.delete(doomed.slice(i, i + 200));
  return actions;
}

export const compactDog: Dog = {
  name: 'compact',
  description:
    'Closed wisps (after wisps_after) and old closed mail, merge requests, gates, permission requests and removed agents (after closed_after) are deleted',
  run,
};
