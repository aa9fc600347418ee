/**
 * The daemon watches itself (issue 14 §2): the deacon renews a lease
 * (`.gt/daemon.lease`) on every pass, so a daemon whose process still runs but
 * whose loop no longer turns (hung, stopped) is told apart from a busy one,
 * and a daemon that died without `gt down` from one that was stopped.
 * `gt status`, `gt doctor` and `gt up` read the daemon through `daemonHealth`.
 */
import { parseDuration } from '../../shared/duration.js';
import { DAEMON_LEASE } from '../../shared/paths.js';
import type { DaemonStatus, TownFiles } from './ports.js';
import type { Town } from './town.js';

export interface DaemonLease {
  pid: number;
  started_at: string;
  /** When the loop last turned (ISO). */
  renewed_at: string;
  /** Passes completed since it started. */
  passes: number;
  interval_ms: number;
  /** A lease older than this means the loop is stuck (daemon.stale_after). */
  stale_after_ms: number;
  /** The team mode it captured when it started (sessions.mode resolved: tmux, iterm2 or in-process). */
  team_mode?: string;
  /** What the last finished pass cost: an idle town's pass should cost close to nothing (bench/daemon.ts). */
  last_pass?: PassCost;
}

export interface PassCost {
  /** When it finished (ISO). */
  at: string;
  /** Wall time of the pass's own loop (ms). */
  duration_ms: number;
  /** The daemon process's CPU (user + system) over the pass, with the loops that run beside it (ms). */
  cpu_ms: number;
}

export type DaemonHealthState = 'running' | 'starting' | 'stale' | 'dead' | 'stopped';

export interface DaemonHealth {
  /**
   * running: its loop turned within stale_after; starting: its process runs and
   * has not finished a first pass; stale: its process runs but its loop has
   * not turned for stale_after (hung; gt up replaces it); dead: its pidfile
   * names a process that is gone (it crashed or was killed; gt up starts a new
   * one); stopped: no daemon (gt up).
   */
  state: DaemonHealthState;
  ok: boolean;
  pid?: number;
  /** When its loop last turned, and how long ago (ms). */
  last_pass_at?: string;
  lease_age_ms?: number;
  passes?: number;
  last_pass?: PassCost;
  stale_after_ms: number;
  detail: string;
  log: string;
}

export function leasePath(root: string): string {
  return `${root}/${DAEMON_LEASE}`;
}

export function readLease(files: TownFiles, root: string): DaemonLease | undefined {
  const text = files.read(leasePath(root));
  if (text === undefined) return undefined;
  try {
    const lease = JSON.parse(text) as Partial<DaemonLease>;
    return typeof lease.pid === 'number' && typeof lease.renewed_at === 'string' ? (lease as DaemonLease) : undefined;
  } catch {
    return undefined; // half written by a crash: as good as none
  }
}

export function writeLease(files: TownFiles, root: string, lease: DaemonLease): void {
  files.write(leasePath(root), `${JSON.stringify(lease)}\n`);
}

/** The daemon's health from its process status and its lease, at `now` (epoch ms). Pure: a table test covers it. */
export function judgeDaemon(status: DaemonStatus, lease: DaemonLease | undefined, staleAfterMs: number, now: number): DaemonHealth {
  const base = { stale_after_ms: staleAfterMs, log: status.log };
  if (!status.running) {
    if (status.stale_pidfile)
      return { ...base, state: 'dead', ok: false, detail: 'its pidfile names a process that is gone (it crashed or was killed); gt up starts a new one' };
    return { ...base, state: 'stopped', ok: false, detail: 'not running; gt up starts it' };
  }
  const own = lease && lease.pid === status.pid ? lease : undefined;
  const pid = status.pid === undefined ? {} : { pid: status.pid };
  if (!own) return { ...base, ...pid, state: 'starting', ok: true, detail: 'its process runs; it has not finished a first pass yet' };
  const renewed = Date.parse(own.renewed_at);
  const age = Math.max(0, now - renewed);
  const seen = { ...pid, last_pass_at: own.renewed_at, lease_age_ms: age, passes: own.passes, ...(own.last_pass ? { last_pass: own.last_pass } : {}) };
  const limit = own.stale_after_ms || staleAfterMs;
  if (age >= limit)
    return {
      ...base,
      ...seen,
      stale_after_ms: limit,
      state: 'stale',
      ok: false,
      detail: `its process runs but its loop last turned ${Math.round(age / 1000)}s ago (hung); gt up replaces it`,
    };
  const cost = own.last_pass ? ` (${Math.round(own.last_pass.duration_ms)} ms, ${Math.round(own.last_pass.cpu_ms)} ms CPU)` : '';
  return { ...base, ...seen, stale_after_ms: limit, state: 'running', ok: true, detail: `last pass ${Math.round(age / 1000)}s ago${cost}` };
}

/** The town daemon's health: what gt status and gt doctor show, and what gt up acts on. */
export function daemonHealth(town: Town, status: DaemonStatus, now = Date.now()): DaemonHealth {
  let staleAfterMs = 120_000;
  try {
    staleAfterMs = parseDuration(town.config.daemon.stale_after);
  } catch {
    // a town opened without its config: the default
  }
  return judgeDaemon(status, readLease(town.ports.files, town.root), staleAfterMs, now);
}
