/**
 * Orphans: what no ledger owner accounts for. A session of a rig that no
 * active agent runs is stopped; a polecat or crew worktree whose identity is
 * gone is checkpointed (changes and commits) and removed; a `polecat/…` branch
 * that no worktree has checked out and no open bead or merge request names is
 * checkpointed when it holds unmerged commits, then deleted. The rig's
 * worktree lock is held throughout, and a worktree touched in the last ten
 * minutes is left for a later pass (one being set up has no owner yet).
 */
import { parseIdentity, polecatIdentity, crewIdentity, type Identity } from '../agents/identity.js';
import type { BackendKind } from '../town/ports.js';
import type { Town } from '../town/town.js';
import { CHECKPOINT_PREFIX, checkpoint, refTime, unmergedCommits, unsavedWork, describeUnsaved } from '../town/worktree.js';
import type { Dog, DogAction, DogContext } from './types.js';

const GRACE_MS = 10 * 60_000;

async function sessions(ctx: DogContext, owned: Set<string>, closed: Set<string>): Promise<DogAction[]> {
  const { town } = ctx;
  const rigs = town.rigNames();
  const kinds: BackendKind[] = town.ports.tmuxAvailable ? ['tmux', 'headless'] : ['headless'];
  const actions: DogAction[] = [];
  const seen = new Set<unknown>();
  for (const kind of kinds) {
    const backend = town.ports.backend(kind);
    // One backend serving both kinds (a test's recording one) is asked once.
    if (seen.has(backend)) continue;
    seen.add(backend);
    for (const name of await backend.list()) {
      if (owned.has(`${kind}:${name}`)) continue;
      // gt's own names only: a rig's workers, or an identity that was removed.
      if (!closed.has(name) && !rigs.some((rig) => name.startsWith(`gt-${rig}-`))) continue;
      actions.push({ action: 'stopped', target: `${kind} session ${name}`, detail: 'no active agent runs it' });
      if (!ctx.dryRun) await backend.stop(name);
    }
  }
  return actions;
}

interface Worktree {
  path: string;
  branch?: string;
}

async function worktrees(town: Town, repo: string): Promise<Worktree[]> {
  const out: Worktree[] = [];
  const listing = await town.ports.git.run(repo, ['worktree', 'list', '--porcelain']);
  for (const line of listing.split('\n')) {
    if (line.startsWith('worktree ')) out.push({ path: line.slice('worktree '.length) });
    else if (line.startsWith('branch refs/heads/')) {
      const last = out[out.length - 1];
      if (last) last.branch = line.slice('branch refs/heads/'.length);
    }
  }
  return out;
}

/** The identity a worktree path belongs to, for `<rig>/polecats/<name>` and `<rig>/crew/<name>`. */
function worktreeOwner(town: Town, rig: string, path: string): Identity | undefined {
  const prefix = town.path(rig);
  if (!path.startsWith(`${prefix}/`)) return undefined;
  const [kind, name, ...rest] = path.slice(prefix.length + 1).split('/');
  if (!name || rest.length > 0) return undefined;
  try {
    if (kind === 'polecats') return polecatIdentity(rig, name);
    if (kind === 'crew') return crewIdentity(rig, name);
  } catch {
    return undefined;
  }
  return undefined;
}

async function rigPass(ctx: DogContext, rig: string, active: Set<string>): Promise<DogAction[]> {
  const { town } = ctx;
  const { git, files } = town.ports;
  const repo = town.repoDir(rig);
  const base = town.rig(rig).default_branch;
  const now = town.ports.now();
  const actions: DogAction[] = [];
  const trees = await worktrees(town, repo);
  const checkedOut = new Set(trees.map((t) => t.branch).filter((b): b is string => b !== undefined));
  for (const tree of trees) {
    const owner = worktreeOwner(town, rig, tree.path);
    if (!owner || active.has(owner.address) || !files.exists(tree.path)) continue;
    if (Date.parse(now) - (files.modifiedAt(tree.path) ?? 0) < GRACE_MS) continue;
    const target = tree.path.slice(town.root.length + 1);
    const unsaved = await unsavedWork(git, tree.path, base);
    const work = unsaved.dirty.length > 0 || unsaved.unmerged.length > 0;
    if (ctx.dryRun) {
      actions.push({
        action: 'removed',
        target,
        detail: `no active ${owner.role} ${owner.address}${work ? `; would checkpoint ${describeUnsaved(unsaved)}` : ''}`,
      });
      continue;
    }
    // Safe by construction: what it holds is on a checkpoint before it goes.
    const saved = work ? await checkpoint(git, tree.path, owner.address, now, `gt dog orphans: ${target}`) : undefined;
    if (work && !saved) throw new Error(`${target}: no checkpoint was written; left as it is`);
    await git.run(repo, ['worktree', 'remove', '--force', tree.path]);
    if (tree.branch) checkedOut.delete(tree.branch);
    actions.push({
      action: 'removed',
      target,
      detail: `no active ${owner.role} ${owner.address}${saved ? `; ${describeUnsaved(unsaved)} saved on ${saved.ref}` : ''}`,
    });
  }
  // Entries of worktrees whose folder is gone (removed by hand).
  if (!ctx.dryRun) await git.probe(repo, ['worktree', 'prune']);

  const named = new Set(
    (await town.ledger.list({ hasMetadataKeys: ['branch'], excludeStatuses: ['closed'], includeEphemeral: true, limit: 0 }))
      .map((b) => b.metadata?.branch)
      .filter((b): b is string => typeof b === 'string'),
  );
  const branches = (await git.run(repo, ['for-each-ref', '--format=%(refname:short)', 'refs/heads/polecat/'])).split('\n').filter((b) => b !== '');
  for (const branch of branches) {
    if (checkedOut.has(branch) || named.has(branch)) continue;
    const unmerged = await unmergedCommits(git, repo, `refs/heads/${branch}`, base);
    const [, name, bead] = branch.split('/');
    const owner = name ? `${rig}/polecats/${name}` : `${rig}/polecats/unknown`;
    const ref = `${CHECKPOINT_PREFIX}/${owner}/${refTime(now)}-branch-${(bead ?? 'unknown').replace(/[^A-Za-z0-9._-]/g, '_')}`;
    if (ctx.dryRun) {
      actions.push({
        action: 'deleted',
        target: `branch ${branch}`,
        detail: `no owner${unmerged.length ? `; would checkpoint ${unmerged.length} unmerged commit(s)` : ''}`,
      });
      continue;
    }
    if (unmerged.length) await git.run(repo, ['update-ref', ref, `refs/heads/${branch}`]);
    await git.run(repo, ['branch', '-D', '-q', branch]);
    actions.push({
      action: 'deleted',
      target: `branch ${branch}`,
      detail: `no owner${unmerged.length ? `; ${unmerged.length} unmerged commit(s) saved on ${ref}` : ''}`,
    });
  }
  return actions;
}

async function run(ctx: DogContext): Promise<DogAction[]> {
  const { town } = ctx;
  const all = await town.agents({ includeInactive: true });
  const activeAgents = all.filter((a) => a.active);
  const owned = new Set(activeAgents.filter((a) => a.backend).map((a) => `${a.backend}:${a.session}`));
  // A closed agent's session name may be in use by an active one of the same name (reopened): owned wins.
  const closed = new Set(all.filter((a) => !a.active).map((a) => a.session));
  const actions = await sessions(ctx, owned, closed);
  const active = new Set(activeAgents.map((a) => parseIdentity(a.address).address));
  for (const rig of town.rigNames()) {
    const release = await town.lockWorktrees(rig);
    try {
      actions.push(...(await rigPass(ctx, rig, active)));
    } finally {
      release();
    }
  }
  return actions;
}

export const orphansDog: Dog = {
  name: 'orphans',
  description: 'Worktrees, polecat branches and sessions no agent owns: checkpointed when they hold work, then removed',
  run,
};
