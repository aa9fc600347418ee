/**
 * The agent state machine (core/agents/agent-state.ts), row by row: every
 * state is reached from the states that lead to it, and the restart rules
 * (back-off, crash loop) and the daemon's lease are judged the same way.
 */
import { describe, expect, it } from 'vitest';
import { agentState, restartDecision, supervisionRecord, type AgentObservation, type AgentState } from '../../src/core/agents/agent-state.js';
import { judgeDaemon, type DaemonLease } from '../../src/core/town/daemon-health.js';
import { parseTownConfig } from '../../src/core/town/config.js';

const NOW = Date.parse('2026-11-27T21:00:00Z');
const s = (seconds: number) => NOW - seconds * 1000;
const rules = { stallAfterMs: 600_000, idleWakeMs: 60_000, maxWakes: 3 };

/** A running agent with work on its hook that signalled a moment ago. */
const base: AgentObservation = {
  recorded: 'working',
  session: true,
  process: true,
  hooked: true,
  signals: true,
  now: NOW,
  lastSignalAt: s(5),
  startedAt: s(3000),
  wakes: 0,
};

type Row = [string, Partial<AgentObservation>, AgentState];

const rows: Row[] = [
  // starting
  ['a session just started, no hook event yet', { recorded: 'starting', lastSignalAt: undefined, startedAt: s(2) }, 'starting'],
  ['restarted after dying: the witness recorded dead, the new session starts', { recorded: 'dead', lastSignalAt: s(400), startedAt: s(1) }, 'starting'],
  ['restarted after a zombie', { recorded: 'zombie', lastSignalAt: s(400), startedAt: s(1) }, 'starting'],
  // working
  ['a tool call or prompt a moment ago', {}, 'working'],
  ['quiet hooks, but it changed a file a minute ago (a long tool call)', { lastSignalAt: s(900), activityAt: s(60) }, 'working'],
  ['stalled, then it signalled again', { recorded: 'stalled', lastSignalAt: s(1) }, 'working'],
  ['stalled, then it committed', { recorded: 'stalled', lastSignalAt: s(900), activityAt: s(10) }, 'working'],
  [
    'a runtime without hooks: alive is all gt knows, never stalled',
    { recorded: 'starting', signals: false, lastSignalAt: undefined, startedAt: s(9000) },
    'starting',
  ],
  // idle
  ['stopped its turn with nothing hooked', { recorded: 'idle', hooked: false, lastSignalAt: s(9000) }, 'idle'],
  ['stopped its turn with work hooked, before idle_wake', { recorded: 'idle', lastSignalAt: s(30) }, 'idle'],
  ['idle past idle_wake, wakes left', { recorded: 'idle', lastSignalAt: s(120), wakes: 2 }, 'idle'],
  ['no session and nothing hooked (a freed worker)', { recorded: 'working', session: false, process: false, hooked: false }, 'idle'],
  ['gupp-violation, then it signalled', { recorded: 'gupp-violation', lastSignalAt: s(1), wakes: 3 }, 'idle'],
  ['done, and a new bead hooked before its next turn', { recorded: 'done', lastSignalAt: s(5) }, 'idle'],
  // waiting
  ['asked for a permission', { recorded: 'waiting-permission', lastSignalAt: s(5000) }, 'waiting-permission'],
  ['waiting at a gate, session running', { recorded: 'waiting-gate', lastSignalAt: s(5000) }, 'waiting-gate'],
  ['its session ended at a gate', { recorded: 'waiting-gate', session: false, process: false }, 'waiting-gate'],
  // stalled
  ['working with no signal or activity for stall_after', { lastSignalAt: s(601) }, 'stalled'],
  ['working, stale worktree too', { lastSignalAt: s(700), activityAt: s(650) }, 'stalled'],
  ['started and never signalled (stuck at a dialog)', { recorded: 'starting', lastSignalAt: undefined, startedAt: s(601) }, 'stalled'],
  ['recorded stalled and still quiet', { recorded: 'stalled', lastSignalAt: s(2000) }, 'stalled'],
  // gupp-violation
  ['idle past idle_wake after max_wakes wakes', { recorded: 'idle', lastSignalAt: s(61), wakes: 3 }, 'gupp-violation'],
  ['max_wakes reached but idle less than idle_wake since its last signal', { recorded: 'idle', lastSignalAt: s(10), wakes: 3 }, 'idle'],
  ['idle past idle_wake, never woken yet: woken first, not a violation', { recorded: 'idle', lastSignalAt: s(61), wakes: 0 }, 'idle'],
  // zombie
  ['session alive, agent process gone', { process: false }, 'zombie'],
  ['agent process alive, session gone', { session: false }, 'zombie'],
  ['a zombie even when idle', { recorded: 'idle', session: false }, 'zombie'],
  // dead
  ['session and process gone with work hooked', { session: false, process: false }, 'dead'],
  ['dead while idle with work hooked', { recorded: 'idle', session: false, process: false }, 'dead'],
  ['stopped on purpose with work hooked', { session: false, process: false, stoppedAt: s(10) }, 'dead'],
  ['recorded stalled, then the session died', { recorded: 'stalled', session: false, process: false }, 'dead'],
  // done
  ['finished: gt done, session ending', { recorded: 'done', hooked: false }, 'done'],
  ['finished and its session ended', { recorded: 'done', hooked: false, session: false, process: false }, 'done'],
];

describe('the agent state machine', () => {
  it.each(rows)('%s', (_name, change, expected) => {
    expect(agentState({ ...base, ...change }, rules).state).toBe(expected);
  });

  it('max_wakes = 0 makes an idle agent with hooked work a GUPP violation after idle_wake, with no wake', () => {
    expect(agentState({ ...base, recorded: 'idle', lastSignalAt: s(61) }, { ...rules, maxWakes: 0 }).state).toBe('gupp-violation');
  });

  it('reaches every state, and says why', () => {
    const reached = new Set(rows.map((r) => r[2]));
    expect([...reached].sort()).toEqual(
      ['dead', 'done', 'gupp-violation', 'idle', 'starting', 'stalled', 'waiting-gate', 'waiting-permission', 'working', 'zombie'].sort(),
    );
    expect(agentState({ ...base, lastSignalAt: s(601) }, rules).reason).toMatch(/no signal or worktree activity since 601s ago/);
    expect(agentState({ ...base, process: false }, rules).reason).toBe('its session is alive but the agent process is gone');
  });
});

describe('restarts: back-off and crash loops', () => {
  const restartRules = { backoffMs: 10_000, crashLoopRestarts: 3, crashLoopWindowMs: 600_000 };
  const at = (...seconds: number[]) => seconds.map((x) => new Date(s(x)).toISOString());
  it.each([
    ['the first death restarts at once', at(), 'restart'],
    ['a second death within the back-off waits', at(5), 'wait'],
    ['a second death after the back-off restarts', at(11), 'restart'],
    ['the back-off doubles with each restart in the window', at(15, 100), 'wait'],
    ['… and passes', at(21, 100), 'restart'],
    ['restarts outside the window do not count', at(700, 800, 900), 'restart'],
    ['crash_loop_restarts within the window: a crash loop', at(30, 60, 120), 'crash-loop'],
  ] as const)('%s', (_name, restarts, expected) => {
    expect(restartDecision(restarts, NOW, restartRules).action).toBe(expected);
  });

  it('supervision counters start again for a new bead', () => {
    const record = { bead: 'app-1', wakes: 2, restarts: at(5), escalated: 'stall' };
    expect(supervisionRecord(record, 'app-1')).toMatchObject({ wakes: 2, escalated: 'stall' });
    expect(supervisionRecord(record, 'app-2')).toEqual({ bead: 'app-2', wakes: 0, restarts: [] });
  });
});

describe('the daemon watches itself', () => {
  const lease = (renewedSecondsAgo: number): DaemonLease => ({
    pid: 42,
    started_at: new Date(s(3600)).toISOString(),
    renewed_at: new Date(s(renewedSecondsAgo)).toISOString(),
    passes: 7,
    interval_ms: 5000,
    stale_after_ms: 120_000,
  });
  const log = '/t/.gt/daemon.log';
  it.each([
    ['no pidfile: stopped', { running: false, log }, undefined, 'stopped'],
    ['a pidfile whose process is gone: dead', { running: false, stale_pidfile: true, log }, lease(3), 'dead'],
    ['its process runs, no lease of its own yet: starting', { running: true, pid: 42, log }, { ...lease(1), pid: 41 }, 'starting'],
    ['a fresh lease: running', { running: true, pid: 42, log }, lease(3), 'running'],
    ['a lease older than stale_after: stale (hung)', { running: true, pid: 42, log }, lease(121), 'stale'],
  ] as const)('%s', (_name, status, given, expected) => {
    const health = judgeDaemon(status, given, 120_000, NOW);
    expect(health.state).toBe(expected);
    expect(health.ok).toBe(expected === 'running' || expected === 'starting');
  });

  it("a running daemon's health shows what its last pass cost (gt status)", () => {
    const last_pass = { at: new Date(s(3)).toISOString(), duration_ms: 41, cpu_ms: 12 };
    const health = judgeDaemon({ running: true, pid: 42, log }, { ...lease(3), last_pass }, 120_000, NOW);
    expect(health).toMatchObject({ state: 'running', last_pass });
    expect(health.detail).toBe('last pass 3s ago (41 ms, 12 ms CPU)');
  });

  it('daemon.stale_after must cover two passes; the error names the file and key', () => {
    expect(() => parseTownConfig('name = "t"\n[daemon]\ninterval = "30s"\nstale_after = "45s"\n', '/t/town.toml')).toThrow(/town\.toml.*daemon\.stale_after/s);
    expect(() => parseTownConfig('name = "t"\n[witness]\ncrash_loop_restarts = 0\n', '/t/town.toml')).toThrow(/witness\.crash_loop_restarts/);
    expect(parseTownConfig('name = "t"\n', '/t/town.toml').witness).toMatchObject({ stall_after: '15m', crash_loop_restarts: 3, crash_loop_window: '10m' });
  });
});
