/**
 * `town.toml` and `rig.toml`: parsed with smol-toml, validated with zod. Every
 * error names the file, the key and what is allowed, and nothing loads half.
 */
import { parse, stringify, TomlError } from 'smol-toml';
import { z } from 'zod';
import { GtError } from '../../shared/errors.js';
import { NAME_PATTERN } from '../agents/identity.js';

import { DURATION, parseDuration } from '../../shared/duration.js';
import { activeHoursProblems } from '../../shared/active-hours.js';
import { DEFAULT_HEARTBEAT_PROMPT } from '../heartbeat/contract.js';
import { ROUTE_HINT, ROUTE_PATTERN, SEVERITIES, type Severity } from '../comms/routes.js';

const duration = z.string().regex(DURATION, 'a duration such as "30s", "5m" or "1h"');
const agentName = z.string().regex(/^[a-z][a-z0-9_-]*$/, 'an agent name: lowercase letters, digits, - and _');
const backend = z.enum(['auto', 'tmux', 'headless']);

export const ROLE_KEYS = ['mayor', 'crew', 'polecat', 'witness', 'refinery', 'deacon'] as const;

const agentEntry = z.strictObject({
  command: z.string().min(1, 'a command line, e.g. "mybot --yes"'),
  env: z.record(z.string(), z.string()).optional(),
  /** The preset whose behaviour (prompt passing, hooks, readiness) this agent follows. */
  like: z.string().optional(),
});

const roleAgents = z.strictObject(
  Object.fromEntries(ROLE_KEYS.map((k) => [k, agentName.optional()])) as Record<(typeof ROLE_KEYS)[number], z.ZodOptional<typeof agentName>>,
);

/**
 * A daily window (`shared/active-hours.ts`) as town.toml writes it: `{ start = "08:00",
 * end = "24:00", timezone = "local" }`. Its problems carry their key, so the message names
 * e.g. `heartbeat.active_hours.timezone`. Kept as written (rendered back by `gt config`);
 * `parseActiveHours` turns it into a window where it is used.
 */
export const activeHoursSchema = z.strictObject({ start: z.string(), end: z.string(), timezone: z.string().default('local') }).superRefine((value, ctx) => {
  for (const problem of activeHoursProblems(value)) ctx.addIssue({ code: 'custom', path: [problem.key], message: problem.message });
});
export type ActiveHoursConfig = z.infer<typeof activeHoursSchema>;

const decision = z.enum(['allow', 'ask', 'deny']);

/** One permission rule; every given condition must hold for it to match. */
const permissionRule = z.strictObject({
  action: decision,
  /** Tool name, `*` wildcards allowed (`Bash`, `Edit`, `mcp__*`). */
  tool: z.string().min(1).default('*'),
  /** A Bash command pattern, `*` wildcards; it matches when any simple command of the line matches. */
  command: z.string().min(1).optional(),
  /** A file path pattern for tools that touch one (Edit, Write, Read…), relative to the worktree or absolute. */
  path: z.string().min(1).optional(),
  role: z.enum(ROLE_KEYS).optional(),
  reason: z.string().optional(),
});

const permissionsShape = {
  /** When no rule matches. */
  default: decision.optional(),
  /** How long an `ask` waits for a human before it is denied and escalated. */
  timeout: duration.optional(),
  /** gt's own rules: deny force pushes and file writes outside the agent's worktree. */
  builtin_rules: z.boolean().optional(),
  rules: z.array(permissionRule).default([]),
  /** Agents (addresses such as `mayor`) that may answer permission requests like a person; only town.toml's count. */
  leaders: z.array(z.string().min(1)).optional(),
};

const budgets = z.strictObject({
  daily_usd: z.number().positive().optional(),
  daily_tokens: z.number().int().positive().optional(),
  convoy_usd: z.number().positive().optional(),
  convoy_tokens: z.number().int().positive().optional(),
});

const route = z.string().regex(ROUTE_PATTERN, ROUTE_HINT);

const escalation = z
  .strictObject({
    /** An escalation nobody acked for this long is raised again (one severity up, to that severity's routes). */
    stale_after: duration.default('30m'),
    /** How often an unacked escalation is raised again before gt leaves it to the person's inbox. */
    max_reescalations: z.number().int().min(0).max(20).default(2),
    routes: z
      .strictObject(Object.fromEntries(SEVERITIES.map((s) => [s, z.array(route).optional()])) as Record<Severity, z.ZodOptional<z.ZodArray<typeof route>>>)
      .default({}),
  })
  .prefault({});

/** OpenClaw's heartbeat contract (research/peers.md §3); present = on (unless every = "0m"). */
const heartbeat = z.strictObject({
  every: duration.default('30m'),
  /** Who runs the heartbeat turn: the Mayor or a crew member (`<rig>/crew/<name>`). */
  agent: z
    .string()
    .regex(/^(?:mayor|[a-z][a-z0-9_-]{0,39}\/crew\/[a-z][a-z0-9_-]{0,39})$/, 'an agent with a home: "mayor" or "<rig>/crew/<name>"')
    .default('mayor'),
  /** Outside this daily window ticks are skipped (`quiet-hours`). */
  active_hours: activeHoursSchema.optional(),
  /** At most this many characters beside HEARTBEAT_OK and the reply is still an ack. */
  ack_max_chars: z.number().int().min(0).default(300),
  /** Notification routes an alert goes to. */
  notify: z.array(z.string().min(1)).default(['default']),
  prompt: z.string().min(1).default(DEFAULT_HEARTBEAT_PROMPT),
});

/** Memory kept in git (MEMORY.md, memory/YYYY-MM-DD.md) in the homes of the Mayor and crew. */
const memory = z
  .strictObject({
    /** Daily logs older than this many days are rolled into weekly summaries (0 = never). */
    rollup_after_days: z.number().int().min(0).default(14),
  })
  .prefault({});

export const townSchema = z.strictObject({
  name: z.string().min(1),
  default_agent: agentName.default('claude'),
  agents: z.record(agentName, agentEntry).default({}),
  role_agents: roleAgents.default({}),
  /** `pass_env`: secret-named variables every session gets besides what its runtime needs (e.g. GITHUB_TOKEN for gh in agents' work). */
  sessions: z
    .strictObject({
      backend: backend.default('auto'),
      pass_env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')).default([]),
    })
    .default({ backend: 'auto', pass_env: [] }),
  /**
   * `interval`: one pass of the deacon's loops. `stale_after`: a daemon whose lease (renewed every pass) is older is hung;
   * `gt status` and `gt doctor` say so and `gt up` replaces it.
   */
  daemon: z
    .strictObject({ interval: duration.default('5s'), stale_after: duration.default('2m') })
    .default({ interval: '5s', stale_after: '2m' })
    .superRefine((daemon, context) => {
      // Only between two valid durations: a malformed one has its own error.
      if (DURATION.test(daemon.stale_after) && DURATION.test(daemon.interval) && parseDuration(daemon.stale_after) < 2 * parseDuration(daemon.interval))
        context.addIssue({ code: 'custom', path: ['stale_after'], message: `at least two passes (2 × daemon.interval = 2 × ${daemon.interval})` });
    }),
  permissions: z.strictObject(permissionsShape).default({ rules: [] }),
  budgets: budgets.default({}),
  /**
   * Supervision (README "Supervision"). GUPP: an idle agent with work on its hook is woken after `idle_wake`, at most
   * `max_wakes` times, then escalated. `stall_after`: working with no hook event, commit or file change this long is
   * stalled (interrupted and re-primed once, then escalated). A dead or zombie session is restarted after
   * `restart_backoff` (doubled for each further restart); `crash_loop_restarts` restarts within `crash_loop_window`
   * is a crash loop: escalated, no more restarts.
   */
  witness: z
    .strictObject({
      idle_wake: duration.default('60s'),
      max_wakes: z.number().int().min(0).default(3),
      stall_after: duration.default('15m'),
      restart_backoff: duration.default('10s'),
      crash_loop_restarts: z.number().int().min(1, 'at least 1 restart').default(3),
      crash_loop_window: duration.default('10m'),
    })
    .default({ idle_wake: '60s', max_wakes: 3, stall_after: '15m', restart_backoff: '10s', crash_loop_restarts: 3, crash_loop_window: '10m' }),
  /** A convoy younger than `stranded_grace` is not fed or closed by the stranded scan (its work may still be on its way). */
  convoys: z.strictObject({ stranded_grace: duration.default('5m') }).default({ stranded_grace: '5m' }),
  /** Escalations: routes per severity, re-escalation of unacked ones (comms/escalations.ts). */
  escalation,
  heartbeat: heartbeat.optional(),
  memory,
  /** Created by `gt install`; informational. */
  created_at: z.string().optional(),
});

export const rigSchema = z.strictObject({
  name: z.string().regex(NAME_PATTERN, 'a rig name: lowercase letters, digits, - and _'),
  git_url: z.string().min(1),
  default_branch: z.string().min(1),
  prefix: z.string().regex(/^[a-z][a-z0-9]{0,15}$/, 'a short lowercase prefix, e.g. "app"'),
  agent: agentName.optional(),
  role_agents: roleAgents.default({}),
  merge: z
    .strictObject({
      /** The rig's gates, run in this order on every candidate in the integration worktree; empty = skipped. */
      setup: z.string().default(''),
      setup_timeout: duration.default('10m'),
      typecheck: z.string().default(''),
      typecheck_timeout: duration.default('10m'),
      lint: z.string().default(''),
      lint_timeout: duration.default('10m'),
      test: z.string().default(''),
      test_timeout: duration.default('10m'),
      /** Push the merged target branch to the rig's origin. */
      push: z.boolean().default(true),
      /** How many ready requests one candidate takes (1 = one at a time). */
      batch_size: z.number().int().min(1).max(100).default(8),
      /** Each branch goes onto the candidate by rebase (linear history) or by a merge commit. */
      strategy: z.enum(['rebase', 'merge']).default('rebase'),
      /** Anti-starvation: a request waiting this long moves up one priority level, again for each further interval. */
      aging: duration.default('1h'),
      /** "local": the refinery merges; "pr": it pushes the branch and opens a pull request with gh, and a merged PR is a merged request. */
      merge_via: z.enum(['local', 'pr']).default('local'),
    })
    .prefault({}),
  /** Rules checked before the town's; `default` and `timeout` override the town's for this rig. */
  permissions: z.strictObject(permissionsShape).default({ rules: [] }),
  added_at: z.string().optional(),
});

export type TownConfig = z.infer<typeof townSchema>;
export type RigConfig = z.infer<typeof rigSchema>;
export type PermissionRule = z.infer<typeof permissionRule>;
export type PermissionsConfig = TownConfig['permissions'];
export type Decision = z.infer<typeof decision>;
export type EscalationConfig = TownConfig['escalation'];
export type HeartbeatConfig = z.infer<typeof heartbeat>;
export type MemoryConfig = z.infer<typeof memory>;

function keyPath(path: ReadonlyArray<PropertyKey>): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/** Parses and validates TOML text; `file` is only used in messages. */
export function parseConfig<T>(schema: z.ZodType<T>, text: string, file: string): T {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    const where = error instanceof TomlError ? ` at line ${error.line}, column ${error.column}` : '';
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new GtError('validation', `${file}${where}: not valid TOML: ${detail}`, { hint: `fix ${file} (TOML syntax: https://toml.io)` });
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = keyPath(issue?.path ?? []);
  let what = issue?.message ?? 'invalid';
  if (issue?.code === 'unrecognized_keys') what = `unknown key(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  throw new GtError('validation', `${file}: key ${key}: ${what}`, { hint: `fix ${file}; see gt config --help for the allowed keys` });
}

export const parseTownConfig = (text: string, file: string): TownConfig => parseConfig(townSchema, text, file);
export const parseRigConfig = (text: string, file: string): RigConfig => parseConfig(rigSchema, text, file);

export function renderToml(value: Record<string, unknown>): string {
  return `${stringify(value)}\n`;
}

/** Reads `a.b.c` from a parsed config. */
export function getKey(config: Record<string, unknown>, key: string): unknown {
  let node: unknown = config;
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object' || !(part in node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/**
 * Sets `a.b.c` on a copy of the raw TOML object. The value is read as TOML
 * (`true`, `5`, `"x"`, `["a"]`) when it parses, else taken as a string.
 */
export function setKey(raw: Record<string, unknown>, key: string, text: string | undefined): Record<string, unknown> {
  const copy = structuredClone(raw);
  const parts = key.split('.');
  let node = copy;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === undefined) node[part] = {};
    else if (next === null || typeof next !== 'object' || Array.isArray(next)) throw new GtError('validation', `cannot set ${key}: ${part} is not a table`);
    node = node[part] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1] as string;
  if (text === undefined) delete node[last];
  else node[last] = parseValue(text);
  return copy;
}

function parseValue(text: string): unknown {
  try {
    return (parse(`v = ${text}`) as { v: unknown }).v;
  } catch {
    return text;
  }
}

export function parseToml(text: string, file: string): Record<string, unknown> {
  try {
    return parse(text);
  } catch (error) {
    const where = error instanceof TomlError ? ` at line ${error.line}, column ${error.column}` : '';
    throw new GtError('validation', `${file}${where}: not valid TOML`, { hint: `fix ${file}` });
  }
}
