/**
 * The town host (issue 17 §2, sessions.mode = "in-process"): one process runs
 * every headless agent of the town, takes their stdin over its socket, and a
 * crash of it loses no work — the witness restarts each agent on its unchanged
 * hook under a new host. The agents here are small stream-protocol scripts;
 * town-host-claude.test.ts runs the real Claude Code.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

interface AgentRow {
  agent: string;
  session_alive: boolean;
  hook?: string;
}

const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');
const pidIn = (path: string) => Number(readFileSync(path, 'utf8').trim());
const commandLine = (pid: number) => read(`/proc/${pid}/cmdline`).split('\0').join(' ');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(read(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

function rows(town: TestTown): AgentRow[] {
  return town.json<AgentRow[]>(['agents']).filter((a) => a.agent.includes('/polecats/'));
}

describe('the town host (sessions.mode = "in-process")', () => {
  it('runs three headless agents in one process, writes to their stdin, and after it is killed the witness restarts them on their hooks', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'sessions.mode', '"in-process"']).code).toBe(0);
    // A stream-protocol agent: every stdin line goes to a log named after its worktree.
    const logs = join(town.base, 'logs');
    const script = join(town.base, 'stream.sh');
    writeFileSync(script, `mkdir -p ${logs}\nwhile IFS= read -r line; do printf '%s\\n' "$line" >> "${logs}/$(basename "$PWD").log"; done\n`);
    expect(town.gt(['config', 'agent', 'set', 'streamy', `sh ${script}`, '--like', 'claude']).code).toBe(0);
    const beads = ['One', 'Two', 'Three'].map((title) => town.bead(title, []));
    const slung = town.json<Array<{ agent: string; backend: string }>>(['sling', ...beads, 'app', '--agent', 'streamy']);
    expect(slung.map((s) => s.backend)).toEqual(['headless', 'headless', 'headless']);
    const names = slung.map((s) => s.agent.split('/')[2] as string);
    const log = (name: string) => join(logs, `${name}.log`);

    // One host for all three: every run's host.pid is the town host's, a `gt town-host` process.
    const host = pidIn(join(town.root, '.gt', 'town-host.pid'));
    expect(commandLine(host)).toContain('town-host');
    const runs = join(town.root, '.gt', 'runs');
    expect(readdirSync(runs).map((run) => pidIn(join(runs, run, 'host.pid')))).toEqual([host, host, host]);
    for (const name of names) await waitFor(`${name}'s start-up prompt`, () => read(log(name)).includes('"type":"user"') || undefined, 30_000);
    expect(rows(town).map((r) => r.session_alive)).toEqual([true, true, true]);

    // A nudge goes to one agent's stdin through the host's socket.
    const [first, second] = slung;
    expect(town.json<{ delivery: string }>(['nudge', first?.agent as string, 'keep going', '--no-wait']).delivery).toBe('stdin');
    await waitFor('the nudge line', () => read(log(names[0] as string)).includes('[nudge from human] keep going') || undefined, 20_000);
    expect(read(log(names[1] as string))).not.toContain('keep going');

    // The host dies: its agents lose their stdin and end; nothing of the hooks is lost.
    process.kill(host, 'SIGKILL');
    await waitFor('the sessions to be dead', () => rows(town).every((r) => !r.session_alive) || undefined, 30_000);
    for (const bead of beads)
      expect(town.json<Array<{ status: string; assignee: string }>>(['bd', 'show', bead])[0]).toMatchObject({
        status: 'hooked',
        assignee: slung[beads.indexOf(bead)]?.agent,
      });
    const patrol = town.json<Array<{ agent: string; action: string }>>(['witness', 'patrol']);
    expect(patrol.filter((a) => a.action === 'restarted').map((a) => a.agent)).toEqual(expect.arrayContaining(slung.map((s) => s.agent)));

    // A new host runs all three again, each with a new start-up prompt on the same hook.
    const next = pidIn(join(town.root, '.gt', 'town-host.pid'));
    expect(next).not.toBe(host);
    expect(alive(next)).toBe(true);
    for (const name of names)
      await waitFor(
        `${name}'s second start-up prompt`,
        () =>
          read(log(name))
            .split('\n')
            .filter((l) => l.includes('"type":"user"')).length >= 2 || undefined,
        30_000,
      );
    expect(rows(town).map((r) => r.session_alive)).toEqual([true, true, true]);

    // Stopping a session goes through the host too; the host stays for the others.
    expect(town.gt(['session', 'stop', second?.agent as string]).code).toBe(0);
    await waitFor('the stopped session', () => rows(town).filter((r) => !r.session_alive).length === 1 || undefined, 20_000);
    expect(alive(next)).toBe(true);
  });
});
