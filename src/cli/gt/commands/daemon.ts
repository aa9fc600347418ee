import { openSync, closeSync } from 'node:fs';
import { stopSession } from '../../../core/agents/sessions.js';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { mergeQueue } from '../../../core/merge/refinery.js';
import { checkpoint } from '../../../core/town/worktree.js';
import { processAlive } from '../../../infra/exec.js';
import { nodeTownFiles } from '../../../infra/files.js';
import { gtLauncher } from '../../../infra/launch.js';
import { DAEMON_LOGFILE, DAEMON_PIDFILE } from '../../../infra/town.js';
import { GtError } from '../../../shared/errors.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface DaemonStatus {
  running: boolean;
  pid?: number;
  stale_pidfile?: boolean;
  log: string;
}

function daemonStatus(root: string): DaemonStatus {
  const text = nodeTownFiles.read(join(root, DAEMON_PIDFILE));
  const log = join(root, DAEMON_LOGFILE);
  if (text === undefined) return { running: false, log };
  const pid = Number(text.trim());
  if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) return { running: true, pid, log };
  return { running: false, stale_pidfile: true, log };
}

export default function register(program: Command, ctx: GtContext): void {
  program.command('up').description('Start the town daemon (the deacon): it runs every rig\'s refinery. A second gt up does nothing')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt up\n  gt status\n  gt down')
    .action(action(ctx, async () => {
      // Validate town.toml here, where the error can be shown, not only in the daemon's log.
      const root = (await ctx.town()).root;
      const before = daemonStatus(root);
      if (before.running) {
        ctx.emit({ ...before, started: false }, () => `The daemon is already running (pid ${before.pid}).`);
        return;
      }
      if (before.stale_pidfile) ctx.err(`Removing a stale pidfile (its process is gone).`);
      const [node, script] = gtLauncher() as [string, string];
      nodeTownFiles.mkdirp(join(root, '.gt'));
      const out = openSync(join(root, DAEMON_LOGFILE), 'a');
      const child = spawn(node, [script, 'daemon', 'run'], { cwd: root, detached: true, stdio: ['ignore', out, out], env: { ...ctx.io.env, GT_ROOT: root } });
      child.unref();
      closeSync(out);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const now = daemonStatus(root);
        if (now.running && now.pid === child.pid) {
          ctx.emit({ ...now, started: true }, () => `Started the daemon (pid ${now.pid}); log: ${now.log}`);
          return;
        }
        if (now.running) {
          ctx.emit({ ...now, started: false }, () => `The daemon is already running (pid ${now.pid}).`);
          return;
        }
        if (child.exitCode !== null) break;
        await sleep(50);
      }
      throw new GtError('external', 'the daemon did not start', { hint: `see ${join(root, DAEMON_LOGFILE)}` });
    }));

  program.command('down').description('Stop the town daemon; with --all also every agent session (worktrees are checkpointed first)')
    .option('--all', 'also stop every agent session, checkpointing their worktrees')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt down\n  gt down --all    # and every agent session, worktrees checkpointed first')
    .action(action(ctx, async (opts: unknown) => {
      const root = ctx.townRoot();
      const status = daemonStatus(root);
      let stopped = false;
      if (status.running && status.pid) {
        process.kill(status.pid, 'SIGTERM');
        const deadline = Date.now() + 30_000;
        while (processAlive(status.pid) && Date.now() < deadline) await sleep(50);
        if (processAlive(status.pid)) process.kill(status.pid, 'SIGKILL');
        stopped = true;
      }
      if (status.stale_pidfile) nodeTownFiles.remove(join(root, DAEMON_PIDFILE));
      const sessions: string[] = [];
      const checkpoints: string[] = [];
      if ((opts as { all?: boolean }).all) {
        const town = await ctx.town();
        for (const agent of await town.agents()) {
          if (!(await town.sessionAlive(agent))) continue;
          await stopSession(town, agent);
          sessions.push(agent.address);
          const dir = town.path(agent.workdir);
          if (agent.role !== 'mayor' && nodeTownFiles.exists(join(dir, '.git'))) {
            const saved = await checkpoint(town.ports.git, dir, agent.address, town.ports.now(), 'gt down --all').catch(() => undefined);
            if (saved) checkpoints.push(saved.ref);
          }
        }
      }
      const result = { daemon_stopped: stopped, sessions_stopped: sessions, checkpoints };
      ctx.emit(result, () => [stopped ? 'Stopped the daemon.' : 'The daemon was not running.', ...(sessions.length ? [`Stopped ${sessions.length} session(s): ${sessions.join(', ')}`] : [])].join('\n'));
    }));

  program.command('status').description('The town at a glance: daemon, rigs, agents, merge queues')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt status\n  gt status --json')
    .action(action(ctx, async () => {
      const town = await ctx.town();
      const daemon = daemonStatus(town.root);
      const agents = await town.agents();
      let alive = 0;
      for (const agent of agents) if (await town.sessionAlive(agent)) alive++;
      const rigs = await Promise.all(town.rigNames().map(async (name) => ({ name, prefix: town.rig(name).prefix, merge_queue: (await mergeQueue(town, name)).length })));
      const stats = await town.ledger.stats();
      const result = { town: town.config.name, root: town.root, daemon, rigs, agents: { total: agents.length, running: alive }, beads: { open: stats.open_issues, in_progress: stats.in_progress_issues, hooked: stats.hooked_issues, ready: stats.ready_issues, closed: stats.closed_issues } };
      ctx.emit(result, () => [
        `Town ${result.town} at ${result.root}`,
        `Daemon: ${daemon.running ? `running (pid ${daemon.pid})` : daemon.stale_pidfile ? 'not running (stale pidfile: gt up replaces it)' : 'not running (gt up)'}`,
        `Agents: ${agents.length} (${alive} running)   Beads: ${stats.ready_issues} ready, ${stats.hooked_issues} hooked, ${stats.in_progress_issues} in progress, ${stats.closed_issues} closed`,
        rigs.length ? table([['RIG', 'PREFIX', 'MERGE QUEUE'], ...rigs.map((r) => [r.name, r.prefix, String(r.merge_queue)])]) : 'No rigs yet.',
      ].join('\n'));
    }));
}
