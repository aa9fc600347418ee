/** Commands gt runs for itself: the shell runtime and deferred session control. (The session host is dist/gt-host.cjs: src/bin/gt-host.ts.) */
import type { Command } from 'commander';
import { parseIdentity } from '../../../core/agents/identity.js';
import { runShellAgent } from '../../../core/agents/shell-runner.js';
import { restartSession, stopSession } from '../../../core/agents/sessions.js';
import { action, type GtContext } from '../context.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('run-shell')
    .description("The shell runtime: run the hooked bead's commands, commit, gt done")
    .action(
      action(ctx, async () => {
        const identity = await ctx.me();
        const town = await ctx.town();
        const env: Record<string, string> = {};
        for (const [k, v] of Object.entries(ctx.io.env)) if (v !== undefined) env[k] = v;
        const { code } = await runShellAgent(town, identity, env, (text) => ctx.io.stdout(text));
        return code;
      }),
    );

  const session = program.command('session').description("Stop or restart an agent's session");
  session
    .command('stop <agent>')
    .option('--after-ms <ms>', 'wait first', '0')
    .option('--run <run>', "only if this is still the agent's run")
    .action(
      action(ctx, async (address: unknown, opts: unknown) => {
        const options = opts as { afterMs: string; run?: string };
        await sleep(Number(options.afterMs) || 0);
        const town = await ctx.town();
        const agent = await town.agent(parseIdentity(address as string));
        // A session started since this stop was asked for (a gate opened, a handoff) is not the one to end.
        if (options.run !== undefined && agent?.run !== options.run) return;
        // The agent ended its own work (gt done): a stream-protocol agent may finish its turn and report its usage.
        if (agent) await stopSession(town, agent, agent.state === 'done' ? 'idle' : agent.state, { graceMs: 10_000 });
      }),
    );
  session
    .command('restart <agent>')
    .option('--after-ms <ms>', 'wait first', '0')
    .action(
      action(ctx, async (address: unknown, opts: unknown) => {
        await sleep(Number((opts as { afterMs: string }).afterMs) || 0);
        const town = await ctx.townForSessions();
        const record = await restartSession(town, parseIdentity(address as string));
        ctx.emit(record, () => `Restarted ${record.address} (${record.session})`);
      }),
    );
}
