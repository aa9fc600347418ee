/**
 * Never lose work (design §2.6): no gt command deletes a worktree or branch
 * holding uncommitted or unmerged commits; handoff, done and nuke --force
 * leave checkpoints on refs/gt/checkpoints/….
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OWN_FIXTURES } from '../support/env.js';
import { makeTown, waitFor, type TestTown } from '../support/town.js';

/** A polecat holding a hooked bead and an idle worktree (slung without a session). */
function hookedPolecat(town: TestTown): { agent: string; dir: string; bead: string } {
  const bead = town.bead('Some work', ['true']);
  const [slung] = town.json<Array<{ agent: string }>>(['sling', bead, 'app', '--no-start']);
  const agent = slung?.agent ?? '';
  return { agent, dir: join(town.root, 'app', 'polecats', agent.split('/')[2] ?? ''), bead };
}

describe('never lose work', () => {
  it('polecat nuke refuses a dirty worktree; --force saves it on a checkpoint ref first', () => {
    const town = makeTown({ rig: 'app' });
    const { agent, dir, bead } = hookedPolecat(town);
    writeFileSync(join(dir, 'precious.txt'), 'not committed yet\n');
    const refused = town.gt(['polecat', 'nuke', agent]);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/1 uncommitted change/);
    expect(refused.stderr).toContain(bead);
    expect(existsSync(join(dir, 'precious.txt'))).toBe(true);

    const nuked = town.json<{ checkpoint: string; unhooked: string[] }>(['polecat', 'nuke', agent, '--force']);
    expect(nuked.checkpoint).toMatch(new RegExp(`^refs/gt/checkpoints/${agent}/\\d{8}T\\d+Z$`));
    expect(nuked.unhooked).toEqual([bead]);
    expect(existsSync(dir)).toBe(false);
    const repo = join(town.root, 'app', '.repo.git');
    expect(town.git(repo, ['show', `${nuked.checkpoint}:precious.txt`])).toBe('not committed yet\n');
    const [back] = town.json<Array<{ status: string; assignee?: string }>>(['bd', 'show', bead]);
    expect(back).toMatchObject({ status: 'open' });
    expect(back?.assignee).toBeUndefined();

    // The rig now holds work only on a checkpoint: removing it needs an explicit choice.
    const keep = town.gt(['rig', 'remove', 'app']);
    expect(keep.code).toBe(5);
    expect(keep.stderr).toContain('checkpoint');
    expect(existsSync(join(town.root, 'app'))).toBe(true);
    expect(town.gt(['rig', 'remove', 'app', '--discard-checkpoints']).code).toBe(0);
    expect(existsSync(join(town.root, 'app'))).toBe(false);
  });

  it('rig remove refuses while a polecat branch holds unmerged commits', () => {
    const town = makeTown({ rig: 'app' });
    const { dir } = hookedPolecat(town);
    writeFileSync(join(dir, 'work.txt'), 'committed\n');
    town.git(dir, ['add', '-A']);
    town.git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'real work']);
    const refused = town.gt(['rig', 'remove', 'app']);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/1 commit\(s\) not merged/);
    expect(existsSync(dir)).toBe(true);
  });

  it('handoff leaves a note and a checkpoint, and the fresh session primes with the note', async () => {
    const town = makeTown({ rig: 'app' });
    const log = join(town.base, 'agent.log');
    expect(town.gt(['config', 'agent', 'set', 'fake', `sh ${join(OWN_FIXTURES, 'fake-agent.sh')} ${log}`]).code).toBe(0);
    expect(town.gt(['crew', 'add', 'ada', '--rig', 'app']).code).toBe(0);
    expect(town.gt(['crew', 'attach', 'ada', '--rig', 'app', '--agent', 'fake', '--detached']).code).toBe(0);
    const dir = join(town.root, 'app', 'crew', 'ada');
    writeFileSync(join(dir, 'draft.md'), 'half a thought\n');
    await waitFor('the first prime', () => (existsSync(log) && readFileSync(log, 'utf8').includes('# gt: you are app/crew/ada')) || undefined, 30_000);
    const [before] = town.json<Array<{ run: string; session: string }>>(['agents']);
    // As the agent itself would, from inside its session.
    const result = town.json<{ message: string; checkpoint: string }>(['handoff', '-m', 'next: finish draft.md'], { env: { GT_AGENT: 'app/crew/ada' } });
    expect(town.git(join(town.root, 'app', '.repo.git'), ['show', `${result.checkpoint}:draft.md`])).toBe('half a thought\n');
    expect(town.git(dir, ['status', '--porcelain'])).toContain('draft.md'); // the worktree itself is untouched
    const after = await waitFor(
      'a fresh session',
      () => {
        const [agent] = town.json<Array<{ run: string; session_alive: boolean }>>(['agents']);
        return agent && agent.run !== before?.run && agent.session_alive ? agent : undefined;
      },
      30_000,
    );
    expect(after.run).not.toBe(before?.run);
    // Its SessionStart prime carried the note.
    await waitFor('the second prime', () => readFileSync(log, 'utf8').includes('next: finish draft.md') || undefined, 30_000);
    expect(readFileSync(log, 'utf8').split('## Handoff note').length - 1).toBe(1);
    const prime = town.json<{ handoff: { body: string } | null; text: string }>(['prime', '--agent', 'app/crew/ada']);
    expect(prime.handoff?.body).toBe('next: finish draft.md');
    expect(prime.text).toContain('## Handoff note');
  });
});
