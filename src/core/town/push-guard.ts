import { shellQuote } from '../../shared/shell.js';
import type { Town } from './town.js';

/**
 * The agents' origin pushes into gt's own bare repository, never to the real
 * origin (issue 12, finding 4; design §9): its push URL is the repository
 * itself, which refuses non-fast-forward updates, deletions, and any update
 * of the default branch (a pre-receive hook: only the refinery moves it, by a
 * fast-forward in its worktree, and only the refinery pushes to the real
 * origin, by its URL). Idempotent: run on every new worktree, so older rigs
 * get it too. Pushes from an agent's worktree go to its own repository, so an
 * ordinary `git push origin <its branch>` is a no-op that succeeds.
 */
export async function protectRepository(town: Town, repo: string, defaultBranch: string, options: { reuseWithinMs?: number } = {}): Promise<void> {
  const { git, files } = town.ports;
  // `reuseWithinMs`: a sling of ten polecats asks ten times in a row; once is enough.
  const key = `${repo}\0${defaultBranch}`;
  const checked = recentlyProtected.get(key);
  if (options.reuseWithinMs !== undefined && checked !== undefined && Date.now() - checked < options.reuseWithinMs) return;
  // Read in one git call, written only where they differ: a sling of ten polecats ran thirty `git config`s here.
  const wanted: Array<[string, string]> = [
    ['remote.origin.pushurl', repo],
    ['receive.denyNonFastForwards', 'true'],
    ['receive.denyDeletes', 'true'],
  ];
  const current = await git.probe(repo, [
    'config',
    '--local',
    '--get-regexp',
    '^(remote\\.origin\\.pushurl|receive\\.denynonfastforwards|receive\\.denydeletes)$',
  ]);
  const have = new Map(
    current.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)] as const),
  );
  for (const [key, value] of wanted) if (have.get(key.toLowerCase()) !== value) await git.run(repo, ['config', key, value]);
  const hook = `${repo}/hooks/pre-receive`;
  const script = preReceiveHook(defaultBranch);
  if (files.read(hook) !== script) files.write(hook, script, 0o700);
  recentlyProtected.set(key, Date.now());
}

const recentlyProtected = new Map<string, number>();

/** Refuses every push that moves the default branch: agents' work reaches it through the merge queue. */
export function preReceiveHook(defaultBranch: string): string {
  return `#!/bin/sh
# Written by gt (issue 12, finding 4): agents' pushes land here, not on the real origin.
# ${defaultBranch} moves only by the refinery's fast-forward; gt done queues a merge request.
while read -r old new ref; do
  if [ "$ref" = ${shellQuote(`refs/heads/${defaultBranch}`)} ]; then
    echo "gt: $ref is protected: only the refinery moves it (run gt done to queue a merge request)" >&2
    exit 1
  fi
done
exit 0
`;
}
