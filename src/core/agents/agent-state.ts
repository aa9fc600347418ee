/**
 * The agent state machine (design §2.5, issue 14 §1): one pure function from
 * what gt can observe about an agent — the state its hooks last recorded,
 * whether its session and its process are alive, whether work is on its hook,
 * when it last signalled and last changed its worktree — and the time, to the
 * state `gt agents`, `gt polecat list`, `gt status` and the witness all show.
 * No I/O here: the observation is gathered elsewhere (supervision.ts), so
 * every transition is a row in a table test.
 */

export const AGENT_STATES = [
  'starting',
  'working',
  'idle',
  'waiting-permission',
  'waiting-gate',
  'stalled',
  'gupp-violation',
  'zombie',
  'dead',
  'done',
  // Its host (another machine of the town) missed its heartbeat window: nothing here can see its session (README "Scaling out").
  'host-lost',
] as const;

export type AgentState = (typeof AGENT_STATES)[number];

/** States in which someone (the witness, else a person) must act. */
export const PROBLEM_STATES: ReadonlySet<AgentState> = new Set(['stalled', 'gupp-violation', 'zombie', 'dead', 'host-lost']);

export interface AgentObservation {
  /** The state last recorded on the agent bead: by a hook signal, by gt (start, done, gate), or by the witness. */
  recorded: AgentState;
  /** The session is there: the tmux pane runs (its session host or the agent), or the headless host runs. */
  session: boolean;
  /** The agent's own process runs (the runtime; under a session host, the host's child). */
  process: boolean;
  /** Work is on the agent's hook. */
  hooked: boolean;
  /** The runtime reports its turns through hooks (false: liveness is all gt can see of it). */
  signals: boolean;
  /** Epoch milliseconds. */
  now: number;
  lastSignalAt?: number | undefined;
  startedAt?: number | undefined;
  /** When a person or gt stopped its session on purpose (gt down --all, gt mayor stop…). */
  stoppedAt?: number | undefined;
  /** The newest commit or file change in its worktree, when gathered (only a quiet working agent needs it). */
  activityAt?: number | undefined;
  /** How many times the witness has woken it for the bead on its hook. */
  wakes: number;
}

export interface StateRules {
  /** `witness.stall_after`: a working agent with no signal and no worktree activity this long is stalled. */
  stallAfterMs: number;
  /** `witness.idle_wake`: an idle agent with hooked work is woken after this long. */
  idleWakeMs: number;
  /** `witness.max_wakes`: wakes before an idle agent with hooked work violates GUPP. */
  maxWakes: number;
}

export interface StateReading {
  state: AgentState;
  /** Why, in words a person reads in `gt agents --json` and the event stream. */
  reason: string;
}

/**
 * The states a recorded state stands for once the session is known to run:
 * a state the witness recorded is an observation, not what the hooks said, so
 * the reading starts again from what the hooks said last.
 */
function hookState(recorded: AgentState): AgentState {
  switch (recorded) {
    case 'stalled':
      return 'working';
    case 'gupp-violation':
      return 'idle';
    case 'zombie':
    case 'dead':
      return 'starting';
    default:
      return recorded;
  }
}

const ago = (now: number, then: number | undefined) => (then === undefined ? 'never' : `${Math.round((now - then) / 1000)}s ago`);

export function agentState(o: AgentObservation, rules: StateRules): StateReading {
  if (!o.session && !o.process) {
    if (!o.hooked) return o.recorded === 'done' ? { state: 'done', reason: 'finished its work' } : { state: 'idle', reason: 'no session and nothing hooked' };
    // Its session ended on purpose at a gate: the hook waits, nothing died.
    if (o.recorded === 'waiting-gate') return { state: 'waiting-gate', reason: 'its session ended at a gate; a fresh one starts when the gate opens' };
    if (o.stoppedAt !== undefined && o.stoppedAt >= (o.startedAt ?? 0))
      return { state: 'dead', reason: 'its session was stopped on purpose with work on its hook' };
    return { state: 'dead', reason: 'its session ended with work on its hook' };
  }
  if (o.session && !o.process) return { state: 'zombie', reason: 'its session is alive but the agent process is gone' };
  if (!o.session && o.process) return { state: 'zombie', reason: 'the agent process runs without its session' };

  const base = hookState(o.recorded);
  switch (base) {
    case 'waiting-permission':
    case 'waiting-gate':
      return { state: base, reason: base === 'waiting-gate' ? 'waiting for a gate' : 'waiting for a permission decision' };
    case 'done':
      if (!o.hooked) return { state: 'done', reason: 'finished its work; its session is ending' };
      return idle(o, rules);
    case 'idle':
      return idle(o, rules);
    default: {
      // starting or working: a hook event, a commit or a file change every stall_after, or it is stuck mid-turn.
      if (!o.signals) return { state: base, reason: 'its runtime has no hooks: alive is all gt knows' };
      const last = Math.max(o.lastSignalAt ?? 0, o.startedAt ?? 0, o.activityAt ?? 0);
      if (last > 0 && o.now - last >= rules.stallAfterMs)
        return {
          state: 'stalled',
          reason: `${base} with no signal or worktree activity since ${ago(o.now, last)} (stall_after ${rules.stallAfterMs / 1000}s)`,
        };
      return { state: base, reason: base === 'starting' ? 'its session started; no hook event yet' : `last signal ${ago(o.now, o.lastSignalAt)}` };
    }
  }
}

/**
 * An agent on another host of the town: its own host's witness reads and
 * records it, so what the ledger says is its state — unless that host has
 * missed its heartbeat window, when nobody can tell and it is host-lost. Its
 * hooked beads stay hooked (the host's witness resumes them when it returns;
 * gt rig move re-slings them elsewhere).
 */
export function remoteAgentState(o: { recorded: AgentState; host: string; heartbeatAt?: number | undefined; now: number }, lostAfterMs: number): StateReading {
  if (o.heartbeatAt === undefined || o.now - o.heartbeatAt >= lostAfterMs)
    return {
      state: 'host-lost',
      reason: `its host ${o.host} ${o.heartbeatAt === undefined ? 'has no heartbeat' : `missed its heartbeat (last ${ago(o.now, o.heartbeatAt)})`}`,
    };
  return { state: o.recorded === 'host-lost' ? 'idle' : o.recorded, reason: `as recorded by its host ${o.host}` };
}

function idle(o: AgentObservation, rules: StateRules): StateReading {
  const since = o.lastSignalAt ?? o.startedAt;
  const idleFor = since === undefined ? 0 : o.now - since;
  if (o.hooked && o.wakes >= rules.maxWakes && idleFor >= rules.idleWakeMs)
    return { state: 'gupp-violation', reason: `idle with work on its hook after ${o.wakes} wake-up(s)` };
  return { state: 'idle', reason: o.hooked ? `idle at its prompt with work on its hook since ${ago(o.now, since)}` : 'idle at its prompt' };
}

/**
 * What the witness did about the bead on an agent's hook (agent metadata
 * `supervision`): counters start again when a new bead is hooked.
 */
export interface SupervisionRecord {
  /** The bead these counters are for. */
  bead?: string;
  wakes: number;
  last_wake_at?: string;
  /** When its session was restarted (dead or zombie), newest last: the crash-loop window and the back-off read it. */
  restarts: string[];
  /** A stall was handled (interrupted and re-primed) once; the next is escalated. */
  interrupted_at?: string;
  /** Why supervision gave up on this bead and told a person; nothing more is done until the bead changes. */
  escalated?: 'stall' | 'crash-loop' | 'gupp-violation';
}

export function supervisionRecord(value: unknown, bead?: string): SupervisionRecord {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (bead !== undefined && v.bead !== bead) return { bead, wakes: 0, restarts: [] };
  const record: SupervisionRecord = {
    wakes: typeof v.wakes === 'number' ? v.wakes : 0,
    restarts: Array.isArray(v.restarts) ? v.restarts.filter((r): r is string => typeof r === 'string') : [],
  };
  if (typeof v.bead === 'string') record.bead = v.bead;
  if (typeof v.last_wake_at === 'string') record.last_wake_at = v.last_wake_at;
  if (typeof v.interrupted_at === 'string') record.interrupted_at = v.interrupted_at;
  if (v.escalated === 'stall' || v.escalated === 'crash-loop' || v.escalated === 'gupp-violation') record.escalated = v.escalated;
  return record;
}

export interface RestartRules {
  /** `witness.crash_loop_restarts` restarts within `witness.crash_loop_window`: a crash loop. */
  crashLoopRestarts: number;
  crashLoopWindowMs: number;
  /** `witness.restart_backoff`: the wait before a second restart, doubled for each further one in the window (at most 5 minutes). */
  backoffMs: number;
}

export const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * Whether the witness may restart a dead or zombie session now: never past
 * the crash-loop limit (it escalates instead), and not before the back-off
 * after the previous restart.
 */
export function restartDecision(
  restarts: readonly string[],
  now: number,
  rules: RestartRules,
): { action: 'restart' | 'wait' | 'crash-loop'; recent: number; waitMs: number } {
  const recent = restarts.map((r) => Date.parse(r)).filter((t) => Number.isFinite(t) && now - t < rules.crashLoopWindowMs);
  if (recent.length >= rules.crashLoopRestarts) return { action: 'crash-loop', recent: recent.length, waitMs: 0 };
  const last = recent.length ? Math.max(...recent) : undefined;
  if (last === undefined) return { action: 'restart', recent: 0, waitMs: 0 };
  const backoff = Math.min(MAX_BACKOFF_MS, rules.backoffMs * 2 ** (recent.length - 1));
  const waitMs = last + backoff - now;
  return waitMs > 0 ? { action: 'wait', recent: recent.length, waitMs } : { action: 'restart', recent: recent.length, waitMs: 0 };
}
