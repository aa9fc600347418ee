/**
 * Rigs across hosts, the parts that clone, move and stop (placement.ts holds
 * what the hot paths read): `gt rig add --host`, `gt rig move`, and the
 * daemon's pass that clones the rigs placed on its host.
 */
import { conflictError, GtError, notFoundError, validationError } from '../../shared/errors.js';
import { withoutCredentials } from '../../shared/secrets.js';
import { single } from '../beads/ledger.js';
import type { Issue } from '../beads/types.js';
import { parseIdentity, validateName } from '../agents/identity.js';
import { stopSession } from '../agents/sessions.js';
import { addRig, derivePrefix } from '../town/rigs.js';
import { branchExists, checkpoint } from '../town/worktree.js';
import { RIG_FILE, type Town } from '../town/town.js';
import { hookedWork } from '../work/hooked.js';
import { enqueue } from '../scheduler/queue.js';
import { thisHost } from './hosts.js';
import { enableCheckpointPush, fetchCheckpoints, requireHost, rigBeadId, rigPlacements, setPlacement, type RigPlacement, type SyncedRig } from './placement.js';

/**
 * `gt rig add <name> <url> --host H`: on this host, the rig is cloned here as
 * always and placed here; on another host, only its bead is written (prefix,
 * origin, branch, host) and that host's daemon clones it on its next pass.
 */
export async function addPlacedRig(
  town: Town,
  name: string,
  url: string,
  options: { host?: string; prefix?: string; branch?: string; progress: (line: string) => void },
): Promise<RigPlacement> {
  const here = thisHost(town);
  const host = options.host ?? here;
  await requireHost(town, host);
  if (host === here) {
    const config = await addRig(town, name, url, options);
    await setPlacement(town, name, host, undefined);
    await enableCheckpointPush(town, name);
    return { name, host, git_url: config.git_url, default_branch: config.default_branch, prefix: config.prefix };
  }
  validateName('rig', name);
  if ((await rigPlacements(town)).has(name)) throw conflictError(`rig ${name} is already in this town`, `move it with gt rig move ${name} ${host}`);
  const taken = new Set(['hq', ...[...(await rigPlacements(town)).values()].flatMap((p) => p.prefix ?? [])]);
  const prefix = options.prefix ?? derivePrefix(name, taken);
  if (!/^[a-z][a-z0-9]{0,15}$/.test(prefix))
    throw validationError(`invalid prefix ${JSON.stringify(prefix)}`, 'a prefix is 1–16 lowercase letters and digits, starting with a letter');
  if (taken.has(prefix)) throw conflictError(`prefix ${prefix} is already used in this town`, 'pass another with --prefix');
  // Checked here, not on the far host: a wrong URL fails now, in front of the person.
  const branch = options.branch ?? (await remoteHead(town, url));
  const git_url = withoutCredentials(url);
  const metadata = { prefix, git_url, default_branch: branch };
  await town.ledger.create({ id: rigBeadId(name), title: name, type: 'rig', prefix: 'hq', metadata }).catch(async (error: unknown) => {
    if (!(error instanceof GtError) || error.kind !== 'conflict') throw error;
    await town.ledger.update([rigBeadId(name)], { status: 'open', setMetadata: metadata, unsetMetadata: ['host'] });
  });
  await setPlacement(town, name, host, undefined);
  return { name, host, git_url, default_branch: branch, prefix };
}

/**
 * The daemon's pass over placement: clones each rig placed on this host that
 * it does not have yet (from the origin recorded on the rig bead), and gives
 * each merge request of its rigs whose branch is not here (work done on a host
 * that was lost) its branch back from the pushed checkpoint of its commit.
 */
export async function syncPlacedRigs(town: Town): Promise<SyncedRig[]> {
  const here = town.hostName;
  if (!here) return [];
  const synced: SyncedRig[] = [];
  const placements = await rigPlacements(town);
  for (const placement of placements.values()) {
    if (placement.host !== here) continue;
    if (!town.ports.files.exists(town.path(placement.name, RIG_FILE))) {
      if (!placement.git_url) continue;
      await addRig(town, placement.name, placement.git_url, {
        ...(placement.prefix ? { prefix: placement.prefix } : {}),
        ...(placement.default_branch ? { branch: placement.default_branch } : {}),
        progress: town.ports.progress,
      });
      await enableCheckpointPush(town, placement.name);
      await fetchCheckpoints(town, placement.name);
      synced.push({ rig: placement.name, action: 'cloned', detail: `from ${placement.git_url}` });
    }
    const repo = town.repoDir(placement.name);
    const requests = await town.ledger.list({
      types: ['merge-request'],
      metadataFields: { rig: placement.name },
      excludeStatuses: ['closed'],
      includeEphemeral: true,
      limit: 0,
    });
    for (const mr of requests) {
      const branch = typeof mr.metadata?.branch === 'string' ? mr.metadata.branch : undefined;
      const commit = typeof mr.metadata?.commit === 'string' ? mr.metadata.commit : undefined;
      if (!branch || !commit || (await branchExists(town.ports.git, repo, branch))) continue;
      if ((await town.ports.git.probe(repo, ['cat-file', '-e', `${commit}^{commit}`])).code !== 0) await fetchCheckpoints(town, placement.name);
      if ((await town.ports.git.probe(repo, ['branch', branch, commit])).code === 0)
        synced.push({ rig: placement.name, action: 'branch-restored', detail: `${branch} at ${commit.slice(0, 12)} for ${mr.id}` });
    }
  }
  return synced;
}

export interface MoveResult {
  rig: string;
  from?: string;
  to: string;
  /** Beads taken off the hooks of the rig's agents elsewhere and queued for the new host, with the worker whose checkpoint they resume from. */
  reslung: Array<{ bead: string; from_agent: string }>;
}

/**
 * `gt rig move <rig> <host>`: the rig runs on `host` from now on. Work hooked
 * by its agents on the old host is slung again on the new one, starting from
 * their last pushed checkpoint. An agent whose host is alive and whose session
 * still runs is refused unless `force` (its host then stops it: the rig is no
 * longer its to run).
 */
export async function moveRig(town: Town, rig: string, to: string, options: { force?: boolean } = {}): Promise<MoveResult> {
  await requireHost(town, to);
  const placements = await rigPlacements(town);
  const placement = placements.get(rig);
  if (!placement) throw notFoundError(`no rig named ${JSON.stringify(rig)} in this town`, 'see gt rig list');
  const from = placement.host;
  if (from === to) return { rig, to, ...(from ? { from } : {}), reslung: [] };
  const agents = (await town.agents({ rig })).filter((a) => a.host !== to);
  const hooked: Array<{ bead: Issue; agent: string }> = [];
  const running: string[] = [];
  for (const agent of agents) {
    const work = await hookedWork(town.ledger, agent.address);
    if (work.length === 0) continue;
    // A remote agent counts as running while its host beats and its record says so (Town.sessionAlive).
    if (await town.sessionAlive(agent)) running.push(agent.address);
    for (const bead of work) hooked.push({ bead, agent: agent.address });
  }
  if (running.length && !options.force)
    throw conflictError(
      `rig ${rig} has agents still running on ${from ?? 'its host'}: ${running.join(', ')}`,
      'let them finish, or pass --force (their host stops them; their beads resume on the new host from their last pushed checkpoint)',
    );
  await setPlacement(town, rig, to, from);
  const reslung: MoveResult['reslung'] = [];
  for (const { bead, agent } of hooked) {
    // Molecule steps and other non-rig work ride with their root; only the bead on the hook moves.
    if (parseIdentity(agent).rig !== rig) continue;
    single(
      await town.ledger.update([bead.id], {
        setMetadata: { resume_agent: agent, resume_since: typeof bead.metadata?.hooked_at === 'string' ? bead.metadata.hooked_at : town.ports.now() },
      }),
    );
    const current = (await town.ledger.show([bead.id]))[0];
    if (!current) continue;
    await enqueue(town, current, { target: rig, force: true, reason: `rig ${rig} moved to host ${to}` });
    reslung.push({ bead: bead.id, from_agent: agent });
  }
  return { rig, to, ...(from ? { from } : {}), reslung };
}

/**
 * A rig moved away from this host (gt rig move, perhaps while this host was
 * lost): the sessions it still runs here for that rig are stopped, each
 * worktree checkpointed and pushed first. Their beads were slung again on the
 * new host; nothing here is removed.
 */
export async function releaseMovedRigs(town: Town): Promise<SyncedRig[]> {
  const here = town.hostName;
  if (!here) return [];
  const placements = await rigPlacements(town);
  const released: SyncedRig[] = [];
  for (const rig of town.rigNames()) {
    const host = placements.get(rig)?.host;
    if (host === undefined || host === here) continue;
    for (const agent of await town.agents({ rig })) {
      if (agent.host !== here || !(await town.sessionAlive(agent))) continue;
      await stopSession(town, agent);
      const dir = town.path(agent.workdir);
      const saved = town.ports.files.exists(`${dir}/.git`)
        ? await checkpoint(town.ports.git, dir, agent.address, town.ports.now(), `gt: rig ${rig} moved to host ${host}`).catch(() => undefined)
        : undefined;
      released.push({ rig, action: 'released', detail: `${agent.address} stopped (rig now on ${host})${saved ? `; saved on ${saved.ref}` : ''}` });
    }
  }
  return released;
}

/** The remote's default branch (`git ls-remote --symref <url> HEAD`), read without cloning. */
async function remoteHead(town: Town, url: string): Promise<string> {
  const out = await town.ports.git.run(town.root, ['ls-remote', '--symref', '--', url, 'HEAD']);
  const match = /^ref: refs\/heads\/(\S+)\s+HEAD$/m.exec(out);
  if (!match?.[1]) throw new GtError('external', `cannot tell the default branch of ${withoutCredentials(url)}`, { hint: 'pass it with --branch' });
  return match[1];
}
