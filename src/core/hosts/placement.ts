/**
 * Where each rig runs in a town across hosts (issue 19 §2). The rig bead
 * (`hq-rig-<name>`) records its host; that host's daemon clones the rig from
 * its origin, runs its polecats, witness and refinery, and carries out every
 * sling to it from any host (claimed with a compare-and-set, so exactly one
 * host spawns). Code moves only through the origin: the refinery pushes merges,
 * and checkpoints are pushed under `refs/gt/checkpoints/…` so another host can
 * take a rig's hooked work over (`gt rig move`).
 */
import { GtError, notFoundError } from '../../shared/errors.js';
import { single } from '../beads/ledger.js';
import type { Issue } from '../beads/types.js';
import { validateName } from '../agents/identity.js';
import { CHECKPOINT_PREFIX, newestCheckpoint } from '../town/worktree.js';
import type { Town } from '../town/town.js';
import { getHost, heartbeatMissed, lostAfterMs } from './hosts.js';

export function rigBeadId(name: string): string {
  return `hq-rig-${name}`;
}

export interface RigPlacement {
  name: string;
  /** Absent: not placed (a one-machine town): whichever host has the rig's directory runs it. */
  host?: string;
  git_url: string;
  default_branch?: string;
  prefix?: string;
}

function placementOf(issue: Issue): RigPlacement {
  const m = issue.metadata ?? {};
  const str = (k: string) => (typeof m[k] === 'string' ? m[k] : undefined);
  const placement: RigPlacement = { name: issue.title, git_url: str('git_url') ?? '' };
  for (const key of ['host', 'default_branch', 'prefix'] as const) {
    const value = str(key);
    if (value !== undefined) placement[key] = value;
  }
  return placement;
}

/** Every rig of the town as the ledger knows it (the rigs of all hosts), by name. */
export async function rigPlacements(town: Town): Promise<Map<string, RigPlacement>> {
  const issues = await town.ledger.list({ types: ['rig'], excludeStatuses: ['closed'], includeEphemeral: true, limit: 0 });
  return new Map(issues.map((i) => [i.title, placementOf(i)]));
}

export async function rigHost(town: Town, rig: string): Promise<string | undefined> {
  const issue = await town.ledger.find(rigBeadId(rig));
  return issue && issue.status !== 'closed' ? placementOf(issue).host : undefined;
}

/** Whether this machine runs the rig: placed on this host, or not placed at all (a one-machine town). */
export function runsHere(town: Town, placement: Pick<RigPlacement, 'host'> | undefined): boolean {
  return placement?.host === undefined || placement.host === town.hostName;
}

/** The rigs whose witness, refinery and dispatch this machine's daemon runs: its rig directories that are placed here. */
export async function rigsHere(town: Town): Promise<string[]> {
  const local = town.rigNames();
  if (!town.hostName) return local;
  const placements = await rigPlacements(town);
  return local.filter((rig) => runsHere(town, placements.get(rig)));
}

/** Checkpoints go to the origin too (README "Never lose work"): set on every rig placed on a host. */
export async function enableCheckpointPush(town: Town, rig: string): Promise<void> {
  await town.ports.git.run(town.repoDir(rig), ['config', 'gt.pushCheckpoints', 'true']);
}

/** Records the rig's host on its bead (a compare-and-set against the host it had), with a `rig.placed` or `rig.moved` event. */
export async function setPlacement(town: Town, rig: string, host: string, from: string | undefined): Promise<void> {
  single(
    await town.ledger.update([rigBeadId(rig)], {
      setMetadata: { host },
      expect: { metadata: { host: from ?? null } },
      townEvent: { kind: from ? 'rig.moved' : 'rig.placed', rig, payload: { host, ...(from ? { from } : {}) } },
    }),
  );
}

export async function requireHost(town: Town, host: string): Promise<void> {
  validateName('agent', host);
  const record = await getHost(town.ledger, host);
  if (!record || record.state === 'left')
    throw notFoundError(`no host ${host} in this town`, 'see gt hosts; a machine joins with gt host join <ledger-url> --name <host>');
}

export interface SyncedRig {
  rig: string;
  action: 'cloned' | 'branch-restored' | 'released';
  detail: string;
}

/** Brings the rig's pushed checkpoints (of every host) into its bare repository. */
export async function fetchCheckpoints(town: Town, rig: string, agent?: string): Promise<void> {
  const refs = agent ? `${CHECKPOINT_PREFIX}/${agent}` : CHECKPOINT_PREFIX;
  await town.ports.git.probe(town.repoDir(rig), ['fetch', '-q', 'origin', `+${refs}/*:${refs}/*`]);
}

/**
 * Where a polecat's new branch for `bead` starts: the newest pushed checkpoint
 * of the worker that had it on another host (set by gt rig move), else the
 * rig's default branch.
 */
export async function resumePoint(town: Town, rig: string, bead: Issue): Promise<string | undefined> {
  const agent = typeof bead.metadata?.resume_agent === 'string' ? bead.metadata.resume_agent : undefined;
  if (!agent) return undefined;
  const since = typeof bead.metadata?.resume_since === 'string' ? bead.metadata.resume_since : undefined;
  await fetchCheckpoints(town, rig, agent);
  return newestCheckpoint(town.ports.git, town.repoDir(rig), agent, since);
}

/**
 * Takes the dispatch of a queued bead for this host: a compare-and-set on the
 * bead's `dispatch_host`, so when two hosts' daemons see the same entry (a rig
 * being moved, work not bound to a rig) exactly one spawns it. A claim held by
 * a host that has since been lost may be taken over.
 */
export async function claimDispatch(town: Town, beadId: string): Promise<boolean> {
  const here = town.hostName;
  if (!here) return true;
  const bead = await town.ledger.find(beadId);
  if (!bead) return false;
  const holder = typeof bead.metadata?.dispatch_host === 'string' ? bead.metadata.dispatch_host : undefined;
  if (holder === here) return true;
  if (holder) {
    const other = await getHost(town.ledger, holder);
    if (other && other.state !== 'left' && !heartbeatMissed(other, Date.parse(town.ports.now()), lostAfterMs(town))) return false;
  }
  try {
    single(
      await town.ledger.update([beadId], {
        setMetadata: { dispatch_host: here, dispatch_claimed_at: town.ports.now() },
        expect: { statuses: ['open'], assignee: null, metadata: { dispatch_host: holder ?? null } },
        volatile: true,
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof GtError && error.kind === 'conflict') return false;
    throw error;
  }
}
