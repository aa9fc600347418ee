/**
 * The town's processes: the daemon (the deacon) is alive, no lock is left by a
 * dead holder, the town's tmux server answers on its socket, every gt session
 * on it has an owner in the ledger, and work on a hook has a live agent.
 */
import { DAEMON_PIDFILE, GT_DIR } from '../../shared/paths.js';
import { shellQuote } from '../../shared/shell.js';
import { PROBLEM_STATES } from '../agents/agent-state.js';
import { readAgents } from '../agents/supervision.js';
import { daemonHealth, judgeDaemon, readLease, type DaemonHealth } from '../town/daemon-health.js';
import { listed, relativeTo, townConfigOf, townOf, type DoctorCheck, type DoctorContext } from './doctor.js';

export const daemonCheck: DoctorCheck = {
  name: 'daemon',
  title: 'the town daemon (the deacon) is running and its loop turns',
  async run(context) {
    const health = daemonHealthOf(context);
    const log = relativeTo(context.root, health.log);
    switch (health.state) {
      case 'running':
      case 'starting':
        return { status: 'ok', message: `${health.state} (pid ${health.pid ?? '?'}): ${health.detail}` };
      case 'stale':
        return {
          status: 'fail',
          message: `the daemon (pid ${health.pid ?? '?'}) is hung: ${health.detail}; nothing merges, wakes or restarts agents`,
          fix: `gt doctor --fix (or gt up) replaces it; what it was doing is at the end of ${log}`,
        };
      case 'dead':
        return {
          status: 'fail',
          message: `the daemon died: ${DAEMON_PIDFILE} names a process that is gone, so nothing merges finished work, wakes idle agents or restarts crashed ones`,
          fix: `gt doctor --fix (or gt up) starts it again; why it died is at the end of ${log}`,
        };
      default:
        return {
          status: 'warn',
          message: 'the daemon is not running: finished work is not merged and crashed agents are not restarted until it is',
          fix: 'gt up',
          fixable: false,
        };
    }
  },
  /** Only a daemon that died or hung is replaced: one the person stopped (gt down, no pidfile) stays stopped. */
  async repair(context) {
    const health = daemonHealthOf(context);
    if (health.state !== 'dead' && health.state !== 'stale') return [];
    // A hung process may never handle SIGTERM: stop() ends with SIGKILL, as gt up does.
    if (health.state === 'stale') await context.ports.daemon.stop(10_000);
    const now = await context.ports.daemon.start();
    return [`started the daemon again (pid ${now.pid}), replacing a ${health.state === 'stale' ? 'hung' : 'dead'} one`];
  },
};

/** The daemon's health through its lease (daemon-health.ts); a town that cannot be opened gets the default stale_after. */
function daemonHealthOf(context: DoctorContext): DaemonHealth {
  const status = context.ports.daemon.status();
  return context.town ? daemonHealth(context.town, status) : judgeDaemon(status, readLease(context.ports.files, context.root), 120_000, Date.now());
}

/** Lock files whose holder is gone (a killed gt); the next taker replaces them, but they mislead anyone looking. */
function staleLocks(context: DoctorContext): string[] {
  const { files } = context.ports;
  const dir = `${context.root}/${GT_DIR}/locks`;
  return files
    .list(dir)
    .map((name) => `${dir}/${name}`)
    .filter((path) => /^\d+$/.test((files.read(path) ?? '').trim()) && files.lockHolder(path) === undefined);
}

export const staleLocksCheck: DoctorCheck = {
  name: 'stale-locks',
  title: 'no lock is held by a process that is gone',
  async run(context) {
    const stale = staleLocks(context);
    if (stale.length === 0) return { status: 'ok', message: 'no stale lock' };
    const names = stale.map((p) => relativeTo(context.root, p));
    return {
      status: 'warn',
      message: `${stale.length} lock file(s) left by processes that died: ${listed(names)} (the next gt command replaces them)`,
      fix: 'gt doctor --fix removes them (their holders are gone)',
      details: names,
    };
  },
  async repair(context) {
    const stale = staleLocks(context);
    for (const path of stale) context.ports.files.remove(path);
    return stale.map((p) => `removed ${relativeTo(context.root, p)}`);
  },
};

export const tmuxServerCheck: DoctorCheck = {
  name: 'tmux-server',
  title: "the town's tmux server and socket",
  async run(context) {
    const backend = townConfigOf(context).sessions.backend;
    const socket = context.ports.tmuxSocket;
    if (backend === 'headless') return { status: 'ok', message: 'sessions run headless (sessions.backend = "headless"); tmux is not used' };
    const server = await context.ports.tmuxServer();
    if (!server.installed) {
      const fix = { fix: 'install tmux (3.0 or later) to watch and steer agents live, or set sessions.backend = "headless"', fixable: false };
      if (backend === 'tmux') return { status: 'fail', message: 'sessions.backend = "tmux" but tmux is not installed', ...fix };
      return { status: 'warn', message: 'tmux is not installed: agents run headless (no gt attach; gt peek reads logs)', ...fix };
    }
    if (server.running) return { status: 'ok', message: `tmux ${server.version ?? ''} server answers on -L ${socket}`.replace('  ', ' ') };
    if (server.socketExists) {
      return {
        status: 'warn',
        message: `the socket ${server.socketPath} is left from a tmux server that is gone (killed or crashed); the next session starts a new one`,
        fix: 'gt doctor --fix removes the dead socket',
      };
    }
    return { status: 'ok', message: `tmux ${server.version ?? ''} installed; no server yet on -L ${socket} (the first session starts it)`.replace('  ', ' ') };
  },
  async repair(context) {
    const server = await context.ports.tmuxServer();
    if (!server.installed || server.running || !server.socketExists) return [];
    context.ports.files.remove(server.socketPath);
    return [`removed the dead socket ${server.socketPath}`];
  },
};

/** Sessions on the town's tmux server that no active agent of the ledger owns. */
async function orphanSessions(context: DoctorContext): Promise<string[]> {
  const town = townOf(context);
  if (!town.ports.tmuxAvailable) return [];
  const owned = new Set((await town.agents()).filter((a) => a.backend === 'tmux').map((a) => a.session));
  return (await town.ports.backend('tmux').list()).filter((name) => !owned.has(name));
}

/** gt names its sessions `gt-…` (agents/identity.ts): only those are stopped; anything else was started by a person. */
const GT_SESSION = /^gt-[a-z0-9_-]+$/;

export const orphanSessionsCheck: DoctorCheck = {
  name: 'orphan-sessions',
  title: "every session on the town's tmux server belongs to an agent",
  async run(context) {
    const orphans = await orphanSessions(context);
    if (orphans.length === 0) return { status: 'ok', message: 'every session has an agent' };
    const ours = orphans.filter((name) => GT_SESSION.test(name));
    return {
      status: 'warn',
      message: `${orphans.length} session(s) with no agent in the ledger (nuked or never recorded): ${listed(orphans)}`,
      fix: `${ours.length ? 'gt doctor --fix stops the gt-… ones (their worktrees stay); ' : ''}tmux -L ${shellQuote(context.ports.tmuxSocket)} kill-session -t <name> for the others`,
      fixable: ours.length > 0,
      details: orphans,
    };
  },
  async repair(context) {
    const town = townOf(context);
    const ours = (await orphanSessions(context)).filter((name) => GT_SESSION.test(name));
    for (const name of ours) await town.ports.backend('tmux').stop(name);
    return ours.map((name) => `stopped the orphan session ${name}`);
  },
};

export const hookedWorkCheck: DoctorCheck = {
  name: 'hooked-work',
  title: 'every hooked bead belongs to an active agent',
  async run(context) {
    const town = townOf(context);
    const agents = new Set((await town.agents()).map((a) => a.address));
    const hooked = await town.ledger.list({ statuses: ['hooked'], includeEphemeral: true, limit: 0 });
    const orphans = hooked.filter((bead) => !bead.assignee || !agents.has(bead.assignee));
    if (orphans.length === 0) return { status: 'ok', message: `${hooked.length} hooked bead(s), each on an active agent's hook` };
    const lines = orphans.map((b) => `${b.id} (hooked to ${b.assignee ?? 'nobody'})`);
    return {
      status: 'warn',
      message: `${orphans.length} bead(s) on the hook of no active agent, so nobody works on them: ${listed(lines)}`,
      fix: `gt unsling <bead> puts it back to ready; gt sling <bead> <rig> gives it a worker`,
      details: lines,
    };
  },
};

export const agentProblemsCheck: DoctorCheck = {
  name: 'agent-problems',
  title: 'no agent is dead, a zombie, stalled or idling past its work (GUPP)',
  async run(context) {
    const town = townOf(context);
    const readings = await readAgents(town);
    const problems = readings.filter((r) => PROBLEM_STATES.has(r.state)).map((r) => `${r.agent.address} is ${r.state}: ${r.reason}`);
    if (problems.length === 0) return { status: 'ok', message: `${readings.length} agent(s), none in a problem state` };
    const daemon = context.ports.daemon.status().running;
    return {
      status: 'warn',
      message: listed(problems, 3),
      fix: daemon
        ? "the daemon's witness acts on these (restart, interrupt, escalate); gt agents shows them, gt peek <agent> their screen"
        : 'gt up: the witness in the daemon restarts dead and zombie agents and wakes idle ones',
      details: problems,
    };
  },
};

/** The daemon's check is not here: checks.ts runs it last, so --fix starts a daemon only on a town already repaired. */
export const PROCESS_CHECKS: readonly DoctorCheck[] = [staleLocksCheck, tmuxServerCheck, orphanSessionsCheck, hookedWorkCheck, agentProblemsCheck];
