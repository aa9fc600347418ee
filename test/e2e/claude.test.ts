/**
 * The real Claude Code under gt (issue 4): a scripted model server plays the
 * model; everything else — Claude Code's tools and hooks, gt's session host,
 * the ledger, git, tmux — is real.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bash, claudeInstalled, lastUserText, requestsContaining, say, useScriptedClaude } from '../support/claude.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

interface AgentRow {
  agent: string;
  state: string;
  session_alive: boolean;
  hooked: string[];
  last_signal?: string;
  last_signal_at?: string;
}
interface Slung {
  agent: string;
  bead: string;
}

const COMMIT_AND_DONE = [
  bash('printf "hello from claude\\n" > GREETING.md && git add GREETING.md && git commit -qm "Add a greeting" && echo committed'),
  bash('gt done'),
  say('Finished.'),
];

function agentRow(town: TestTown, address: string): AgentRow | undefined {
  return town.json<AgentRow[]>(['agents']).find((a) => a.agent === address);
}

function runDirs(town: TestTown): string[] {
  const runs = join(town.root, '.gt', 'runs');
  return readdirSync(runs)
    .sort()
    .map((r) => join(runs, r));
}

async function mergedAndClosed(town: TestTown, bead: string): Promise<void> {
  await waitFor('the merge request', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined, 90_000);
  expect(town.json<Array<{ result: string; bead: string }>>(['refinery', 'run', 'app'])).toMatchObject([{ result: 'merged', bead }]);
  expect(town.json<{ status: string }[]>(['bd', 'show', bead])[0]?.status).toBe('closed');
}

describe.skipIf(!claudeInstalled)('Claude Code under gt', () => {
  it('slings a bead to Claude in tmux: prime on start, edit, commit, gt done, merged', async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Add a greeting', []);
    const server = await useScriptedClaude(town, [
      bash(
        'gt hook --json | grep -q "Add a greeting" && printf "hello from claude\\n" > GREETING.md && git add GREETING.md && git commit -qm "Add a greeting" && echo committed',
      ),
      bash('gt done'),
      say('Finished.'),
    ]);
    const slung = town.gt(['sling', bead, 'app', '--agent', 'claude', '--backend', 'tmux']);
    expect(slung.code, slung.stderr).toBe(0);
    await mergedAndClosed(town, bead);
    // The first request of the agent loop already knows the hooked bead: gt prime ran on SessionStart.
    expect(JSON.stringify(server.mainRequests()[0]?.body)).toContain(bead);
    expect(town.git(town.base, ['--git-dir', `${town.base}/app.git`, 'show', 'main:GREETING.md'])).toBe('hello from claude\n');
    await waitFor('the session to end', () => town.json<AgentRow[]>(['agents']).every((a) => !a.session_alive) || undefined, 30_000);
    // The worktree was trusted through Claude Code's config, not by keystrokes.
    const config = JSON.parse(readFileSync(join(town.env.HOME as string, '.claude.json'), 'utf8')) as {
      projects: Record<string, { hasTrustDialogAccepted?: boolean }>;
    };
    expect(Object.entries(config.projects).some(([dir, p]) => dir.endsWith('/app/polecats/furiosa') && p.hasTrustDialogAccepted)).toBe(true);
  });

  it('mail sent while Claude works reaches the model once, at the end of its turn', async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Tabs or spaces', []);
    const server = await useScriptedClaude(town, [bash('sleep 4; echo slept'), say('Working on it.'), say('Noted: tabs.')]);
    const [slung] = town.json<Slung[]>(['sling', bead, 'app', '--agent', 'claude', '--backend', 'tmux']);
    await waitFor('the first tool call', () => server.turnsUsed() >= 1 || undefined, 60_000);
    const sent = town.json<{ id: string }>(['mail', 'send', slung?.agent as string, '-s', 'Style', '-m', 'Use tabs, not spaces']);
    await waitFor('the mail to be answered', () => server.turnsUsed() >= 3 || undefined, 60_000);
    await waitFor('the agent to go idle', () => agentRow(town, slung?.agent as string)?.state === 'idle' || undefined, 30_000);
    const carrying = server.mainRequests().filter((r) => lastUserText(r).includes('Use tabs, not spaces'));
    expect(carrying).toHaveLength(1);
    expect(JSON.stringify(carrying[0]?.body).split('Use tabs, not spaces')).toHaveLength(2);
    const inbox = town.json<Array<{ id: string; delivered: boolean }>>(['mail', 'inbox', '--all', '--agent', slung?.agent as string]);
    expect(inbox.find((m) => m.id === sent.id)?.delivered).toBe(true);
  });

  it('an idle Claude with work on its hook is woken by the witness and finishes (GUPP)', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'witness.idle_wake', '"1s"']).code).toBe(0);
    const bead = town.bead('Finish what you start', []);
    const server = await useScriptedClaude(town, [
      say('I will wait for instructions.'),
      { match: 'Work is still on your hook', ...COMMIT_AND_DONE[0] },
      ...COMMIT_AND_DONE.slice(1),
    ]);
    const [slung] = town.json<Slung[]>(['sling', bead, 'app', '--agent', 'claude', '--backend', 'tmux']);
    const agent = slung?.agent as string;
    await waitFor('the agent to go idle', () => (server.turnsUsed() >= 1 && agentRow(town, agent)?.state === 'idle') || undefined, 60_000);
    await new Promise((r) => setTimeout(r, 1200));
    const patrol = town.json<Array<{ agent: string; action: string }>>(['witness', 'patrol']);
    expect(patrol).toMatchObject([{ agent, action: 'woken' }]);
    // The wake-up is confirmed by the next hook event: the prompt was submitted and the agent works again.
    await mergedAndClosed(town, bead);
    expect(requestsContaining(server, `Work is still on your hook: ${bead}`).length).toBeGreaterThan(0);
  });

  it('headless: stream-json on stdin, session id recorded, a crash resumes the same conversation on the same hook', async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Survive a crash', []);
    const server = await useScriptedClaude(town, [
      bash('printf "part one\\n" > PART1.md && git add PART1.md && git commit -qm "part one" && sleep 30'),
      { match: 'Work on the bead on your hook', ...bash('printf "part two\\n" > PART2.md && git add PART2.md && git commit -qm "part two" && echo ok') },
      bash('gt done'),
      say('Finished.'),
    ]);
    const [slung] = town.json<Slung[]>(['sling', bead, 'app', '--agent', 'claude', '--backend', 'headless']);
    const agent = slung?.agent as string;
    const worktree = join(town.root, 'app', 'polecats', agent.split('/')[2] as string);
    await waitFor('the first commit', () => town.git(worktree, ['log', '--format=%s', '-1']).trim() === 'part one' || undefined, 60_000);
    const [firstRun] = runDirs(town);
    const sessionId = await waitFor(
      'the runtime session id',
      () =>
        town.json<Array<{ id: string; metadata?: { runtime_session?: string } }>>(['bd', 'show', `hq-app-polecat-${agent.split('/')[2]}`])[0]?.metadata
          ?.runtime_session,
      30_000,
    );
    // The crash: the agent process dies mid-turn.
    process.kill(Number(readFileSync(join(firstRun as string, 'agent.pid'), 'utf8')), 'SIGKILL');
    await waitFor('the session to be dead', () => agentRow(town, agent)?.session_alive === false || undefined, 20_000);
    const patrol = town.json<Array<{ action: string; detail: string }>>(['witness', 'patrol']);
    expect(patrol).toMatchObject([{ action: 'restarted', detail: `resumed session ${sessionId}` }]);
    const secondRun = runDirs(town).at(-1) as string;
    expect(JSON.parse(readFileSync(join(secondRun, 'run.json'), 'utf8')).argv).toEqual(expect.arrayContaining(['--resume', sessionId]));
    // The resumed process's requests carry the conversation from before the crash.
    await waitFor('the resumed agent to carry on', () => server.turnsUsed() >= 2 || undefined, 60_000);
    const resumed = server.mainRequests().find((r) => r.turn === 1);
    expect(JSON.stringify(resumed?.body)).toContain('part one');
    await mergedAndClosed(town, bead);
    expect(town.git(town.base, ['--git-dir', `${town.base}/app.git`, 'log', '--format=%s', 'main']).split('\n')).toEqual(
      expect.arrayContaining(['part one', 'part two']),
    );
  });
});
