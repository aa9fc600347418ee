import type { Command } from 'commander';
import { dirname } from 'node:path';
import { gtLauncher, townDaemon, townFiles } from '../../../app/index.js';
import { closeSwarmViews } from '../../../app/swarm.js';
import { daemonHealth } from '../../../core/town/daemon-health.js';
import { serviceFile } from '../../../core/town/daemon-service.js';
import { GtError } from '../../../shared/errors.js';
import { stopAllSessions } from '../../../core/agents/sessions.js';
import { action, type GtContext } from '../context.js';
import { TEAM_MODE_ENV } from '../../../core/agents/team-mode.js';

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('up')
    .description("Start the town daemon (the deacon): it runs every rig's refinery and witness. A second gt up does nothing; a hung or dead daemon is replaced")
    .option('--mode <mode>', 'team mode the daemon captures: auto, tmux, iterm2 or in-process (default: town sessions.mode)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt up\n  gt up --mode in-process\n  gt status\n  gt down')
    .action(
      action(ctx, async (opts: unknown) => {
        const mode = (opts as { mode?: string }).mode;
        // The daemon takes this process's environment (PATH, git, runtimes) and acts as a person: never an agent's.
        await ctx.forPeople('starting the town daemon');
        // Validate town.toml here, where the error can be shown, not only in the daemon's log.
        const town = await ctx.town();
        // Refused here, where the error shows, not in the daemon's log; the daemon captures it from its environment.
        if (mode !== undefined) town.teamMode(mode);
        const daemon = townDaemon(town.root, mode === undefined ? ctx.io.env : { ...ctx.io.env, [TEAM_MODE_ENV]: mode });
        const before = daemonHealth(town, daemon.status());
        let recovered: string | undefined;
        if (before.state === 'dead') {
          ctx.err(`The daemon died (pid file left behind): starting a new one.`);
          recovered = 'dead';
        } else if (before.state === 'stale') {
          // Hung: its loop has not turned for stale_after. SIGTERM may never be handled by a stopped process: stop() ends with SIGKILL.
          ctx.err(`The daemon (pid ${before.pid}) is hung: ${before.detail}. Replacing it.`);
          await daemon.stop(10_000);
          recovered = 'stale';
        }
        const now = await daemon.start();
        if (recovered)
          await town.ledger.emit({
            kind: 'daemon.recovered',
            actor: 'deacon',
            payload: {
              was: recovered,
              ...(before.pid ? { previous_pid: before.pid } : {}),
              pid: now.pid,
              ...(before.last_pass_at ? { last_pass_at: before.last_pass_at } : {}),
            },
          });
        const result = { ...now, ...(recovered ? { recovered, previous_pid: before.pid ?? null } : {}) };
        ctx.emit(result, () =>
          now.started
            ? `Started the daemon (pid ${now.pid}); log: ${now.log}${recovered ? ` (replacing a ${recovered === 'stale' ? 'hung' : 'dead'} one)` : ''}`
            : `The daemon is already running (pid ${now.pid}).`,
        );
      }),
    );

  const daemonGroup = program
    .command('daemon')
    .description('The town daemon as a service of your session manager (systemd or launchd), so it survives reboots')
    .addHelpText(
      'after',
      '\nExamples:\n  gt daemon install-service\n  gt daemon install-service --print\n  gt daemon install-service --platform launchd --json',
    );
  daemonGroup
    .command('install-service')
    .description("Write a systemd user unit (Linux) or a launchd agent (macOS) that runs this town's daemon; prints how to enable it")
    .option('--platform <platform>', "systemd or launchd (default: this machine's)")
    .option('--print', 'print the file instead of writing it')
    .option('--force', 'overwrite a file that differs')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
The service runs "gt daemon run" with this town's GT_ROOT and your current PATH; on systemd,
secrets the agents' runtimes need (ANTHROPIC_API_KEY…) go in <town>/.gt/daemon.env (mode 0600).
gt does not enable it: run the commands it prints.

Examples:
  gt daemon install-service
  gt daemon install-service --print
  gt daemon install-service --platform launchd --json`,
    )
    .action(
      action(ctx, async (opts: unknown) => {
        const o = opts as { platform?: string; print?: boolean; force?: boolean };
        // The unit runs the daemon with this process's PATH and HOME after the next reboot: a person's only.
        if (!o.print) await ctx.forPeople('installing the daemon as a service');
        const platform = o.platform ?? (process.platform === 'darwin' ? 'launchd' : 'systemd');
        if (platform !== 'systemd' && platform !== 'launchd')
          throw new GtError('usage', `unknown platform ${JSON.stringify(platform)}`, { hint: 'use systemd or launchd' });
        const town = await ctx.town();
        const home = ctx.io.env.HOME;
        if (!home) throw new GtError('usage', 'HOME is not set: cannot tell where your user services live');
        const service = serviceFile({
          platform,
          root: town.root,
          town: town.config.name,
          launcher: gtLauncher(),
          path: ctx.io.env.PATH ?? '/usr/bin:/bin',
          home,
        });
        const existing = townFiles.read(service.file);
        let written = false;
        if (!o.print) {
          if (existing !== undefined && existing !== service.content && !o.force)
            throw new GtError('conflict', `${service.file} exists and differs`, { hint: 'see it with --print; replace it with --force' });
          if (existing !== service.content) {
            townFiles.mkdirp(dirname(service.file));
            townFiles.write(service.file, service.content, 0o644);
            written = true;
          }
        }
        const result = { ...service, written, printed: o.print === true };
        ctx.emit(result, () =>
          o.print
            ? service.content.replace(/\n$/, '')
            : [
                written ? `Wrote ${service.file}` : `${service.file} is up to date.`,
                'Enable and start it with:',
                ...service.enable.map((c) => `  ${c}`),
                'Remove it later with:',
                ...service.disable.map((c) => `  ${c}`),
              ].join('\n'),
        );
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
        await ctx.forPeople('stopping the town daemon');
        // gt down waits 30 s for a batch in flight, then kills (the refinery's journal survives that).
        const stopped = await townDaemon(ctx.townRoot(), ctx.io.env).stop(30_000);
        const everything = (opts as { all?: boolean }).all === true;
        const town = everything ? await ctx.town() : undefined;
        const all = town ? await stopAllSessions(town, 'gt down --all') : { sessions: [], checkpoints: [] };
        const swarmClosed = town ? await closeSwarmViews(town, ctx.io.env) : false;
        const result = { daemon_stopped: stopped, sessions_stopped: all.sessions, checkpoints: all.checkpoints, swarm_view_closed: swarmClosed };
        ctx.emit(result, () =>
          [
            stopped ? 'Stopped the daemon.' : 'The daemon was not running.',
            ...(all.sessions.length ? [`Stopped ${all.sessions.length} session(s): ${all.sessions.join(', ')}`] : []),
            ...(swarmClosed ? ['Closed the swarm view.'] : []),
          ].join('\n'),
        );
      }),
    );
}
