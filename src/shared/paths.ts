/**
 * Where things live in a town (design §3), relative to its root. The one
 * place that knows the layout: nothing else spells `.gt`.
 */
export const GT_DIR = '.gt';
export const TOWN_FILE = 'town.toml';
export const RIG_FILE = 'rig.toml';
export const TOWN_LEDGER = `${GT_DIR}/ledger.db`;
/** The deacon's pidfile (its lock) and log. */
export const DAEMON_PIDFILE = `${GT_DIR}/daemon.pid`;
export const DAEMON_LOGFILE = `${GT_DIR}/daemon.log`;
/** The last event position the daemon exported over OTLP. */
export const TELEMETRY_CURSOR = `${GT_DIR}/telemetry.cursor`;
/** The deacon's lease: renewed every pass, so a hung daemon is told apart from a busy one (core/town/daemon-health.ts). */
export const DAEMON_LEASE = `${GT_DIR}/daemon.lease`;
/** The `gt` and `bd` launchers agents call. */
export const BIN_DIR = `${GT_DIR}/bin`;
export const GT_BIN = `${BIN_DIR}/gt`;
export const RUNS_DIR = `${GT_DIR}/runs`;
/** Where a pruned run's records (usage, permission decisions) go, so costs and the permission log keep them. */
export const RUNS_ARCHIVE = `${RUNS_DIR}/archive`;
/** gt's own logs besides the daemon's live one: one file per day (the logs dog rotates them). */
export const LOGS_DIR = `${GT_DIR}/logs`;
/** Every dog run and what it did, whoever ran it (the daemon or gt dog run). */
export const DOGS_LOGFILE = `${LOGS_DIR}/dogs.log`;
export const SESSIONS_DIR = `${GT_DIR}/sessions`;
/**
 * The town host (sessions.mode = "in-process"): one process running every headless agent of the
 * town. Its pidfile is its lock; its control socket takes start, send, stop and status; its state
 * file keeps the hook port, so a host started after a crash serves the URLs running agents hold.
 */
export const TOWN_HOST_PIDFILE = `${GT_DIR}/town-host.pid`;
export const TOWN_HOST_SOCKET = `${GT_DIR}/town-host.sock`;
export const TOWN_HOST_STATE = `${GT_DIR}/town-host.json`;
export const TOWN_HOST_LOGFILE = `${GT_DIR}/town-host.log`;
/** The town host's control key (0600): only the town's owner may start, stop or write to its agents. */
export const TOWN_HOST_KEY = `${GT_DIR}/town-host.key`;
export const TMUX_CONF_FILE = `${GT_DIR}/tmux.conf`;
/** Process groups gt started (gates, merge-queue tests), each recorded with its owner: the next daemon ends orphans. */
export const CHILDREN_DIR = `${GT_DIR}/children`;
/** The user's own formulas and settings, beside (not inside) any town. */
export const HOME_GT_DIR = GT_DIR;

/** One agent session's folder: agent.log, run.json, usage, permissions. */
export const runDir = (run: string): string => `${RUNS_DIR}/${run}`;
/** gt-owned runtime settings of one session (passed by flag, never written into the repository). */
export const settingsDir = (session: string): string => `${GT_DIR}/settings/${session}`;
/** A named lock file (worktrees-<rig>, nudge-<session>, refinery-<rig>). */
export const lockFile = (name: string): string => `${GT_DIR}/locks/${name}.lock`;
/** The refinery's journal of the batch in flight (crash recovery). */
export const refineryJournal = (rig: string): string => `${GT_DIR}/refinery/${rig}.json`;
/** The heartbeat's state per agent (last tick, the turn in flight, queued system events). */
export const HEARTBEAT_DIR = `${GT_DIR}/heartbeat`;
/** A crew member's home (MEMORY.md, memory/): a git repository of its own, beside its worktree of the rig's code. */
export const crewHome = (rig: string, name: string): string => `${GT_DIR}/homes/${rig}/crew/${name}`;

/** What town.toml's `ledger.url` takes (the config schema and the hot path's reader say the same). */
export const LEDGER_URL_RULE = 'ledger.url takes a postgres:// or postgresql:// URL, or the path of a SQLite file';
