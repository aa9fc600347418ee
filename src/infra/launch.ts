/**
 * How gt starts itself: the `.gt/bin/gt` and `.gt/bin/bd` launchers agents
 * call, detached helpers that outlive the calling command, and `which`.
 */
import { BIN_DIR } from '../shared/paths.js';
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import type { DetachedControl } from '../core/town/ports.js';
import { nodeTownFiles } from './files.js';
import { shellQuote } from '../shared/shell.js';

/** The node binary and the gt script this process runs from. */
export function gtLauncher(): string[] {
  const script = process.argv[1] ? realpathSync(process.argv[1]) : '';
  return [process.execPath, script];
}

/** Writes `.gt/bin/{gt,bd}` when missing or pointing at another install. */
export function writeLaunchers(root: string): string {
  const [node, script] = gtLauncher() as [string, string];
  const bd = join(dirname(script), 'bd.cjs');
  const bin = join(root, BIN_DIR);
  for (const [name, target] of [['gt', script], ['bd', bd]] as const) {
    const text = `#!/bin/sh\n# written by gt: runs this town's gt\nexec ${shellQuote(node)} ${shellQuote(target)} "$@"\n`;
    const path = join(bin, name);
    let current: string | undefined;
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== text) nodeTownFiles.write(path, text, 0o755);
  }
  return join(bin, 'gt');
}

/** The first version number `<command> --version` prints (5 s limit); undefined when none. */
export function commandVersion(command: string, env: NodeJS.ProcessEnv): string | undefined {
  const result = spawnSync(command, ['--version'], { env, encoding: 'utf8', timeout: 5000 });
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
    nudge: (agent, text, options) => gt([
      'nudge', ...(options.afterMs ? ['--after-ms', String(options.afterMs)] : []), ...(options.waitSec !== undefined ? ['--wait', String(options.waitSec)] : []),
      ...(options.idleWaitSec !== undefined ? ['--idle-wait', String(options.idleWaitSec)] : []), ...(options.raw ? ['--raw'] : []), ...(options.ifIdle ? ['--if-idle'] : []),
      '--', agent, text,
    ]),
  };
}

/** True when `command` is an executable path, or found on PATH. No process is spawned. */
export function commandExists(command: string, env: NodeJS.ProcessEnv): boolean {
  const candidates = command.includes('/') ? [command] : (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, command));
  return candidates.some((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
