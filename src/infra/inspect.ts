/** What `gt doctor` reads of the machine: file modes and the command lines of processes. */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';

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

/**
 * The agent this process works for, found from its ancestors: the nearest one
 * started with a non-empty GT_AGENT (an agent's session host, its runtime).
 * A process's starting environment (/proc/<pid>/environ) cannot be changed by
 * its children, so `unset GT_AGENT`, `env -i` or `export -n` in an agent's
 * shell do not make its commands a person's. Undefined for a person's
 * terminal, and where /proc does not exist.
 */
export function inheritedAgent(): string | undefined {
  let pid = process.ppid;
  for (let depth = 0; depth < 64 && pid > 1; depth++) {
    let environ: string;
    let stat: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      return undefined;
    }
    const agent = environ.split('\0').find((entry) => entry.startsWith('GT_AGENT='));
    if (agent && agent.length > 'GT_AGENT='.length) return agent.slice('GT_AGENT='.length);
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return undefined;
}

/** Free and total bytes of the file system holding `path` (statfs); undefined where it cannot be read. */
export function diskSpace(path: string): { free: number; total: number } | undefined {
  try {
    const stats = statfsSync(path);
    return { free: stats.bavail * stats.bsize, total: stats.blocks * stats.bsize };
  } catch {
    return undefined;
  }
}
