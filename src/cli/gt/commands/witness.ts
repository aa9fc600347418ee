import type { Command } from 'commander';
import { witnessPatrol } from '../../../core/agents/witness.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

export default function register(program: Command, ctx: GtContext): void {
  const witness = program
    .command('witness')
    .description('Supervision: wake idle agents with hooked work, restart dead and zombie sessions, interrupt stalled ones, escalate')
    .addHelpText(
      'after',
      `
The daemon (gt up) runs a patrol on every pass, rig by rig. Settings in town.toml:
  [witness]
  idle_wake = "60s"          # an idle agent with hooked work is woken after this
  max_wakes = 3              # wakes before it is a GUPP violation (escalated)
  stall_after = "15m"        # working with no hook event, commit or file change: stalled
  restart_backoff = "10s"    # before a second restart, doubled for each further one
  crash_loop_restarts = 3    # restarts within crash_loop_window: a crash loop (escalated)
  crash_loop_window = "10m"

Examples:
  gt witness patrol
  gt witness patrol --rig app --json`,
    );
  witness
    .command('patrol')
    .description('One patrol pass now')
    .option('--rig <rig>', 'only this rig')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const town = await ctx.townForSessions();
        const actions = await witnessPatrol(town, opts as { rig?: string });
        ctx.emit(actions, () =>
          actions.length === 0
            ? 'Every agent with hooked work is busy.'
            : table([['AGENT', 'BEAD', 'ACTION', 'DETAIL'], ...actions.map((a) => [a.agent, a.bead, a.action, a.detail])]),
        );
      }),
    );
}
