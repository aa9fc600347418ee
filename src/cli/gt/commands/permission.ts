import { runDir } from '../../../shared/paths.js';
import type { Command } from 'commander';
import { permissionOutput, toolRequest } from '../../../core/agents/claude-hooks.js';
import { alwaysAllow } from '../../../core/governance/always-allow.js';
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
Each ask is mailed to the asking agent's leader (whoever slung its work, when they may answer;
else the person's inbox). "Always allow" (approve --always) also adds a rule to the rig's policy:
a person's to do, or a leader's when town.toml sets permissions.leaders_always_allow = true.

Examples:
  gt permission list
  gt permission approve hq-4f2a --reason "release day"
  gt permission deny hq-4f2a --reason "use npm run release instead"
  gt permission approve hq-4f2a --always --rule 2     # and add 'allow Bash command "npm publish *"'
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
    const command = permission
      .command(`${name} <id>`)
      .description(`${name === 'approve' ? 'Allow' : 'Deny'} a waiting request; the agent goes on at once`)
      .option(
        '--reason <text>',
        name === 'deny' ? 'what the agent is told (why, or what to do instead); kept in the audit trail' : 'why (kept in the audit trail)',
      )
      .option('--json', 'machine-readable output');
    if (name === 'approve')
      command
        .option(
          '--always',
          "always allow: also add the suggested rule to the rig's policy (rig.toml; town.toml for the Mayor), so the same call is not asked again",
        )
        .option('--rule <n>', 'with --always: which suggested rule (1 = the narrowest; gt permission list --json shows them)', '1');
    command.action(
      action(ctx, async (id: unknown, opts: unknown) => {
        const town = await ctx.town();
        const options = opts as { reason?: string; always?: boolean; rule?: string };
        const who = decider(town, ctx.io.env.GT_AGENT);
        const choice = Number(options.rule ?? '1');
        if (options.always && (!Number.isInteger(choice) || choice < 1))
          throw usageError(`--rule ${JSON.stringify(options.rule)} is not a rule number`, 'use 1, 2, …');
        const view = options.always
          ? await alwaysAllow(town, id as string, who, choice, options.reason)
          : await answerPermission(town, id as string, verb, who, options.reason);
        ctx.emit(
          view,
          () =>
            `${view.id}: ${view.status} (${view.agent} ${view.tool}: ${inputText(view.input)})${view.rule_added ? `\nadded to ${view.rule_added.file}: ${view.rule_added.rule}` : ''}`,
        );
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
