import type { Command } from 'commander';
import { townDaemon } from '../../../app/index.js';
import { stopAllSessions } from '../../../core/agents/sessions.js';
import { townStatus } from '../../../core/town/status.js';
import { escalationsTable } from './escalate.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('up')
    .description("Start the town daemon (the deacon): it runs every rig's refinery. A second gt up does nothing")
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt up\n  gt status\n  gt down')
    .action(
      action(ctx, async () => {
        // Validate town.toml here, where the error can be shown, not only in the daemon's log.
        const root = (await ctx.town()).root;
        const daemon = townDaemon(root, ctx.io.env);
        if (daemon.status().stale_pidfile) ctx.err(`Removing a stale pidfile (its process is gone).`);
        const now = await daemon.start();
        ctx.emit(now, () => (now.started ? `Started the daemon (pid ${now.pid}); log: ${now.log}` : `The daemon is already running (pid ${now.pid}).`));
      }),
    );

  program
    .command('down')
    .description('Stop the town daemon; with --all also every agent session (worktrees are checkpointed first)')
    .option('--all', 'also stop every agent session, checkpointing their worktrees')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt down\n  gt down --all    # and every agent session, worktrees checkpointed first')
    .action(
      action(ctx, async (opts: unknown) => {
        // gt down waits 30 s for a batch in flight, then kills (the refinery's journal survives that).
        const stopped = await townDaemon(ctx.townRoot(), ctx.io.env).stop(30_000);
        const all = (opts as { all?: boolean }).all ? await stopAllSessions(await ctx.town(), 'gt down --all') : { sessions: [], checkpoints: [] };
        const result = { daemon_stopped: stopped, sessions_stopped: all.sessions, checkpoints: all.checkpoints };
        ctx.emit(result, () =>
          [
            stopped ? 'Stopped the daemon.' : 'The daemon was not running.',
            ...(all.sessions.length ? [`Stopped ${all.sessions.length} session(s): ${all.sessions.join(', ')}`] : []),
          ].join('\n'),
        );
      }),
    );

  program
    .command('status')
    .description('The town at a glance: daemon, rigs, agents, merge queues, open escalations')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt status\n  gt status --json')
    .action(
      action(ctx, async () => {
        const town = await ctx.town();
        const result = await townStatus(town, townDaemon(town.root, ctx.io.env).status());
        const { daemon, beads, agents, rigs } = result;
        ctx.emit(result, () =>
          [
            `Town ${result.town} at ${result.root}`,
            `Daemon: ${daemon.running ? `running (pid ${daemon.pid})` : daemon.stale_pidfile ? 'not running (stale pidfile: gt up replaces it)' : 'not running (gt up)'}`,
            `Agents: ${agents.total} (${agents.running} running)   Beads: ${beads.ready} ready, ${beads.hooked} hooked, ${beads.in_progress} in progress, ${beads.closed} closed`,
            rigs.length ? table([['RIG', 'PREFIX', 'MERGE QUEUE'], ...rigs.map((r) => [r.name, r.prefix, String(r.merge_queue)])]) : 'No rigs yet.',
            ...(result.escalations.length
              ? [
                  '',
                  ctx.style.bold(
                    `Escalations: ${result.escalations.filter((e) => e.state === 'open').length} open, ${result.escalations.filter((e) => e.state === 'acked').length} acked (gt escalations)`,
                  ),
                  escalationsTable(ctx.style, result.escalations),
                ]
              : ['Escalations: none open']),
          ].join('\n'),
        );
      }),
    );
}
