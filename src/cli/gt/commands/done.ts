import type { Command } from 'commander';
import type { Identity } from '../../../core/agents/identity.js';
import { finishWork, handoff, type DoneStatus } from '../../../core/work/work.js';
import { usageError } from '../../../shared/errors.js';
import { action, type GtContext } from '../context.js';

const STATUSES = ['COMPLETED', 'ESCALATED', 'DEFERRED'];

/** done and handoff act for an agent: run by a person outside any session, they need --agent. */
function agentFor(identity: Identity, command: string): Identity {
  if (identity.role !== 'human') return identity;
  throw usageError(
    `gt ${command} acts for an agent, and this is no agent's session (you are ${identity.address})`,
    `name the agent: gt ${command} --agent <address> (see gt agents)`,
  );
}

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('done')
    .description('Finish the hooked work: the branch gets a merge request, the bead goes to the refinery, the worker is freed and its session ends')
    .option('--status <status>', 'COMPLETED (default), ESCALATED (stuck: the dispatcher is told) or DEFERRED (hand the bead back)', 'COMPLETED')
    .option('-m, --message <text>', 'why (for ESCALATED and DEFERRED)')
    .option('--agent <address>', "as this agent (default: this session's agent)")
    .option('--keep-session', 'do not end the session')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt done\n  gt done --status ESCALATED -m "the API key is missing"\n  gt done --status DEFERRED')
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { status: string; message?: string; agent?: string; keepSession?: boolean };
        const status = options.status.toUpperCase();
        if (!STATUSES.includes(status)) throw usageError(`unknown status ${JSON.stringify(options.status)}`, `use ${STATUSES.join(', ')}`);
        const identity = agentFor(await ctx.me(options.agent), 'done');
        const town = await ctx.town();
        const result = await finishWork(town, identity, status as DoneStatus, {
          ...(options.message !== undefined ? { message: options.message } : {}),
          ...(options.keepSession ? { keepSession: true } : {}),
          ...(ctx.io.env.GT_AGENT ? { caller: ctx.io.env.GT_AGENT } : {}),
        });
        ctx.emit(result, () =>
          status === 'COMPLETED'
            ? `Done: ${result.bead} — ${result.commits} commit(s) on ${result.branch}, merge request ${result.merge_request}`
            : `Done (${status}): ${result.bead ?? 'nothing hooked'}${result.checkpoint ? `; work saved on ${result.checkpoint}` : ''}`,
        );
      }),
    );

  program
    .command('handoff')
    .description('Hand off to a fresh session: a note to self, a checkpoint of the worktree, a restart that primes with the note')
    .option('-m, --message <note>', 'where you are and what comes next', '')
    .option('--agent <address>', "as this agent (default: this session's agent)")
    .option('--no-restart', 'save the note and checkpoint only')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  gt handoff -m "tests pass; next: the docs"')
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { message: string; agent?: string; restart?: boolean };
        const identity = agentFor(await ctx.me(options.agent), 'handoff');
        const town = await ctx.townForSessions();
        const result = await handoff(town, identity, options.message || 'Handoff (no note).');
        ctx.emit(
          result,
          () =>
            `Handoff note ${result.message}${result.checkpoint ? `; checkpoint ${result.checkpoint}` : ''}${options.restart === false ? '' : '; restarting the session'}`,
        );
        if (options.restart !== false) town.ports.detached.restartSession(identity.address, 300);
      }),
    );
}
