/**
 * The town host (issue 17 §2, sessions.mode = "in-process"): one process runs
 * every headless agent of the town, takes their stdin over its socket, and a
 * crash of it loses no work — the witness restarts each agent on its unchanged
 * hook under a new host. First with small stream-protocol scripts, then with
 * five real Claude Code agents against the scripted model server.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelScript } from '../../src/infra/model-server.js';
import { townHostSocket } from '../../src/infra/town-host.js';
import { bash, claudeInstalled, say, useScriptedClaude } from '../support/claude.js';
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

/** One request to the town host's control socket, as any local process could send it. */
function control(socketPath: string, method: string, path: string, body: unknown, authorization?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ socketPath, method, path, headers: authorization ? { authorization } : {} }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
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
    // gt status shows the town host: its pid, its three sessions, its memory.
    const team = town.json<{ team: { town_host: { pid: number; sessions: number; rss: number } | null } }>(['status']).team;
    expect(team.town_host).toMatchObject({ pid: host, sessions: 3 });
    expect(team.town_host?.rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(town.gt(['status']).stdout).toMatch(new RegExp(`town host pid ${host} · 3 session\\(s\\) · \\d+ MiB`));

    // A nudge goes to one agent's stdin through the host's socket.
    const [first, second] = slung;
    expect(town.json<{ delivery: string }>(['nudge', first?.agent as string, 'keep going', '--no-wait']).delivery).toBe('stdin');
    await waitFor('the nudge line', () => read(log(names[0] as string)).includes('[nudge from human] keep going') || undefined, 20_000);
    expect(read(log(names[1] as string))).not.toContain('keep going');

    // The socket answers the town's owner only: no key, or a run folder outside the town, and nothing happens.
    const socketPath = townHostSocket(town.root);
    const key = readFileSync(join(town.root, '.gt', 'town-host.key'), 'utf8').trim();
    expect((statSync(join(town.root, '.gt', 'town-host.key')).mode & 0o777).toString(8)).toBe('600');
    expect(await control(socketPath, 'POST', '/stop', { name: `gt-app-${names[1] as string}` })).toMatchObject({ status: 403 });
    expect(await control(socketPath, 'POST', '/send', { name: `gt-app-${names[1] as string}`, text: 'forged\n' }, 'Bearer wrong')).toMatchObject({
      status: 403,
    });
    expect(await control(socketPath, 'POST', '/start', { runDir: town.base }, `Bearer ${key}`)).toMatchObject({ status: 403 });
    expect(rows(town).map((r) => r.session_alive)).toEqual([true, true, true]);
    expect(read(log(names[1] as string))).not.toContain('forged');

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

describe.skipIf(!claudeInstalled)('the town host with the real Claude Code', () => {
  it('runs five Claude Code agents headless; killed mid-turn, each is restarted by the witness on its hook, resumes its conversation and finishes', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'sessions.mode', '"in-process"']).code).toBe(0);
    const server = await useScriptedClaude(town, []);
    // One lane of the model server per agent: each runtime points Claude Code at its own.
    const lanes = [0, 1, 2, 3, 4].map((i) => `a${i}`);
    let toml = readFileSync(join(town.root, 'town.toml'), 'utf8');
    for (const [i, lane] of lanes.entries()) {
      server.setScript(
        lane,
        parseModelScript({
          turns: [
            bash(`printf "one\\n" > ONE-${i}.md && git add ONE-${i}.md && git commit -qm "part one ${i}" && sleep 120`),
            {
              match: 'Work on the bead on your hook',
              ...bash(`printf "two\\n" > TWO-${i}.md && git add TWO-${i}.md && git commit -qm "part two ${i}" && gt done`),
            },
            say('Finished.'),
          ],
        }),
      );
      toml += `\n[agents.${lane}]\ncommand = "claude"\nlike = "claude"\nenv = { ANTHROPIC_BASE_URL = "${server.url(lane)}" }\n`;
    }
    writeFileSync(join(town.root, 'town.toml'), toml);
    const slung = lanes.map((lane, i) => town.json<Array<{ agent: string; bead: string }>>(['sling', town.bead(`Part ${i}`, []), 'app', '--agent', lane])[0]);
    const agents = slung.map((s) => s?.agent as string);
    const host = pidIn(join(town.root, '.gt', 'town-host.pid'));
    // Mid-turn: every agent has committed part one and sits in its `sleep`, its session id recorded.
    await waitFor('five agents mid-turn', () => lanes.every((lane) => server.turnsUsed(lane) >= 1) || undefined, 120_000);
    await waitFor(
      'their runtime session ids',
      () =>
        town
          .json<Array<{ metadata?: { runtime_session?: string } }>>(['bd', 'show', ...agents.map((a) => `hq-app-polecat-${a.split('/')[2]}`)])
          .every((a) => a.metadata?.runtime_session) || undefined,
      60_000,
    );
    const worktrees = agents.map((a) => join(town.root, 'app', 'polecats', a.split('/')[2] as string));
    await waitFor('five first commits', () => worktrees.every((w) => town.git(w, ['log', '--format=%s', '-1']).startsWith('part one')) || undefined, 60_000);
    expect(town.json<Array<{ status: string }>>(['agents']).length).toBeGreaterThanOrEqual(5);

    process.kill(host, 'SIGKILL');
    // The witness finds each session without its host and restarts it on the same hook, resuming its conversation.
    const restarted = new Set<string>();
    await waitFor(
      'five restarts',
      () => {
        for (const action of town.json<Array<{ agent: string; action: string; detail: string }>>(['witness', 'patrol']))
          if (action.action === 'restarted' && action.detail.includes('resumed session')) restarted.add(action.agent);
        return restarted.size === 5 || undefined;
      },
      60_000,
    );
    const next = pidIn(join(town.root, '.gt', 'town-host.pid'));
    expect(next).not.toBe(host);
    await waitFor('five merge requests', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 5 || undefined, 180_000);
    for (const [i, lane] of lanes.entries()) {
      // The resumed process's request carries the conversation from before the crash.
      expect(JSON.stringify(server.mainRequests(lane).find((r) => r.turn === 1)?.body)).toContain(`part one ${i}`);
      expect(town.git(worktrees[i] as string, ['log', '--format=%s']).split('\n')).toEqual(expect.arrayContaining([`part two ${i}`, `part one ${i}`]));
    }
  }, 420_000);
});
