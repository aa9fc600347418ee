import type { Command } from 'commander';
import { approveGate, checkGates, listGates } from '../../../core/town/gates.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

export default function register(program: Command, ctx: GtContext): void {
  const gate = program.command('gate').description('Gates: beads that hold a step until a person approves, a timer runs out, a bead closes or a command succeeds')
    .addHelpText('after', `
Gates come from formula steps ([steps.gate] type = "human" | "timer" | "bead" | "command" |
"gh:run" | "gh:pr"; the GitHub ones need the gh CLI, await_id is the run id or PR number).
The daemon checks them on every pass; a gate past its timeout (other than a timer) is escalated
to the Mayor once.

Examples:
  gt gate list
  gt gate check --json
  gt gate approve hq-mol-3fa.2 --reason "looks good"`);

  gate.command('list').description('Waiting gates (--all: resolved ones too)').option('--all', 'include resolved gates').option('--json', 'machine-readable output')
    .action(action(ctx, async (opts: unknown) => {
      const gates = await listGates(await ctx.town(), opts as { all?: boolean });
      ctx.emit(gates, () => (gates.length === 0 ? 'No gates are waiting.' : table([['GATE', 'TYPE', 'STATUS', 'WAITS FOR', 'TITLE'], ...gates.map((g) => [g.id, g.type, g.escalated ? `${g.status} (escalated)` : g.status, g.command ?? g.await_id ?? g.timeout ?? '-', g.title])])));
    }));

  gate.command('approve <gate>').description('Open a gate now (a human gate, or any gate you decide to wave through)')
    .option('--reason <text>', 'why, kept on the gate').option('--json', 'machine-readable output')
    .action(action(ctx, async (id: unknown, opts: unknown) => {
      const town = await ctx.town();
      const view = await approveGate(town, id as string, town.ledger.actor, (opts as { reason?: string }).reason);
      ctx.emit(view, () => `Gate ${view.id} is open.`);
    }));

  gate.command('check').description('Evaluate every waiting gate once (the daemon does this on every pass)').option('--json', 'machine-readable output')
    .action(action(ctx, async () => {
      const town = await ctx.town();
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(ctx.io.env)) if (v !== undefined) env[k] = v;
      const outcomes = await checkGates(town, (command) => town.ports.shell.run(command, { cwd: town.root, env, timeoutMs: 60_000 }));
      ctx.emit(outcomes, () => (outcomes.length === 0 ? 'No gates are waiting.' : table([['GATE', 'RESULT', 'DETAIL'], ...outcomes.map((o) => [o.gate, o.result, o.detail])])));
    }));
}
