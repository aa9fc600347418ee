import { spawnSync } from 'node:child_process';
import { relative, sep } from 'node:path';
import type { Command } from 'commander';
import { hideInSwarm, openITermSwarm, openTmuxSwarm, type ITermView, type SwarmState } from '../../../app/swarm.js';
import { parseIdentity } from '../../../core/agents/identity.js';
import { resolveScope } from '../../../core/swarm/view.js';
import type { Town } from '../../../core/town/town.js';
import { GtError } from '../../../shared/errors.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

/** The rig of the current directory (gt swarm with no target inside a rig shows that rig). */
function rigHere(ctx: GtContext, town: Town): string | undefined {
  const path = relative(town.root, ctx.cwd);
  const first = path.split(sep)[0];
  return first && !path.startsWith('..') && town.rigNames().includes(first) ? first : undefined;
}

function tmuxText(ctx: GtContext, state: SwarmState): string {
  const rows = state.panes.map((p) => [p.pane, p.role, p.agent ?? (p.lead ? `(team of ${p.lead})` : '-'), p.colour ?? '-', p.title]);
  const hidden = state.hidden.length ? `\nHidden: ${state.hidden.join(', ')} (gt swarm show <agent>)` : '';
  return `Swarm view ${state.target} (${state.scope}) on tmux -L ${state.socket}\n${table([['PANE', 'ROLE', 'AGENT', 'COLOUR', 'TITLE'], ...rows])}${hidden}`;
}

function itermText(view: ITermView): string {
  const rows = view.panes.map((p) => [p.session, p.agent, p.colour, p.title]);
  return `Swarm view in iTerm2 (leader session ${view.leader})\n${table([['SESSION', 'AGENT', 'COLOUR', 'TITLE'], ...rows])}`;
}

export default function register(program: Command, ctx: GtContext): void {
  const swarm = program
    .command('swarm')
    .argument('[target]', 'a rig or a convoy (default: the rig you are in, else the whole town)')
    .description(
      "The swarm view: one tmux window with the leader (the Mayor, or your shell) on the left at 30% and every agent's own pane tiled on the right, titled name · bead · state and bordered in the agent's colour; the daemon keeps it in step",
    )
    .option('--all', 'every agent of the town')
    .option('--mode <mode>', 'tmux or iterm2 (default: the team mode, sessions.mode)')
    .option('--json', 'print the socket, window and panes (id, agent, colour, title); never attaches')
    .addHelpText(
      'after',
      '\nExamples:\n  gt swarm app              # the agents of rig app\n  gt swarm hq-cv-3           # the agents working on a convoy\n  gt swarm --all --json\n  gt swarm hide app/polecats/nux\n  gt swarm show app/polecats/nux',
    )
    .action(
      action(ctx, async (target: unknown, opts: unknown) => {
        const options = opts as { all?: boolean; mode?: string };
        const town = await ctx.town();
        const scope = await resolveScope(town, target as string | undefined, { ...(options.all ? { all: true } : {}), ...withRig(rigHere(ctx, town)) });
        const mode = town.teamMode(options.mode);
        if (mode === 'in-process')
          throw new GtError('usage', 'team mode in-process has no panes: the agents run headless in the town host', {
            hint: 'watch them with gt feed, gt agents or gt peek <agent>; or run gt swarm --mode tmux',
          });
        if (mode === 'iterm2') {
          const view = await openITermSwarm(town, ctx.io.env, scope);
          ctx.emit(view, () => itermText(view));
          return 0;
        }
        const opened = await openTmuxSwarm(town, ctx.io.env, scope, { show: !ctx.json });
        ctx.emit({ mode, ...opened.state }, () => tmuxText(ctx, opened.state));
        if (ctx.json || !opened.show.command) return 0;
        if (!process.stdin.isTTY) {
          ctx.err(`Not a terminal: attach with ${opened.show.command.join(' ')}`);
          return 0;
        }
        const [file, ...args] = opened.show.command;
        return spawnSync(file as string, args, { stdio: 'inherit', env: ctx.io.env }).status ?? 0;
      }),
    );

  for (const verb of ['hide', 'show'] as const) {
    swarm
      .command(`${verb} <agent>`)
      .description(
        verb === 'hide'
          ? "Take an agent's pane out of the swarm view: it goes back to its own session (gt attach still reaches it), and stays out until shown"
          : 'Bring a hidden agent back into the swarm view',
      )
      .option('--json', 'machine-readable output')
      .action(
        action(ctx, async (agent: unknown) => {
          // The person's view of the agents: no agent rearranges it (hiding itself, or another, from the person).
          await ctx.forPeople(`gt swarm ${verb}`, { leaders: true });
          const town = await ctx.town();
          const address = parseIdentity(agent as string).address;
          if (town.teamMode() === 'iterm2') {
            const view = await openITermSwarm(town, ctx.io.env, undefined, verb === 'hide' ? { hide: address } : { show: address });
            ctx.emit(view, () => itermText(view));
            return 0;
          }
          const states = await hideInSwarm(town, ctx.io.env, address, verb === 'hide');
          ctx.emit(states, () => states.map((s) => tmuxText(ctx, s)).join('\n\n'));
          return 0;
        }),
      );
  }
}

const withRig = (rig: string | undefined) => (rig ? { cwdRig: rig } : {});
