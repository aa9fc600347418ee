/**
 * The composition root (design §9), part two: what only the full CLI and the
 * daemon need — creating towns, the daemon process,
 * formulas, Beads' JSONL codec, the model server. Part one (the ports, the
 * ledger store, the town) is ./town.ts, re-exported here.
 */
import { join } from 'node:path';
import type { Ledger } from '../core/beads/ledger.js';
import type { InstallPorts } from '../core/town/rigs.js';
import type { DaemonControl, GitPort } from '../core/town/ports.js';
import { CHILDREN_DIR, DAEMON_PIDFILE, TOWN_FILE, TOWN_LEDGER } from '../shared/paths.js';
import { symlinkSync } from 'node:fs';
import { nowTime } from '../shared/time.js';
import { daemonControl } from '../infra/daemon-control.js';
import { Git, reapOrphanGroups } from '../infra/exec.js';
import { acquireLock, nodeTownFiles } from '../infra/files.js';
import type { FormulaLibrary } from '../infra/formulas.js';
import { writeLaunchers } from '../infra/launch.js';
import type * as ModelServerModuleNs from '../infra/model-server.js';
import type * as JsonlModuleNs from '../ledger/jsonl.js';
import { configParsers, isPostgresLocation, loadApart, loadPostgres, openLedger, openLedgerStore, openTown, townLedger } from './town.js';
import type { DoctorContext, DoctorPorts } from '../core/doctor/doctor.js';
import type { Town } from '../core/town/town.js';
import { diskSpace, fileMode, processCommandLines } from '../infra/inspect.js';
import { commandExists, commandVersion, onPath, staleLaunchers } from '../infra/launch.js';
import { townSocket, tmuxServerProbe } from '../infra/tmux.js';
import { checkpointSqliteWal, inspectSqliteLedger } from '../ledger/sqlite/store.js';
import type { DogPorts } from '../core/dogs/dogs.js';
import type { NotifyPort } from '../core/notify/types.js';
import { channelPort } from '../infra/notify/index.js';
import type { TelemetrySink } from '../core/metrics/telemetry.js';
import type { otlpSink as OtlpSink } from '../infra/telemetry.js';

type TelemetryModule = { otlpSink: typeof OtlpSink };
import { parseDuration } from '../shared/duration.js';

export * from './town.js';
export { migrateTownLedger, type LedgerMigration } from './migrate.js';
/** argv that runs this gt (node and its script): what a service file starts. */
export { gtLauncher } from '../infra/launch.js';
export type { FormulaLibrary } from '../infra/formulas.js';
export { writeFileAtomic } from '../infra/fs.js';

type ModelServerModule = typeof ModelServerModuleNs;
type JsonlModule = typeof JsonlModuleNs;

/** What `installTown` needs to create a town at `root` (real files, git, a new ledger). */
export function installPorts(root: string, env: NodeJS.ProcessEnv, opened: (ledger: Ledger) => void): InstallPorts {
  return {
    files: nodeTownFiles,
    git: new Git(env),
    now: nowTime,
    openLedger: async (create, url) => {
      // Without a URL, town.toml is written first and names the town's ledger.
      const ledger = openLedger(url ?? townLedger(root), 'gt', { create });
      opened(ledger);
      return ledger;
    },
    postgresLedger: () => {
      const location = townLedger(root);
      return isPostgresLocation(location) ? location : undefined;
    },
    writeLaunchers: () => void writeLaunchers(root),
  };
}

/**
 * A new town directory for a machine joining a town across hosts (`gt host
 * join`): `.gt/` (runs, logs, launchers) and town.toml, owner-only like gt
 * install makes them. A PostgreSQL ledger is named by `ledger.url` in
 * town.toml; a SQLite ledger file on this same machine (for trying a town
 * across hosts out) is linked as `.gt/ledger.db`, which SQLite follows.
 */
export function createJoinedTownDir(root: string, townToml: string, sqliteLedger: string | undefined): void {
  nodeTownFiles.mkdirp(join(root, '.gt', 'runs'));
  nodeTownFiles.mkdirp(join(root, '.gt', 'logs'));
  nodeTownFiles.chmod(root, 0o700);
  nodeTownFiles.chmod(join(root, '.gt'), 0o700);
  if (sqliteLedger) symlinkSync(sqliteLedger, join(root, TOWN_LEDGER));
  nodeTownFiles.write(join(root, TOWN_FILE), townToml, 0o600);
  writeLaunchers(root);
}

/** The town daemon as a process (gt up, gt down, gt status). */
export function townDaemon(root: string, env: NodeJS.ProcessEnv): DaemonControl {
  return daemonControl(root, env);
}

/** The notification channels (Telegram, email, desktop, webhooks), reading secrets from `env`. */
export function notifyPort(env: NodeJS.ProcessEnv): NotifyPort {
  return channelPort(env);
}

/** The daemon's own lock: its pidfile. Throws when another live daemon holds it. */
export function lockDaemon(root: string): Promise<() => void> {
  return acquireLock(join(root, DAEMON_PIDFILE), 0);
}

/**
 * Ends the process groups (gate commands, merge-queue tests) whose owner died
 * without ending them — a SIGKILLed daemon's test run would otherwise go on.
 */
export function reapOrphans(root: string): Promise<Array<{ pgid: number; command: string }>> {
  return reapOrphanGroups(join(root, CHILDREN_DIR));
}

/** git for edges that make repositories of their own (gt demo's sample project). */
export function gitPort(env: NodeJS.ProcessEnv): GitPort {
  return new Git(env);
}

/** The scripted model server (gt model-server), loaded on demand. */
export async function modelServer(): Promise<ModelServerModule> {
  return import('../infra/model-server.js');
}

/** The formula search path over these folders (then the built-ins); loaded on demand, with its schemas. */
export async function formulaLibrary(dirs: string[]): Promise<FormulaLibrary> {
  const { FormulaLibrary } = await import('../infra/formulas.js');
  return new FormulaLibrary(dirs);
}

/** The OTLP/HTTP exporter of the daemon's telemetry pass (town.toml [telemetry]), loaded only when one is configured. */
export async function telemetrySink(town: Town): Promise<TelemetrySink | undefined> {
  const { otlp_endpoint, service_name, interval } = town.config.telemetry;
  if (!otlp_endpoint) return undefined;
  // The OpenTelemetry SDK is a bundle of its own (dist/gt-otel.cjs): only a daemon that exports parses it.
  const { otlpSink } = await loadApart<TelemetryModule>('gt-otel.cjs', '../infra/telemetry.js', 'otlpSink');
  return otlpSink({ endpoint: otlp_endpoint, serviceName: service_name, town: town.config.name, intervalMs: parseDuration(interval) });
}

/** Beads' JSONL codec (bd export, bd import), loaded on demand. */
export async function jsonlCodec(): Promise<JsonlModule> {
  return import('../ledger/jsonl.js');
}

/** What the daemon's dogs need beyond the town: the JSONL export (bd export's codec and selection). */
export function dogPorts(): DogPorts {
  return {
    async exportLedger(town, path, options) {
      const { issues } = await town.ledger.exportRecords({});
      const { formatIssueLine } = await jsonlCodec();
      const text = issues.map((issue) => `${formatIssueLine(issue)}\n`).join('');
      const changed = nodeTownFiles.read(path) !== text;
      if (changed && options.write) nodeTownFiles.write(path, text);
      return { issues: issues.length, changed };
    },
  };
}

/** What gt doctor reads besides the town: file modes, processes, the ledger file, tmux, commands on PATH, the disk. */
export async function doctorPorts(root: string, env: NodeJS.ProcessEnv): Promise<DoctorPorts> {
  const ledger = townLedger(root);
  const socket = townSocket(root, env);
  const git = new Git(env);
  // A PostgreSQL ledger (issue 19) is inspected once up front (the checks read it synchronously), and again after a migration.
  let ledgerPorts: Pick<DoctorPorts, 'inspectLedger' | 'migrateLedger' | 'checkpointLedgerWal'>;
  if (isPostgresLocation(ledger)) {
    const { inspectPostgresLedger } = await loadPostgres();
    let inspection = await inspectPostgresLedger(ledger);
    ledgerPorts = {
      inspectLedger: () => inspection,
      migrateLedger: async () => {
        const store = openLedgerStore(ledger);
        try {
          await store.schemaVersion();
        } finally {
          await store.close();
        }
        inspection = await inspectPostgresLedger(ledger);
      },
      checkpointLedgerWal: () => undefined,
    };
  } else {
    ledgerPorts = {
      inspectLedger: () => inspectSqliteLedger(ledger),
      migrateLedger: async () => openLedgerStore(ledger).close(),
      checkpointLedgerWal: () => checkpointSqliteWal(ledger),
    };
  }
  return {
    mode: fileMode,
    processCommandLines,
    tmuxSocket: socket,
    env,
    files: nodeTownFiles,
    configParsers: await configParsers(),
    ...ledgerPorts,
    daemon: daemonControl(root, env),
    tmuxServer: () => tmuxServerProbe(socket, env),
    which: (command) => onPath(command, env),
    commandExists: (command) => commandExists(command, env),
    commandVersion: (command) => commandVersion(command, env),
    gitConfig: async (key) => (await git.probe(root, ['config', '--get', key])).stdout.trim() || undefined,
    diskSpace: (path) => diskSpace(path),
    staleLaunchers: () => staleLaunchers(root),
    writeLaunchers: () => void writeLaunchers(root),
    nodeVersion: process.versions.node,
  };
}

/**
 * What gt doctor looks at: the ports, and the town when it opens. A ledger
 * that is missing, damaged or of another schema is not opened (the store would
 * refuse it, or migrate it, and doctor only looks), and town.toml is validated
 * by the checks, not at open: doctor must report a broken town, not stop on it.
 */
export async function openDoctorContext(
  root: string,
  env: NodeJS.ProcessEnv,
  progress: (line: string) => void,
): Promise<DoctorContext & { close(): Promise<void> }> {
  const ports = await doctorPorts(root, env);
  const ledger = ports.inspectLedger();
  let town: Town | undefined;
  let townError: string | undefined;
  const label = ledger.label ?? TOWN_LEDGER;
  if (!ledger.exists) townError = `${label} is missing`;
  else if (ledger.schema_version === undefined) townError = `${label} cannot be read${ledger.error ? `: ${ledger.error}` : ''}`;
  else if (ledger.schema_version !== ledger.latest) townError = `${label} has schema ${ledger.schema_version}, this gt ${ledger.latest}`;
  else {
    try {
      town = await openTown(root, env, env.GT_AGENT || 'human', progress, { lazyConfig: true });
    } catch (error) {
      townError = error instanceof Error ? error.message : String(error);
    }
  }
  return {
    root,
    town,
    ...(townError ? { townError } : {}),
    ports,
    close: async () => {
      await town?.ledger.release();
    },
  };
}
