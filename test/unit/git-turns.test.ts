/**
 * git.inTurn (src/infra/exec.ts): the git commands a sling makes in turn per
 * repository, run back to back by one `sh` reading them on its stdin. Real git
 * in a temp folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Git } from '../../src/infra/exec.js';
import { isolatedEnv, tempDir } from '../support/env.js';

function repository(): { dir: string; git: Git } {
  const dir = tempDir();
  const env = isolatedEnv(dir);
  const sh = (args: string[]) => execFileSync('git', args, { cwd: join(dir, 'seed'), env, stdio: 'ignore' });
  execFileSync('mkdir', ['-p', join(dir, 'seed')]);
  sh(['init', '-q', '-b', 'main']);
  writeFileSync(join(dir, 'seed', 'README.md'), 'seed\n');
  sh(['add', '-A']);
  sh(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'seed']);
  execFileSync('git', ['clone', '-q', '--bare', join(dir, 'seed'), join(dir, 'repo.git')], { env, stdio: 'ignore' });
  return { dir, git: new Git(env) };
}

describe('git.inTurn', () => {
  it('runs ten worktree adds asked for at once one after another: all made, each answered with its own output and exit code', async () => {
    const { dir, git } = repository();
    const repo = join(dir, 'repo.git');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => git.inTurn(repo, repo, ['worktree', 'add', '-q', '-b', `w${i}`, join(dir, `wt ${i}`), 'main'])),
    );
    expect(results.map((r) => r.code)).toEqual(Array(10).fill(0));
    for (let i = 0; i < 10; i++) expect(existsSync(join(dir, `wt ${i}`, 'README.md'))).toBe(true);
    // The same branch again fails, with git's own message on stderr; a read answers on stdout.
    const again = await git.inTurn(repo, repo, ['worktree', 'add', '-q', '-b', 'w0', join(dir, 'other'), 'main']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already exists/);
    const listed = await git.inTurn(repo, repo, ['worktree', 'list', '--porcelain']);
    expect(listed.code).toBe(0);
    expect(listed.stdout.match(/^worktree /gm)).toHaveLength(11);
  });

  it('removes its temp files once nothing waits, and a later command starts a new shell', async () => {
    const { dir, git } = repository();
    const repo = join(dir, 'repo.git');
    const before = readdirSync(tmpdir()).filter((f) => f.startsWith('gt-git-')).length;
    expect((await git.inTurn(repo, repo, ['rev-parse', 'main'])).stdout.trim()).toMatch(/^[0-9a-f]{40}$/);
    await new Promise((r) => setTimeout(r, 300));
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('gt-git-')).length).toBeLessThanOrEqual(before);
    expect((await git.inTurn(repo, repo, ['rev-parse', '--is-bare-repository'])).stdout.trim()).toBe('true');
  });
});
