/**
 * Idle polecats. One left with uncommitted changes or commits no branch holds
 * (an escalated bead, a crash) is reclaimed: its leftovers go on a checkpoint
 * ref, then its worktree is reset, so the next sling reuses it. Idle clean
 * polecats beyond `keep_idle` per rig (rig.toml `polecats.keep_idle`, else
 * town.toml `dogs.polecats.keep_idle`) are removed, those idle longest first.
 * A polecat with a hooked bead or a running session is never touched.
 */
import { polecatIdentity } from '../agents/identity.js';
import type { AgentRecord, Town } from '../town/town.js';
import { heldWork } from '../town/worktree.js';
import { polecatFitness, reclaimPolecat } from '../work/polecats.js';
import { removePolecat } from '../work/work.js';
import type { Dog, DogAction, DogContext } from './types.js';

export function keepIdle(town: Town, rig: string): number {
  return town.rig(rig).polecats.keep_idle ?? town.config.dogs.polecats.keep_idle;
}

/** When the polecat last worked (its last session's start), for "idle longest first". */
function lastActive(agent: AgentRecord): string {
  return agent.started_at ?? '';
}

async function rigPass(ctx: DogContext, rig: string): Promise<DogAction[]> {
  const { town } = ctx;
  const actions: DogAction[] = [];
  const free: AgentRecord[] = [];
  // Another host's polecats (a rig moved away from this one) are that host's to reclaim or remove.
  const polecats = (await town.agents({ rig })).filter((a) => a.role === 'polecat' && a.name && !town.isRemote(a));
  for (const agent of polecats) {
    const fitness = await polecatFitness(town, agent);
    if (fitness.kind === 'busy') continue;
    if (fitness.kind === 'dirty') {
      const what = [fitness.dirty ? `${fitness.dirty} uncommitted change(s)` : '', fitness.loose ? `${fitness.loose} commit(s) on no branch` : ''].filter(
        Boolean,
      );
      if (ctx.dryRun) {
        actions.push({ action: 'reclaimed', target: agent.address, detail: `would checkpoint ${what.join(' and ')}, then reset` });
      } else {
        const reclaimed = await reclaimPolecat(town, agent, 'dog polecats');
        actions.push({ action: 'reclaimed', target: agent.address, detail: `${what.join(' and ')} saved on ${reclaimed.checkpoint ?? '?'}; reset for reuse` });
      }
    }
    free.push(agent);
  }
  const keep = keepIdle(town, rig);
  const extra = free.sort((a, b) => lastActive(b).localeCompare(lastActive(a))).slice(keep);
  for (const agent of extra) {
    const identity = polecatIdentity(rig, agent.name as string);
    const dir = town.path(agent.workdir);
    const exists = town.ports.files.exists(dir);
    if (ctx.dryRun) {
      actions.push({ action: 'removed', target: agent.address, detail: `idle beyond keep_idle = ${keep}` });
      continue;
    }
    // Detached first: its branch may wait in the merge queue, and the orphans dog decides about branches.
    if (exists) await town.ports.git.run(dir, ['checkout', '-q', '--detach']);
    const email = `${identity.address.replace(/\//g, '.')}@gt.local`;
    const held = exists ? await heldWork(town.ports.git, dir, town.rig(rig).default_branch, { owned: { email } }) : { stashes: [], tags: [] };
    // Stash entries and tags of its own go on checkpoints with it; nothing else is left to save (it is free).
    const result = await removePolecat(town, identity, agent, dir, [], held.stashes.length + held.tags.length > 0, held);
    await town.ledger.emit({ kind: 'polecat.removed', agent: agent.address, rig, payload: { why: `idle beyond keep_idle = ${keep}` } });
    actions.push({
      action: 'removed',
      target: agent.address,
      detail: `idle beyond keep_idle = ${keep}${result.checkpoints_held?.length ? `; stash entries and tags saved on ${result.checkpoints_held.join(', ')}` : ''}`,
    });
  }
  return actions;
}

async function run(ctx: DogContext): Promise<DogAction[]> {
  const actions: DogAction[] = [];
  for (const rig of ctx.town.rigNames()) {
    // The lock sling takes: no polecat is handed out while this pass looks at it.
    const release = await ctx.town.lockWorktrees(rig);
    try {
      actions.push(...(await rigPass(ctx, rig)));
    } finally {
      release();
    }
  }
  return actions;
}

export const polecatsDog: Dog = {
  name: 'polecats',
  description: 'Idle polecats: leftovers checkpointed and the worktree reset for reuse; idle clean ones beyond keep_idle per rig removed',
  run,
};
