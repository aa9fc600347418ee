/**
 * The composition root (design §9): the one place that builds gt's ports
 * (git, shell, tmux and headless sessions, files, the clock, detached
 * control), the ledger store, and the town over them. Every edge — `gt`,
 * `bd`, the daemon, the session host, and the feed and dashboard to come —
 * gets its app from here; none constructs a store or reaches into infra/ or
 * ledger/ itself (lint enforces it: see eslint.config.js).
 *
 * Heavy parts load on demand (`await import`): the hot hook commands bundle
 * this file and must not pay for the config schemas or the model server.
 */
import { join } from 'node:path';
import { Ledger } from './core/beads/ledger.js';
import type { LedgerStore } from './core/beads/store.js';
import type { RuntimeProbe } from './core/work/work.js';
import type { InstallPorts } from './core/town/rigs.js';
import type { BackendKind, DaemonControl, SessionBackend, TownFiles } from './core/town/ports.js';
import { Town, type ConfigParsers, type TownPorts } from './core/town/town.js';
import { SqliteLedgerStore } from './ledger/sqlite/store.js';
import { GtError } from './shared/errors.js';
import { DAEMON_PIDFILE, GT_BIN, GT_DIR, SESSIONS_DIR, TMUX_CONF_FILE, TOWN_FILE, TOWN_LEDGER } from './shared/paths.js';
import { nowTime } from './shared/time.js';
import { daemonControl } from './infra/daemon-control.js';
import { Git, Shell } from './infra/exec.js';
import { acquireLock, nodeTownFiles } from './infra/files.js';
import { HeadlessBackend } from './infra/headless.js';
import { commandExists, commandVersion, detachedControl, gtLauncher, writeLaunchers } from './infra/launch.js';
import { TMUX_CONF, TmuxBackend, townSocket } from './infra/tmux.js';
import type * as SessionHostModuleNs from './infra/headless.js';
import type * as ModelServerModuleNs from './infra/model-server.js';

type SessionHostModule = typeof SessionHostModuleNs;
type ModelServerModule = typeof ModelServerModuleNs;

export { findTownRoot, locateLedger, rigPrefix, BEADS_DB_NAME, BEADS_DIR_NAME, type LedgerLocation } from './ledger/locate.js';
export { formatIssueLine, formatMemoryLine, parseJsonl } from './ledger/jsonl.js';
export { FormulaLibrary } from './infra/formulas.js';
export { writeFileAtomic } from './infra/fs.js';
export { gitUserName } from './infra/git.js';
export { commandExists, writeLaunchers } from './infra/launch.js';

/** Files under the town (and the user's own config): the real file system. */
export const townFiles: TownFiles = nodeTownFiles;

/**
 * The ledger store for a location: a SQLite file path, or (with issue 19's
 * backend) a `postgres://` URL. The one factory every edge goes through.
 */
export function openLedgerStore(location: string, options: { create?: boolean } = {}): LedgerStore {
  if (/^postgres(ql)?:\/\//.test(location)) {
    throw new GtError('usage', `the PostgreSQL ledger backend is not built yet (${location.replace(/:[^:@/]*@/, ':***@')})`, { hint: 'use the embedded SQLite ledger (the default) for now' });
  }
  return SqliteLedgerStore.open(location, { create: options.create ?? false });
}

/** A ledger over the store at `location`, acting as `actor` (a function is asked on the first write). */
export function openLedger(location: string, actor: string | (() => string), options: { create?: boolean } = {}): Ledger {
  return new Ledger(openLedgerStore(location, options), { actor });
}

/** Variables that describe the calling agent; a session gets its own, never its parent's. */
const SESSION_VARS = /^(GT_(ROOT|ROLE|RIG|AGENT|RUN|RUNTIME|MERGE_REQUEST)|BD_ACTOR|BEADS_ACTOR|BEADS_DIR|GIT_(AUTHOR|COMMITTER)_(NAME|EMAIL)|TMUX|TMUX_PANE)$/;

export function townPorts(root: string, env: NodeJS.ProcessEnv, progress: (line: string) => void): TownPorts {
  const baseEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined && !SESSION_VARS.test(key)) baseEnv[key] = value;
  const tmuxAvailable = commandExists('tmux', env);
  const backends = new Map<BackendKind, SessionBackend>();
  return {
    files: nodeTownFiles,
    git: new Git(env),
    shell: new Shell(),
    tmuxAvailable,
    backend: (kind) => {
      let backend = backends.get(kind);
      if (!backend) {
        if (kind === 'tmux') {
          if (!tmuxAvailable) throw new GtError('external', 'tmux is not installed', { hint: 'install tmux, or use --backend headless' });
          const conf = join(root, TMUX_CONF_FILE);
          if (nodeTownFiles.isDirectory(join(root, GT_DIR)) && nodeTownFiles.read(conf) !== TMUX_CONF) nodeTownFiles.write(conf, TMUX_CONF);
          backend = new TmuxBackend(townSocket(root, env), conf, baseEnv, gtLauncher());
        } else {
          backend = new HeadlessBackend(join(root, SESSIONS_DIR), gtLauncher(), baseEnv);
        }
        backends.set(kind, backend);
      }
      return backend;
    },
    detached: detachedControl(root, baseEnv),
    gtBin: join(root, GT_BIN),
    baseEnv,
    progress,
    now: nowTime,
  };
}

/** The zod-backed config parsers, loaded on demand (see ConfigParsers). */
export async function configParsers(): Promise<ConfigParsers> {
  const { parseRigConfig, parseTownConfig } = await import('./core/town/config.js');
  return { town: parseTownConfig, rig: parseRigConfig };
}

/**
 * Opens a town. `light` skips loading and validating the config: for the
 * commands hooks run on every turn, which only read and write the ledger.
 */
export async function openTown(root: string, env: NodeJS.ProcessEnv, actor: string, progress: (line: string) => void, options: { light?: boolean } = {}): Promise<Town> {
  const ports = townPorts(root, env, progress);
  if (!nodeTownFiles.exists(join(root, TOWN_FILE))) throw new GtError('not_found', `no town at ${root} (${TOWN_FILE} is missing)`, { hint: 'create one with gt install, or set GT_ROOT' });
  const parsers = options.light ? undefined : await configParsers();
  const path = join(root, TOWN_LEDGER);
  if (!nodeTownFiles.exists(path)) throw new GtError('not_found', `the town ledger ${path} is missing`, { hint: 'repair the town with gt install --force' });
  const ledger = openLedger(path, actor);
  const town = new Town(root, ledger, ports, parsers);
  try {
    if (parsers) void town.config; // validated at load: a broken town.toml stops the command here
  } catch (error) {
    await ledger.release();
    throw error;
  }
  return town;
}

/** What `installTown` needs to create a town at `root` (real files, git, a new ledger). */
export function installPorts(root: string, env: NodeJS.ProcessEnv, opened: (ledger: Ledger) => void): InstallPorts {
  return {
    files: nodeTownFiles, git: new Git(env), now: nowTime,
    openLedger: async (create) => {
      const ledger = openLedger(join(root, TOWN_LEDGER), 'gt', { create });
      opened(ledger);
      return ledger;
    },
    writeLaunchers: () => void writeLaunchers(root),
  };
}

/** Whether runtimes are installed, and their versions: what sling checks before starting one. */
export function runtimeProbe(env: NodeJS.ProcessEnv): RuntimeProbe {
  return { exists: (command) => commandExists(command, env), version: (command) => commandVersion(command, env) };
}

/** The town daemon as a process (gt up, gt down, gt status). */
export function townDaemon(root: string, env: NodeJS.ProcessEnv): DaemonControl {
  return daemonControl(root, env);
}

/** The daemon's own lock: its pidfile. Throws when another live daemon holds it. */
export function lockDaemon(root: string): Promise<() => void> {
  return acquireLock(join(root, DAEMON_PIDFILE), 0);
}

/** git for edges that make repositories of their own (gt demo's sample project). */
export function gitPort(env: NodeJS.ProcessEnv): Git {
  return new Git(env);
}

/** The scripted model server (gt model-server), loaded on demand. */
export async function modelServer(): Promise<ModelServerModule> {
  return import('./infra/model-server.js');
}

/** The session host's process side (src/bin/gt-host.ts). */
export async function sessionHostRuntime(): Promise<SessionHostModule> {
  return import('./infra/headless.js');
}
