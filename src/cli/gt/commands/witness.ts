import type { Command } from 'commander';
import { witnessPatrol } from '../../../core/agents/witness.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

export default function register(program: Command, ctx: GtContext): void {
  const witness = program
    .command('witness')
    .description('GUPP, enforced: wake idle agents that have work on their hook, restart crashed ones, escalate stalled ones')
    .addHelpText(
      'after',
      `
The daemon (gt up) runs a patrol on every pass. Settings in town.toml:
  [witness]
  idle_wake = "60s"   # an idle agent with hooked work is woken after this
  max_wakes = 3       # wakes or restarts for one bead before it is escalated as stalled

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
