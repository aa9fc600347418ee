/**
 * The first run of the real Claude Code against gt model-server (issue 13,
 * item 2): without its first-run keys it dies at start, and gt agents and
 * gt peek show why; `gt model-server --setup-claude` is the fix.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScriptedModelServer, parseModelScript } from '../../src/infra/model-server.js';
import { claudeInstalled } from '../support/claude.js';
import { onCleanup, ROOT } from '../support/env.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

interface AgentRow {
  agent: string;
  state: string;
  session_alive: boolean;
  last_output: string[] | null;
}

/** Points the town's sessions at a scripted server, with a PATH of `path`. */
async function scripted(town: TestTown, path: string): Promise<ScriptedModelServer> {
  const server = new ScriptedModelServer(parseModelScript({ turns: [{ text: 'Hello from the script.' }] }));
  await server.listen();
  onCleanup(() => server.close());
  const tmp = join(town.base, 'tmp');
  mkdirSync(tmp, { recursive: true });
  Object.assign(town.env, {
    TMPDIR: tmp,
    ANTHROPIC_BASE_URL: server.url(),
    ANTHROPIC_API_KEY: 'sk-ant-gt-test-0123456789abcdefghijklmnop',
    DISABLE_TELEMETRY: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    PATH: path,
  });
  return server;
}

describe.skipIf(!claudeInstalled)('Claude Code on a fresh HOME', () => {
  it('with no claude on PATH (after npm ci), gt runs the Claude Code its own install pins, through .gt/bin/claude', async () => {
    const town = makeTown({ rig: 'app' });
    // npx puts node_modules/.bin on PATH: take out every folder that has a claude, as a fresh shell has none.
    const path = (town.env.PATH ?? '')
      .split(':')
      .filter((dir) => dir !== '' && !existsSync(join(dir, 'claude')))
      .join(':');
    const server = await scripted(town, path);
    expect(town.gt(['model-server', '--setup-claude']).code).toBe(0);
    const agents = town.json<Array<{ name: string; installed: boolean }>>(['config', 'agent', 'list']);
    expect(agents.find((a) => a.name === 'claude')?.installed).toBe(true);
    const bead = town.bead('Say hello', []);
    const slung = town.gt(['sling', bead, 'app', '--agent', 'claude', '--backend', 'tmux']);
    expect(slung.code, slung.stderr).toBe(0);
    expect(readFileSync(join(town.root, '.gt', 'bin', 'claude'), 'utf8')).toContain(`exec '${join(ROOT, 'node_modules', '.bin', 'claude')}' "$@"`);
    await waitFor('the model to be asked', () => server.mainRequests().length > 0 || undefined, 60_000);
    // With a claude of the user's on PATH, theirs wins and gt's launcher goes.
    town.env.PATH = `${join(ROOT, 'node_modules', '.bin')}:${path}`;
    expect(town.gt(['sling', town.bead('Again', []), 'app', '--agent', 'claude', '--backend', 'tmux']).code).toBe(0);
    expect(existsSync(join(town.root, '.gt', 'bin', 'claude'))).toBe(false);
  }, 150_000);

  it('dies at start without its first-run keys, and gt agents and gt peek say why; after gt model-server --setup-claude it answers', async () => {
    const town = makeTown({ rig: 'app' });
    const server = await scripted(town, `${join(ROOT, 'node_modules', '.bin')}:${town.env.PATH ?? ''}`);
    const config = join(town.env.HOME as string, '.claude.json');
    writeFileSync(config, JSON.stringify({ theme: 'light' }));

    const first = town.bead('Say hello', []);
    expect(town.gt(['sling', first, 'app', '--agent', 'claude', '--backend', 'tmux']).code).toBe(0);
    const dead = await waitFor('the session to die', () => town.json<AgentRow[]>(['agents']).find((a) => a.state === 'dead'), 60_000);
    expect(dead.last_output?.join('\n')).toContain('Unable to connect to Anthropic services');
    const table = town.gt(['agents']).stdout;
    expect(table).toContain(`${dead.agent}: its session ended; its last lines:`);
    expect(table).toMatch(/\n  \| +Unable to connect to Anthropic services/);
    expect(table).toContain('Hint: Claude Code stopped at its first-run checks: `gt model-server --setup-claude`');
    const peek = town.gt(['peek', dead.agent]);
    expect(peek.stdout).toContain('Unable to connect to Anthropic services');
    expect(peek.stderr).toContain(`${dead.agent}: its session is not running; these are the last lines it left`);
    expect(peek.stderr).toContain('gt model-server --setup-claude');

    const setup = town.gt(['model-server', '--setup-claude']);
    expect(setup.code, setup.stderr).toBe(0);
    expect(JSON.parse(readFileSync(config, 'utf8'))).toMatchObject({ theme: 'light', hasCompletedOnboarding: true });
    const second = town.bead('Say hello again', []);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', second, 'app', '--agent', 'claude', '--backend', 'tmux']);
    await waitFor('the model to be asked', () => server.mainRequests().length > 0 || undefined, 60_000);
    const row = town.json<AgentRow[]>(['agents']).find((a) => a.agent === slung?.agent);
    expect(row).toMatchObject({ session_alive: true, last_output: null });
  }, 150_000);
});
