/**
 * Supervision with real processes (issue 14 §1–§2): the daemon runs, agents
 * are killed, hung, left idle with hooked work, made to crash in a loop, and
 * orphaned from their session; the daemon itself is killed and hung. Each is
 * detected within two daemon passes (the events carry the pass, the lease
 * counts them: no clock in the assertions) and acted on as the README says.
 */
import { readFileSync, readdirSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claudeInstalled, useScriptedClaude } from '../support/claude.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

interface Event {
  id: number;
  kind: string;
  agent?: string;
  bead?: string;
  at: string;
  payload: Record<string, unknown>;
}
interface AgentRow {
  agent: string;
  state: string;
  session_alive: boolean;
  supervision: { escalated?: string; restarts: string[]; wakes: number } | null;
}
interface Lease {
  pid: number;
  passes: number;
}

const lease = (town: TestTown): Lease | undefined => {
  try {
    return JSON.parse(readFileSync(join(town.root, '.gt', 'daemon.lease'), 'utf8')) as Lease;
  } catch {
    return undefined;
  }
};
const passes = (town: TestTown) => lease(town)?.passes ?? 0;
const events = (town: TestTown, agent: string) =>
  town.json<Event[]>(['events', '--agent', agent, '--type', 'agent,session,escalation', '--after', '0']).filter((e) => e.agent === agent);
const row = (town: TestTown, agent: string) => town.json<AgentRow[]>(['agents']).find((a) => a.agent === agent);
const pass = (event: Event | undefined) => Number(event?.payload.pass);
/** Waits until the daemon has finished `count` more passes (a pass count, not a clock). */
const morePasses = (town: TestTown, count: number) => {
  const target = passes(town) + count;
  return waitFor(`${count} more daemon passes`, () => passes(town) >= target || undefined, 120_000);
};
const runDirs = (town: TestTown) =>
  readdirSync(join(town.root, '.gt', 'runs'))
    .sort()
    .map((r) => join(town.root, '.gt', 'runs', r));

/** A town with a rig and its daemon on a one-second pass; `witness` settings on top. */
function supervisedTown(witness: Record<string, string>): TestTown {
  const town = makeTown({ rig: 'app' });
  for (const [key, value] of Object.entries({ 'daemon.interval': '"1s"', 'daemon.stale_after': '"4s"', 'witness.restart_backoff': '"1s"', ...witness }))
    expect(town.gt(['config', 'set', key, value]).code).toBe(0);
  return town;
}

function up(town: TestTown): void {
  const started = town.gt(['up']);
  expect(started.code, started.stderr).toBe(0);
}

async function firstEvent(town: TestTown, agent: string, what: string, match: (e: Event) => boolean, ms = 90_000): Promise<Event> {
  return waitFor(what, () => events(town, agent).find(match), ms);
}

describe('supervision', () => {
  it('a killed agent is dead within two passes and restarted on the same hook', async () => {
    const town = supervisedTown({});
    const bead = town.bead('Keep going', ['sleep 600']);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'shell', '--backend', 'tmux']);
    const agent = slung?.agent as string;
    const session = `gt-app-${agent.split('/')[2]}`;
    await waitFor('the agent to work', () => row(town, agent)?.state === 'working' || undefined, 60_000);
    up(town);
    await waitFor('the daemon to turn', () => passes(town) >= 1 || undefined, 60_000);
    process.kill(Number(town.tmux(['display-message', '-p', '-t', `=${session}:`, '#{pane_pid}']).stdout.trim()), 'SIGKILL');
    await waitFor(
      'the pane to die',
      () => town.tmux(['display-message', '-p', '-t', `=${session}:`, '#{pane_dead}']).stdout.trim() === '1' || undefined,
      20_000,
    );
    const killedAt = passes(town);
    const problem = await firstEvent(town, agent, 'agent.problem dead', (e) => e.kind === 'agent.problem' && e.payload.state === 'dead');
    const restarted = await firstEvent(town, agent, 'agent.restarted', (e) => e.kind === 'agent.restarted');
    expect(pass(problem)).toBeLessThanOrEqual(killedAt + 2);
    expect(pass(restarted)).toBe(pass(problem));
    expect(restarted).toMatchObject({ bead, payload: { reason: 'dead', restarts: 1 } });
    await waitFor('the new session to work', () => row(town, agent)?.state === 'working' || undefined, 60_000);
    expect(town.json<{ hooked: Array<{ id: string }> }>(['hook', '--agent', agent]).hooked.map((b) => b.id)).toEqual([bead]);
  });

  it('a hung step is stalled within two passes, interrupted and re-primed once, then escalated; nothing more is done', async () => {
    const town = supervisedTown({ 'witness.stall_after': '"3s"' });
    const bead = town.bead('Hang', ['sleep 600']);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'shell', '--backend', 'tmux']);
    const agent = slung?.agent as string;
    up(town);
    // Stalled as soon as gt agents reads it so (the same function the witness runs): the witness records it within two passes.
    await waitFor('the agent to read as stalled', () => row(town, agent)?.state === 'stalled' || undefined, 60_000);
    const detectable = passes(town);
    const stalled = await firstEvent(town, agent, 'agent.problem stalled', (e) => e.kind === 'agent.problem' && e.payload.state === 'stalled');
    expect(pass(stalled)).toBeLessThanOrEqual(detectable + 2);
    const interrupted = await firstEvent(town, agent, 'agent.interrupted', (e) => e.kind === 'agent.interrupted');
    expect(pass(interrupted)).toBe(pass(stalled));
    // The new session primes and runs the step again, which hangs again: escalated, not interrupted a second time.
    const escalated = await firstEvent(town, agent, 'the escalation', (e) => e.kind === 'escalation.raised');
    expect(escalated.payload).toMatchObject({ severity: 'high', source: 'witness', reason: 'stall' });
    const mail = town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'mayor']);
    expect(mail.map((m) => m.subject)).toContain(`STALLED ${agent}: ${bead}`);
    await morePasses(town, 3);
    const all = events(town, agent);
    expect(all.filter((e) => e.kind === 'agent.interrupted')).toHaveLength(1);
    expect(all.filter((e) => e.kind === 'escalation.raised')).toHaveLength(1);
    expect(row(town, agent)).toMatchObject({ state: 'stalled', supervision: { escalated: 'stall' } });
    // Two sessions in all: the first, and the one that re-primed.
    expect(all.filter((e) => e.kind === 'session.started')).toHaveLength(2);
  });

  it('a runtime that dies at once is restarted with back-off, then escalated as a crash loop and left alone', async () => {
    const town = supervisedTown({ 'witness.crash_loop_restarts': '2', 'witness.restart_backoff': '"2s"' });
    expect(town.gt(['config', 'agent', 'set', 'crasher', 'false']).code).toBe(0);
    const bead = town.bead('Crash', ['true']);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'crasher', '--backend', 'tmux']);
    const agent = slung?.agent as string;
    up(town);
    const escalated = await firstEvent(town, agent, 'the crash-loop escalation', (e) => e.kind === 'escalation.raised', 120_000);
    expect(escalated.payload).toMatchObject({ severity: 'high', source: 'witness', reason: 'crash-loop' });
    const restarts = events(town, agent).filter((e) => e.kind === 'agent.restarted');
    expect(restarts.map((e) => e.payload.restarts)).toEqual([1, 2]);
    // The back-off: the second restart came at least restart_backoff after the first (ledger times, not the test's clock).
    expect(Date.parse(restarts[1]?.at ?? '') - Date.parse(restarts[0]?.at ?? '')).toBeGreaterThanOrEqual(2000);
    // Detected on the pass after the last restart's session died, at most two passes on.
    expect(pass(escalated) - pass(restarts[1])).toBeLessThanOrEqual(2);
    expect(town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'mayor']).map((m) => m.subject)).toContain(`CRASH LOOP ${agent}: ${bead}`);
    await morePasses(town, 3);
    expect(events(town, agent).filter((e) => e.kind === 'agent.restarted')).toHaveLength(2);
    expect(row(town, agent)).toMatchObject({ state: 'dead', supervision: { escalated: 'crash-loop' } });
  });

  it('an agent idle with hooked work is woken max_wakes times, then is a GUPP violation and escalated', async () => {
    const town = supervisedTown({ 'witness.idle_wake': '"1s"', 'witness.max_wakes': '2' });
    // A runtime that reports the end of its turn, then sits at its "prompt" and never answers a wake-up.
    const idler = join(town.base, 'idler.sh');
    writeFileSync(idler, '#!/bin/sh\n"$GT_ROOT/.gt/bin/gt" signal stop\nexec sleep 600\n');
    chmodSync(idler, 0o755);
    expect(town.gt(['config', 'agent', 'set', 'idler', idler]).code).toBe(0);
    const bead = town.bead('Do it', ['true']);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'idler', '--backend', 'tmux']);
    const agent = slung?.agent as string;
    await waitFor('the agent to be idle', () => row(town, agent)?.state === 'idle' || undefined, 60_000);
    up(town);
    const violation = await firstEvent(town, agent, 'the GUPP violation', (e) => e.kind === 'agent.problem' && e.payload.state === 'gupp-violation', 180_000);
    const woken = events(town, agent).filter((e) => e.kind === 'agent.woken');
    expect(woken.map((e) => e.payload.wakes)).toEqual([1, 2]);
    expect(pass(violation) - pass(woken[1])).toBeLessThanOrEqual(2);
    const escalated = await firstEvent(town, agent, 'the escalation', (e) => e.kind === 'escalation.raised');
    expect(escalated.payload).toMatchObject({ severity: 'high', source: 'witness', reason: 'gupp-violation' });
    // The wake-ups were typed into its session (the line names the bead).
    expect(town.tmux(['capture-pane', '-p', '-t', `=gt-app-${agent.split('/')[2]}:`]).stdout).toContain(`Work is still on your hook: ${bead}`);
    await morePasses(town, 2);
    expect(events(town, agent).filter((e) => e.kind === 'agent.woken')).toHaveLength(2);
  });

  it('a headless agent whose session host was killed is a zombie within two passes: its leftover process is ended and a new session starts', async () => {
    const town = supervisedTown({});
    const bead = town.bead('Orphan', ['sleep 600']);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'shell', '--backend', 'headless']);
    const agent = slung?.agent as string;
    await waitFor('the agent to work', () => row(town, agent)?.state === 'working' || undefined, 60_000);
    up(town);
    await waitFor('the daemon to turn', () => passes(town) >= 1 || undefined, 60_000);
    const [run] = runDirs(town);
    const host = Number(readFileSync(join(run as string, 'host.pid'), 'utf8'));
    const orphan = Number(readFileSync(join(run as string, 'agent.pid'), 'utf8'));
    process.kill(host, 'SIGKILL');
    await waitFor('the host to be gone', () => !existsSync(`/proc/${host}`) || readFileSync(`/proc/${host}/stat`, 'utf8').includes(') Z') || undefined, 20_000);
    const killedAt = passes(town);
    const zombie = await firstEvent(town, agent, 'agent.problem zombie', (e) => e.kind === 'agent.problem' && e.payload.state === 'zombie');
    expect(zombie.payload.reason).toBe('the agent process runs without its session');
    expect(pass(zombie)).toBeLessThanOrEqual(killedAt + 2);
    const restarted = await firstEvent(town, agent, 'agent.restarted', (e) => e.kind === 'agent.restarted');
    expect(restarted.payload).toMatchObject({ reason: 'zombie' });
    await waitFor(
      'the orphan to be ended',
      () => !existsSync(`/proc/${orphan}`) || readFileSync(`/proc/${orphan}/stat`, 'utf8').includes(') Z') || undefined,
      20_000,
    );
    await waitFor('the new session to work', () => row(town, agent)?.state === 'working' || undefined, 60_000);
    expect(runDirs(town)).toHaveLength(2);
  });

  it('a killed daemon is dead and a hung one stale in gt status; gt up replaces either', async () => {
    const town = supervisedTown({});
    const health = () => town.json<{ daemon: { pid?: number; health: { state: string; passes?: number } } }>(['status']).daemon;
    up(town);
    await waitFor('the daemon to run', () => health().health.state === 'running' || undefined, 60_000);
    const first = health().pid as number;
    process.kill(first, 'SIGKILL');
    await waitFor('the daemon to read as dead', () => health().health.state === 'dead' || undefined, 20_000);
    const recovered = town.json<{ started: boolean; pid: number; recovered?: string }>(['up']);
    expect(recovered).toMatchObject({ started: true, recovered: 'dead' });
    await waitFor('the new daemon to run', () => health().health.state === 'running' || undefined, 60_000);
    // Hung: its process is there, its loop does not turn.
    const second = recovered.pid;
    process.kill(second, 'SIGSTOP');
    await waitFor('the daemon to read as stale', () => health().health.state === 'stale' || undefined, 60_000);
    expect(town.gt(['status']).stdout).toMatch(/Daemon +hung \(pid \d+\)/);
    const replaced = town.json<{ started: boolean; pid: number; recovered?: string; previous_pid?: number }>(['up']);
    expect(replaced).toMatchObject({ started: true, recovered: 'stale', previous_pid: second });
    expect(replaced.pid).not.toBe(second);
    await waitFor(
      'the hung daemon to be gone',
      () => !existsSync(`/proc/${second}`) || readFileSync(`/proc/${second}/stat`, 'utf8').includes(') Z') || undefined,
      20_000,
    );
    await waitFor('the replacement to run', () => health().health.state === 'running' || undefined, 60_000);
    expect(town.json<Event[]>(['events', '--type', 'daemon', '--after', '0']).map((e) => [e.kind, e.payload.was])).toEqual([
      ['daemon.recovered', 'dead'],
      ['daemon.recovered', 'stale'],
    ]);
    // A second gt up does nothing.
    expect(town.json<{ started: boolean; recovered?: string }>(['up'])).toEqual(expect.objectContaining({ started: false }));
  });
});

describe.skipIf(!claudeInstalled)('supervision of Claude Code', () => {
  it('a Claude turn that never ends is stalled, interrupted and resumed once, then escalated: the model server gets no request from supervision', async () => {
    const town = supervisedTown({ 'witness.stall_after': '"8s"' });
    const bead = town.bead('Think forever', []);
    // Both turns hang (the model never answers): the original one, and the one the re-primed session starts.
    const server = await useScriptedClaude(town, [
      { text: 'never sent', delay_ms: 600_000 },
      { text: 'never sent either', delay_ms: 600_000 },
    ]);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'claude', '--backend', 'tmux']);
    const agent = slung?.agent as string;
    await waitFor('the first model request', () => server.mainRequests().length >= 1 || undefined, 90_000);
    up(town);
    const interrupted = await firstEvent(town, agent, 'agent.interrupted', (e) => e.kind === 'agent.interrupted', 120_000);
    const stalled = events(town, agent).find((e) => e.kind === 'agent.problem' && e.payload.state === 'stalled');
    expect(pass(interrupted)).toBe(pass(stalled));
    const escalated = await firstEvent(town, agent, 'the escalation', (e) => e.kind === 'escalation.raised', 180_000);
    expect(escalated.payload).toMatchObject({ source: 'witness', reason: 'stall' });
    await morePasses(town, 3);
    // One request per session (the agent's own turns: the first, and the resumed one after the interrupt); none from supervision.
    const requests = server.mainRequests();
    expect(requests).toHaveLength(2);
    expect(server.turnsUsed()).toBe(2);
    const runs = runDirs(town);
    expect(runs).toHaveLength(2);
    const resumed = JSON.parse(readFileSync(join(runs[1] as string, 'run.json'), 'utf8')) as { argv: string[] };
    expect(resumed.argv).toContain('--resume');
  });
});
