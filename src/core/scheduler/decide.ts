/**
 * The dispatch scheduler's decisions (issue 14 §5), pure: which queued work
 * may start now under the town's and rigs' limits and the runtimes' back-offs,
 * in what order, how far apart, and how long a rate-limited runtime waits.
 * Everything here is a function of its arguments (time and randomness come in
 * as numbers), so the rules are tested without a town.
 */

/** Limits of one scope (the town, or one rig). An absent `max_agents` means no limit. */
export interface Limits {
  max_agents?: number | undefined;
  max_per_runtime: Record<string, number>;
}

/** An agent whose session is running: what counts against the limits. */
export interface RunningAgent {
  address: string;
  rig?: string | undefined;
  runtime: string;
}

/** Work that waits for (or asks for) a start. */
export interface Candidate {
  id: string;
  priority: number;
  /** FIFO within a priority: smaller goes first (the time it was queued, in ms, unless moved). */
  seq: number;
  rig?: string | undefined;
  runtime: string;
}

export interface SchedulerView {
  town: Limits;
  rigs: Record<string, Limits>;
  running: RunningAgent[];
  /** Runtimes backed off now, with the time (ms) their window ends. */
  paused: Record<string, number>;
}

export interface Decision {
  id: string;
  start: boolean;
  /** Why it waits; undefined when it starts. */
  reason?: string;
}

/** Dispatch order: priority (0 first), then the order it was queued, then the ID for a stable tie-break. */
export function dispatchOrder<T extends Pick<Candidate, 'id' | 'priority' | 'seq'>>(entries: readonly T[]): T[] {
  return [...entries].sort((a, b) => a.priority - b.priority || a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Walks the candidates in dispatch order and starts each one that fits every
 * limit, counting it at once (so a batch never overshoots). One that does not
 * fit waits without holding up the ones behind it that do (a Claude bead at its
 * runtime's cap does not stop a shell bead), except when the town itself is
 * full: then nothing starts.
 */
export function decideStarts(candidates: readonly Candidate[], view: SchedulerView, now: number): Decision[] {
  const total = { n: 0 };
  const byRig = new Map<string, number>();
  const byRuntime = new Map<string, number>();
  const byRigRuntime = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const count = (agent: { rig?: string | undefined; runtime: string }) => {
    total.n++;
    bump(byRuntime, agent.runtime);
    if (agent.rig !== undefined) {
      bump(byRig, agent.rig);
      bump(byRigRuntime, `${agent.rig}\0${agent.runtime}`);
    }
  };
  for (const agent of view.running) count(agent);
  const decisions: Decision[] = [];
  for (const c of dispatchOrder(candidates)) {
    const reason = blockedBy(c, view, now, { total: total.n, byRig, byRuntime, byRigRuntime });
    if (reason === undefined) count(c);
    decisions.push(reason === undefined ? { id: c.id, start: true } : { id: c.id, start: false, reason });
  }
  return decisions;
}

interface Counts {
  total: number;
  byRig: Map<string, number>;
  byRuntime: Map<string, number>;
  byRigRuntime: Map<string, number>;
}

function blockedBy(c: Candidate, view: SchedulerView, now: number, counts: Counts): string | undefined {
  const until = view.paused[c.runtime];
  if (until !== undefined && until > now) return `${c.runtime} is backed off (rate limited) until ${new Date(until).toISOString()}`;
  const { town } = view;
  if (town.max_agents !== undefined && counts.total >= town.max_agents) return `max_agents ${town.max_agents} reached (${counts.total} running)`;
  const townRuntime = town.max_per_runtime[c.runtime];
  const ofRuntime = counts.byRuntime.get(c.runtime) ?? 0;
  if (townRuntime !== undefined && ofRuntime >= townRuntime) return `max_per_runtime.${c.runtime} ${townRuntime} reached (${ofRuntime} running)`;
  const rig = c.rig === undefined ? undefined : view.rigs[c.rig];
  if (rig && c.rig !== undefined) {
    const inRig = counts.byRig.get(c.rig) ?? 0;
    if (rig.max_agents !== undefined && inRig >= rig.max_agents) return `rig ${c.rig} max_agents ${rig.max_agents} reached (${inRig} running)`;
    const rigRuntime = rig.max_per_runtime[c.runtime];
    const inRigRuntime = counts.byRigRuntime.get(`${c.rig}\0${c.runtime}`) ?? 0;
    if (rigRuntime !== undefined && inRigRuntime >= rigRuntime)
      return `rig ${c.rig} max_per_runtime.${c.runtime} ${rigRuntime} reached (${inRigRuntime} running)`;
  }
  return undefined;
}

/**
 * When each of `n` starts may happen, `spacingMs` apart and no sooner than
 * `spacingMs` after the last start (ms since the epoch; undefined: none yet).
 */
export function startSlots(n: number, lastStart: number | undefined, spacingMs: number, now: number): number[] {
  const first = lastStart === undefined || spacingMs <= 0 ? now : Math.max(now, lastStart + spacingMs);
  return Array.from({ length: n }, (_, i) => first + i * Math.max(0, spacingMs));
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** 0–1: the window is shortened by up to this fraction, at random, so agents backed off together do not all return at once. */
  jitter: number;
}

/**
 * The back-off window for the `level`-th rate limit in a row (1, 2, 3…):
 * `initial · 2^(level-1)`, capped at `max`, less `jitter · random` of it.
 * `random` is in [0, 1), so the window is always within
 * [full · (1 - jitter), full] and never beyond the cap.
 */
export function backoffWindow(level: number, policy: BackoffPolicy, random: number): number {
  const exponent = Math.max(0, Math.min(level - 1, 40));
  const full = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  const r = Math.min(Math.max(random, 0), 1);
  return Math.round(full * (1 - policy.jitter * r));
}

export interface BackoffState {
  /** Rate limits in a row (each one after the previous window ended). */
  level: number;
  /** When the current window began and ends (ms). */
  since: number;
  until: number;
}

/**
 * What a rate limit reported at `now` does to a runtime's back-off. Within a
 * window it changes nothing (the agents that were already running hit the same
 * limit). After one, it is the next level when it comes within `maxMs` of the
 * window's end (the limit is still there), else level 1 again.
 */
export function nextBackoff(
  previous: BackoffState | undefined,
  now: number,
  policy: BackoffPolicy,
  random: number,
): { state: BackoffState; extended: boolean } {
  if (previous && now < previous.until) return { state: previous, extended: false };
  const level = previous && now - previous.until <= policy.maxMs ? previous.level + 1 : 1;
  return { state: { level, since: now, until: now + backoffWindow(level, policy, random) }, extended: true };
}

/** What a runtime's failure says: a rate limit or an overload (back off), or something else (the witness's business). */
export function isRateLimit(kind: string, details: string): boolean {
  if (/^(rate_limit|rate_limited|overloaded|overloaded_error|rate_limit_error)$/i.test(kind)) return true;
  // The runtime named a kind that is no capacity problem (a bad request, credentials, billing): its message text is not a
  // rate limit, even when it says "overloaded" (a 400 did, in a test, and paused the whole runtime).
  if (/^(invalid_request|invalid_request_error|authentication_failed|authentication_error|billing_error|permission_error|not_found_error)$/i.test(kind))
    return false;
  // An HTTP status in the message settles it: only 429 and 529 are capacity (Claude Code reports "API Error: 400 …").
  const status = /\b(?:API Error|status|HTTP)[: ]+(\d{3})\b/i.exec(details)?.[1];
  if (status !== undefined) return status === '429' || status === '529';
  return /\b(429|529)\b|rate[ _-]?limit|too many requests|overloaded/i.test(details);
}

/** 1 → "1st", 2 → "2nd", 3 → "3rd", 11 → "11th". */
export function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

export interface QueuePlace {
  position: number;
  of: number;
}

/** "queued, 3rd of 7". */
export function describePlace(place: QueuePlace): string {
  return `queued, ${ordinal(place.position)} of ${place.of}`;
}
