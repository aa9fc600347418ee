import type { Command } from 'commander';
import { nudgeAgent } from '../../../core/comms/nudge.js';
import { parseIdentity } from '../../../core/agents/identity.js';
import { action, type GtContext } from '../context.js';

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('nudge <agent> <message...>')
    .description('Wake an agent: typed at its prompt when it is idle, else queued for its next turn boundary. Nudges to one agent never interleave')
    .option('--wait <seconds>', 'how long to wait for the next hook event to confirm arrival', '10')
    .option('--no-wait', 'do not wait for confirmation')
    .option('--idle-wait <seconds>', 'how long to wait for a busy agent to go idle before queueing', '10')
    .option('--after-ms <ms>', 'wait this long first (used when a session starts)', '0')
    .option('--raw', 'type the message as is, without the "[nudge from …]" prefix')
    .option('--if-idle', 'only wake an idle agent; do nothing when it is busy (mail already waits for its next turn)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt nudge app/polecats/nux "check your mail"\n  gt nudge mayor "convoy landed" --json')
    .action(
      action(ctx, async (address: unknown, words: unknown, opts: unknown) => {
        const options = opts as { wait: string | boolean; afterMs: string; idleWait: string; raw?: boolean; ifIdle?: boolean };
        const identity = parseIdentity(address as string);
        const town = await ctx.town();
        const me = await ctx.me();
        const result = await nudgeAgent(town, me.address, identity, (words as string[]).join(' '), {
          afterMs: Number(options.afterMs) || 0,
          waitSec: options.wait === false ? 0 : Number(options.wait),
          idleWaitSec: Number(options.idleWait),
          ...(options.raw ? { raw: true } : {}),
          ...(options.ifIdle ? { ifIdle: true } : {}),
        });
        const { delivery, confirmed } = result;
        const how = {
          skipped: 'Busy, not woken:',
          queued: 'Queued for the next turn boundary of',
          stdin: 'Sent to the stdin of',
          typed: 'Typed into the prompt of',
        }[delivery];
        ctx.emit(
          result,
          () =>
            `${how} ${identity.address}${confirmed === true ? '; its next hook event confirmed it' : confirmed === false ? `; no hook event within ${Number(options.wait)}s to confirm it` : ''}`,
        );
      }),
    );
}
