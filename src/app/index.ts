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
import { CHILDREN_DIR, DAEMON_PIDFILE, TOWN_LEDGER } from '../shared/paths.js';
import { nowTime } from '../shared/time.js';
import { daemonControl } from '../infra/daemon-control.js';
import { Git, reapOrphanGroups } from '../infra/exec.js';
import { acquireLock, nodeTownFiles } from '../infra/files.js';
import type { FormulaLibrary } from '../infra/formulas.js';
import { writeLaunchers } from '../infra/launch.js';
import type * as ModelServerModuleNs from '../infra/model-server.js';
import type * as JsonlModuleNs from '../ledger/jsonl.js';
import { openLedger } from './town.js';
import type { DoctorPorts } from '../core/doctor/doctor.js';
import { fileMode, processCommandLines } from '../infra/inspect.js';
import { townSocket } from '../infra/tmux.js';
import type { NotifyPort } from '../core/notify/types.js';
import { channelPort } from '../infra/notify/index.js';

export * from './town.js';
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
    openLedger: async (create) => {
      const ledger = openLedger(join(root, TOWN_LEDGER), 'gt', { create });
      opened(ledger);
      return ledger;
    },
    writeLaunchers: () => void writeLaunchers(root),
  };
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

/** Beads' JSONL codec (bd export, bd import), loaded on demand. */
export async function jsonlCodec(): Promise<JsonlModule> {
  return import('../ledger/jsonl.js');
}

/** What gt doctor reads besides the town: file modes, other processes' command lines, the town's tmux socket. */
export function doctorPorts(root: string, env: NodeJS.ProcessEnv): DoctorPorts {
  return { mode: fileMode, processCommandLines, tmuxSocket: townSocket(root, env) };
}
