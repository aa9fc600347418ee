import { runDir } from '../../../shared/paths.js';
import type { Command } from 'commander';
import { permissionOutput, toolRequest } from '../../../core/agents/claude-hooks.js';
import { answerPermission, brokerPermission, decider, permissionLog, permissionRequests } from '../../../core/governance/permissions.js';
import { usageError } from '../../../shared/errors.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';
import { readHookInput } from './signal.js';

const FORMATS = ['claude', 'gemini', 'codex'] as const;

function inputText(input: unknown): string {
  const record = input !== null && typeof input === 'object' ? (input as Record<string, unknown>) : {};
  const text = typeof record.command === 'string' ? record.command : typeof record.file_path === 'string' ? record.file_path : JSON.stringify(input);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

export default function register(program: Command, ctx: GtContext): void {
  const permission = program
    .command('permission')
    .description("The permission broker: agents' requests to run tools, decided by policy or by you")
    .addHelpText(
      'after',
      `
Policy: [permissions] in town.toml and <rig>/rig.toml, e.g.
  [permissions]
  default = "allow"          # when no rule matches: allow | ask | deny
  timeout = "10m"            # an unanswered ask is denied and escalated after this
  [[permissions.rules]]
  action = "ask"
  tool = "Bash"
  command = "npm publish*"
The strictest matching rule wins (deny > ask > allow). Built-in rules deny force pushes and
file writes outside the agent's worktree (builtin_rules = false turns them off).
Requests are answered by a person (a terminal that is no agent's session) or by a leader
(permissions.leaders = ["mayor"] in town.toml); an agent never answers one, its own included.

Examples:
  gt permission list
  gt permission approve hq-4f2a --reason "release day"
  gt permission deny hq-4f2a
  gt permission log --agent app/polecats/nux --json`,
    );

  permission
    .command('list')
    .description('Requests waiting for a person (--all: answered ones too)')
    .option('--all', 'include answered requests')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const town = await ctx.town();
        const rows = await permissionRequests(town, { all: (opts as { all?: boolean }).all === true });
        ctx.emit(rows, () =>
          rows.length === 0
            ? 'No permission requests are waiting.'
            : table([
                ['ID', 'STATUS', 'AGENT', 'TOOL', 'INPUT', 'ASKED'],
                ...rows.map((r) => [
                  r.id,
                  r.decided_by ? `${r.status} (${r.decided_by}${r.decided_via ? `, ${r.decided_via}` : ''})` : r.status,
                  r.agent,
                  r.tool,
                  inputText(r.input),
                  r.created_at,
                ]),
              ]),
        );
      }),
    );

  for (const [name, verb] of [
    ['approve', 'allow'],
    ['deny', 'deny'],
  ] as const) {
    permission
      .command(`${name} <id>`)
      .description(`${name === 'approve' ? 'Allow' : 'Deny'} a waiting request; the agent goes on at once`)
      .option('--reason <text>', 'why (shown to the agent and kept in the audit trail)')
      .option('--json', 'machine-readable output')
      .action(
        action(ctx, async (id: unknown, opts: unknown) => {
          const town = await ctx.town();
          const reason = (opts as { reason?: string }).reason;
          const view = await answerPermission(town, id as string, verb, decider(town, ctx.io.env.GT_AGENT), reason);
          ctx.emit(view, () => `${view.id}: ${view.status} (${view.agent} ${view.tool}: ${inputText(view.input)})`);
        }),
      );
  }

  permission
    .command('log')
    .description('Every decision of the broker: who asked, what, which rule, who decided')
    .option('--agent <address>', 'only this agent')
    .option('--since <time>', 'only decisions at or after this ISO time')
    .option('--json', 'machine-readable output')
    .action(
      action(ctx, async (opts: unknown) => {
        const town = await ctx.town();
        const entries = permissionLog(town, opts as { agent?: string; since?: string });
        ctx.emit(entries, () =>
          entries.length === 0
            ? 'No decisions logged yet.'
            : table([
                ['AT', 'AGENT', 'TOOL', 'INPUT', 'DECISION', 'RULE', 'BY'],
                ...entries.map((e) => [e.at, e.agent, e.tool, inputText(e.input), e.action, e.rule, e.decided_by]),
              ]),
        );
      }),
    );

  permission
    .command('check')
    .description("Decide one tool call from a runtime hook's JSON on stdin (for command hooks: Gemini BeforeTool, Codex PreToolUse)")
    .option('--format <runtime>', `the hook protocol: ${FORMATS.join(', ')}`, 'claude')
    .option('--agent <address>', "as this agent (default: this session's agent)")
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { format: string; agent?: string };
        if (!(FORMATS as readonly string[]).includes(options.format))
          throw usageError(`unknown hook format ${JSON.stringify(options.format)}`, `use one of ${FORMATS.join(', ')}`);
        const identity = await ctx.me(options.agent);
        const town = await ctx.town();
        const input = await readHookInput();
        const run = ctx.io.env.GT_RUN;
        const outcome = await brokerPermission(town, identity, toolRequest(input, ctx.cwd), run ? { runDir: town.path(runDir(run)) } : {});
        ctx.out(JSON.stringify(permissionOutput(outcome, 'PreToolUse', options.format as (typeof FORMATS)[number])));
      }),
    );
}
