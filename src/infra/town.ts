/**
 * Builds a Town with real ports: git, shell, tmux (a private server per town)
 * and headless sessions, files, and the SQLite ledger. Used by every edge
 * (the CLI and the daemon), so both see the same town the same way.
 */
import { join } from 'node:path';
import { Ledger } from '../core/beads/ledger.js';
import type { BackendKind, SessionBackend } from '../core/town/ports.js';
import { Town, TOWN_FILE, type ConfigParsers, type TownPorts } from '../core/town/town.js';
import { TOWN_LEDGER } from '../ledger/locate.js';
import { SqliteLedgerStore } from '../ledger/sqlite/store.js';
import { GtError } from '../shared/errors.js';
import { nowTime } from '../shared/time.js';
import { Git, Shell } from './exec.js';
import { nodeTownFiles } from './files.js';
import { HeadlessBackend } from './headless.js';
import { commandExists, detachedControl, gtLauncher } from './launch.js';
import { TMUX_CONF, TmuxBackend, townSocket } from './tmux.js';

/** The deacon's pidfile (its lock) and log, relative to the town root. */
export const DAEMON_PIDFILE = join('.gt', 'daemon.pid');
export const DAEMON_LOGFILE = join('.gt', 'daemon.log');

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
          const conf = join(root, '.gt', 'tmux.conf');
          if (nodeTownFiles.isDirectory(join(root, '.gt')) && nodeTownFiles.read(conf) !== TMUX_CONF) nodeTownFiles.write(conf, TMUX_CONF);
          backend = new TmuxBackend(townSocket(root, env), conf, baseEnv, gtLauncher());
        } else {
          backend = new HeadlessBackend(join(root, '.gt', 'sessions'), gtLauncher(), baseEnv);
        }
        backends.set(kind, backend);
      }
      return backend;
    },
    detached: detachedControl(root, baseEnv),
    gtBin: join(root, '.gt', 'bin', 'gt'),
    baseEnv,
    progress,
    now: nowTime,
  };
}

/** The zod-backed config parsers, loaded on demand (see ConfigParsers). */
export async function configParsers(): Promise<ConfigParsers> {
  const { parseRigConfig, parseTownConfig } = await import('../core/town/config.js');
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
  const store = SqliteLedgerStore.open(path, { create: false });
  const town = new Town(root, new Ledger(store, { actor }), ports, parsers);
  try {
    if (parsers) void town.config; // validated at load: a broken town.toml stops the command here
  } catch (error) {
    await store.close();
    throw error;
  }
  return town;
}
