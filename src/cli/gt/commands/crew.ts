import type { Command } from 'commander';
import { startSession } from '../../../core/agents/sessions.js';
import { crewIdentity } from '../../../core/agents/identity.js';
import { addCrew } from '../../../core/town/rigs.js';
import { hookedWork } from '../../../core/work/hooked.js';
import { checkRuntime } from '../../../core/work/work.js';
import { GtError, notFoundError } from '../../../shared/errors.js';
import type { Town } from '../../../core/town/town.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';
import { attachTo } from './agents.js';

/** The rig of the one crew member with this name. */
async function rigOfCrew(town: Town, name: string): Promise<string> {
  const rigs = (await town.agents()).filter((a) => a.role === 'crew' && a.name === name).map((a) => a.rig as string);
  if (rigs.length === 1) return rigs[0] as string;
  if (rigs.length === 0)
    throw notFoundError(`no crew member named ${JSON.stringify(name)}`, 'see gt crew list, or add one with gt crew add <name> --rig <rig>');
  throw new GtError('ambiguous', `crew ${JSON.stringify(name)} exists in rigs ${rigs.join(', ')}`, { hint: 'pass --rig' });
}

export default function register(program: Command, ctx: GtContext): void {
  const crew = program
    .command('crew')
    .description('Crew: named, long-lived workers a person directs, each with its own worktree')
    .addHelpText('after', '\nExamples:\n  gt crew add ada --rig app\n  gt crew list --json\n  gt crew attach ada');

  crew
    .command('add <name>')
    .description('Add a crew member: worktree on branch crew/<name>')
    .requiredOption('--rig <rig>', 'the rig')
    .action(
      action(ctx, async (name: unknown, opts: unknown) => {
        const town = await ctx.town();
        const result = await addCrew(town, (opts as { rig: string }).rig, name as string);
        ctx.emit(result, () => `Added ${result.agent}: worktree ${result.worktree} on ${result.branch}`);
      }),
    );

  crew
    .command('list')
    .description('List crew members')
    .option('--rig <rig>', 'only this rig')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const town = await ctx.town();
        const rig = (opts as { rig?: string }).rig;
        const crew = (await town.agents(rig ? { rig } : {})).filter((a) => a.role === 'crew');
        const rows = await Promise.all(
          crew.map(async (agent) => ({
            agent: agent.address,
            rig: agent.rig,
            runtime: agent.runtime ?? town.runtimeFor(crewIdentity(agent.rig as string, agent.name as string)).name,
            session_alive: await town.sessionAlive(agent),
            hooked: (await hookedWork(town.ledger, agent.address)).map((b) => b.id),
            worktree: agent.workdir,
          })),
        );
        ctx.emit(rows, () =>
          rows.length === 0
            ? 'No crew yet: gt crew add <name> --rig <rig>'
            : table([
                ['AGENT', 'RUNTIME', 'SESSION', 'HOOK', 'WORKTREE'],
                ...rows.map((r) => [r.agent, r.runtime, r.session_alive ? 'running' : '-', r.hooked.join(',') || '-', r.worktree]),
              ]),
        );
      }),
    );

  crew
    .command('attach <name>')
    .description("Start the crew member's session if needed, and attach to it")
    .option('--rig <rig>', 'the rig (needed only when two rigs have crew of that name)')
    .option('--agent <runtime>', 'runtime to start with')
    .option('--backend <backend>', 'tmux (default) or headless')
    .option('--detached', 'start only; do not attach')
    .action(
      action(ctx, async (name: unknown, opts: unknown) => {
        const options = opts as { rig?: string; agent?: string; backend?: string; detached?: boolean };
        const town = await ctx.townForSessions();
        const identity = crewIdentity(options.rig ?? (await rigOfCrew(town, name as string)), name as string);
        const agent = await town.agent(identity);
        if (!agent?.active)
          throw notFoundError(`no crew member ${identity.address}`, `add it with gt crew add ${name as string} --rig ${identity.rig ?? '<rig>'}`);
        if (!(await town.sessionAlive(agent))) {
          const runtime = town.runtimeFor(identity, options.agent ?? agent.runtime);
          checkRuntime(runtime, ctx.runtimeProbe);
          await startSession(town, identity, {
            runtime,
            backend: town.backendKind(options.backend),
            hooked: (await hookedWork(town.ledger, identity.address)).length > 0,
          });
          ctx.err(`Started ${identity.address}`);
        }
        if (!options.detached) return attachTo(ctx, town, identity);
      }),
    );
}
