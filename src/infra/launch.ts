/**
 * How gt starts itself: the `.gt/bin/gt` and `.gt/bin/bd` launchers agents
 * call, detached helpers that outlive the calling command, and `which`.
 */
import { BIN_DIR } from '../shared/paths.js';
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync, rmSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { DetachedControl } from '../core/town/ports.js';
import { nodeTownFiles } from './files.js';
import { shellQuote } from '../shared/shell.js';

/** The node binary and the gt script this process runs from. */
export function gtLauncher(): string[] {
  const script = process.argv[1] ? realpathSync(process.argv[1]) : '';
  return [process.execPath, script];
}

/**
 * Runtimes gt's own install pins as devDependencies (its tests and dry runs
 * run them): `npm ci` puts nothing on PATH, and a new town's default agent is
 * `claude` (issue 13).
 */
const PINNED_RUNTIMES = ['claude'];
const PINNED_MARK = "# written by gt: not on PATH, so the version gt's install pins";

/** `<gt install>/node_modules/.bin/<command>` for a runtime gt pins, when it is there. */
export function pinnedRuntime(command: string): string | undefined {
  if (!PINNED_RUNTIMES.includes(command)) return undefined;
  const [, script] = gtLauncher() as [string, string];
  // dist/gt.cjs when built, src/bin/gt.ts when run from source: the install is a level or two up.
  for (let dir = dirname(script), up = 0; up < 3; dir = dirname(dir), up++) {
    const path = join(dir, 'node_modules', '.bin', command);
    if (executable(path)) return path;
  }
  return undefined;
}

/** The text of `.gt/bin/gt` and `.gt/bin/bd` for this install. */
function launcherTexts(): Array<{ name: string; text: string }> {
  const [node, script] = gtLauncher() as [string, string];
  const bd = join(dirname(script), 'bd.cjs');
  return [
    { name: 'gt', target: script },
    { name: 'bd', target: bd },
  ].map(({ name, target }) => ({ name, text: `#!/bin/sh\n# written by gt: runs this town's gt\nexec ${shellQuote(node)} ${shellQuote(target)} "$@"\n` }));
}

/** Launchers that are missing, not executable or running another install (what writeLaunchers would change). */
export function staleLaunchers(root: string): Array<{ name: string; reason: 'missing' | 'not executable' | 'runs another gt' }> {
  const stale: Array<{ name: string; reason: 'missing' | 'not executable' | 'runs another gt' }> = [];
  for (const { name, text } of launcherTexts()) {
    const path = join(root, BIN_DIR, name);
    const current = nodeTownFiles.read(path);
    if (current === undefined) stale.push({ name, reason: 'missing' });
    else if (current !== text) stale.push({ name, reason: 'runs another gt' });
    else if (!executable(path)) stale.push({ name, reason: 'not executable' });
  }
  return stale;
}

/** Writes `.gt/bin/{gt,bd}` when missing or pointing at another install (and a pinned runtime's launcher: see pinnedRuntime). */
export function writeLaunchers(root: string): string {
  const bin = join(root, BIN_DIR);
  for (const { name, text } of launcherTexts()) {
    const path = join(bin, name);
    let current: string | undefined;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== text || !executable(path)) nodeTownFiles.write(path, text, 0o755);
  }
  // Sessions have .gt/bin first on PATH: a pinned runtime missing from the user's PATH is found there.
  for (const command of PINNED_RUNTIMES) {
    const path = join(bin, command);
    const pinned = onPath(command, process.env, bin) ? undefined : pinnedRuntime(command);
    const text = pinned ? `#!/bin/sh\n${PINNED_MARK}\nexec ${shellQuote(pinned)} "$@"\n` : undefined;
    const current = nodeTownFiles.read(path);
    if (text !== undefined && current !== text) nodeTownFiles.write(path, text, 0o755);
    // Once the user has one on PATH, theirs wins: gt's launcher goes (never a file gt did not write).
    if (text === undefined && current?.includes(PINNED_MARK)) rmSync(path, { force: true });
  }
  return join(bin, 'gt');
}

/** The first version number `<command> --version` prints (5 s limit); undefined when none. */
export function commandVersion(command: string, env: NodeJS.ProcessEnv): string | undefined {
  const result = spawnSync(onPath(command, env) ?? pinnedRuntime(command) ?? command, ['--version'], { env, encoding: 'utf8', timeout: 5000 });
  return /(\d+\.\d+(?:\.\d+)?)/.exec(`${result.stdout ?? ''} ${result.stderr ?? ''}`)?.[1];
}

/**
 * The DetachedControl port: each method starts `gt <internal command>` as a
 * detached process that outlives this one (the session-control commands in
 * cli/gt/commands/internal.ts, and gt nudge).
 */
export function detachedControl(root: string, env: Record<string, string>): DetachedControl {
  const gt = (args: string[]) => {
    const [node, script] = gtLauncher() as [string, string];
    const child = spawn(node, [script, ...args], { detached: true, stdio: 'ignore', env: { ...env, GT_ROOT: root } });
    child.unref();
  };
  return {
    stopSession: (agent, afterMs, run) => gt(['session', 'stop', '--after-ms', String(afterMs), ...(run ? ['--run', run] : []), '--', agent]),
    restartSession: (agent, afterMs) => gt(['session', 'restart', '--after-ms', String(afterMs), '--', agent]),
    nudge: (agent, text, options) =>
      gt([
        'nudge',
        ...(options.afterMs ? ['--after-ms', String(options.afterMs)] : []),
        ...(options.waitSec !== undefined ? ['--wait', String(options.waitSec)] : []),
        ...(options.idleWaitSec !== undefined ? ['--idle-wait', String(options.idleWaitSec)] : []),
        ...(options.raw ? ['--raw'] : []),
        ...(options.ifIdle ? ['--if-idle'] : []),
        '--',
        agent,
        text,
      ]),
  };
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where `command` is: an executable path as given, else the first on PATH (but not in `skip`). */
export function onPath(command: string, env: NodeJS.ProcessEnv, skip?: string): string | undefined {
  if (command.includes('/')) return executable(command) ? command : undefined;
  return (env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '' && dir !== skip)
    .map((dir) => join(dir, command))
    .find(executable);
}

/**
 * True when `command` is an executable path, found on PATH, or a runtime gt's
 * install pins (sessions reach it through .gt/bin). No process is spawned.
 */
export function commandExists(command: string, env: NodeJS.ProcessEnv): boolean {
  return onPath(command, env) !== undefined || pinnedRuntime(command) !== undefined;
}
