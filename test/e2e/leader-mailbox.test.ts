/**
 * The leader's mailbox with the real Claude Code against the scripted model
 * server: a permission ask reaches the dispatcher's inbox at once; "always
 * allow" adds a rule to the rig's policy that the next call matches without
 * asking; a denial's feedback reaches the model; the turn's end leaves the
 * dispatcher an idle note with what the agent said last. Codex, headless, asks
 * through the PreToolUse hook gt gives it on its command line.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScriptedModelServer, parseModelScript } from '../../src/infra/model-server.js';
import { bash, claudeInstalled, lastUserText, say, useScriptedClaude } from '../support/claude.js';
import { onCleanup, ROOT } from '../support/env.js';
import { makeTown, waitFor } from '../support/town.js';

interface Mail {
  id: string;
  subject: string;
  body: string;
  kind: string;
  permission?: string;
}
interface Slung {
  agent: string;
  bead: string;
}

describe.skipIf(!claudeInstalled)("the leader's mailbox with Claude Code", () => {
  it('asks the dispatcher, takes "always allow" into the rig\'s policy, tells the agent why a deny, and leaves an idle note', async () => {
    const town = makeTown({ rig: 'app' });
    const rules = '[{action = "ask", tool = "Bash", command = "touch *.txt"}, {action = "ask", tool = "Bash", command = "rm *"}]';
    expect(town.gt(['config', 'set', 'permissions.rules', rules, '--rig', 'app']).code).toBe(0);
    const bead = town.bead('Make two files', []);
    const server = await useScriptedClaude(town, [
      bash('touch ONE.txt'),
      bash('touch TWO.txt'),
      bash('rm -f ONE.txt'),
      say('Made ONE.txt and TWO.txt; kept ONE.txt as asked.'),
    ]);
    const [slung] = town.json<Slung[]>(['sling', bead, 'app', '--agent', 'claude', '--backend', 'tmux']);
    const agent = slung?.agent as string;
    const worktree = join(town.root, 'app', 'polecats', agent.split('/')[2] as string);
    const inbox = () => town.json<Mail[]>(['mail', 'inbox', '--agent', 'human']);

    // 1. The ask is in the person's inbox (the person slung the work), with the answers and the rules "always allow" would add.
    const ask = await waitFor('the permission ask in the inbox', () => inbox().find((m) => m.permission !== undefined), 60_000);
    expect(ask.subject).toBe(`PERMISSION ${ask.permission as string}: Bash: touch ONE.txt`);
    // Named with its colour in the swarm view.
    expect(ask.body).toMatch(new RegExp(`^${agent} \\([a-z]+ \\(#[0-9a-f]{6}\\)\\) asks to run Bash in `));
    expect(ask.body).toContain('2. allow Bash command "touch *"');
    const always = town.gt(['permission', 'approve', ask.permission as string, '--always', '--rule', '2']);
    expect(always.code, always.stderr).toBe(0);
    expect(always.stdout).toContain('added to app/rig.toml: allow Bash command "touch *"');
    expect(readFileSync(join(town.root, 'app', 'rig.toml'), 'utf8')).toMatch(/command = "touch \*"\nover_ask = true\nadded_by = "human"/);

    // 2. The next call matches the new rule: it runs and nobody is asked.
    await waitFor('TWO.txt', () => existsSync(join(worktree, 'TWO.txt')) || undefined, 60_000);
    expect(existsSync(join(worktree, 'ONE.txt'))).toBe(true);

    // 3. Denied with feedback: the agent reads it.
    const rm = await waitFor('the rm ask', () => inbox().find((m) => m.permission !== undefined && m.subject.includes('rm -f')), 60_000);
    expect(town.gt(['permission', 'deny', rm.permission as string, '--reason', 'keep ONE.txt, it is the fixture']).code).toBe(0);

    // 4. The turn ends: an idle note with what the agent said last, and the answered asks are gone from the inbox.
    const idle = await waitFor('the idle note', () => inbox().find((m) => m.kind === 'idle'), 60_000);
    expect(idle.subject).toBe(`idle: ${agent} (${bead}): Made ONE.txt and TWO.txt; kept ONE.txt as asked.`);
    expect(inbox().filter((m) => m.permission !== undefined)).toEqual([]);
    expect(existsSync(join(worktree, 'ONE.txt'))).toBe(true);
    expect(
      server
        .mainRequests()
        .map(lastUserText)
        .some((t) => t.includes('keep ONE.txt, it is the fixture')),
    ).toBe(true);
    // Only the two asks were requests; the audit trail says who added the rule.
    expect(
      town
        .json<Array<{ status: string }>>(['permission', 'list', '--all'])
        .map((r) => r.status)
        .sort(),
    ).toEqual(['allowed', 'denied']);
    const added = town.json<Array<{ kind: string; actor: string; payload: { rule: string } }>>(['events', '--type', 'permission.rule_added', '--json']);
    expect(added).toMatchObject([{ kind: 'permission.rule_added', actor: 'human', payload: { rule: 'allow Bash command "touch *"' } }]);
  });
});

const CODEX_BIN = join(ROOT, 'node_modules', '.bin', 'codex');

describe.skipIf(!existsSync(CODEX_BIN))("Codex's tool calls through the broker", () => {
  it('a Codex agent (headless) asks through its PreToolUse hook: the ask reaches the inbox, runs once approved, and the turn leaves an idle note', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'permissions.rules', '[{action = "ask", tool = "Bash", command = "touch *.txt"}]']).code).toBe(0);
    const bead = town.bead('Codex asks', []);
    const server = new ScriptedModelServer(
      parseModelScript({ model: 'gpt-5', turns: [{ tools: [{ name: 'exec_command', input: { cmd: 'touch ASKED.txt' } }] }, { text: 'Touched ASKED.txt.' }] }),
    );
    await server.listen();
    onCleanup(() => server.close());
    const codexHome = join(town.env.HOME as string, '.codex');
    mkdirSync(codexHome, { recursive: true });
    writeFileSync(
      join(codexHome, 'config.toml'),
      `model = "gpt-5"\nmodel_provider = "scripted"\n[model_providers.scripted]\nname = "scripted"\nbase_url = "${server.url()}/v1"\nenv_key = "OPENAI_API_KEY"\nwire_api = "responses"\nsupports_websockets = false\n`,
    );
    Object.assign(town.env, { OPENAI_API_KEY: 'sk-gt-test', PATH: `${join(ROOT, 'node_modules', '.bin')}:${town.env.PATH ?? ''}` });
    const [slung] = town.json<Slung[]>(['sling', bead, 'app', '--agent', 'codex', '--backend', 'headless']);
    const agent = slung?.agent as string;
    const worktree = join(town.root, 'app', 'polecats', agent.split('/')[2] as string);
    const inbox = () => town.json<Mail[]>(['mail', 'inbox', '--agent', 'human']);
    const ask = await waitFor('the ask in the inbox', () => inbox().find((m) => m.permission !== undefined), 90_000);
    expect(ask.subject).toBe(`PERMISSION ${ask.permission as string}: Bash: touch ASKED.txt`);
    expect(existsSync(join(worktree, 'ASKED.txt'))).toBe(false);
    expect(town.gt(['permission', 'approve', ask.permission as string]).code).toBe(0);
    await waitFor('ASKED.txt', () => existsSync(join(worktree, 'ASKED.txt')) || undefined, 60_000);
    const idle = await waitFor('the idle note', () => inbox().find((m) => m.kind === 'idle'), 60_000);
    expect(idle.subject).toBe(`idle: ${agent} (${bead}): Touched ASKED.txt.`);
    expect(town.json<Array<{ agent: string; action: string; decided_by: string }>>(['permission', 'log', '--agent', agent])).toMatchObject([
      { action: 'allow', decided_by: 'human' },
    ]);
  });
});

describe('team context on reconnect', () => {
  it("gt prime --hook of a resumed session prints the team with beads and states (the hot command loads the config for it); a fresh start's does not", () => {
    const town = makeTown({ rig: 'app' });
    const one = town.bead('Fix the login timeout', ['sleep 60']);
    const two = town.bead('Add the retry tests', ['sleep 60']);
    const [first, second] = town.json<Slung[]>(['sling', one, two, 'app', '--agent', 'shell']);
    const env = { GT_AGENT: first?.agent as string, BD_ACTOR: first?.agent as string };
    const fresh = town.gt(['prime', '--hook'], { env, input: '{"source":"startup"}' });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout).not.toContain('## Team');
    const resumed = town.gt(['prime', '--hook'], { env, input: '{"source":"resume"}' });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`## Team \\(leader human\\)\\n- ${second?.agent as string} \\S+ ${two} Add the retry tests\\n`));
  });
});
