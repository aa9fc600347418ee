/**
 * Joining a town from another machine (`gt host join`) and the whole town's
 * hosts at a glance (`gt hosts`). The machine keeps its own town directory —
 * its worktrees, sessions, logs and daemon — and shares only the ledger.
 */
import { renderToml } from '../town/config.js';
import type { Town } from '../town/town.js';
import { heartbeatMissed, townJobsLease, listHosts, lostAfterMs, registerHost, type HostRecord, type HostState } from './hosts.js';
import { enableCheckpointPush, rigPlacements, rigBeadId } from './placement.js';
import { single } from '../beads/ledger.js';

/** A host name from a machine name: lowercase letters, digits, - and _, starting with a letter. */
export function hostNameFrom(machine: string): string {
  const name = machine
    .toLowerCase()
    .split('.')[0]
    ?.replace(/[^a-z0-9_-]/g, '-')
    .replace(/^[^a-z]+/, '');
  return name || 'host';
}

/**
 * The town.toml of a machine joining a town: its own name for the town, its
 * host, and where the shared ledger is (`ledger.url`; a SQLite ledger on the
 * same machine is linked as `.gt/ledger.db` instead, for trying it out).
 */
export function joinedTownToml(fields: { town: string; host: string; address?: string; ledgerUrl?: string; now: string }): string {
  return renderToml({
    name: fields.town,
    default_agent: 'claude',
    created_at: fields.now,
    role_agents: {},
    agents: {},
    sessions: { backend: 'auto' },
    daemon: { interval: '5s' },
    ...(fields.ledgerUrl ? { ledger: { url: fields.ledgerUrl } } : {}),
    host: { name: fields.host, ...(fields.address ? { address: fields.address } : {}) },
  });
}

/** Sets `[host] name` in an existing town.toml, keeping the rest of the file as the person wrote it. */
export function withHostName(text: string, host: string): string {
  if (/^\[host\]\s*$/m.test(text)) {
    if (/^\[host\][^[]*^name\s*=/m.test(text)) return text.replace(/^(\[host\][^[]*?^)name\s*=.*$/m, `$1name = ${JSON.stringify(host)}`);
    return text.replace(/^\[host\]\s*$/m, `[host]\nname = ${JSON.stringify(host)}`);
  }
  return `${text}${text.endsWith('\n') ? '' : '\n'}\n[host]\nname = ${JSON.stringify(host)}\n`;
}

export interface JoinResult {
  host: string;
  root: string;
  /** Rigs of this town directory that had no host and are now placed on this one. */
  placed: string[];
  /** Rigs already placed on this host: its daemon clones the missing ones. */
  rigs: string[];
}

/**
 * Records this machine as host `name`, and places the rigs of this directory
 * that had no host yet on it (a one-machine town growing into several).
 */
export async function joinHost(town: Town, name: string, options: { address?: string } = {}): Promise<JoinResult> {
  await registerHost(town, name, { root: town.root, ...(options.address ? { address: options.address } : {}) });
  const placements = await rigPlacements(town);
  const placed: string[] = [];
  for (const rig of town.rigNames()) {
    const placement = placements.get(rig);
    if (!placement || placement.host !== undefined) continue;
    single(
      await town.ledger.update([rigBeadId(rig)], {
        setMetadata: { host: name },
        expect: { metadata: { host: null } },
        townEvent: { kind: 'rig.placed', rig, payload: { host: name } },
      }),
    );
    await enableCheckpointPush(town, rig);
    placed.push(rig);
  }
  const rigs = [...(await rigPlacements(town)).values()].filter((p) => p.host === name).map((p) => p.name);
  return { host: name, root: town.root, placed, rigs };
}

export interface HostView {
  name: string;
  /** up, lost (missed its heartbeat window, whether or not a daemon has marked it yet) or left. */
  state: HostState;
  this_host: boolean;
  /** It holds the town-jobs lease: its daemon runs the heartbeat, escalations, gates, stranded convoys, telemetry and the town's dogs. */
  town_jobs: boolean;
  heartbeat_at?: string;
  /** Seconds since its last heartbeat. */
  heartbeat_age_s?: number;
  agents: number;
  load?: number;
  cores?: number;
  rigs: string[];
  root?: string;
  address?: string;
}

/** `gt hosts`: every host with its heartbeat, agents, load and rigs, read from the shared ledger. */
export async function hostsView(town: Town): Promise<HostView[]> {
  const now = Date.parse(town.ports.now());
  const window = lostAfterMs(town);
  const placements = [...(await rigPlacements(town)).values()];
  const lease = await townJobsLease(town.ledger);
  const leaseHeld = lease.holder !== undefined && !heartbeatMissed({ ...(lease.renewed_at ? { heartbeat_at: lease.renewed_at } : {}) }, now, window);
  const view = (host: HostRecord): HostView => {
    const missed = host.state === 'up' && heartbeatMissed(host, now, window);
    const at = host.heartbeat_at ? Date.parse(host.heartbeat_at) : NaN;
    return {
      name: host.name,
      state: missed ? 'lost' : host.state,
      this_host: host.name === town.hostName,
      town_jobs: leaseHeld && lease.holder === host.name,
      ...(host.heartbeat_at ? { heartbeat_at: host.heartbeat_at } : {}),
      ...(Number.isFinite(at) ? { heartbeat_age_s: Math.max(0, Math.round((now - at) / 1000)) } : {}),
      agents: host.agents ?? 0,
      ...(host.load !== undefined ? { load: host.load } : {}),
      ...(host.cores !== undefined ? { cores: host.cores } : {}),
      rigs: placements.filter((p) => p.host === host.name).map((p) => p.name),
      ...(host.root ? { root: host.root } : {}),
      ...(host.address ? { address: host.address } : {}),
    };
  };
  return (await listHosts(town.ledger)).map(view);
}
