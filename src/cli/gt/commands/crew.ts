import type { Command } from 'commander';
import { crewIdentity } from '../../../core/town/identity.js';
import { addCrew } from '../../../core/town/rigs.js';
import { checkRuntime, hookedWork } from '../../../core/town/work.js';
import { notFoundError } from '../../../shared/errors.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';
import { attachTo } from './agents.js';

export default function register(program: Command, ctx: GtContext): void {
  const crew = program.command('crew').description('Crew: named, long-lived workers a person directs, each with its own worktree')
    .addHelpText('after', '\nExamples:\n  gt crew add ada --rig app\n  gt crew list --json\n  gt crew attach ada --rig app');

  crew.command('add <name>').description('Add a crew member: worktree on branch crew/<name>')
    .requiredOption('--rig <rig>', 'the rig')
    .action(action(ctx, async (name: unknown, opts: unknown) => {
      const town = await ctx.town();
      const result = await addCrew(town, (opts as { rig: string }).rig, name as string);
      ctx.emit(result, () => `Added ${result.agent}: worktree ${result.worktree} on ${result.branch}`);
    }));

  crew.command('list').description('List crew members').option('--rig <rig>', 'only this rig').option('--json', 'machine-readable output')
    .action(action(ctx, async (opts: unknown) => {
      const town = await ctx.town();
      const rig = (opts as { rig?: string }).rig;
      const crew = (await town.agents(rig ? { rig } : {})).filter((a) => a.role === 'crew');
      const rows = await Promise.all(crew.map(async (agent) => ({
        agent: agent.address, rig: agent.rig, runtime: agent.runtime ?? town.runtimeFor(crewIdentity(agent.rig as string, agent.name as string)).name,
        session_alive: await town.sessionAlive(agent), hooked: (await hookedWork(town.ledger, agent.address)).map((b) => b.id), worktree: agent.workdir,
      })));
      ctx.emit(rows, () => rows.length === 0 ? 'No crew yet: gt crew add <name> --rig <rig>'
        : table([['AGENT', 'RUNTIME', 'SESSION', 'HOOK', 'WORKTREE'], ...rows.map((r) => [r.agent, r.runtime, r.session_alive ? 'running' : '-', r.hooked.join(',') || '-', r.worktree])]));
    }));

  crew.command('attach <name>').description('Start the crew member\'s session if needed, and attach to it')
    .requiredOption('--rig <rig>', 'the rig').option('--agent <runtime>', 'runtime to start with').option('--backend <backend>', 'tmux (default) or headless')
    .option('--detached', 'start only; do not attach')
    .action(action(ctx, async (name: unknown, opts: unknown) => {
      const options = opts as { rig: string; agent?: string; backend?: string; detached?: boolean };
      const town = await ctx.townForSessions();
      const identity = crewIdentity(options.rig, name as string);
      const agent = await town.agent(identity);
      if (!agent?.active) throw notFoundError(`no crew member ${identity.address}`, `add it with gt crew add ${name as string} --rig ${options.rig}`);
      if (!(await town.sessionAlive(agent))) {
        const runtime = town.runtimeFor(identity, options.agent ?? agent.runtime);
        checkRuntime(runtime, ctx.commandExists);
        await town.startSession(identity, { runtime, backend: town.backendKind(options.backend), hooked: (await hookedWork(town.ledger, identity.address)).length > 0 });
        ctx.err(`Started ${identity.address}`);
      }
      if (!options.detached) return attachTo(ctx, town, identity);
    }));
}
