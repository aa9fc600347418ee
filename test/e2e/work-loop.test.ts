/**
 * The main job end to end, with real git, a private tmux server, real
 * processes and the shell runtime: install → rig add → sling → polecats
 * commit in parallel → gt done → refinery merges → beads closed.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

interface AgentRow {
  agent: string;
  session_alive: boolean;
  hooked: string[];
  backend: string;
  runtime: string;
}
interface Bead {
  id: string;
  status: string;
  assignee?: string;
  metadata?: Record<string, unknown>;
}

function show(town: TestTown, id: string): Bead {
  const [bead] = town.json<Bead[]>(['bd', 'show', id]);
  return bead as Bead;
}

for (const backend of ['tmux', 'headless'] as const) {
  describe(`the work loop (${backend} backend)`, () => {
    it('slings three beads to three polecats that work in parallel, and the refinery merges all of them', async () => {
      const town = makeTown({ rig: 'app', test: 'sh test.sh' });
      expect(town.gt(['config', 'set', 'role_agents.polecat', 'shell']).code).toBe(0);
      // Each worker holds until the test has seen all three at work (a file, not a sleep: a busy machine is slow).
      const go = join(town.base, 'go');
      const ids = ['one', 'two', 'three'].map((n) => town.bead(`Add ${n}`, [`echo ${n} > ${n}.txt`, `while [ ! -e ${go} ]; do sleep 0.1; done`]));
      expect(ids.every((id) => id.startsWith('app-'))).toBe(true);

      const slung = town.json<Array<{ bead: string; agent: string; backend: string; branch: string }>>(['sling', ...ids, 'app', '--backend', backend]);
      expect(slung.map((s) => s.bead)).toEqual(ids);
      expect(new Set(slung.map((s) => s.agent)).size).toBe(3);
      expect(slung.every((s) => s.backend === backend && s.branch === `polecat/${s.agent.split('/')[2]}/${s.bead}`)).toBe(true);

      // All three run at once: all three sessions are alive together, their beads on their hooks.
      const running = town.json<AgentRow[]>(['agents']).filter((a) => a.session_alive);
      expect(running.length).toBe(3);
      for (const id of ids) expect(show(town, id).status).toBe('hooked');
      writeFileSync(go, '');

      await waitFor('three merge requests', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 3 || undefined, 60_000);
      const merged = town.json<Array<{ result: string; bead: string }>>(['refinery', 'run', 'app']);
      expect(merged.map((m) => m.result)).toEqual(['merged', 'merged', 'merged']);
      for (const id of ids) {
        const bead = show(town, id);
        expect(bead.status).toBe('closed');
      }
      // The work reached origin, each commit by its polecat.
      const origin = join(town.base, 'app.git');
      const files = town.git(origin, ['ls-tree', '--name-only', 'main']).split('\n');
      expect(files).toEqual(expect.arrayContaining(['one.txt', 'two.txt', 'three.txt']));
      const authors = town.git(origin, ['log', '--format=%an', 'main']).trim().split('\n');
      expect(new Set(authors.slice(0, 3))).toEqual(new Set(slung.map((s) => s.agent.split('/')[2])));
      // Merged branches are gone; every worktree is clean; no session is left.
      const repo = join(town.root, 'app', '.repo.git');
      expect(town.git(repo, ['for-each-ref', '--format=%(refname:short)', 'refs/heads/polecat/']).trim()).toBe('');
      await waitFor('sessions to end', () => town.json<AgentRow[]>(['agents']).every((a) => !a.session_alive) || undefined, 20_000);
      // Ended, not just dead: no pane is left behind in tmux.
      if (backend === 'tmux') await waitFor('tmux sessions to be gone', () => town.tmux(['list-sessions']).stdout.trim() === '' || undefined, 20_000);
      const polecats = town.json<Array<{ dirty: number; unmerged: number; hooked: string[]; state: string }>>(['polecat', 'list']);
      expect(polecats).toHaveLength(3);
      for (const p of polecats) expect(p).toMatchObject({ dirty: 0, unmerged: 0, hooked: [], state: 'idle' });

      // An idle polecat is reused for the next bead (identity persists, sessions do not).
      const next = town.bead('Add four', ['echo four > four.txt']);
      const [again] = town.json<Array<{ agent: string; spawned: boolean }>>(['sling', next, 'app', '--backend', backend]);
      expect(slung.map((s) => s.agent)).toContain(again?.agent);
      expect(again?.spawned).toBe(false);
      await waitFor('the fourth merge request', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined, 60_000);
      expect(town.json<Array<{ result: string }>>(['refinery', 'run', 'app'])[0]?.result).toBe('merged');
      if (backend === 'headless') {
        const run = town.json<Array<{ agent: string }>>(['agents']).find((a) => a.agent === again?.agent);
        expect(run).toBeDefined();
        const peek = town.json<{ text: string }>(['peek', again?.agent ?? '']);
        expect(peek.text).toContain('gt shell: done');
      }
    });
  });
}

describe('a polecat session that dies mid-work', () => {
  it('keeps the hook and the commits; sling --force restarts it primed with the same bead', async () => {
    const town = makeTown({ rig: 'app' });
    const release = join(town.base, 'release');
    const id = town.bead('Two-part job', [
      'test -f part1.txt || { echo 1 > part1.txt && git add part1.txt && git commit -qm "part one"; }',
      `while [ ! -f ${release} ]; do sleep 0.2; done`,
      'echo 2 > part2.txt',
    ]);
    const [slung] = town.json<Array<{ agent: string; branch: string }>>(['sling', id, 'app', '--agent', 'shell', '--backend', 'tmux']);
    const agent = slung?.agent ?? '';
    const worktree = join(town.root, 'app', 'polecats', agent.split('/')[2] ?? '');
    await waitFor('the first commit', () => town.git(worktree, ['log', '--format=%s', '-1']).trim() === 'part one' || undefined);
    // The crash: the agent's session disappears.
    expect(town.tmux(['kill-server']).code).toBe(0);
    expect(town.json<{ hooked: Array<{ id: string }> }>(['hook', '--agent', agent]).hooked.map((b) => b.id)).toEqual([id]);
    expect(town.json<AgentRow[]>(['agents']).find((a) => a.agent === agent)).toMatchObject({ session_alive: false, hooked: [id] });

    const refused = town.gt(['sling', id, 'app']);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain('--force');

    writeFileSync(release, '');
    const [again] = town.json<Array<{ agent: string; took_over_from: string }>>(['sling', id, 'app', '--force', '--backend', 'tmux']);
    expect(again).toMatchObject({ agent, took_over_from: agent });
    await waitFor('the merge request', () => town.json<unknown[]>(['refinery', 'queue', 'app']).length === 1 || undefined);
    // The new session primed with the same bead and kept the first session's commit (not redone).
    const runs = town.json<AgentRow[]>(['agents']);
    expect(runs.find((a) => a.agent === agent)?.hooked).toEqual([]);
    const log = town.git(worktree, ['log', '--format=%s', 'main..HEAD']).trim().split('\n');
    expect(log).toEqual([`${id}: Two-part job`, 'part one']);
    const runsDir = join(town.root, '.gt', 'runs');
    const logs = readdirSync(runsDir)
      .map((r) => join(runsDir, r, 'agent.log'))
      .filter((p) => existsSync(p))
      .map((p) => readFileSync(p, 'utf8'));
    expect(logs.filter((text) => text.includes(`Hooked: ${id}`)).length).toBe(2);
    expect(town.json<Array<{ result: string }>>(['refinery', 'run', 'app'])[0]?.result).toBe('merged');
  });
});
