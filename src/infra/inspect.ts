/** What `gt doctor` reads of the machine: file modes and the command lines of processes. */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';

/** Permission bits, or undefined when the path does not exist. */
export function fileMode(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o777;
  } catch {
    return undefined;
  }
}

/**
 * Command lines of the processes this user can see: /proc where there is one
 * (every process's argv, as ps shows it to any local user), else `ps`.
 */
export function processCommandLines(): string[] {
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    const ps = spawnSync('ps', ['-Ao', 'args='], { encoding: 'utf8' });
    return ps.status === 0 ? ps.stdout.split('\n').filter((l) => l !== '') : [];
  }
  const lines: string[] = [];
  for (const pid of pids) {
    try {
      const line = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        .split('\0')
        .filter((w) => w !== '')
        .join(' ');
      if (line) lines.push(line);
    } catch {
      // exited meanwhile
    }
  }
  return lines;
}
