import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { claudeStartHint } from '../../../core/agents/claude-config.js';
import { parseIdentity, type Identity } from '../../../core/agents/identity.js';
import type { AgentRecord, Town } from '../../../core/town/town.js';
import { escalationsByAgent } from '../../../core/comms/escalations.js';
import { readAgents } from '../../../core/agents/supervision.js';
import { peekAgent } from '../../../core/watch/snapshot.js';
import { GtError, notFoundError } from '../../../shared/errors.js';
import { visibleLine } from '../../../shared/text.js';
import { table, type Style } from '../../output.js';
import { action, type GtContext } from '../context.js';

/** Hands the terminal to `tmux attach` until the person detaches. */
export async function attachTo(ctx: GtContext, town: Town, identity: Identity): Promise<number> {
  const agent = await town.agent(identity);
  if (!agent?.active) throw notFoundError(`no agent ${identity.address}`, 'see gt agents');
  if (!(await town.sessionAlive(agent)))
    throw new GtError('conflict', `${identity.address} has no running session`, { hint: 'start one with gt sling, gt crew attach or gt mayor start' });
  const command = agent.backend ? town.ports.backend(agent.backend).attachCommand(agent.session, agent.pane) : undefined;
  if (!command)
    throw new GtError('usage', `${identity.address} runs headless: there is no terminal to attach to`, {
      hint: `read its output with gt peek ${identity.address}`,
    });
  if (!process.stdin.isTTY) throw new GtError('usage', 'attaching needs a terminal', { hint: `run it from a terminal, or: ${command.join(' ')}` });
  const [file, ...args] = command;
  return spawnSync(file as string, args, { stdio: 'inherit' }).status ?? 0;
}

/** Why a session died, as far as its output says: its last non-blank lines. */
async function lastWords(town: Town, agent: AgentRecord): Promise<string[]> {
  if (!agent.backend) return [];
  const text = await peekAgent(town, agent, 200);
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '')
    .slice(-LAST_WORDS);
}

const LAST_WORDS = 6;

/** A state's colour on a terminal: red when someone must look, yellow when it waits, green when it works. */
function stateColour(style: Style): (state: string, text: string) => string {
  return (state, text) => {
    if (state === 'dead' || state === 'stalled' || state === 'zombie' || state === 'gupp-violation' || state === 'host-lost') return style.red(text);
    if (state.startsWith('waiting')) return style.yellow(text);
    if (state === 'working' || state === 'starting') return style.green(text);
    return style.dim(text);
  };
}

function age(iso: string | undefined): string {
  if (!iso) return '-';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 60 ? `${seconds}s ago` : seconds < 3600 ? `${Math.round(seconds / 60)}m ago` : `${Math.round(seconds / 3600)}h ago`;
}

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('agents')
    .description('Every agent: identity, role, rig, runtime, backend, session, hooked bead, last signal')
    .option('--rig <rig>', 'only this rig')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt agents\n  gt agents --rig app --json')
    .action(
      action(ctx, async (opts: unknown) => {
        const town = await ctx.town();
        const rig = (opts as { rig?: string }).rig;
        const escalated = await escalationsByAgent(town);
        const rows = await Promise.all(
          (await readAgents(town, rig ? { rig } : {})).map(async (reading) => {
            const { agent, state } = reading;
            const hooked = reading.hooked.map((b) => b.id);
            return {
              agent: agent.address,
              role: agent.role,
              rig: agent.rig ?? null,
              // A town across hosts: the machine its session runs on.
              host: agent.host ?? null,
              runtime: agent.runtime ?? null,
              backend: agent.backend ?? null,
              session: agent.session,
              // Its own tmux pane (%N) and colour (issue 17): what the swarm view and scripts address it by.
              pane: agent.pane ?? null,
              colour: agent.colour ?? null,
              mode: agent.mode ?? null,
              // It leads a Claude Code agent team (seen from its TeammateIdle/TaskCompleted hook events).
              team_lead: agent.team_lead_at ? { team: agent.team ?? null, last_seen_at: agent.team_lead_at } : null,
              run: agent.run ?? null,
              session_alive: reading.probe.session && reading.probe.process,
              process_alive: reading.probe.process,
              state,
              state_reason: reading.reason,
              hooked,
              supervision: agent.supervision.bead && hooked.includes(agent.supervision.bead) ? agent.supervision : null,
              last_signal: agent.last_signal ?? null,
              last_signal_at: agent.last_signal_at ?? null,
              runtime_session: agent.runtime_session ?? null,
              permission_request: agent.permission_request ?? null,
              // Its work waits on a person: open (or acked) escalations about this agent's work.
              escalations: (escalated.get(agent.address) ?? []).map((e) => ({
                id: e.id,
                severity: e.severity,
                state: e.state,
                subject: e.subject ?? null,
                title: e.title,
              })),
              last_error: agent.last_error ?? null,
              last_error_at: agent.last_error_at ?? null,
              // A dead session says why in its last lines (a runtime that exits at start leaves no signal).
              last_output: state === 'dead' || state === 'zombie' ? await lastWords(town, agent) : null,
            };
          }),
        );
        ctx.emit(rows, () => {
          if (rows.length === 0) return 'No agents yet.';
          const paint = stateColour(ctx.style);
          const hosts = rows.some((r) => r.host !== null);
          const lines = table([
            ['AGENT', ...(hosts ? ['HOST'] : []), 'RUNTIME', 'BACKEND', 'STATE', 'HOOK', 'LAST SIGNAL'],
            ...rows.map((r) => [
              ctx.style.bold(r.agent),
              ...(hosts ? [r.host ?? '-'] : []),
              r.runtime ?? '-',
              r.backend ?? '-',
              paint(
                r.escalations.length ? 'stalled' : r.state,
                r.state === 'waiting-permission' && r.permission_request
                  ? `${r.state} (${r.permission_request})`
                  : r.escalations.length
                    ? `${r.state}, escalated (${r.escalations.map((e) => e.id).join(',')})`
                    : r.state,
              ) + (r.team_lead ? ` (leads team${r.team_lead.team ? ` ${r.team_lead.team}` : ''})` : ''),
              r.hooked.join(',') || '-',
              r.last_signal ? `${r.last_signal} ${age(r.last_signal_at ?? undefined)}` : '-',
            ]),
          ]);
          // A model error that ended a turn is worth a line of its own until the agent signals again.
          const errors = rows
            .filter((r) => r.last_error && r.last_error_at && r.last_error_at >= (r.last_signal_at ?? ''))
            .map((r) => visibleLine(`${r.agent}: last turn failed: ${r.last_error}`));
          const dead = rows
            .filter((r) => r.last_output?.length)
            .map((r) => {
              const output = (r.last_output ?? []).map((l) => visibleLine(l)).join('\n');
              const hint = claudeStartHint(output);
              return `${r.agent}: its session ended; its last lines:\n${output.replace(/^/gm, '  | ')}${hint ? `\n  Hint: ${hint}` : ''}`;
            });
          const escalations = rows.flatMap((r) =>
            r.escalations.map((e) => visibleLine(`${r.agent}: escalated${e.subject ? ` ${e.subject}` : ''} (${e.id}, ${e.severity}, ${e.state}): ${e.title}`)),
          );
          const notes = [...escalations, ...errors, ...dead];
          return notes.length ? `${lines}\n\n${notes.join('\n\n')}` : lines;
        });
      }),
    );

  program
    .command('peek <agent> [lines]')
    .description("The last lines of an agent's session (screen for tmux, log for headless)")
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt peek app/polecats/nux\n  gt peek mayor 100')
    .action(
      action(ctx, async (address: unknown, lines: unknown, _opts: unknown) => {
        const identity = parseIdentity(address as string);
        const town = await ctx.town();
        const agent = await town.agent(identity);
        if (!agent?.backend) throw notFoundError(`${identity.address} has never had a session`);
        const count = lines === undefined ? 40 : Number(lines);
        const text = await peekAgent(town, agent, count);
        if (!(await town.sessionAlive(agent))) {
          const hint = agent.runtime === 'claude' ? claudeStartHint(text) : undefined;
          ctx.err(`${identity.address}: its session is not running; these are the last lines it left${hint ? `\nHint: ${hint}` : ''}`);
        }
        ctx.emit({ agent: identity.address, session: agent.session, text }, () => text.replace(/\n+$/, ''));
      }),
    );

  program
    .command('attach <agent>')
    .description("Attach your terminal to an agent's tmux session (detach with C-b d)")
    .addHelpText('after', '\nExamples:\n  gt attach app/crew/ada')
    .action(action(ctx, async (address: unknown) => attachTo(ctx, await ctx.town(), parseIdentity(address as string))));
}
