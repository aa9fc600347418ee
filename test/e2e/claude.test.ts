/**
 * The real Claude Code under gt (issue 4): a scripted model server plays the
 * model; everything else — Claude Code's tools and hooks, gt's session host,
 * the ledger, git, tmux — is real.
 */
import { describe, expect, it } from 'vitest';
import { bash, claudeInstalled, requestsContaining, say, useScriptedClaude } from '../support/claude.js';
import { makeTown, waitFor } from '../support/town.js';

interface AgentRow { agent: string; state: string; session_alive: boolean; hooked: string[] }

describe.skipIf(!claudeInstalled)('Claude Code under gt', () => {
  it('slings a bead to Claude in tmux: prime on start, edit, commit, gt done, merged', async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Add a greeting', []);
    const server = await useScriptedClaude(town, [
      bash('gt hook --json | grep -q "Add a greeting" && printf "hello from claude\\n" > GREETING.md && git add GREETING.md && git commit -qm "Add a greeting" && echo committed'),
      bash('gt done'),
      say('Finished.'),
    ]);
    const slung = town.gt(['sling', bead, 'app', '--agent', 'claude', '--backend', 'tmux']);
    expect(slung.code, slung.stderr).toBe(0);
    await waitFor('the merge request', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined, 90_000);
    // The first request of the agent loop already knows the hooked bead: gt prime ran on SessionStart.
    const first = server.mainRequests()[0];
    expect(first).toBeDefined();
    expect(requestsContaining(server, bead).length).toBeGreaterThan(0);
    expect(JSON.stringify(first?.body)).toContain(bead);
    const merged = town.json<Array<{ result: string; bead: string }>>(['refinery', 'run', 'app']);
    expect(merged).toMatchObject([{ result: 'merged', bead }]);
    expect(town.json<{ status: string }[]>(['bd', 'show', bead])[0]?.status).toBe('closed');
    expect(town.git(town.base, ['--git-dir', `${town.base}/app.git`, 'show', 'main:GREETING.md'])).toBe('hello from claude\n');
    await waitFor('the session to end', () => town.json<AgentRow[]>(['agents']).every((a) => !a.session_alive) || undefined, 30_000);
  });
});
