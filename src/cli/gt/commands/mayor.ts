import type { Command } from 'commander';
import { startSession, stopSession } from '../../../core/agents/sessions.js';
import type { Identity } from '../../../core/agents/identity.js';
import { hookedWork } from '../../../core/work/hooked.js';
import { checkRuntime } from '../../../core/work/work.js';
import { action, type GtContext } from '../context.js';
import { attachTo } from './agents.js';

const MAYOR: Identity = { address: 'mayor', role: 'mayor' };

export default function register(program: Command, ctx: GtContext): void {
  const mayor = program
    .command('mayor')
    .description('The Mayor: your coordinator agent, working in mayor/ with the town default runtime')
    .addHelpText('after', '\nExamples:\n  gt mayor start\n  gt mayor start --agent codex --backend headless\n  gt mayor attach\n  gt mayor stop');

  mayor
    .command('start')
    .description("Start the Mayor's session (no-op if it runs)")
    .option('--agent <runtime>', 'runtime (default: role_agents.mayor, else default_agent)')
    .option('--backend <backend>', 'tmux or headless')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { agent?: string; backend?: string };
        // The Mayor is often a leader (it answers permission requests): it never starts with an agent's environment.
        await ctx.forPeople("starting the Mayor's session");
        const town = await ctx.townForSessions();
        const existing = await town.agent(MAYOR);
        if (existing && (await town.sessionAlive(existing))) {
          ctx.emit({ agent: 'mayor', session: existing.session, started: false }, () => `The Mayor is already running (${existing.session}); gt mayor attach`);
          return;
        }
        const runtime = town.runtimeFor(MAYOR, options.agent);
        checkRuntime(runtime, ctx.runtimeProbe);
        const record = await startSession(town, MAYOR, {
          runtime,
          backend: town.backendKind(options.backend),
          hooked: (await hookedWork(town.ledger, 'mayor')).length > 0,
        });
        ctx.emit(
          { agent: 'mayor', session: record.session, runtime: runtime.name, backend: record.backend, started: true },
          () => `Started the Mayor (${runtime.name}, ${record.backend ?? ''}); gt mayor attach`,
        );
      }),
    );

  mayor
    .command('attach')
    .description("Attach to the Mayor's tmux session")
    .action(action(ctx, async () => attachTo(ctx, await ctx.town(), MAYOR)));

  mayor
    .command('stop')
    .description("Stop the Mayor's session")
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async () => {
        const town = await ctx.town();
        const agent = await town.agent(MAYOR);
        const running = agent ? await town.sessionAlive(agent) : false;
        if (agent && running) await stopSession(town, agent);
        ctx.emit({ agent: 'mayor', stopped: running }, () => (running ? 'Stopped the Mayor' : 'The Mayor was not running'));
      }),
    );
}
