/**
 * What `gt sling` asks the scheduler: of the beads it was given, which start
 * now and which wait in the queue (and why). The decision is taken under the
 * scheduler lock whenever a limit or spacing is configured, and the lock is
 * held until the sling's sessions have started, so no other process sees the
 * same free slot.
 */
import { parseDuration } from '../../shared/duration.js';
import type { IssueDetails } from '../beads/types.js';
import type { Town } from '../town/town.js';
import { ensureNotBackedOff } from './backoff.js';
import { decideStarts, startSlots, type Candidate } from './decide.js';
import { lastStart, limitsConfigured, listQueue, lockScheduler, rigOfTarget, runtimeForTarget, schedulerView } from './queue.js';

export interface Admission {
  start: IssueDetails[];
  queued: Array<{ bead: IssueDetails; reason: string }>;
  /** Awaited before each session start: spaces the starts `scheduler.start_spacing` apart. */
  waitTurn: () => Promise<void>;
  /** Releases the scheduler lock (when one was taken); call once the sessions have started. */
  release: () => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Decides for a sling of `beads` to `target`. New beads compete with the
 * queue in dispatch order (priority, then FIFO): a new bead of the same
 * priority as queued ones goes behind them.
 */
export async function admit(town: Town, beads: IssueDetails[], target: string, runtime: string | undefined): Promise<Admission> {
  const locked = limitsConfigured(town);
  const release = locked ? await lockScheduler(town) : () => undefined;
  try {
    const nowIso = town.ports.now();
    const now = Date.parse(nowIso);
    const ids = new Set(beads.map((b) => b.id));
    const queue = (await listQueue(town)).filter((e) => !ids.has(e.id));
    const view = await schedulerView(town, locked || queue.length > 0 ? undefined : []);
    const ownRuntime = runtimeForTarget(town, target, runtime);
    const rig = rigOfTarget(target);
    const fresh: Candidate[] = beads.map((b, i) => ({
      id: b.id,
      priority: b.priority,
      // A queued bead slung again keeps its place; new ones follow each other in the order given.
      seq: typeof b.metadata?.queue_seq === 'number' && b.labels.includes('gt:queued') ? b.metadata.queue_seq : now + i / 1000,
      rig,
      runtime: ownRuntime,
    }));
    const decisions = new Map(decideStarts([...queue, ...fresh], view, now).map((d) => [d.id, d]));
    const waiting = queue.filter((e) => decisions.get(e.id)?.start === true).length;
    const start: IssueDetails[] = [];
    const queued: Admission['queued'] = [];
    for (const bead of beads) {
      const decision = decisions.get(bead.id);
      if (decision?.start) start.push(bead);
      else queued.push({ bead, reason: decision?.reason ?? `behind ${waiting} queued bead(s)` });
    }
    const spacing = parseDuration(town.config.scheduler.start_spacing);
    const slots = spacing > 0 && start.length > 0 ? startSlots(start.length, await lastStart(town), spacing, Date.now()) : [];
    let next = 0;
    const waitTurn = async () => {
      const slot = slots[next++];
      if (slot !== undefined && slot > Date.now()) await sleep(slot - Date.now());
      await ensureNotBackedOff(town, ownRuntime);
    };
    return { start, queued, waitTurn, release };
  } catch (error) {
    release();
    throw error;
  }
}
