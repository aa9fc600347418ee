/**
 * Agents beyond the happy path: the Mayor, crew, a bead hooked to a live
 * worker, unsling, escalation by a failing step, and deferral.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OWN_FIXTURES } from '../support/env.js';
import { makeTown, waitFor } from '../support/town.js';

interface AgentRow {
  agent: string;
  role: string;
  session_alive: boolean;
  state: string;
  hooked: string[];
  runtime: string;
}

describe('agents', () => {
  it('the Mayor starts in mayor/ with the chosen runtime, once, and stops', () => {
    const town = makeTown();
    const log = join(town.base, 'mayor.log');
    expect(town.gt(['config', 'agent', 'set', 'fake', `sh ${join(OWN_FIXTURES, 'fake-agent.sh')} ${log}`]).code).toBe(0);
    expect(town.gt(['config', 'agent', 'set', 'ghost', 'no-such-binary-gt-test']).code).toBe(0);
    expect(town.gt(['config', 'set', 'role_agents.mayor', 'ghost']).code).toBe(0);
    const missing = town.gt(['mayor', 'start']);
    expect(missing.code).toBe(6);
    expect(missing.stderr).toContain('no-such-binary-gt-test');
    expect(town.json<AgentRow[]>(['agents'])).toEqual([]);
    const started = town.json<{ started: boolean; runtime: string }>(['mayor', 'start', '--agent', 'fake', '--backend', 'tmux']);
    expect(started).toMatchObject({ started: true, runtime: 'fake' });
    expect(town.json<{ started: boolean }>(['mayor', 'start']).started).toBe(false);
    const mayor = town.json<AgentRow[]>(['agents']).find((a) => a.agent === 'mayor');
    expect(mayor).toMatchObject({ role: 'mayor', session_alive: true, runtime: 'fake' });
    expect(town.tmux(['display-message', '-p', '-t', '=gt-mayor:', '#{pane_current_path}']).stdout.trim()).toBe(join(town.root, 'mayor'));
    const attach = town.gt(['mayor', 'attach']);
    expect(attach.code).toBe(2);
    expect(attach.stderr).toContain('needs a terminal');
    expect(town.json<{ stopped: boolean }>(['mayor', 'stop']).stopped).toBe(true);
    expect(town.json<AgentRow[]>(['agents']).find((a) => a.agent === 'mayor')?.session_alive).toBe(false);
  });

  it('peek on an ended tmux session shows its log as plain text: no escape codes, a redrawn line as it was left', async () => {
    const town = makeTown();
    const script = join(town.base, 'painter.sh');
    writeFileSync(
      script,
      "printf '\\033[1;32mgreen words\\033[0m\\n\\033]0;a title\\007\\033[2Kprogress 10%%\\rprogress 100%%\\r\\n\\033[?25lafter\\n'; sleep 30\n",
    );
    expect(town.gt(['config', 'agent', 'set', 'painter', `sh ${script}`]).code).toBe(0);
    town.json(['mayor', 'start', '--agent', 'painter', '--backend', 'tmux']);
    await waitFor('the painted screen', () => town.json<{ text: string }>(['peek', 'mayor']).text.includes('after') || undefined, 20_000);
    expect(town.json<{ stopped: boolean }>(['mayor', 'stop']).stopped).toBe(true);
    const peek = town.gt(['peek', 'mayor']);
    expect(peek.code).toBe(0);
    expect(peek.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(peek.stdout.split('\n').filter((l) => l.trim() !== '')).toEqual(['green words', 'progress 100%', 'after']);
    expect(town.json<{ text: string }>(['peek', 'mayor']).text).not.toContain('\u001b');
  });

  it('refuses to sling a bead hooked to a running worker; unsling hands it back', async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Long job', ['sleep 30']);
    const [first] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'shell']);
    await waitFor('the session', () => town.json<AgentRow[]>(['agents']).some((a) => a.session_alive) || undefined);
    const again = town.gt(['sling', bead, 'app', '--force']);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('whose session is running');
    expect(town.gt(['unsling', bead]).code).toBe(5); // still running
    const unslung = town.json<{ status: string }>(['unsling', bead, '--force']);
    expect(unslung.status).toBe('open');
    expect(town.json<{ hooked: unknown[] }>(['hook', '--agent', first?.agent ?? '']).hooked).toEqual([]);
  });

  it('a failing step escalates: the bead is blocked and labelled, the dispatcher gets mail, the work is checkpointed', async () => {
    const town = makeTown({ rig: 'app' });
    const bead = town.bead('Doomed', ['echo partial > partial.txt', 'echo "compiler says no" >&2; exit 3']);
    const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--agent', 'shell']);
    await waitFor('the escalation', () => town.json<Array<{ status: string }>>(['bd', 'show', bead])[0]?.status === 'blocked' || undefined, 30_000);
    const [after] = town.json<Array<{ labels: string[]; notes: string; assignee?: string }>>(['bd', 'show', bead]);
    expect(after?.labels).toContain('gt:escalated');
    expect(after?.notes).toContain('compiler says no');
    expect(after?.assignee).toBeUndefined();
    const inbox = town.json<Array<{ subject: string; body: string; from: string }>>(['mail', 'inbox']);
    expect(inbox[0]).toMatchObject({ from: slung?.agent, subject: `ESCALATED ${bead}: Doomed` });
    const repo = join(town.root, 'app', '.repo.git');
    const refs = town
      .git(repo, ['for-each-ref', '--format=%(refname)', `refs/gt/checkpoints/${slung?.agent ?? ''}/`])
      .trim()
      .split('\n');
    expect(refs).toHaveLength(1);
    expect(town.git(repo, ['show', `${refs[0] ?? ''}:partial.txt`])).toBe('partial\n');
  });

  it('a fenced run block is one script: a heredoc, a multi-line if and a cd work; set -e stops it at the first failing command', async () => {
    const town = makeTown({ rig: 'app' });
    const script = town.bead('Script', [
      'mkdir -p notes',
      'cd notes',
      "cat > greeting.txt <<'EOF'",
      'hello (from a heredoc)',
      'EOF',
      'if [ -f greeting.txt ]; then',
      '  echo found > found.txt',
      'fi',
    ]);
    const doomed = town.bead('Stops early', ['echo before > before.txt', 'false', 'echo after > after.txt']);
    const slung = town.json<Array<{ bead: string; agent: string }>>(['sling', script, doomed, 'app', '--agent', 'shell']);
    await waitFor('the script to finish', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined, 30_000);
    await waitFor('the escalation', () => town.json<Array<{ status: string }>>(['bd', 'show', doomed])[0]?.status === 'blocked' || undefined, 30_000);
    const repo = join(town.root, 'app', '.repo.git');
    const branch = `polecat/${slung[0]?.agent.split('/')[2] ?? ''}/${script}`;
    expect(town.git(repo, ['show', `${branch}:notes/greeting.txt`])).toBe('hello (from a heredoc)\n');
    expect(town.git(repo, ['show', `${branch}:notes/found.txt`])).toBe('found\n');
    const [stopped] = town.json<Array<{ notes: string }>>(['bd', 'show', doomed]);
    expect(stopped?.notes).toContain('exited with 1');
    const checkpoint = town.git(repo, ['for-each-ref', '--format=%(refname)', `refs/gt/checkpoints/${slung[1]?.agent ?? ''}/`]).trim();
    const files = town.git(repo, ['ls-tree', '--name-only', checkpoint]).split('\n');
    expect(files).toContain('before.txt');
    expect(files).not.toContain('after.txt');
  });

  it('crew members are listed with their worktree; done --status DEFERRED hands the bead back', () => {
    const town = makeTown({ rig: 'app' });
    expect(town.gt(['crew', 'add', 'ada', '--rig', 'app']).code).toBe(0);
    expect(town.gt(['crew', 'add', 'ada', '--rig', 'app']).code).toBe(5);
    expect(town.gt(['crew', 'add', 'Ada', '--rig', 'app']).code).toBe(3);
    expect(town.gt(['crew', 'attach', 'bob', '--detached']).code).toBe(4);
    const crew = town.json<Array<{ agent: string; worktree: string; session_alive: boolean }>>(['crew', 'list']);
    expect(crew).toEqual([expect.objectContaining({ agent: 'app/crew/ada', worktree: 'app/crew/ada', session_alive: false })]);
    const bead = town.bead('For ada', ['true']);
    town.json(['sling', bead, 'app/crew/ada', '--no-start']);
    expect(town.json<{ hooked: Array<{ id: string }> }>(['hook', '--agent', 'app/crew/ada']).hooked.map((b) => b.id)).toEqual([bead]);
    const deferred = town.json<{ status: string; bead: string }>(['done', '--status', 'DEFERRED', '-m', 'not today', '--agent', 'app/crew/ada']);
    expect(deferred).toMatchObject({ status: 'DEFERRED', bead });
    const [back] = town.json<Array<{ status: string; notes: string }>>(['bd', 'show', bead]);
    expect(back).toMatchObject({ status: 'open' });
    expect(back?.notes).toContain('not today');
  });
});
