/**
 * The composition root, part one (design §9): the ports (git, shell, tmux and
 * headless sessions, files, the clock, detached control), the ledger store,
 * and the town over them. Every edge — `gt`, `bd`, the daemon, the session
 * host, and the feed and dashboard to come — gets its app from src/app/; none
 * constructs a store or reaches into infra/ or ledger/ itself (lint enforces
 * it: see eslint.config.js).
 *
 * This part is what the hot hook commands (prime, signal, hook, mail check)
 * bundle, so it imports nothing heavy: the rest of the root is in index.ts.
 * (esbuild keeps a module whose top level has side effects, such as zod
 * schemas, even when a bundle never calls it: one file would put 500 KB of
 * unused code on every agent turn.)
 */
import { join } from 'node:path';
import { Ledger } from '../core/beads/ledger.js';
import type { LedgerStore } from '../core/beads/store.js';
import type { RuntimeProbe } from '../core/work/work.js';
import type { BackendKind, SessionBackend, TownFiles } from '../core/town/ports.js';
import { Town, type ConfigParsers, type TownPorts } from '../core/town/town.js';
import { SqliteLedgerStore } from '../ledger/sqlite/store.js';
import { LazyPostgresStore, type PostgresModule } from '../ledger/postgres/lazy.js';
import { isPostgresUrl } from '../ledger/postgres/url.js';
import { townLedger } from '../ledger/locate.js';
import { GtError } from '../shared/errors.js';
import { CHILDREN_DIR, GT_BIN, GT_DIR, SESSIONS_DIR, TMUX_CONF_FILE, TOWN_FILE } from '../shared/paths.js';
import { nowTime } from '../shared/time.js';
import { createLogger, type Logger } from '../shared/log.js';
import { Git, Shell } from '../infra/exec.js';
import { nodeTownFiles } from '../infra/files.js';
import { agentAncestry } from '../infra/inspect.js';
import { HeadlessBackend } from '../infra/headless.js';
import { commandExists, commandVersion, detachedControl, gtLauncher } from '../infra/launch.js';
import { insideITerm2 } from '../core/agents/team-mode.js';
import { TMUX_CONF, TmuxBackend, townSocket } from '../infra/tmux.js';
import { TownHostClient } from '../infra/town-host.js';

export { findTownRoot, locateLedger, rigPrefix, townLedger, BEADS_DB_NAME, BEADS_DIR_NAME, type LedgerLocation } from '../ledger/locate.js';
export { isPostgresUrl as isPostgresLocation, maskLedgerUrl } from '../ledger/postgres/url.js';
export { gitUserName } from '../infra/git.js';
export { commandExists, writeLaunchers } from '../infra/launch.js';
/** The session host's process side (src/bin/gt-host.ts), and the town host's. */
export { runSessionHost } from '../infra/headless.js';
export { runTownHost, type HostedHandlers } from '../infra/town-host.js';

/** A logger appending logfmt lines to a file (created with its folder when missing). */
export function fileLogger(path: string): Logger {
  return createLogger((line) => nodeTownFiles.append(path, line));
}

/** Files under the town (and the user's own config): the real file system. */
export const townFiles: TownFiles = nodeTownFiles;

/**
 * A module that is a bundle of its own in the bundled CLI (`dist/<bundle>`, next to this one), so that
 * only the commands that use it parse it; from source (`source`, relative to src/app/), the module. A
 * bundle is required, not imported: the bundles run from V8's code cache through vm.Script on Node 20
 * (src/bin/launch.ts), where an import() needs vm's experimental loader.
 */
export async function loadApart<T extends object>(bundle: string, source: string, has: keyof T): Promise<T> {
  const bundled = typeof __filename === 'string' && __filename.endsWith('.cjs');
  const specifier = bundled ? join(__dirname, bundle) : source;
  const loaded = (
    bundled
      ? // eslint-disable-next-line @typescript-eslint/no-require-imports -- a bundle of its own, chosen at run time
        require(specifier)
      : await import(specifier)
  ) as Partial<T> & { default?: T };
  const module = loaded[has] ? (loaded as T) : loaded.default;
  if (!module?.[has]) throw new Error(`${specifier} has no ${String(has)}`);
  return module;
}

/** The PostgreSQL store's module (dist/gt-pg.cjs, with node-postgres): a SQLite town's start-up never parses the driver. */
export function loadPostgres(): Promise<PostgresModule> {
  return loadApart<PostgresModule>('gt-pg.cjs', '../ledger/postgres/store.js', 'PostgresLedgerStore');
}

/**
 * The ledger store for a location: a SQLite file path, or a `postgres://` URL (issue 19). The
 * one factory every edge goes through. A PostgreSQL store connects on first use.
 */
export function openLedgerStore(location: string, options: { create?: boolean } = {}): LedgerStore {
  if (isPostgresUrl(location)) return new LazyPostgresStore(location, { create: options.create ?? false }, loadPostgres);
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
    shell: new Shell(join(root, CHILDREN_DIR)),
    tmuxAvailable,
    iterm2Available: () => insideITerm2(env) && commandExists('it2', env),
    backend: (kind) => {
      let backend = backends.get(kind);
      if (!backend) {
        if (kind === 'tmux') {
          if (!tmuxAvailable) throw new GtError('external', 'tmux is not installed', { hint: 'install tmux, or use --backend headless' });
          const conf = join(root, TMUX_CONF_FILE);
          if (nodeTownFiles.isDirectory(join(root, GT_DIR)) && nodeTownFiles.read(conf) !== TMUX_CONF) nodeTownFiles.write(conf, TMUX_CONF);
          backend = new TmuxBackend(townSocket(root, env), conf, baseEnv, gtLauncher());
        } else {
          // Each backend of SESSION_BACKENDS is built here (a new one, e.g. kubernetes, gets its branch).
          backend = new HeadlessBackend(join(root, SESSIONS_DIR), gtLauncher(), baseEnv, new TownHostClient(root, gtLauncher(), baseEnv));
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
  const { parseRigConfig, parseTownConfig } = await import('../core/town/config.js');
  return { town: parseTownConfig, rig: parseRigConfig };
}

/**
 * Opens a town. `light` skips loading and validating the config: for the
 * commands hooks run on every turn, which only read and write the ledger.
 * `lazyConfig` loads the parsers but validates on first use (gt doctor).
 */
export async function openTown(
  root: string,
  env: NodeJS.ProcessEnv,
  actor: string,
  progress: (line: string) => void,
  options: { light?: boolean; lazyConfig?: boolean; hostFor?: string } = {},
): Promise<Town> {
  const opened = townPorts(root, env, progress);
  const ports = options.hostFor === undefined ? opened : hostPortsFor(root, opened, options.hostFor);
  if (!nodeTownFiles.exists(join(root, TOWN_FILE)))
    throw new GtError('not_found', `no town at ${root} (${TOWN_FILE} is missing)`, { hint: 'create one with gt install, or set GT_ROOT' });
  const parsers = options.light ? undefined : await configParsers();
  const path = townLedger(root);
  if (!isPostgresUrl(path) && !nodeTownFiles.exists(path))
    throw new GtError('not_found', `the town ledger ${path} is missing`, { hint: 'repair the town with gt install --force' });
  const ledger = openLedger(path, actor);
  const town = new Town(root, ledger, ports, parsers);
  try {
    // Validated at load: a broken town.toml stops the command here (gt doctor asks later, to report it).
    if (parsers && !options.lazyConfig) void town.config;
  } catch (error) {
    await ledger.release();
    throw error;
  }
  return town;
}

/**
 * A host's ports for one of its agents: the control commands it starts for that agent's hooks (the
 * `/compact` a Stop hook asks for, a nudge, a stop) act as that agent, never as a person. They are
 * the host's own children, with no agent above them: only the identity given to them says who they are.
 */
function hostPortsFor(root: string, ports: TownPorts, address: string): TownPorts {
  return { ...ports, detached: detachedControl(root, { ...ports.baseEnv, GT_AGENT: address }) };
}

/**
 * The town host's towns: one ledger store, one set of ports and the config
 * parsers shared by all its agents, and a Town per agent acting as that agent
 * (what each writes is attributed to it, as from a host of its own).
 */
export function openHostTowns(
  root: string,
  env: NodeJS.ProcessEnv,
  progress: (line: string) => void,
): { forAgent: (address: string) => Town; configLoaded: Promise<void>; release: () => Promise<void> } {
  if (!nodeTownFiles.exists(join(root, TOWN_FILE)))
    throw new GtError('not_found', `no town at ${root} (${TOWN_FILE} is missing)`, { hint: 'create one with gt install, or set GT_ROOT' });
  const ports = townPorts(root, env, progress);
  const store = openLedgerStore(townLedger(root));
  // The schemas load beside the first start, not before it: the first agent of a sling waits for the host.
  let parsers: ConfigParsers | undefined;
  const towns: Town[] = [];
  const configLoaded = configParsers().then((loaded) => {
    parsers = loaded;
    for (const town of towns.splice(0)) town.useParsers(loaded);
  });
  // Awaited by each hook, which then fails (closed, for a permission) with the reason; never an unhandled rejection.
  configLoaded.catch(() => undefined);
  return {
    forAgent: (address) => {
      const town = new Town(root, new Ledger(store, { actor: address }), hostPortsFor(root, ports, address), parsers);
      if (!parsers) towns.push(town);
      return town;
    },
    configLoaded,
    release: () => store.close(),
  };
}

/** Whether runtimes are installed, and their versions: what sling checks before starting one. */
export function runtimeProbe(env: NodeJS.ProcessEnv): RuntimeProbe {
  return { exists: (command) => commandExists(command, env), version: (command) => commandVersion(command, env) };
}

/**
 * The environment a gt or bd process acts in (design §9: no agent acts as a
 * person or as another agent). The agent is the outermost one among the
 * process's ancestors: the session gt started. An agent's shell that dropped
 * GT_AGENT (unset, env -i, export -n) is still that agent; one that set another
 * agent's name is refused; a process an agent host runs with no identity at all
 * (a window an agent opened on the town's tmux server) is not a person, and
 * may only run a command that shows (`viewOnly`). A host's own control commands
 * carry the identity of the agent they act for (hostPortsFor).
 */
export function actingEnv(env: NodeJS.ProcessEnv, options: { viewOnly?: boolean } = {}): NodeJS.ProcessEnv {
  const { agents, underHost } = agentAncestry();
  const session = agents.at(-1);
  const own = env.GT_AGENT || undefined;
  if (session !== undefined) {
    if (own !== undefined && own !== session) {
      throw new GtError('conflict', `GT_AGENT says ${own}, but this process runs in ${session}'s session: an agent acts only as itself`, {
        hint: 'leave GT_AGENT as gt set it',
      });
    }
    return { ...env, GT_AGENT: session, BD_ACTOR: session };
  }
  // Looking needs no identity: a person who opened a window on the town's tmux server may still run gt swarm or gt status there.
  if (own === undefined && underHost && !options.viewOnly) {
    throw new GtError(
      'conflict',
      "this process runs under one of gt's agent hosts (the town's tmux server or town host) with no agent identity, so it is not taken for a person",
      {
        hint: "run gt as yourself from your own terminal, outside the town's tmux server",
      },
    );
  }
  return env;
}
