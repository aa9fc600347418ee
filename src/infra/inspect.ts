/** What `gt doctor` reads of the machine: file modes and the command lines of processes. */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { AGENT_HOST_MARK } from './exec.js';

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
 * What this process's ancestors say about who it works for. `agents` holds the
 * non-empty GT_AGENT of each ancestor, nearest first; `underHost` tells whether
 * one of them is an agent host (a process gt started with GT_AGENT_HOST=1: the
 * town's tmux server, the town and session hosts). Forging the mark only makes
 * a process less trusted; nothing stops the walk, so no process can hide the
 * agent session above it. A process's starting environment (/proc/<pid>/environ)
 * cannot be changed by its children, so `unset GT_AGENT`, `env -i`, `export -n`
 * or `exec env GT_AGENT=other …` in an agent's shell leave the agent's own
 * session above them. Empty where /proc does not exist.
 */
export function agentAncestry(): { agents: string[]; underHost: boolean } {
  const agents: string[] = [];
  let underHost = false;
  let pid = process.ppid;
  for (let depth = 0; depth < 64 && pid > 1; depth++) {
    let environ: string;
    let stat: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
      stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    } catch {
      break;
    }
    const entries = environ.split('\0');
    const agent = entries.find((entry) => entry.startsWith('GT_AGENT='));
    if (agent && agent.length > 'GT_AGENT='.length) agents.push(agent.slice('GT_AGENT='.length));
    if (entries.includes(`${AGENT_HOST_MARK}=1`)) underHost = true;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return { agents, underHost };
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
