/**
 * The daemon's side of the scheduler (issue 14 §5): each pass it starts queued
 * work as capacity frees up, in dispatch order and `start_spacing` apart, and
 * resumes the agents a rate limit stopped once their runtime's window ends.
 */
import { parseDuration } from '../../shared/duration.js';
import { GtError, errorMessage } from '../../shared/errors.js';
import type { Issue } from '../beads/types.js';
import { parseIdentity } from '../agents/identity.js';
import { Mailbox } from '../comms/mail.js';
import { nudgeAgent } from '../comms/nudge.js';
import { checkBudgets } from '../governance/costs.js';
import type { Town } from '../town/town.js';
import { hookedWork } from '../work/hooked.js';
import { slingBeads, type RuntimeProbe } from '../work/work.js';
import { markResumed, readBackoffs, RuntimeBackedOff } from './backoff.js';
import { claimDispatch, rigsHere } from '../hosts/placement.js';
import { decideStarts, startSlots } from './decide.js';
import { lastStart, listQueue, lockScheduler, noteDispatchFailure, runningAgents, schedulerView, type QueueEntry } from './queue.js';

export interface DispatchOutcome {
  bead: string;
  target: string;
  result: 'dispatched' | 'failed' | 'dropped' | 'paused' | 'claimed-elsewhere';
  agent?: string;
  detail?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One dispatch pass: starts queued beads, one at a time under the scheduler
 * lock, while they fit; waits out the start spacing between them (outside the
 * lock). A bead whose start fails stays queued and is tried again next pass,
 * up to `maxAttempts`, then leaves the queue and whoever queued it gets mail.
 */
export async function dispatchQueue(
  town: Town,
  probe: RuntimeProbe,
  options: { stopping?: () => boolean; maxAttempts?: number } = {},
): Promise<DispatchOutcome[]> {
  const outcomes: DispatchOutcome[] = [];
  const tried = new Set<string>();
  const spacing = parseDuration(town.config.scheduler.start_spacing);
  // Across hosts, each daemon dispatches only the rigs placed on its host (and work bound to no rig, claimed first).
  const here = town.hostName ? new Set(await rigsHere(town)) : undefined;
  while (!options.stopping?.()) {
    let wait = 0;
    const release = await lockScheduler(town);
    try {
      const queue = (await listQueue(town)).filter((e) => !tried.has(e.id) && (here === undefined || e.rig === undefined || here.has(e.rig)));
      if (queue.length === 0) break;
      const now = Date.parse(town.ports.now());
      const next = decideStarts(queue, await schedulerView(town), now).find((d) => d.start);
      const entry = next ? queue.find((e) => e.id === next.id) : undefined;
      if (!entry) break;
      if (spacing > 0) wait = (startSlots(1, await lastStart(town), spacing, now)[0] ?? now) - now;
      if (wait <= 0) {
        const budget = await overBudget(town, entry.id);
        if (budget !== undefined) {
          // Budgets pause dispatch; the queue waits as it is.
          outcomes.push({ bead: entry.id, target: entry.target, result: 'paused', detail: budget });
          break;
        }
        tried.add(entry.id);
        outcomes.push(await dispatchOne(town, entry, probe, options.maxAttempts ?? 3));
      }
    } finally {
      release();
    }
    if (wait > 0) await sleep(wait);
  }
  return outcomes;
}

/** Why budgets stop dispatch now (town.toml [budgets]); undefined when they do not. */
async function overBudget(town: Town, bead: string): Promise<string | undefined> {
  try {
    await checkBudgets(town, [bead]);
    return undefined;
  } catch (error) {
    if (error instanceof GtError && error.kind === 'conflict') return error.message;
    throw error;
  }
}

async function dispatchOne(town: Town, entry: QueueEntry, probe: RuntimeProbe, maxAttempts: number): Promise<DispatchOutcome> {
  // Exactly one host spawns: the claim is a compare-and-set in the ledger; another host's live claim leaves it to that host.
  if (!(await claimDispatch(town, entry.id)))
    return { bead: entry.id, target: entry.target, result: 'claimed-elsewhere', detail: 'another host claimed its dispatch' };
  try {
    const [result] = await slingBeads(
      town,
      [entry.id],
      entry.target,
      {
        scheduled: true,
        convoy: false,
        ...(entry.explicit_runtime ? { runtime: entry.runtime } : {}),
        ...(entry.backend ? { backend: entry.backend } : {}),
        ...(entry.force ? { force: true } : {}),
      },
      probe,
    );
    const agent = result?.agent ?? '';
    await town.ledger.emit({
      kind: 'bead.dispatched',
      actor: 'deacon',
      bead: entry.id,
      agent,
      ...(entry.rig ? { rig: entry.rig } : {}),
      payload: { target: entry.target, runtime: result?.runtime ?? entry.runtime, waited_ms: Date.parse(town.ports.now()) - Date.parse(entry.queued_at) },
    });
    return { bead: entry.id, target: entry.target, result: 'dispatched', agent };
  } catch (error) {
    const message = errorMessage(error);
    // Backed off while it was being started: it waits in its place, no attempt counted.
    if (error instanceof RuntimeBackedOff) return { bead: entry.id, target: entry.target, result: 'paused', detail: message };
    const dropped = await noteDispatchFailure(town, entry, message, maxAttempts);
    if (dropped) {
      const to = entry.queued_by === 'deacon' ? 'mayor' : entry.queued_by;
      await new Mailbox(town.ledger, 'deacon').send(
        to,
        `NOT DISPATCHED ${entry.id}: ${entry.title}`,
        `${entry.id} left the dispatch queue after ${maxAttempts} failed starts on ${entry.target}: ${message}\nFix the cause, then sling it again: gt sling ${entry.id} ${entry.target}`,
        { kind: 'protocol', priority: 1 },
      );
    }
    return { bead: entry.id, target: entry.target, result: dropped ? 'dropped' : 'failed', detail: message };
  }
}

export interface ResumeOutcome {
  runtime: string;
  agent: string;
  result: 'resumed' | 'skipped';
  detail: string;
}

export function resumeLine(runtime: string, bead: Issue): string {
  return `[gt] The ${runtime} rate limit window has passed. Continue your work on ${bead.id} "${bead.title}" where you left off; when it is finished, commit and run gt done.`;
}

/**
 * After a runtime's back-off window: each agent the limit stopped, still
 * running with work on its hook, gets a line to continue (typed at its prompt
 * or written to its stdin, else delivered at its next turn boundary), the
 * start spacing apart. A session that ended meanwhile is the witness's to
 * restart (it resumes the conversation). Reported as `runtime.resumed`.
 */
export async function resumeAfterBackoff(town: Town, options: { confirmSec?: number } = {}): Promise<ResumeOutcome[]> {
  const now = Date.parse(town.ports.now());
  const spacing = parseDuration(town.config.scheduler.start_spacing);
  const outcomes: ResumeOutcome[] = [];
  for (const backoff of await readBackoffs(town)) {
    if (backoff.resumed || backoff.until > now) continue;
    const resumed: string[] = [];
    const skipped: string[] = [];
    for (const address of backoff.agents) {
      const identity = parseIdentity(address);
      const agent = await town.agent(identity);
      const [bead] = agent?.active ? await hookedWork(town.ledger, address) : [];
      const skip = (detail: string) => {
        skipped.push(address);
        outcomes.push({ runtime: backoff.runtime, agent: address, result: 'skipped', detail });
      };
      if (!agent || !bead) {
        skip('no work on its hook');
        continue;
      }
      if (!(await town.sessionAlive(agent))) {
        skip('its session is not running (the witness restarts it)');
        continue;
      }
      if (resumed.length > 0 && spacing > 0) await sleep(spacing);
      const nudge = await nudgeAgent(town, 'deacon', identity, resumeLine(backoff.runtime, bead), {
        raw: true,
        idleWaitSec: 5,
        waitSec: options.confirmSec ?? 10,
      });
      resumed.push(address);
      outcomes.push({ runtime: backoff.runtime, agent: address, result: 'resumed', detail: `${nudge.delivery}${nudge.confirmed ? ', confirmed' : ''}` });
    }
    await markResumed(town, backoff, resumed, skipped);
  }
  return outcomes;
}

export interface SchedulerStatus {
  max_agents?: number;
  max_per_runtime: Record<string, number>;
  start_spacing: string;
  running: number;
  running_by_runtime: Record<string, number>;
  queued: number;
  /** The first few in dispatch order. */
  next: Array<{ id: string; title: string; priority: number; target: string; runtime: string; reason?: string }>;
  backoffs: Array<{ runtime: string; level: number; until: string; active: boolean; agents: string[]; reason: string; resumed: boolean }>;
}

/** The scheduler section of `gt status`. */
export async function schedulerStatus(town: Town, show = 5): Promise<SchedulerStatus> {
  const s = town.config.scheduler;
  const running = await runningAgents(town);
  const byRuntime: Record<string, number> = {};
  for (const agent of running) byRuntime[agent.runtime] = (byRuntime[agent.runtime] ?? 0) + 1;
  const queue = await listQueue(town);
  const now = Date.parse(town.ports.now());
  const backoffs = await readBackoffs(town);
  return {
    ...(s.max_agents !== undefined ? { max_agents: s.max_agents } : {}),
    max_per_runtime: s.max_per_runtime,
    start_spacing: s.start_spacing,
    running: running.length,
    running_by_runtime: byRuntime,
    queued: queue.length,
    next: queue
      .slice(0, show)
      .map((e) => ({ id: e.id, title: e.title, priority: e.priority, target: e.target, runtime: e.runtime, ...(e.reason ? { reason: e.reason } : {}) })),
    backoffs: backoffs
      .filter((b) => b.until > now || !b.resumed)
      .map((b) => ({
        runtime: b.runtime,
        level: b.level,
        until: new Date(b.until).toISOString(),
        active: b.until > now,
        agents: b.agents,
        reason: b.reason,
        resumed: b.resumed,
      })),
  };
}
