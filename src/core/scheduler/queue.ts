/**
 * The dispatch queue (issue 14 §5): work slung past capacity waits here until
 * the daemon starts it. A queued bead stays `open`, unassigned, with the label
 * `gt:queued` and what the sling asked for in its metadata (`queue_*`), so it
 * is visible to `bd` and survives any restart. Dispatch order is priority, then
 * the order it was queued (`queue_seq`, which `gt queue move` changes).
 */
import { conflictError, notFoundError, usageError } from '../../shared/errors.js';
import { lockFile } from '../../shared/paths.js';
import { unixNanos } from '../../shared/time.js';
import { single, type Ledger } from '../beads/ledger.js';
import type { Issue, IssueDetails } from '../beads/types.js';
import { parseIdentity, polecatIdentity } from '../agents/identity.js';
import type { AgentRecord, Town } from '../town/town.js';
import { pausedRuntimes, readBackoffs } from './backoff.js';
import { dispatchOrder, type Limits, type QueuePlace, type RunningAgent, type SchedulerView } from './decide.js';

export const QUEUE_LABEL = 'gt:queued';
/** The metadata a queued bead carries; all of it goes when it is dispatched or removed. */
export const QUEUE_KEYS = [
  'queued_at',
  'queued_by',
  'queue_seq',
  'queue_target',
  'queue_runtime',
  'queue_backend',
  'queue_force',
  'queue_reason',
  'queue_attempts',
  'queue_error',
  // A town across hosts: which host's daemon claimed the dispatch, and where work moved from another host resumes.
  'dispatch_host',
  'dispatch_claimed_at',
  'resume_agent',
  'resume_since',
];

export interface QueueEntry {
  id: string;
  title: string;
  priority: number;
  seq: number;
  /** A rig (a polecat takes it) or an agent address. */
  target: string;
  rig?: string | undefined;
  /** The runtime it will start with: the sling's `--agent`, else what the target resolves to. */
  runtime: string;
  /** Whether the runtime was asked for (`--agent`) rather than resolved. */
  explicit_runtime: boolean;
  backend?: string;
  force: boolean;
  queued_at: string;
  queued_by: string;
  reason?: string;
  attempts: number;
  last_error?: string;
}

export type { QueuePlace } from './decide.js';

/** The runtime work for `target` would start with (`explicit` when the sling named one). */
export function runtimeForTarget(town: Town, target: string, explicit: string | undefined, existing?: AgentRecord): string {
  if (explicit) return explicit;
  if (target.includes('/') || target === 'mayor') {
    const identity = parseIdentity(target);
    // Crew and the Mayor keep the runtime they last ran; a polecat's is resolved per sling.
    return town.runtimeFor(identity, identity.role !== 'polecat' ? existing?.runtime : undefined).name;
  }
  return town.runtimeFor(polecatIdentity(target, 'queued')).name;
}

export function rigOfTarget(target: string): string | undefined {
  return target.includes('/') || target === 'mayor' ? parseIdentity(target).rig : target;
}

function entryOf(town: Town, issue: Issue): QueueEntry | undefined {
  const m = issue.metadata ?? {};
  const target = typeof m.queue_target === 'string' ? m.queue_target : undefined;
  if (!target) return undefined;
  const explicit = typeof m.queue_runtime === 'string' ? m.queue_runtime : undefined;
  let runtime: string;
  try {
    runtime = runtimeForTarget(town, target, explicit);
  } catch {
    // A rig removed since, or a broken rig.toml: it shows in the queue and fails at dispatch, saying why.
    runtime = explicit ?? '?';
  }
  const queuedAt = typeof m.queued_at === 'string' ? m.queued_at : issue.updated_at;
  return {
    id: issue.id,
    title: issue.title,
    priority: issue.priority,
    seq: typeof m.queue_seq === 'number' ? m.queue_seq : Date.parse(queuedAt),
    target,
    rig: rigOfTarget(target),
    runtime,
    explicit_runtime: explicit !== undefined,
    ...(typeof m.queue_backend === 'string' ? { backend: m.queue_backend } : {}),
    force: m.queue_force === true,
    queued_at: queuedAt,
    queued_by: typeof m.queued_by === 'string' ? m.queued_by : 'human',
    ...(typeof m.queue_reason === 'string' ? { reason: m.queue_reason } : {}),
    attempts: typeof m.queue_attempts === 'number' ? m.queue_attempts : 0,
    ...(typeof m.queue_error === 'string' ? { last_error: m.queue_error } : {}),
  };
}

/** The queued beads in dispatch order, from the ledger alone (what bd show needs). A queued bead someone hooked or closed meanwhile is not in it. */
export async function queuedBeads(ledger: Ledger): Promise<Issue[]> {
  const issues = await ledger.list({
    labelsAll: [QUEUE_LABEL],
    excludeStatuses: ['closed', 'hooked', 'in_progress'],
    includeEphemeral: true,
    limit: 0,
    sort: 'priority',
  });
  const seqOf = (i: Issue) => (typeof i.metadata?.queue_seq === 'number' ? i.metadata.queue_seq : Date.parse(i.updated_at));
  return dispatchOrder(
    issues.filter((i) => typeof i.metadata?.queue_target === 'string').map((issue) => ({ id: issue.id, priority: issue.priority, seq: seqOf(issue), issue })),
  ).map((e) => e.issue);
}

/** The queue in dispatch order. */
export async function listQueue(town: Town): Promise<QueueEntry[]> {
  return (await queuedBeads(town.ledger)).flatMap((i) => entryOf(town, i) ?? []);
}

export function placeIn(entries: ReadonlyArray<{ id: string }>, id: string): QueuePlace | undefined {
  const index = entries.findIndex((e) => e.id === id);
  return index < 0 ? undefined : { position: index + 1, of: entries.length };
}

/** Agents whose sessions run now: the live sessions, never what a stale row says. */
export async function runningAgents(town: Town): Promise<RunningAgent[]> {
  const running: RunningAgent[] = [];
  for (const agent of await town.agents()) {
    if (!agent.backend || !(await town.sessionAlive(agent))) continue;
    running.push({ address: agent.address, ...(agent.rig ? { rig: agent.rig } : {}), runtime: agent.runtime ?? '?' });
  }
  return running;
}

/** The newest session start of any agent (ms), for the start spacing. */
export async function lastStart(town: Town): Promise<number | undefined> {
  let last: number | undefined;
  for (const agent of await town.agents()) {
    const at = agent.started_at ? Date.parse(agent.started_at) : NaN;
    if (Number.isFinite(at) && (last === undefined || at > last)) last = at;
  }
  return last;
}

/** Whether any limit or spacing is configured (then starts are decided under the scheduler lock). */
export function limitsConfigured(town: Town): boolean {
  const s = town.config.scheduler;
  if (s.max_agents !== undefined || Object.keys(s.max_per_runtime).length > 0 || s.start_spacing !== '0s') return true;
  return town.rigNames().some((name) => {
    const rig = town.rig(name).scheduler;
    return rig.max_agents !== undefined || Object.keys(rig.max_per_runtime).length > 0;
  });
}

/** The limits, the running agents and the runtimes backed off: everything a start decision reads. */
export async function schedulerView(town: Town, running?: RunningAgent[]): Promise<SchedulerView> {
  const s = town.config.scheduler;
  const rigs: Record<string, Limits> = {};
  for (const name of town.rigNames()) {
    const r = town.rig(name).scheduler;
    rigs[name] = { max_agents: r.max_agents, max_per_runtime: r.max_per_runtime };
  }
  return {
    town: { max_agents: s.max_agents, max_per_runtime: s.max_per_runtime },
    rigs,
    running: running ?? (await runningAgents(town)),
    paused: pausedRuntimes(await readBackoffs(town), Date.parse(town.ports.now())),
  };
}

/**
 * Start decisions for the whole town are taken one process at a time (a sling,
 * the daemon's dispatch): two deciding at once would each see room for the
 * same last slot. Take it before a rig's worktree lock, never after.
 */
export function lockScheduler(town: Town): Promise<() => void> {
  return town.ports.files.lock(town.path(lockFile('scheduler')), { waitMs: 120_000 });
}

export interface EnqueueSpec {
  target: string;
  runtime?: string | undefined;
  backend?: string | undefined;
  force?: boolean | undefined;
  reason: string;
}

/** Puts a bead in the queue (or updates its entry, keeping its place). Emits `bead.queued`. */
export async function enqueue(town: Town, bead: IssueDetails, spec: EnqueueSpec): Promise<void> {
  const now = town.ports.now();
  const again = bead.labels.includes(QUEUE_LABEL) && typeof bead.metadata?.queue_seq === 'number';
  const rig = rigOfTarget(spec.target);
  single(
    await town.ledger.update([bead.id], {
      // Taken off a dead worker's hook (--force): it waits unassigned; the same polecat is preferred when it starts.
      ...(bead.status === 'hooked' || bead.status === 'in_progress' ? { status: 'open' } : {}),
      assignee: null,
      addLabels: [QUEUE_LABEL],
      setMetadata: {
        queue_target: spec.target,
        queue_reason: spec.reason,
        // Microseconds from the ledger's monotonic clock: beads queued by one sling keep their order (milliseconds tie).
        ...(again ? {} : { queued_at: now, queued_by: town.ledger.actor, queue_seq: Number(unixNanos(now) / 1000n) / 1000 }),
        ...(spec.runtime ? { queue_runtime: spec.runtime } : {}),
        ...(spec.backend ? { queue_backend: spec.backend } : {}),
        ...(spec.force ? { queue_force: true } : {}),
      },
      unsetMetadata: [...(spec.runtime ? [] : ['queue_runtime']), ...(spec.backend ? [] : ['queue_backend']), ...(spec.force ? [] : ['queue_force'])],
      expect: { statuses: [bead.status], assignee: bead.assignee ?? null },
      ...(again && bead.metadata?.queue_target === spec.target
        ? {}
        : { townEvent: { kind: 'bead.queued' as const, bead: bead.id, ...(rig ? { rig } : {}), payload: { target: spec.target, reason: spec.reason } } }),
    }),
  );
}

/** `gt queue remove`: out of the queue, back to plain open work. */
export async function removeFromQueue(town: Town, ids: string[]): Promise<QueueEntry[]> {
  const queue = await listQueue(town);
  const removed: QueueEntry[] = [];
  for (const text of ids) {
    const id = await town.ledger.resolve(text);
    const entry = queue.find((e) => e.id === id);
    if (!entry) throw notFoundError(`${id} is not queued`, 'see gt queue');
    single(
      await town.ledger.update([id], {
        removeLabels: [QUEUE_LABEL],
        unsetMetadata: QUEUE_KEYS,
        townEvent: { kind: 'bead.dequeued', bead: id, ...(entry.rig ? { rig: entry.rig } : {}), payload: { target: entry.target } },
      }),
    );
    removed.push(entry);
  }
  return removed;
}

/**
 * `gt queue move <bead> <position>`: reorders within its priority (priority
 * decides first; change it with bd update -p). Returns the queue after.
 */
export async function moveInQueue(town: Town, text: string, position: number): Promise<QueueEntry[]> {
  if (!Number.isInteger(position) || position < 1) throw usageError(`position must be a whole number from 1, got ${position}`);
  const queue = await listQueue(town);
  const id = await town.ledger.resolve(text);
  const entry = queue.find((e) => e.id === id);
  if (!entry) throw notFoundError(`${id} is not queued`, 'see gt queue');
  const others = queue.filter((e) => e.id !== id);
  const index = Math.min(position, queue.length) - 1;
  const band = others.filter((e) => e.priority === entry.priority);
  const firstOfBand = others.findIndex((e) => e.priority === entry.priority);
  const bandStart = firstOfBand < 0 ? others.filter((e) => e.priority < entry.priority).length : firstOfBand;
  const offset = index - bandStart;
  if (offset < 0 || offset > band.length) {
    const lo = bandStart + 1;
    const hi = bandStart + band.length + 1;
    throw conflictError(
      `${id} is priority ${entry.priority}: it can move to positions ${lo}–${hi} (the queue is in priority order)`,
      `change its priority first (bd update ${id} -p N), or pick a position in ${lo}–${hi}`,
    );
  }
  const before = band[offset - 1];
  const after = band[offset];
  // A sequence number between its new neighbours: no other entry changes.
  const seq = before && after ? (before.seq + after.seq) / 2 : before ? before.seq + 1 : after ? after.seq - 1 : entry.seq;
  if (seq !== entry.seq) single(await town.ledger.update([id], { setMetadata: { queue_seq: seq } }));
  return listQueue(town);
}

/** A failed dispatch: counted on the entry; after `maxAttempts` it leaves the queue (returns true). */
export async function noteDispatchFailure(town: Town, entry: QueueEntry, error: string, maxAttempts: number): Promise<boolean> {
  const attempts = entry.attempts + 1;
  const give = attempts >= maxAttempts;
  single(
    await town.ledger.update([entry.id], {
      ...(give
        ? {
            removeLabels: [QUEUE_LABEL],
            unsetMetadata: QUEUE_KEYS,
            appendNotes: `Left the dispatch queue after ${attempts} failed starts: ${error}`,
            townEvent: {
              kind: 'bead.dequeued',
              bead: entry.id,
              ...(entry.rig ? { rig: entry.rig } : {}),
              payload: { target: entry.target, reason: `failed ${attempts} times: ${error}` },
            },
          }
        : { setMetadata: { queue_attempts: attempts, queue_error: error.slice(0, 500) } }),
    }),
  );
  return give;
}
