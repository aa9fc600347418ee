/**
 * The permission broker with the real Claude Code: its PreToolUse hook reaches
 * gt's session host, which decides from town.toml's policy, or waits for a
 * person to run `gt permission approve|deny` in another process.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bash, claudeInstalled, lastUserText, say, useScriptedClaude } from '../support/claude.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

interface Waiting {
  id: string;
  agent: string;
  tool: string;
  status: string;
  input: { command?: string };
}
interface LogEntry {
  tool: string;
  action: string;
  rule: string;
  decided_by: string;
  input: { command?: string; file_path?: string };
}
interface Slung {
  agent: string;
  bead: string;
}

async function nextRequest(town: TestTown, command: string): Promise<Waiting> {
  return waitFor(`a permission request for ${command}`, () => town.json<Waiting[]>(['permission', 'list']).find((r) => r.input.command === command), 60_000);
}

describe.skipIf(!claudeInstalled)('the permission broker with Claude Code', () => {
  it('asks a person for an "ask" rule, denies forbidden calls by policy, and logs every decision', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'permissions.rules', '[{action = "ask", tool = "Bash", command = "touch *.txt"}]']).code).toBe(0);
    const bead = town.bead('Mind the rules', []);
    const outside = join(town.base, 'outside.txt');
    const server = await useScriptedClaude(town, [
      bash('touch APPROVED.txt'),
      bash('touch DENIED.txt'),
      bash('git push --force origin HEAD:refs/heads/main'),
      { tools: [{ name: 'Write', input: { file_path: outside, content: 'escaped\n' } }] },
      say('All done.'),
    ]);
    const [slung] = town.json<Slung[]>(['sling', bead, 'app', '--agent', 'claude', '--backend', 'tmux']);
    const agent = slung?.agent as string;
    const worktree = join(town.root, 'app', 'polecats', agent.split('/')[2] as string);

    // 1. Waits for a person: nothing runs, and the agent shows waiting-permission.
    const first = await nextRequest(town, 'touch APPROVED.txt');
    expect(first).toMatchObject({ agent, tool: 'Bash', status: 'waiting' });
    expect(town.json<Array<{ agent: string; state: string; permission_request: string }>>(['agents']).find((a) => a.agent === agent)).toMatchObject({
      state: 'waiting-permission',
      permission_request: first.id,
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(join(worktree, 'APPROVED.txt'))).toBe(false);
    expect(town.json<{ status: string }>(['permission', 'approve', first.id, '--reason', 'fine'])).toMatchObject({ status: 'allowed' });
    await waitFor('the approved command to run', () => existsSync(join(worktree, 'APPROVED.txt')) || undefined, 30_000);

    // 2. Denied by a person: it never runs, and the model is told why.
    const second = await nextRequest(town, 'touch DENIED.txt');
    expect(town.json<{ status: string }>(['permission', 'deny', second.id, '--reason', 'not today'])).toMatchObject({ status: 'denied' });
    // 3 and 4 are denied by gt's built-in rules without asking anyone; then the turn ends.
    await waitFor('the end of the script', () => server.turnsUsed() >= 5 || undefined, 60_000);
    await waitFor(
      'the agent to go idle',
      () => town.json<Array<{ agent: string; state: string }>>(['agents']).find((a) => a.agent === agent)?.state === 'idle' || undefined,
      30_000,
    );
    expect(existsSync(join(worktree, 'DENIED.txt'))).toBe(false);
    expect(existsSync(outside)).toBe(false);
    expect(town.git(town.base, ['--git-dir', `${town.base}/app.git`, 'log', '--format=%s', 'main']).trim()).toBe('initial');
    const toldWhy = server.mainRequests().map(lastUserText);
    expect(toldWhy.some((t) => t.includes('not today'))).toBe(true);
    expect(toldWhy.some((t) => t.includes('builtin force-push'))).toBe(true);
    expect(toldWhy.some((t) => t.includes('builtin outside-worktree'))).toBe(true);

    // Only the two asks became requests; every decision is in the log with its rule and who decided.
    expect(
      town
        .json<Waiting[]>(['permission', 'list', '--all'])
        .map((r) => r.status)
        .sort(),
    ).toEqual(['allowed', 'denied']);
    const log = town.json<LogEntry[]>(['permission', 'log', '--agent', agent]);
    expect(log.map((e) => [e.action, e.rule, e.decided_by])).toEqual([
      ['allow', 'town.toml permissions.rules[0]', 'human'],
      ['deny', 'town.toml permissions.rules[0]', 'human'],
      ['deny', 'builtin force-push', 'policy'],
      ['deny', 'builtin outside-worktree', 'policy'],
    ]);
  });

  it('an unanswered request is denied at the timeout and escalated to the Mayor', async () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['config', 'set', 'permissions.default', '"ask"']).code).toBe(0);
    expect(town.gt(['config', 'set', 'permissions.timeout', '"2s"']).code).toBe(0);
    const bead = town.bead('Nobody home', []);
    const server = await useScriptedClaude(town, [bash('touch LATE.txt'), say('Giving up.')]);
    const [slung] = town.json<Slung[]>(['sling', bead, 'app', '--agent', 'claude', '--backend', 'tmux']);
    await waitFor('the end of the script', () => server.turnsUsed() >= 2 || undefined, 60_000);
    const worktree = join(town.root, 'app', 'polecats', (slung?.agent as string).split('/')[2] as string);
    expect(existsSync(join(worktree, 'LATE.txt'))).toBe(false);
    expect(town.json<Array<{ status: string; decided_by: string }>>(['permission', 'list', '--all'])).toMatchObject([
      { status: 'denied', decided_by: 'timeout' },
    ]);
    const mail = town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'mayor']);
    expect(mail.some((m) => m.subject.startsWith('PERMISSION TIMEOUT'))).toBe(true);
    // Answering it now is refused with a clear message, and so is an unknown id.
    const late = town.json<Array<{ id: string }>>(['permission', 'list', '--all'])[0]?.id as string;
    const again = town.gt(['permission', 'approve', late]);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('already denied by timeout');
    const unknown = town.gt(['permission', 'approve', 'hq-nope']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('no permission request "hq-nope"');
  });
});
