/**
 * The few git facts the ledger needs. Only infra/ spawns processes.
 */
import { execFileSync } from 'node:child_process';
import { GIT_SAFE_CONFIG } from './exec.js';

/** `git config user.name` as seen from cwd, or undefined when git or the setting is missing. */
export function gitUserName(cwd: string, env: NodeJS.ProcessEnv): string | undefined {
  try {
    const name = execFileSync('git', [...GIT_SAFE_CONFIG, 'config', '--get', 'user.name'], {
      cwd,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
    }).trim();
    return name === '' ? undefined : name;
  } catch {
    return undefined;
  }
}
