/**
 * Faults around a real Claude Code session: the model server failing mid-turn,
 * a broken town.toml while agents run, and a runtime that is too old.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bash, claudeInstalled, say, useScriptedClaude } from '../support/claude.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

interface AgentBead {
  status: string;
  metadata?: { state?: string; last_error?: string };
}

function agentBead(town: TestTown, agent: string): AgentBead | undefined {
  return town.json<AgentBead[]>(['bd', 'show', `hq-app-polecat-${agent.split('/')[2]}`])[0];
}

describe.skipIf(!claudeInstalled)('Claude Code faults', () => {
  it('a model error mid-turn (StopFailure) leaves the agent idle with the error recorded and its hook intact; the witness gets it going again', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'witness.idle_wake', '"1s"']).code).toBe(0);
    const bead = town.bead('Weather the storm', []);
    const server = await useScriptedClaude(town, [
      { error: { status: 400, type: 'invalid_request_error', message: 'scripted failure: overloaded model' } },
      { match: 'Work is still on your hook', ...bash('printf "ok\\n" > OK.md && git add OK.md && git commit -qm "after the storm" && gt done') },
      say('Finished.'),
    ]);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'claude', '--backend', 'tmux']);
    const agent = slung?.agent as string;
    const failed = await waitFor(
      'the failure to be recorded',
      () => {
        const record = agentBead(town, agent);
        return record?.metadata?.last_error ? record : undefined;
      },
      60_000,
    );
    expect(failed.metadata).toMatchObject({ state: 'idle' });
    expect(failed.metadata?.last_error).toContain('scripted failure: overloaded model');
    expect(town.json<Array<{ agent: string; last_error: string }>>(['agents']).find((a) => a.agent === agent)?.last_error).toContain('overloaded model');
    expect(town.gt(['agents']).stdout).toContain(`${agent}: last turn failed:`);
    expect(town.json<Array<{ status: string; assignee: string }>>(['bd', 'show', bead])[0]).toMatchObject({ status: 'hooked', assignee: agent });
    await new Promise((r) => setTimeout(r, 1200));
    expect(town.json<Array<{ action: string }>>(['witness', 'patrol'])).toMatchObject([{ action: 'woken' }]);
    await waitFor('the merge request', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined, 60_000);
    expect(server.turnsUsed()).toBeGreaterThanOrEqual(2);
  });

  it('a broken town.toml while an agent runs fails its permission checks closed: the tool does not run, and the host log says why', async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Careful now', []);
    const server = await useScriptedClaude(town, [bash('sleep 3; echo slept'), bash('touch SHOULD_NOT_EXIST.txt'), say('Stopped.')]);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'claude', '--backend', 'headless']);
    const agent = slung?.agent as string;
    await waitFor('the first tool call', () => server.turnsUsed() >= 1 || undefined, 60_000);
    // Someone breaks town.toml while the agent's first command runs.
    const townToml = join(town.root, 'town.toml');
    const good = readFileSync(townToml, 'utf8');
    writeFileSync(townToml, `${good}\n[permissions\nbroken = `);
    await waitFor('the script to end', () => server.turnsUsed() >= 3 || undefined, 60_000);
    const runs = join(town.root, '.gt', 'runs');
    const run = join(runs, readdirSync(runs)[0] as string);
    expect(existsSync(join(town.root, 'app', 'polecats', agent.split('/')[2] as string, 'SHOULD_NOT_EXIST.txt'))).toBe(false);
    expect(readFileSync(join(run, 'host.log'), 'utf8')).toMatch(/msg="hook PreToolUse failed" error=".*town\.toml at line \d+/);
    writeFileSync(townToml, good);
  });
});

describe('runtime checks', () => {
  it('refuses a Claude Code that is too old before creating anything, naming the version it found', () => {
    const town = makeTown({ rig: 'app' });
    const bin = join(town.base, 'old-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'claude'), '#!/bin/sh\necho "1.0.3 (Claude Code)"\n');
    chmodSync(join(bin, 'claude'), 0o755);
    const bead = town.bead('Too old', []);
    const r = town.gt(['sling', bead, 'app', '--agent', 'claude'], { env: { PATH: `${bin}:${town.env.PATH ?? ''}` } });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('needs `claude` 2.1.0 or later; found 1.0.3');
    expect(r.stderr).toContain('npm install -g @anthropic-ai/claude-code@latest');
    expect(town.json<Array<{ status: string }>>(['bd', 'show', bead])[0]?.status).toBe('open');
    expect(existsSync(join(town.root, 'app', 'polecats'))).toBe(readdirSync(join(town.root, 'app')).includes('polecats'));
    expect(town.json<unknown[]>(['agents'])).toEqual([]);
  });
});
