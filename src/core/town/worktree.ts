/**
 * Git facts and moves on worktrees, over the GitPort. The never-lose-work rule
 * lives here: `unsavedWork` says what a removal would lose, and `checkpoint`
 * saves a worktree (changes included) on a ref without touching its files.
 */
import type { GitPort } from './ports.js';

export interface UnsavedWork {
  /** `git status --porcelain` lines: modified, staged or untracked files. */
  dirty: string[];
  /** Commits on HEAD that are in no target branch, no checkpoint and no other branch's upstream. */
  unmerged: string[];
}

export const CHECKPOINT_PREFIX = 'refs/gt/checkpoints';

export async function headCommit(git: GitPort, cwd: string): Promise<string | undefined> {
  const result = await git.probe(cwd, ['rev-parse', '--verify', '-q', 'HEAD']);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

export async function currentBranch(git: GitPort, cwd: string): Promise<string | undefined> {
  const result = await git.probe(cwd, ['symbolic-ref', '-q', '--short', 'HEAD']);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

export async function dirtyFiles(git: GitPort, cwd: string): Promise<string[]> {
  const out = await git.run(cwd, ['status', '--porcelain', '--untracked-files=all']);
  return out.split('\n').filter((l) => l.trim() !== '');
}

/**
 * Commits reachable from `rev` that `base` does not contain, ignoring commits
 * whose patch already landed (a rebased merge) and commits saved on a checkpoint.
 */
export async function unmergedCommits(git: GitPort, cwd: string, rev: string, base: string, options: { exceptBranches?: boolean } = {}): Promise<string[]> {
  // `exceptBranches`: commits some branch holds count as kept (a detached worktree whose branch waits in the merge queue).
  const out = await git.probe(cwd, ['rev-list', rev, '--not', base, ...(options.exceptBranches ? ['--branches'] : []), `--glob=${CHECKPOINT_PREFIX}/*`]);
  if (out.code !== 0) return [];
  const commits = out.stdout.split('\n').filter((l) => l !== '');
  if (commits.length === 0) return [];
  // `git cherry` marks with "-" the commits whose change is already in base (rebased merges).
  const cherry = await git.probe(cwd, ['cherry', base, rev]);
  if (cherry.code !== 0) return commits;
  const landed = new Set(
    cherry.stdout
      .split('\n')
      .filter((l) => l.startsWith('- '))
      .map((l) => l.slice(2)),
  );
  return commits.filter((c) => !landed.has(c));
}

export async function unsavedWork(git: GitPort, cwd: string, base: string): Promise<UnsavedWork> {
  const dirty = await dirtyFiles(git, cwd);
  const head = await headCommit(git, cwd);
  const unmerged = head ? await unmergedCommits(git, cwd, 'HEAD', base) : [];
  return { dirty, unmerged };
}

export function describeUnsaved(work: UnsavedWork): string {
  const parts: string[] = [];
  if (work.dirty.length) parts.push(`${work.dirty.length} uncommitted change(s)`);
  if (work.unmerged.length) parts.push(`${work.unmerged.length} commit(s) not merged`);
  return parts.join(' and ');
}

/** `2026-11-22T01:02:03.123456789Z` → `20261122T010203123456789Z`: sortable and ref-safe. */
export function refTime(iso: string): string {
  return iso.replace(/[-:.]/g, '');
}

/**
 * Saves HEAD plus every uncommitted change (untracked files too) as a commit
 * on `refs/gt/checkpoints/<identity>/<time>`. The worktree, index and branch
 * are left exactly as they were. Returns the ref, or undefined when there was
 * nothing to save (no commits and a clean tree).
 */
export async function checkpoint(
  git: GitPort,
  cwd: string,
  identity: string,
  time: string,
  message: string,
): Promise<{ ref: string; commit: string } | undefined> {
  const head = await headCommit(git, cwd);
  const gitDir = (await git.run(cwd, ['rev-parse', '--absolute-git-dir'])).trim();
  const index = `${gitDir}/gt-checkpoint-index`;
  const env = { GIT_INDEX_FILE: index };
  // A private index: the agent's own staging area is not disturbed.
  if (head) await git.run(cwd, ['read-tree', head], { env });
  else await git.run(cwd, ['read-tree', '--empty'], { env });
  await git.run(cwd, ['add', '-A', '.'], { env });
  const tree = (await git.run(cwd, ['write-tree'], { env })).trim();
  const headTree = head ? (await git.run(cwd, ['rev-parse', `${head}^{tree}`])).trim() : undefined;
  let commit: string;
  if (head && tree === headTree) commit = head;
  else if (!head && tree === '4b825dc642cb6eb9a060e54bf8d69288fbee4904') return undefined;
  else {
    const who = {
      GIT_AUTHOR_NAME: identity,
      GIT_AUTHOR_EMAIL: 'checkpoint@gt.local',
      GIT_COMMITTER_NAME: identity,
      GIT_COMMITTER_EMAIL: 'checkpoint@gt.local',
    };
    commit = (await git.run(cwd, ['commit-tree', tree, ...(head ? ['-p', head] : []), '-m', message], { env: who })).trim();
  }
  const ref = `${CHECKPOINT_PREFIX}/${identity}/${refTime(time)}`;
  await git.run(cwd, ['update-ref', ref, commit]);
  await pushCheckpoint(git, cwd, ref, commit);
  return { ref, commit };
}

/**
 * In a town across hosts (README "Scaling out") a rig's checkpoints go to its
 * origin as well (`gt.pushCheckpoints` in the rig's repository), by its URL as
 * the refinery pushes: another host takes hooked work over from them when this
 * one is lost. A failed push leaves the local checkpoint; the next one pushes
 * again.
 */
export async function pushCheckpoint(git: GitPort, cwd: string, ref: string, commit: string): Promise<boolean> {
  if (!(await checkpointsPushed(git, cwd))) return false;
  const url = (await git.probe(cwd, ['config', 'remote.origin.url'])).stdout.trim();
  if (!url) return false;
  return (await git.probe(cwd, ['push', '-q', '--', url, `${commit}:${ref}`])).code === 0;
}

export async function checkpointsPushed(git: GitPort, cwd: string): Promise<boolean> {
  return (await git.probe(cwd, ['config', '--bool', 'gt.pushCheckpoints'])).stdout.trim() === 'true';
}

/** The newest checkpoint ref of an identity in a repository (refs sort by their time), if any. */
export async function newestCheckpoint(git: GitPort, repo: string, identity: string, since?: string): Promise<string | undefined> {
  const prefix = `${CHECKPOINT_PREFIX}/${identity}/`;
  const after = since === undefined ? '' : refTime(since);
  const refs = (await git.run(repo, ['for-each-ref', '--format=%(refname)', prefix])).split('\n').filter((r) => r !== '' && r.slice(prefix.length) >= after);
  return refs.sort().pop();
}

/** Work that lives on refs a removal does not look at (issue 12, finding 7): stash entries and tags on unmerged commits. */
export interface HeldWork {
  /** `stash@{n}` with its commit and subject (`WIP on <branch>: …`). */
  stashes: Array<{ entry: string; commit: string; subject: string }>;
  /** Tags whose commits are in no target branch and no checkpoint. */
  tags: Array<{ tag: string; commit: string }>;
}

/**
 * Stash entries and unmerged tags in the repository of `cwd`. Stashes and tags
 * are shared by every worktree of a rig: `owned` picks a polecat's (stashes
 * made on its branch, tags on commits it committed); without it, all of them
 * (a whole rig). Work already on a checkpoint is not held, unless `withSaved`
 * (a removed rig takes its checkpoints along).
 */
export async function heldWork(
  git: GitPort,
  cwd: string,
  base: string,
  options: { owned?: { branch?: string; email: string }; withSaved?: boolean } = {},
): Promise<HeldWork> {
  const { owned } = options;
  const not = ['--not', base, ...(options.withSaved ? [] : [`--glob=${CHECKPOINT_PREFIX}/*`])];
  const stashes: HeldWork['stashes'] = [];
  // `git log -g refs/stash` is `git stash list`, which a bare repository refuses.
  const list = await git.probe(cwd, ['log', '-g', '--format=%gd%x00%H%x00%gs', 'refs/stash', '--']);
  for (const line of list.code === 0 ? list.stdout.split('\n') : []) {
    const [entry, commit, subject] = line.split('\0');
    if (!entry || !commit || subject === undefined) continue;
    // `WIP on <branch>: …` (git stash) or `On <branch>: …` (git stash -m).
    const branch = /^(?:WIP on|On) (.+?): /.exec(subject)?.[1];
    if (owned && branch !== owned.branch) continue;
    const unsaved = await git.probe(cwd, ['rev-list', '-n', '1', commit, ...not]);
    if (unsaved.code === 0 && unsaved.stdout.trim() === '') continue;
    stashes.push({ entry, commit, subject });
  }
  const tags: HeldWork['tags'] = [];
  const refs = await git.probe(cwd, ['for-each-ref', '--format=%(refname:short)%00%(*objectname)%00%(objectname)%00%(taggeremail)', 'refs/tags/']);
  for (const line of refs.code === 0 ? refs.stdout.split('\n') : []) {
    const [tag, peeled, object, tagger] = line.split('\0');
    if (!tag || !object) continue;
    const commit = peeled || object;
    const unmerged = await git.probe(cwd, ['rev-list', '--format=%ce', commit, ...not]);
    const emails = unmerged.code === 0 ? unmerged.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('commit ')) : [];
    if (emails.length === 0) continue;
    if (owned && !emails.includes(owned.email) && tagger !== `<${owned.email}>`) continue;
    tags.push({ tag, commit });
  }
  return { stashes, tags };
}

export function describeHeld(held: HeldWork): string[] {
  const parts: string[] = [];
  if (held.stashes.length)
    parts.push(`${held.stashes.length} stash entr${held.stashes.length === 1 ? 'y' : 'ies'} (${held.stashes.map((s) => s.entry).join(', ')})`);
  if (held.tags.length) parts.push(`tag${held.tags.length === 1 ? '' : 's'} on unmerged commits (${held.tags.map((t) => t.tag).join(', ')})`);
  return parts;
}

/** Ignored files and directories (`git clean -ndX`'s list): no checkpoint holds them, so a removal drops them. */
export async function ignoredFiles(git: GitPort, cwd: string): Promise<string[]> {
  const out = await git.probe(cwd, ['ls-files', '--others', '--ignored', '--exclude-standard', '--directory']);
  return out.code === 0 ? out.stdout.split('\n').filter((l) => l !== '') : [];
}

/** Saves stash entries and tags on checkpoint refs beside a worktree's checkpoint: `<time>-stash-<n>`, `<time>-tag-<name>`. */
export async function checkpointHeld(git: GitPort, cwd: string, identity: string, time: string, held: HeldWork): Promise<string[]> {
  const saved: string[] = [];
  const stamp = `${CHECKPOINT_PREFIX}/${identity}/${refTime(time)}`;
  for (const [i, stash] of held.stashes.entries()) {
    await git.run(cwd, ['update-ref', `${stamp}-stash-${i}`, stash.commit]);
    saved.push(`${stamp}-stash-${i}`);
  }
  for (const tag of held.tags) {
    await git.run(cwd, ['update-ref', `${stamp}-tag-${tag.tag}`, tag.commit]);
    saved.push(`${stamp}-tag-${tag.tag}`);
  }
  return saved;
}

export async function branchExists(git: GitPort, repo: string, branch: string): Promise<boolean> {
  return (await git.probe(repo, ['rev-parse', '--verify', '-q', `refs/heads/${branch}`])).code === 0;
}
