/**
 * Whether a polecat can take new work, and making an idle one with leftovers
 * reusable (issue 14 §4: dirty polecats were never reused, so every sling made
 * a new one). Leftovers — uncommitted changes, commits no branch holds — go on a
 * checkpoint ref (`refs/gt/checkpoints/<identity>/<time>`) before the worktree is
 * reset, so reuse never loses work. Sling and the polecats dog share these.
 */
import { polecatIdentity } from '../agents/identity.js';
import type { AgentRecord, Town } from '../town/town.js';
import { checkpoint, currentBranch, dirtyFiles, headCommit, unmergedCommits } from '../town/worktree.js';
import { hookedWork } from './hooked.js';

export type PolecatFitness =
  /** Working, or its work waits (a hooked bead, a running session): not to be touched. */
  | { kind: 'busy'; reason: string }
  /** Idle and clean: every commit is merged or held by a branch or checkpoint. */
  | { kind: 'free' }
  /** Idle, but a checkout would drop changes or commits: reclaim it first. */
  | { kind: 'dirty'; dirty: number; loose: number };

/** Caller holds the rig's worktree lock when it acts on the answer (sling and the dogs do). */
export async function polecatFitness(town: Town, agent: AgentRecord): Promise<PolecatFitness> {
  if (!agent.active || agent.role !== 'polecat' || !agent.rig) return { kind: 'busy', reason: 'not an active polecat' };
  // Cheapest first: a ledger read, then a session probe, then git.
  const hooked = await hookedWork(town.ledger, agent.address);
  if (hooked.length > 0) return { kind: 'busy', reason: `${hooked.map((b) => b.id).join(', ')} on its hook` };
  if (await town.sessionAlive(agent)) return { kind: 'busy', reason: 'its session is running' };
  const dir = town.path(agent.workdir);
  if (!town.ports.files.exists(dir)) return { kind: 'free' };
  const { git } = town.ports;
  const dirty = await dirtyFiles(git, dir);
  // On a branch, switching away keeps that branch (and its commits); detached, only refs keep them.
  const detached = (await currentBranch(git, dir)) === undefined && (await headCommit(git, dir)) !== undefined;
  const loose = detached ? await unmergedCommits(git, dir, 'HEAD', town.rig(agent.rig).default_branch, { exceptBranches: true }) : [];
  if (dirty.length === 0 && loose.length === 0) return { kind: 'free' };
  return { kind: 'dirty', dirty: dirty.length, loose: loose.length };
}

export interface Reclaimed {
  agent: string;
  checkpoint?: string;
  dirty: number;
  loose: number;
}

/**
 * Saves an idle polecat's leftovers on a checkpoint ref, then resets its
 * worktree to the rig's default branch (detached), ready for the next bead.
 * Ignored files stay (build outputs, dependencies). The caller holds the
 * rig's worktree lock and has seen `polecatFitness` say `dirty`.
 */
export async function reclaimPolecat(town: Town, agent: AgentRecord, why: string): Promise<Reclaimed> {
  const { git } = town.ports;
  const dir = town.path(agent.workdir);
  const rig = town.rig(agent.rig as string);
  const fitness = await polecatFitness(town, agent);
  if (fitness.kind === 'busy') throw new Error(`${agent.address} is busy: ${fitness.reason}`);
  if (fitness.kind === 'free') return { agent: agent.address, dirty: 0, loose: 0 };
  const { dirty, loose } = fitness;
  // Safe by construction: nothing is reset unless the checkpoint holding it was written.
  const saved = await checkpoint(git, dir, agent.address, town.ports.now(), `gt: reclaim ${agent.address} (${why})`);
  if (!saved) throw new Error(`${agent.address}: no checkpoint was written; its worktree is left as it is`);
  await git.run(dir, ['reset', '-q', '--hard']);
  await git.run(dir, ['clean', '-fdq']);
  await git.run(dir, ['checkout', '-q', '--detach', rig.default_branch]);
  const identity = polecatIdentity(agent.rig as string, agent.name as string);
  await town.ledger.emit({
    kind: 'polecat.reclaimed',
    agent: identity.address,
    rig: agent.rig,
    payload: { why, dirty, loose, checkpoint: saved.ref },
  });
  return { agent: agent.address, checkpoint: saved.ref, dirty, loose };
}
