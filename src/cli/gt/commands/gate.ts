import type { Command } from 'commander';
import { endOwnSession } from '../../../core/agents/sessions.js';
import { approveGate, checkGates, listGates } from '../../../core/work/gates.js';
import { resumeGatedWork, waitOnGates, type GateResume } from '../../../core/work/molecule-work.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

export default function register(program: Command, ctx: GtContext): void {
  const gate = program
    .command('gate')
    .description('Gates: beads that hold a step until a person approves, a timer runs out, a bead closes or a command succeeds')
    .addHelpText(
      'after',
      `
Gates come from formula steps ([steps.gate] type = "human" | "timer" | "bead" | "command" |
"gh:run" | "gh:pr"; the GitHub ones need the gh CLI, await_id is the run id or PR number).
A command gate runs only when a person vouched for its command (poured the formula, or installed
it in the town's formulas/), in its rig's refinery worktree with a scrubbed environment; any
other waits for gt gate approve.
The daemon checks them on every pass; a gate past its timeout (other than a timer) is escalated
to the Mayor once. A worker whose next step waits on a gate runs gt gate wait: its session ends
(no tokens burn while it waits) and a fresh one starts at the next step when the gate opens.

Examples:
  gt gate list
  gt gate check --json
  gt gate approve hq-mol-3fa.2 --reason "looks good"
  gt gate wait                      # inside an agent's session`,
    );

  gate
    .command('list')
    .description('Waiting gates (--all: resolved ones too)')
    .option('--all', 'include resolved gates')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const gates = await listGates(await ctx.town(), opts as { all?: boolean });
        ctx.emit(gates, () =>
          gates.length === 0
            ? 'No gates are waiting.'
            : table([
                ['GATE', 'TYPE', 'STATUS', 'WAITS FOR', 'TITLE'],
                ...gates.map((g) => [g.id, g.type, g.escalated ? `${g.status} (escalated)` : g.status, g.command ?? g.await_id ?? g.timeout ?? '-', g.title]),
              ]),
        );
      }),
    );

  gate
    .command('approve <gate>')
    .description('Open a gate now (a human gate, or any gate you decide to wave through)')
    .option('--reason <text>', 'why, kept on the gate')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (id: unknown, opts: unknown) => {
        const town = await ctx.town();
        const view = await approveGate(town, id as string, town.ledger.actor, (opts as { reason?: string }).reason);
        const resumed = await resumeGatedWork(await ctx.townForSessions());
        reportResumed(ctx, resumed);
        ctx.emit({ ...view, resumed }, () => `Gate ${view.id} is open.`);
      }),
    );

  gate
    .command('check')
    .description('Evaluate every waiting gate once (the daemon does this on every pass)')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async () => {
        const town = await ctx.town();
        const env: Record<string, string> = {};
        for (const [k, v] of Object.entries(ctx.io.env)) if (v !== undefined) env[k] = v;
        const outcomes = await checkGates(town, (command) => town.ports.shell.run(command, { cwd: town.root, env, timeoutMs: 60_000 }));
        reportResumed(ctx, await resumeGatedWork(await ctx.townForSessions()));
        ctx.emit(outcomes, () =>
          outcomes.length === 0 ? 'No gates are waiting.' : table([['GATE', 'RESULT', 'DETAIL'], ...outcomes.map((o) => [o.gate, o.result, o.detail])]),
        );
      }),
    );

  gate
    .command('wait')
    .description("Inside an agent's session: the next step waits on a gate, so end this session until it opens")
    .option('--agent <address>', "the waiting agent (default: this session's agent)")
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const identity = await ctx.me((opts as { agent?: string }).agent);
        const town = await ctx.town();
        const wait = await waitOnGates(town, identity);
        // Run in the agent's own session, it ends from outside a moment after this command answered; otherwise now.
        const agent = await town.agent(identity);
        if (agent) await endOwnSession(town, agent, ctx.io.env.GT_AGENT);
        ctx.emit(
          wait,
          () => `Waiting on ${wait.gates.join(', ')}. This session ends now; a fresh one starts at the next step of ${wait.molecule} when the gate opens.`,
        );
      }),
    );
}

function reportResumed(ctx: GtContext, resumed: GateResume[]): void {
  for (const r of resumed)
    ctx.err(r.error ? `warning: could not restart ${r.agent} on ${r.molecule}: ${r.error}` : `${r.agent} restarted on ${r.molecule} (its gate opened).`);
}
