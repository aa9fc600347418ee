/**
 * A town across machines (issue 19 §2, README "Scaling out"): one shared
 * ledger, one gt daemon per host. A host is a bead (`hq-host-<name>`, type
 * `host`) whose typed metadata its daemon renews every pass — the heartbeat,
 * its load and how many agents it runs — so `gt hosts` on any machine reads
 * the whole town, and a host that stops renewing is seen as lost by the others.
 * No table of its own: a PostgreSQL ledger carries it as it carries agents.
 */
import { conflictError, GtError, notFoundError } from '../../shared/errors.js';
import { parseDuration } from '../../shared/duration.js';
import { single, type Ledger } from '../beads/ledger.js';
import type { Issue } from '../beads/types.js';
import type { Town } from '../town/town.js';

export const HOST_TYPE = 'host';

export function hostBeadId(name: string): string {
  return `hq-host-${name}`;
}

/** up: renewing its heartbeat; lost: missed its window (another host noticed); left: removed with gt host leave. */
export type HostState = 'up' | 'lost' | 'left';

export interface HostRecord {
  id: string;
  name: string;
  state: HostState;
  /** Where a person reaches it (informational: town.toml host.address). */
  address?: string;
  /** Its town directory on its own machine. */
  root?: string;
  heartbeat_at?: string;
  pid?: number;
  /** One-minute load average and cores, as its daemon last saw them. */
  load?: number;
  cores?: number;
  /** Agents whose sessions ran on it at its last heartbeat. */
  agents?: number;
  joined_at?: string;
}

export function hostFromIssue(issue: Issue): HostRecord {
  const m = issue.metadata ?? {};
  const str = (k: string) => (typeof m[k] === 'string' ? m[k] : undefined);
  const num = (k: string) => (typeof m[k] === 'number' ? m[k] : undefined);
  const state = issue.status === 'closed' ? 'left' : m.state === 'lost' ? 'lost' : 'up';
  const record: HostRecord = { id: issue.id, name: issue.title, state };
  for (const key of ['address', 'root', 'heartbeat_at', 'joined_at'] as const) {
    const value = str(key);
    if (value !== undefined) record[key] = value;
  }
  for (const key of ['pid', 'load', 'cores', 'agents'] as const) {
    const value = num(key);
    if (value !== undefined) record[key] = value;
  }
  return record;
}

export async function listHosts(ledger: Ledger, options: { includeLeft?: boolean } = {}): Promise<HostRecord[]> {
  const issues = await ledger.list({
    types: [HOST_TYPE],
    includeEphemeral: true,
    limit: 0,
    sort: 'id',
    ...(options.includeLeft ? {} : { excludeStatuses: ['closed'] }),
  });
  return issues.map(hostFromIssue);
}

export async function getHost(ledger: Ledger, name: string): Promise<HostRecord | undefined> {
  const issue = await ledger.find(hostBeadId(name));
  return issue ? hostFromIssue(issue) : undefined;
}

/** The host's heartbeat is older than the window (or it never sent one): nobody can see its sessions. */
export function heartbeatMissed(host: Pick<HostRecord, 'heartbeat_at'>, now: number, lostAfterMs: number): boolean {
  const at = host.heartbeat_at ? Date.parse(host.heartbeat_at) : NaN;
  return !Number.isFinite(at) || now - at >= lostAfterMs;
}

export function lostAfterMs(town: Town): number {
  return parseDuration(town.config.host.lost_after);
}

/** The name of this machine's host, or a usage error naming what to do. */
export function thisHost(town: Town): string {
  const name = town.hostName;
  if (!name)
    throw new GtError('usage', 'this town is not part of a town across hosts (town.toml has no host.name)', {
      hint: 'join one with gt host join <ledger-url> --name <host>',
    });
  return name;
}

/**
 * Records this machine as a host of the town (`gt host join`): creates its
 * bead, or takes back one that left or was lost. A second machine claiming a
 * name whose host is alive is refused: two daemons would each think the
 * other's agents were theirs.
 */
export async function registerHost(town: Town, name: string, fields: { root: string; address?: string }): Promise<HostRecord> {
  const now = town.ports.now();
  const existing = await getHost(town.ledger, name);
  const metadata = { root: fields.root, ...(fields.address ? { address: fields.address } : {}), state: 'up', joined_at: now, heartbeat_at: now };
  if (!existing) {
    const issue = await town.ledger.create({
      id: hostBeadId(name),
      title: name,
      type: HOST_TYPE,
      prefix: 'hq',
      metadata,
      townEvent: { kind: 'host.joined', payload: { host: name, root: fields.root, ...(fields.address ? { address: fields.address } : {}) } },
    });
    return hostFromIssue(issue);
  }
  if (existing.state === 'up' && existing.root !== fields.root && !heartbeatMissed(existing, Date.parse(now), lostAfterMs(town)))
    throw conflictError(
      `host ${name} is already in this town (at ${existing.root ?? '?'}) and alive`,
      'choose another --name, or stop that host first (gt down there, then wait host.lost_after)',
    );
  return hostFromIssue(
    single(
      await town.ledger.update([existing.id], {
        ...(existing.state === 'left' ? { status: 'open' } : {}),
        setMetadata: metadata,
        townEvent: { kind: 'host.joined', payload: { host: name, root: fields.root, again: true } },
      }),
    ),
  );
}

export interface HostHeartbeat {
  pid: number;
  load: number;
  cores: number;
  agents: number;
}

/**
 * The daemon's heartbeat: volatile (no audit row), so a host renewing every
 * pass never grows the ledger. A host that was marked lost and beats again has
 * returned: one `host.returned` event.
 */
export async function renewHost(town: Town, name: string, beat: HostHeartbeat): Promise<HostRecord> {
  const host = await getHost(town.ledger, name);
  if (!host || host.state === 'left') throw notFoundError(`host ${name} is not in this town`, 'join it again with gt host join');
  const returned = host.state === 'lost';
  return hostFromIssue(
    single(
      await town.ledger.update([host.id], {
        setMetadata: { ...beat, heartbeat_at: town.ports.now(), state: 'up' },
        volatile: true,
        ...(returned ? { townEvent: { kind: 'host.returned' as const, actor: 'deacon', payload: { host: name } } } : {}),
      }),
    ),
  );
}

/**
 * Marks the other hosts that missed their heartbeat window as lost, each once
 * (a compare-and-set on its state, so two daemons noticing together emit one
 * `host.lost`). Returns the names marked now.
 */
export async function markLostHosts(town: Town, self: string | undefined): Promise<string[]> {
  const now = Date.parse(town.ports.now());
  const window = lostAfterMs(town);
  const marked: string[] = [];
  for (const host of await listHosts(town.ledger)) {
    if (host.name === self || host.state !== 'up' || !heartbeatMissed(host, now, window)) continue;
    try {
      single(
        await town.ledger.update([host.id], {
          setMetadata: { state: 'lost' },
          expect: { metadata: { state: 'up', heartbeat_at: host.heartbeat_at ?? null } },
          volatile: true,
          townEvent: { kind: 'host.lost', actor: 'deacon', payload: { host: host.name, last_heartbeat: host.heartbeat_at ?? null, seen_by: self ?? null } },
        }),
      );
      marked.push(host.name);
    } catch (error) {
      // It beat meanwhile, or another host marked it first.
      if (!(error instanceof GtError) || error.kind !== 'conflict') throw error;
    }
  }
  return marked;
}

/** The bead whose metadata says which host runs the town-wide jobs now (a lease; see holdTownJobs). */
export const TOWN_JOBS_ID = 'hq-town-jobs';

export interface TownJobsLease {
  holder?: string;
  renewed_at?: string;
}

export async function townJobsLease(ledger: Ledger): Promise<TownJobsLease> {
  const m = (await ledger.find(TOWN_JOBS_ID))?.metadata ?? {};
  return {
    ...(typeof m.holder === 'string' ? { holder: m.holder } : {}),
    ...(typeof m.renewed_at === 'string' ? { renewed_at: m.renewed_at } : {}),
  };
}

/**
 * One host at a time runs the town-wide jobs (the heartbeat, escalations,
 * gates, stranded convoys, telemetry, the dogs): whoever holds the
 * `hq-town-jobs` lease. Its holder renews it every pass; another host takes it
 * over once it is older than host.lost_after. Every write is a compare-and-set
 * on the metadata, so two hosts racing for it end with one holder. Returns
 * whether this host holds it now.
 */
export async function holdTownJobs(town: Town, self: string): Promise<boolean> {
  const now = town.ports.now();
  const issue = await town.ledger.find(TOWN_JOBS_ID);
  try {
    if (!issue) {
      await town.ledger.create({ id: TOWN_JOBS_ID, title: 'town-wide jobs', type: 'slot', prefix: 'hq', metadata: { holder: self, renewed_at: now } });
      return true;
    }
    const lease = await townJobsLease(town.ledger);
    const expired =
      lease.holder === undefined || heartbeatMissed({ ...(lease.renewed_at ? { heartbeat_at: lease.renewed_at } : {}) }, Date.parse(now), lostAfterMs(town));
    if (lease.holder !== self && !expired) return false;
    single(
      await town.ledger.update([TOWN_JOBS_ID], {
        setMetadata: { holder: self, renewed_at: now },
        expect: { metadata: { holder: lease.holder ?? null, renewed_at: lease.renewed_at ?? null } },
        volatile: true,
      }),
    );
    return true;
  } catch (error) {
    // Another host created, renewed or took it first.
    if (error instanceof GtError && error.kind === 'conflict') return false;
    throw error;
  }
}
