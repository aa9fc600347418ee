/**
 * Claude Code's own agent teams inside a gt session (issue 17 §4): Claude
 * splits the agent's window into teammate panes and focuses them, so keys and
 * captures aimed at a session or window would land in a teammate. gt aims at
 * the agent's own pane. The agent is the scripted fake agent of talking.test.ts;
 * the test splits its window itself, as Claude's teammates would.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OWN_FIXTURES } from '../support/env.js';
import { makeTown, waitFor } from '../support/town.js';

const AGENT = 'app/crew/ada';
const read = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8') : '');

describe("an agent's own pane", () => {
  it('a nudge and a mail wake reach the agent while a teammate pane split in its window has focus', async () => {
    const town = makeTown({ rig: 'app' });
    const log = join(town.base, 'agent.log');
    expect(town.gt(['config', 'agent', 'set', 'fake', `sh ${join(OWN_FIXTURES, 'fake-agent.sh')} ${log}`]).code).toBe(0);
    expect(town.gt(['crew', 'add', 'ada', '--rig', 'app']).code).toBe(0);
    const started = town.gt(['crew', 'attach', 'ada', '--agent', 'fake', '--backend', 'tmux', '--detached']);
    expect(started.code, started.stderr).toBe(0);
    await waitFor('the start-up prompt', () => read(log).includes('turn: [gt] You are app/crew/ada') || undefined, 30_000);
    const agent = () => town.json<Array<{ agent: string; state: string; pane?: string; colour?: string }>>(['agents']).find((a) => a.agent === AGENT);
    await waitFor('the agent to be idle', () => agent()?.state === 'idle' || undefined, 30_000);
    const own = agent()?.pane;
    expect(own).toMatch(/^%\d+$/);
    expect(agent()?.colour).toBeTruthy();

    // A teammate pane, split in the agent's window and focused (split-window selects the new pane).
    const teammate = town.tmux(['split-window', '-t', '=gt-app-crew-ada:', '-P', '-F', '#{pane_id}', 'cat']);
    expect(teammate.code, teammate.stderr).toBe(0);
    const mate = teammate.stdout.trim();
    expect(town.tmux(['display', '-p', '-t', '=gt-app-crew-ada:', '#{pane_id}']).stdout.trim()).toBe(mate);

    const nudged = town.json<{ delivery: string; confirmed: boolean }>(['nudge', AGENT, 'teammates around']);
    expect(nudged.delivery).not.toBe('queued');
    await waitFor('the nudge turn', () => read(log).includes('turn: [nudge from human] teammates around') || undefined, 30_000);
    await waitFor('the agent to be idle', () => agent()?.state === 'idle' || undefined, 30_000);
    const sent = town.json<{ delivery: string }>(['mail', 'send', AGENT, '-s', 'Wake up', '-m', 'orders for ada']);
    expect(sent.delivery).toBe('wake');
    await waitFor('the mail', () => read(log).includes('orders for ada') || undefined, 30_000);

    // Nothing meant for the agent went to the teammate, and peek reads the agent's pane, not the focused one.
    expect(town.tmux(['capture-pane', '-p', '-t', mate]).stdout).not.toMatch(/teammates around|Wake up/);
    expect(town.gt(['peek', AGENT]).stdout).toContain('teammates around');
    expect(town.tmux(['display', '-p', '-t', '=gt-app-crew-ada:', '#{pane_id}']).stdout.trim()).toBe(mate);

    // The swarm view shows the teammate right after its lead, in the lead's colour; the lead is still reached there.
    const view = town.json<{ window: string; panes: Array<{ pane: string; role: string; agent: string | null; lead: string | null; colour: string | null }> }>([
      'swarm',
      'app',
    ]);
    expect(view.panes.map((p) => [p.role, p.agent ?? p.lead])).toEqual([
      ['leader', null],
      ['agent', AGENT],
      ['teammate', AGENT],
    ]);
    expect(view.panes[1]?.pane).toBe(own);
    expect(view.panes[2]?.pane).toBe(mate);
    expect(view.panes[2]?.colour).toBe(view.panes[1]?.colour);
    await waitFor('the agent to be idle', () => agent()?.state === 'idle' || undefined, 30_000);
    expect(town.json<{ delivery: string }>(['nudge', AGENT, 'seen in the swarm']).delivery).not.toBe('queued');
    await waitFor('the nudge in the swarm view', () => read(log).includes('turn: [nudge from human] seen in the swarm') || undefined, 30_000);
  });
});
