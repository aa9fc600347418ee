/**
 * Dogs at scale (issue 14 §4): 50 beads through the shell runtime with the
 * daemon's dogs on. Polecats are reused wave after wave (a dirty one included),
 * and afterwards the town holds no more than `keep_idle` polecats, no orphan
 * worktree, branch or session, `bd list` shows only work, and the stale
 * ESCALATED mail is acked. `gt dog run --all` twice: the second does nothing.
 */
import { describe, expect, it } from 'vitest';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

interface Issue {
  id: string;
  status: string;
  issue_type: string;
  labels?: string[];
}

const WAVES = 5;
const PER_WAVE = 10;

function closed(town: TestTown, ids: string[]): number {
  const all = town.json<Issue[]>(['bd', 'list', '--all', '--limit', '0', '--type', 'task']);
  return all.filter((i) => ids.includes(i.id) && i.status === 'closed').length;
}

describe('dogs at scale', () => {
  it('after 50 beads: at most keep_idle polecats, no orphan worktree, branch or session, bd list shows only work, a second dog run does nothing', async () => {
    const town = makeTown({ rig: 'app', test: 'sh test.sh' });
    for (const [key, value, rig] of [
      ['agent', 'shell', true],
      ['merge.batch_size', '10', true],
      ['daemon.interval', '"1s"', false],
      // Reuse is what keeps the count down while the waves run; the dog trims to 2 at the end.
      ['dogs.polecats.keep_idle', '10', false],
      ['dogs.polecats.every', '"2s"', false],
      ['dogs.orphans.every', '"2s"', false],
      ['dogs.mail.every', '"2s"', false],
    ] as const) {
      const set = town.gt(['config', 'set', key, value, ...(rig ? ['--rig', 'app'] : [])]);
      expect(set.code, set.stderr).toBe(0);
    }
    // One bead fails half-way: its polecat is left dirty, its dispatcher gets ESCALATED mail.
    const broken = town.bead('Half done', ['echo partial > PARTIAL.md', 'false']);
    expect(town.gt(['up']).code).toBe(0);

    const all: string[] = [];
    for (let wave = 0; wave < WAVES; wave++) {
      const ids: string[] = [];
      for (let i = 0; i < PER_WAVE; i++) {
        const n = wave * PER_WAVE + i;
        ids.push(town.bead(`Part ${n}`, [`echo ${n} > part-${n}.txt`]));
      }
      const slung = town.gt(['sling', ...(wave === 0 ? [broken, ...ids.slice(1)] : ids), 'app']);
      expect(slung.code, slung.stderr).toBe(0);
      if (wave === 0) {
        // The broken bead took the first slot of wave one; that slot's bead is slung once it escalated.
        await waitFor('the broken bead escalated', () => town.json<Issue[]>(['bd', 'show', broken])[0]?.status === 'blocked' || undefined, 120_000);
        expect(town.gt(['sling', ids[0] as string, 'app']).code).toBe(0);
      }
      await waitFor(`wave ${wave + 1} merged`, () => closed(town, ids) === PER_WAVE || undefined, 300_000);
      all.push(...ids);
    }
    expect(closed(town, all)).toBe(WAVES * PER_WAVE);

    // Reuse: ten polecats did fifty beads (and the broken one), the dirty one reclaimed on the way.
    const agents = town.json<Issue[]>(['bd', 'list', '--type', 'agent', '--all', '--limit', '0']);
    const polecats = agents.filter((a) => a.labels?.includes('role:polecat'));
    expect(polecats.length).toBeLessThanOrEqual(PER_WAVE);
    const events = town.json<Array<{ kind: string }>>(['events', '--type', 'polecat.reclaimed']);
    expect(events.length).toBeGreaterThanOrEqual(1);

    // The person drops the escalated bead (--force: its open escalation blocks it); the ESCALATED mail about it is acked.
    expect(town.gt(['bd', 'close', broken, '--force', '-r', 'not needed']).code).toBe(0);
    await waitFor(
      'the ESCALATED mail acked',
      () =>
        town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'human']).every((m) => !m.subject.startsWith('ESCALATED')) &&
        town.json<Array<{ subject: string }>>(['mail', 'inbox', '--agent', 'mayor']).every((m) => !m.subject.startsWith('ESCALATED')),
      60_000,
    );

    // Trim to two idle polecats; the daemon's dog does it.
    expect(town.gt(['config', 'set', 'dogs.polecats.keep_idle', '2']).code).toBe(0);
    await waitFor('idle polecats trimmed to keep_idle', () => town.json<unknown[]>(['polecat', 'list']).length <= 2 || undefined, 120_000);
    await waitFor(
      'the orphans dog ran after the trim',
      () => {
        const dogs = town.json<Array<{ dog: string; last_run_at?: string; last_result?: string }>>(['dog', 'list']);
        const polecatsDog = dogs.find((d) => d.dog === 'polecats');
        const orphansDog = dogs.find((d) => d.dog === 'orphans');
        return (orphansDog?.last_run_at ?? '') > (polecatsDog?.last_run_at ?? '') || undefined;
      },
      60_000,
    );
    expect(town.gt(['down']).code).toBe(0);

    const left = town.json<Array<{ agent: string; state: string; dirty: number; unmerged: number; hooked: string[] }>>(['polecat', 'list']);
    expect(left.length).toBeLessThanOrEqual(2);
    for (const p of left) expect(p).toMatchObject({ state: 'idle', dirty: 0, hooked: [] });

    // No orphan worktree: every one is the refinery's or a live polecat's.
    const repo = `${town.root}/app/.repo.git`;
    const trees = town
      .git(repo, ['worktree', 'list', '--porcelain'])
      .split('\n')
      .filter((l) => l.startsWith('worktree '))
      .map((l) => l.slice('worktree '.length).slice(town.root.length + 1))
      .filter((p) => p !== 'app/.repo.git');
    expect(trees.sort()).toEqual(['app/refinery', ...left.map((p) => `app/polecats/${p.agent.split('/')[2]}`)].sort());
    // No orphan branch: every polecat branch merged and deleted.
    expect(town.git(repo, ['for-each-ref', '--format=%(refname:short)', 'refs/heads/polecat/']).trim()).toBe('');
    // No orphan session: the town's tmux server has none left (each polecat's ended with its work).
    const sessions = town.tmux(['list-sessions', '-F', '#{session_name}']);
    expect(sessions.code === 0 ? sessions.stdout.trim() : '').toBe('');
    // The dirty polecat's half-done file is on a checkpoint ref, not lost.
    const saved = town
      .git(repo, ['for-each-ref', '--format=%(refname)', 'refs/gt/checkpoints/'])
      .split('\n')
      .filter((r) => r !== '');
    expect(saved.some((ref) => town.git(repo, ['ls-tree', '-r', '--name-only', ref]).split('\n').includes('PARTIAL.md'))).toBe(true);

    // bd list shows only work; the bookkeeping is one flag away, and a type still lists it.
    const plain = town.json<Issue[]>(['bd', 'list', '--all', '--limit', '0']);
    expect([...new Set(plain.map((i) => i.issue_type))]).toEqual(['task']);
    expect(plain).toHaveLength(WAVES * PER_WAVE + 1);
    const infra = new Set(town.json<Issue[]>(['bd', 'list', '--all', '--limit', '0', '--include-infra']).map((i) => i.issue_type));
    for (const type of ['agent', 'message', 'merge-request']) expect(infra).toContain(type);
    expect(town.json<Issue[]>(['bd', 'list', '--all', '--type', 'message', '--limit', '0']).length).toBeGreaterThan(0);
    expect(town.json<{ total_issues: number }>(['bd', 'stats']).total_issues).toBe(WAVES * PER_WAVE + 1);

    // Idempotent: the first run by hand may still find something; the second finds nothing at all.
    expect(town.gt(['dog', 'run', '--all']).code).toBe(0);
    const second = town.json<Array<{ dog: string; result: string; actions: unknown[] }>>(['dog', 'run', '--all']);
    expect(second.map((r) => [r.dog, r.result])).toEqual(second.map((r) => [r.dog, 'nothing']));
    expect(second.length).toBeGreaterThanOrEqual(6);
  }, 1_500_000);
});
