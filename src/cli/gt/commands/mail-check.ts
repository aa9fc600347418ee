/** `gt mail check`: what hooks run at a turn boundary (also in the hot bundle). */
import type { Command } from 'commander';
import { Mailbox, renderInjected } from '../../../core/comms/mail.js';
import { action, type GtContext } from '../context.js';

export async function mailCheckCommand(ctx: GtContext, options: { inject?: boolean; agent?: string }): Promise<void> {
  const me = await ctx.me(options.agent);
  const town = await ctx.town({ light: true });
  const mailbox = new Mailbox(town.ledger, me.address);
  if (options.inject) {
    const taken = await mailbox.takePending(me.address);
    ctx.emit(taken, () => renderInjected(me.address, taken));
    return;
  }
  const pending = (await mailbox.inbox(me.address)).filter((m) => !m.delivered);
  ctx.emit({ agent: me.address, pending: pending.length, messages: pending }, () => `${pending.length} undelivered message(s) for ${me.address}`);
}

export function registerCheck(mail: Command, ctx: GtContext): void {
  mail
    .command('check')
    .option('--agent <address>', "act as this agent (default: this session's agent, else human)")
    .description('Undelivered messages; with --inject, print them for the agent and mark them delivered')
    .option('--inject', 'deliver: print as a <system-reminder> block, mark delivered (exactly once)')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        await mailCheckCommand(ctx, opts as { inject?: boolean; agent?: string });
      }),
    );
}
