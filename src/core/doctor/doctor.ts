/**
 * `gt doctor`: named checks over a town, each answering ok, warn or fail with
 * a message a person can act on and, where there is one, the fix. A check is
 * one entry of a list (DOCTOR_CHECKS): adding one is one object, nothing else.
 *
 * Checks only look. A check may also carry a `repair`, run by `gt doctor
 * --fix` when the check did not pass: it must be idempotent (a town it already
 * repaired gives it nothing to do, so a second --fix reports no change) and
 * must never destroy work — no worktree, branch, commit, bead or file a person
 * or an agent wrote is removed; only gt's own derived state is rewritten.
 *
 * Doctor runs on a town that may be broken: a ledger that will not open or a
 * town.toml that does not parse leaves `town` (or its config) unusable, and the
 * checks that need it answer `skip`, naming the check that failed instead.
 */
import type { ConfigParsers, Town } from '../town/town.js';
import type { RigConfig, TownConfig } from '../town/config.js';
import type { DaemonControl, TownFiles } from '../town/ports.js';

/** `skip`: the check could not look (what it needs is broken; another check says why). Only `fail` fails doctor. */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

/** What a check found. `details` names the files, rigs or processes it is about. */
export interface CheckOutcome {
  status: CheckStatus;
  message: string;
  /** What to run or change to make it pass. */
  fix?: string;
  /** False when the check has a repair but not for this finding (gt doctor --fix would change nothing). */
  fixable?: boolean;
  details?: string[];
}

/** The town ledger as SQLite sees it, opened read-only and apart from the store (a newer or corrupt file still gets an answer). */
export interface LedgerInspection {
  /** How checks name the ledger (default .gt/ledger.db; a PostgreSQL ledger's URL, password masked). */
  label?: string;
  exists: boolean;
  /** SQLite's user_version; undefined when the file could not be read at all. */
  schema_version?: number;
  /** The schema this gt writes. */
  latest: number;
  /** What `PRAGMA quick_check` and `foreign_key_check` report (empty: healthy). */
  problems: string[];
  /** Why the file could not be opened or read (not a database, unreadable). */
  error?: string;
  /** Size of the write-ahead log in bytes (0 when there is none). */
  wal_bytes: number;
}

/** The town's tmux server: its socket file and whether a server answers on it. */
export interface TmuxServerProbe {
  installed: boolean;
  version?: string;
  /** The socket's path (`$TMUX_TMPDIR/tmux-<uid>/<name>`). */
  socketPath: string;
  socketExists: boolean;
  /** A server answered on the socket. */
  running: boolean;
}

/** What the checks read besides the town's own ports (infra implements them; src/app/index.ts builds them). */
export interface DoctorPorts {
  /** A file's or directory's permission bits (0o777 mask); undefined when it does not exist. */
  mode(path: string): number | undefined;
  /** The command lines (argv joined by spaces) of the processes this user can see. */
  processCommandLines(): string[];
  /** The name of the town's tmux server socket (`tmux -L <name>`). */
  tmuxSocket: string;
  /** The environment gt runs in (PATH, HOME, CLAUDE_CONFIG_DIR, API key variables…). */
  env: Record<string, string | undefined>;
  /** Files, usable when the town itself could not be opened. */
  files: TownFiles;
  /** town.toml's and rig.toml's parsers (a mistake names the file and the key). */
  configParsers: ConfigParsers;
  inspectLedger(): LedgerInspection;
  /** Opens the ledger writable once, which applies pending migrations. */
  migrateLedger(): Promise<void>;
  /** Folds the write-ahead log into the database and truncates it (PRAGMA wal_checkpoint(TRUNCATE)). */
  checkpointLedgerWal(): void;
  daemon: DaemonControl;
  tmuxServer(): Promise<TmuxServerProbe>;
  /** Where `command` is found on PATH (not counting gt's pinned runtimes); undefined when not. */
  which(command: string): string | undefined;
  /** Whether sling can start `command`: on PATH or a runtime gt's install pins. */
  commandExists(command: string): boolean;
  /** The first version number `<command> --version` prints. */
  commandVersion(command: string): string | undefined;
  /** `git config --get <key>` as the town root sees it (global and system config included); undefined when unset. */
  gitConfig(key: string): Promise<string | undefined>;
  /** Free and total bytes of the file system holding `path`. */
  diskSpace(path: string): { free: number; total: number } | undefined;
  /** The `.gt/bin` launchers that are missing or run another gt than this one. */
  staleLaunchers(): Array<{ name: string; reason: 'missing' | 'not executable' | 'runs another gt' }>;
  /** Rewrites `.gt/bin/{gt,bd}` to run this install. */
  writeLaunchers(): void;
  /** The Node.js version running gt. */
  nodeVersion: string;
}

export interface DoctorContext {
  root: string;
  /** Undefined when the town could not be opened (`townError` says why). */
  town: Town | undefined;
  townError?: string;
  ports: DoctorPorts;
}

export interface DoctorCheck {
  /** Stable, kebab-case: `--json` consumers key on it. */
  name: string;
  /** What it looks at, in a few words. */
  title: string;
  run(context: DoctorContext): Promise<CheckOutcome>;
  /**
   * Makes the check pass where that is safe; returns what it did, one line per
   * change (empty: nothing to do). Idempotent; never destroys work.
   */
  repair?(context: DoctorContext): Promise<string[]>;
}

export interface CheckReport extends CheckOutcome {
  check: string;
  title: string;
  /** gt doctor --fix can repair what this check found. */
  fixable: boolean;
  /** With --fix: what was changed (then status and message are the check's answer after the change). */
  fixed?: string[];
}

export interface DoctorReport {
  ok: boolean;
  checks: CheckReport[];
  summary: Record<CheckStatus, number> & { fixed: number };
}

/** Thrown by a check that cannot look because something it needs is broken: reported as `skip`. */
export class NotChecked extends Error {}

/** The town, or a skip naming why it could not be opened. */
export function townOf(context: DoctorContext): Town {
  if (context.town) return context.town;
  throw new NotChecked(`the town could not be opened (${context.townError ?? 'see ledger-schema'})`);
}

/** town.toml, or a skip when it does not parse (config-files says why). */
export function townConfigOf(context: DoctorContext): TownConfig {
  const town = townOf(context);
  try {
    return town.config;
  } catch {
    throw new NotChecked('town.toml does not parse (see config-files)');
  }
}

/** The rigs whose rig.toml parses (config-files reports the others). */
export function rigsOf(context: DoctorContext): Array<{ name: string; config: RigConfig }> {
  const town = townOf(context);
  const rigs: Array<{ name: string; config: RigConfig }> = [];
  for (const name of town.rigNames()) {
    try {
      rigs.push({ name, config: town.rig(name) });
    } catch {
      // config-files names it
    }
  }
  return rigs;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function outcomeOf(check: DoctorCheck, context: DoctorContext): Promise<CheckOutcome> {
  try {
    return await check.run(context);
  } catch (error) {
    if (error instanceof NotChecked) return { status: 'skip', message: `not checked: ${error.message}` };
    return { status: 'fail', message: `the check itself failed: ${errorText(error)}` };
  }
}

/**
 * Runs every check; one that throws is a failed check, not a failed doctor.
 * With `fix`, a check that did not pass and has a repair is repaired and then
 * looked at again, so the report says how the town is now.
 */
export async function runDoctor(context: DoctorContext, checks: readonly DoctorCheck[], options: { fix?: boolean } = {}): Promise<DoctorReport> {
  const reports: CheckReport[] = [];
  for (const check of checks) {
    let outcome = await outcomeOf(check, context);
    let fixed: string[] | undefined;
    if (options.fix && check.repair && (outcome.status === 'warn' || outcome.status === 'fail') && outcome.fixable !== false) {
      try {
        fixed = await check.repair(context);
      } catch (error) {
        fixed = [];
        outcome = { ...outcome, message: `${outcome.message} (the fix failed: ${errorText(error)})` };
      }
      if (fixed.length > 0) {
        // A change to town.toml or rig.toml must be seen by the checks after this one.
        context.town?.reloadConfig();
        outcome = await outcomeOf(check, context);
      }
    }
    const fixable = check.repair !== undefined && (outcome.status === 'warn' || outcome.status === 'fail') && outcome.fixable !== false;
    reports.push({ check: check.name, title: check.title, ...outcome, fixable, ...(fixed?.length ? { fixed } : {}) });
  }
  const summary: DoctorReport['summary'] = { ok: 0, warn: 0, fail: 0, skip: 0, fixed: 0 };
  for (const report of reports) {
    summary[report.status]++;
    summary.fixed += report.fixed?.length ?? 0;
  }
  return { ok: summary.fail === 0, checks: reports, summary };
}

/** Every file under `dir` (recursively), through a file port. */
export function filesUnder(files: TownFiles, dir: string): string[] {
  if (!files.exists(dir)) return [];
  return files.list(dir).flatMap((name) => {
    const path = `${dir}/${name}`;
    return files.isDirectory(path) ? filesUnder(files, path) : [path];
  });
}

/** A path relative to the town root, for messages. */
export function relativeTo(root: string, path: string): string {
  return path === root ? '.' : path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path;
}

/** "3 files: a, b, c, …": a short list for a message (the whole list goes in `details`). */
export function listed(items: string[], max = 4): string {
  return `${items.slice(0, max).join(', ')}${items.length > max ? `, … (${items.length} in all)` : ''}`;
}

export const bytesText = (bytes: number): string =>
  bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(1)} GiB`
    : bytes >= 1024 ** 2
      ? `${(bytes / 1024 ** 2).toFixed(1)} MiB`
      : `${Math.round(bytes / 1024)} KiB`;
