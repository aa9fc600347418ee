/**
 * Runtime back-off (issue 14 §5): when a runtime reports rate limiting or an
 * overload (Claude Code's StopFailure, a Codex error line), new starts of that
 * runtime pause for a window that grows with each repeat, and the agents it
 * stopped are resumed when the window ends. The state lives on one bookkeeping
 * bead per runtime (`hq-runtime-<name>`, an infra type, never exported), so a
 * daemon restart keeps it.
 */
import { parseDuration } from '../../shared/duration.js';
import { GtError } from '../../shared/errors.js';
import type { Town } from '../town/town.js';
import { nextBackoff, type BackoffPolicy, type BackoffState } from './decide.js';

export interface RuntimeBackoff extends BackoffState {
  runtime: string;
  /** What the runtime said, last. */
  reason: string;
  /** Agents whose turn the limit ended: resumed when the window ends. */
  agents: string[];
  /** Set once the agents were resumed after this window. */
  resumed: boolean;
}

export const runtimeBeadId = (runtime: string): string => `hq-runtime-${runtime}`;

export function backoffPolicy(town: Town): BackoffPolicy {
  const s = town.config.scheduler;
  return { initialMs: parseDuration(s.backoff_initial), maxMs: parseDuration(s.backoff_max), jitter: s.backoff_jitter };
}

function fromMetadata(runtime: string, m: Record<string, unknown>): RuntimeBackoff | undefined {
  const until = typeof m.backoff_until === 'string' ? Date.parse(m.backoff_until) : NaN;
  const since = typeof m.backoff_since === 'string' ? Date.parse(m.backoff_since) : NaN;
  if (!Number.isFinite(until) || !Number.isFinite(since)) return undefined;
  return {
    runtime,
    level: typeof m.backoff_level === 'number' ? m.backoff_level : 1,
    since,
    until,
    reason: typeof m.backoff_reason === 'string' ? m.backoff_reason : '',
    agents: Array.isArray(m.backoff_agents) ? m.backoff_agents.filter((a): a is string => typeof a === 'string') : [],
    resumed: m.backoff_resumed === true,
  };
}

/** Every runtime's last back-off (current or over), by runtime name. */
export async function readBackoffs(town: Town): Promise<RuntimeBackoff[]> {
  const beads = await town.ledger.list({ types: ['role'], labelsAll: ['gt:runtime'], includeEphemeral: true, limit: 0, sort: 'id' });
  return beads.flatMap((b) => {
    const runtime = typeof b.metadata?.runtime === 'string' ? b.metadata.runtime : undefined;
    const backoff = runtime ? fromMetadata(runtime, b.metadata ?? {}) : undefined;
    return backoff ? [backoff] : [];
  });
}

/** A start refused at the last moment: the runtime was backed off after the decision to start it. */
export class RuntimeBackedOff extends GtError {
  constructor(
    readonly runtime: string,
    until: number,
  ) {
    super('conflict', `${runtime} is backed off (rate limited) until ${new Date(until).toISOString()}`, { hint: 'it starts after the window (gt queue)' });
  }
}

/**
 * Checked right before a session starts: a rate limit another agent of the
 * runtime reported while this start was being prepared stops it.
 */
export async function ensureNotBackedOff(town: Town, runtime: string): Promise<void> {
  const until = pausedRuntimes(await readBackoffs(town), Date.parse(town.ports.now()))[runtime];
  if (until !== undefined) throw new RuntimeBackedOff(runtime, until);
}

/** Runtimes whose window has not ended at `now`, with its end (ms). */
export function pausedRuntimes(backoffs: readonly RuntimeBackoff[], now: number): Record<string, number> {
  return Object.fromEntries(backoffs.filter((b) => b.until > now).map((b) => [b.runtime, b.until]));
}

/**
 * Records a rate limit `runtime` reported to `agent`: opens (or lengthens, one
 * level up) its back-off window, or, within a window, adds the agent to the ones
 * to resume. Emits `runtime.backoff` when a window opens.
 */
export async function noteRateLimit(town: Town, runtime: string, agent: string, reason: string, random = Math.random()): Promise<RuntimeBackoff> {
  const id = runtimeBeadId(runtime);
  const nowIso = town.ports.now();
  const now = Date.parse(nowIso);
  const existing = await town.ledger.find(id);
  const previous = existing ? fromMetadata(runtime, existing.metadata ?? {}) : undefined;
  const { state, extended } = nextBackoff(previous, now, backoffPolicy(town), random);
  const agents = extended && previous?.resumed !== false ? [agent] : [...new Set([...(previous?.agents ?? []), agent])];
  const metadata = {
    runtime,
    backoff_level: state.level,
    backoff_since: new Date(state.since).toISOString(),
    backoff_until: new Date(state.until).toISOString(),
    backoff_reason: reason.slice(0, 300),
    backoff_agents: agents,
    backoff_resumed: false,
  };
  const townEvent = extended
    ? {
        kind: 'runtime.backoff' as const,
        agent,
        payload: { runtime, level: state.level, until: metadata.backoff_until, window_ms: state.until - state.since, reason: metadata.backoff_reason },
      }
    : undefined;
  if (!existing) {
    await town.ledger.create({
      id,
      title: `runtime ${runtime}`,
      type: 'role',
      prefix: 'hq',
      description: `The ${runtime} runtime's scheduler state (back-off after rate limits). Kept by gt.`,
      labels: ['gt:runtime'],
      metadata,
      ...(townEvent ? { townEvent: () => townEvent } : {}),
    });
  } else {
    await town.ledger.update([id], { setMetadata: metadata, ...(townEvent ? { townEvent } : {}) });
  }
  return { runtime, ...state, reason: metadata.backoff_reason, agents, resumed: false };
}

/** Marks a window's agents resumed, and says so (`runtime.resumed`). */
export async function markResumed(town: Town, backoff: RuntimeBackoff, resumed: string[], skipped: string[]): Promise<void> {
  await town.ledger.update([runtimeBeadId(backoff.runtime)], {
    setMetadata: { backoff_resumed: true, backoff_agents: [] },
    townEvent: {
      kind: 'runtime.resumed',
      payload: { runtime: backoff.runtime, level: backoff.level, agents: resumed, ...(skipped.length ? { skipped } : {}) },
    },
  });
}
