/**
 * `town.toml` and `rig.toml`: parsed with smol-toml, validated with zod. Every
 * error names the file, the key and what is allowed, and nothing loads half.
 */
import { parse, stringify, TomlError } from 'smol-toml';
import { z } from '../../shared/zod.js';
import { GtError } from '../../shared/errors.js';
import { LEDGER_URL_RULE } from '../../shared/paths.js';
import { NAME_PATTERN } from '../agents/identity.js';
import { SESSION_BACKENDS } from './ports.js';
import { TEAM_MODE_SETTINGS } from '../agents/team-mode.js';

import { DURATION, parseDuration } from '../../shared/duration.js';
import { activeHoursProblems, isKnownTimezone } from '../../shared/active-hours.js';
import { NOTIFY_EVENTS, NOTIFY_SETTINGS, SEVERITIES } from '../notify/vocabulary.js';
import { DEFAULT_HEARTBEAT_PROMPT } from '../heartbeat/contract.js';
import { ROUTE_HINT, ROUTE_PATTERN, SEVERITIES as ESCALATION_SEVERITIES, type Severity as EscalationSeverity } from '../comms/routes.js';

const duration = z.string().regex(DURATION, 'a duration such as "30s", "5m", "1h" or "7d"');
const agentName = z.string().regex(/^[a-z][a-z0-9_-]*$/, 'an agent name: lowercase letters, digits, - and _');
const backend = z.enum(['auto', ...SESSION_BACKENDS]);

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

const severity = z.enum(SEVERITIES);
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');
const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day "HH:MM"');

const channelCommon = {
  /** Town events this channel gets (see NOTIFY_EVENTS); [] for none. */
  events: z.array(z.enum(NOTIFY_EVENTS)).optional(),
  /** Subscribed events below this severity are not sent here (routed notifications always are). */
  min_severity: severity.default('info'),
  /** The route "default" (heartbeat.notify, escalation routes "notify:default") means the channels marked so, or every channel when none is. */
  default: z.boolean().default(false),
  /** At most `count` messages per `per` (more wait, in order). */
  rate_limit: z.strictObject({ count: z.number().int().positive(), per: duration }).default({ count: 20, per: '1m' }),
};

/** A secret is given by value or, better, by the name of the variable holding it (`*_env`); never both. */
function oneSecret<T extends Record<string, unknown>>(value: T, ctx: z.RefinementCtx, key: string, required: boolean): void {
  const given = value[key] !== undefined;
  const byEnv = value[`${key}_env`] !== undefined;
  if (given && byEnv) ctx.addIssue({ code: 'custom', path: [`${key}_env`], message: `give ${key} or ${key}_env, not both` });
  else if (required && !given && !byEnv)
    ctx.addIssue({ code: 'custom', path: [key], message: `missing: set ${key}_env to the variable holding it (or ${key})` });
}

const telegramChannel = z
  .strictObject({
    type: z.literal('telegram'),
    token: z.string().min(1).optional(),
    token_env: envName.optional(),
    chat_id: z.union([z.string().regex(/^(-?\d+|@\w+)$/, 'a chat id (digits, or @channelname)'), z.number().int()]),
    api_base: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).default('https://api.telegram.org'),
    /** Permission asks and escalations arrive with Approve / Deny / Ack buttons, answered by the daemon's getUpdates poll. */
    buttons: z.boolean().default(true),
    ...channelCommon,
  })
  .superRefine((v, ctx) => oneSecret(v, ctx, 'token', true));

const emailChannel = z
  .strictObject({
    type: z.literal('email'),
    /** `smtp://user:pass@host:587` or `smtps://…`; or host/port/secure/user/password(_env). */
    smtp_url: z
      .string()
      .regex(/^smtps?:\/\//, 'an smtp:// or smtps:// URL')
      .optional(),
    smtp_url_env: envName.optional(),
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    secure: z.boolean().optional(),
    user: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    password_env: envName.optional(),
    from: z.string().min(3, 'a sender address'),
    to: z.union([z.string().min(3), z.array(z.string().min(3)).min(1)]),
    ...channelCommon,
  })
  .superRefine((v, ctx) => {
    oneSecret(v, ctx, 'smtp_url', false);
    oneSecret(v, ctx, 'password', false);
    const url = v.smtp_url !== undefined || v.smtp_url_env !== undefined;
    if (!url && v.host === undefined) ctx.addIssue({ code: 'custom', path: ['host'], message: 'missing: set smtp_url (or smtp_url_env), or host' });
    if (url && v.host !== undefined) ctx.addIssue({ code: 'custom', path: ['host'], message: 'give smtp_url or host, not both' });
  });

const desktopChannel = z.strictObject({ type: z.literal('desktop'), ...channelCommon });

const webhookChannel = z
  .strictObject({
    type: z.literal('webhook'),
    /** The URL often is the secret (Slack, Discord): url_env keeps it out of town.toml. */
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).optional(),
    url_env: envName.optional(),
    /** The JSON's shape: gt's own (plain), Slack's or Discord's incoming webhook, or an ntfy topic URL. */
    format: z.enum(['plain', 'slack', 'discord', 'ntfy']).default('plain'),
    /** Extra headers, e.g. ntfy's { Title = "gt" }; a header holding a secret goes in headers_env (header → variable name). */
    headers: z.record(z.string(), z.string()).default({}),
    headers_env: z.record(z.string(), envName).default({}),
    ...channelCommon,
  })
  .superRefine((v, ctx) => oneSecret(v, ctx, 'url', true));

export const notifyChannelSchema = z.discriminatedUnion('type', [telegramChannel, emailChannel, desktopChannel, webhookChannel]);
export type NotifyChannelConfig = z.infer<typeof notifyChannelSchema>;

const notifySchema = z
  .object({
    /** Held until it ends (all but critical). */
    quiet_hours: activeHoursSchema.optional(),
    /** A failed delivery is tried again after `first`, doubling up to `max`; after `give_up_after` it is marked failed. */
    retry: z
      .strictObject({ first: duration.default('30s'), max: duration.default('30m'), give_up_after: duration.default('24h') })
      .default({ first: '30s', max: '30m', give_up_after: '24h' }),
    /** The daily digest (merged, open, cost) to channels subscribed to "digest". */
    digest: z.strictObject({ at: clockTime.default('18:00'), timezone: z.string().default('local') }).optional(),
  })
  .catchall(notifyChannelSchema)
  .superRefine((value, ctx) => {
    const zone = value.digest?.timezone;
    if (zone !== undefined && !isKnownTimezone(zone))
      ctx.addIssue({ code: 'custom', path: ['digest', 'timezone'], message: `unknown time zone ${JSON.stringify(zone)}` });
    for (const name of Object.keys(value)) {
      if (!(NOTIFY_SETTINGS as readonly string[]).includes(name) && !/^[a-z][a-z0-9_-]*$/.test(name))
        ctx.addIssue({ code: 'custom', path: [name], message: 'a channel name: lowercase letters, digits, - and _' });
    }
  });

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
  /**
   * An allow that answers asks too ("always allow"): it wins over a matching `ask` rule or default, never over a deny,
   * and with a `command` it matches only a line whose every simple command it matches.
   */
  over_ask: z.boolean().optional(),
  /** The command is one whole line, matched as written (`*` is a character, not a wildcard): "always allow" of the exact line. */
  exact: z.boolean().optional(),
  /** Audit of a rule "always allow" added: who, when, answering which request. */
  added_by: z.string().optional(),
  added_at: z.string().optional(),
  request: z.string().optional(),
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
  /** Leaders may also answer "always allow", which adds a rule to the policy (default false: only a person changes the policy); only town.toml's counts. */
  leaders_always_allow: z.boolean().optional(),
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
      .strictObject(
        Object.fromEntries(ESCALATION_SEVERITIES.map((s) => [s, z.array(route).optional()])) as Record<
          EscalationSeverity,
          z.ZodOptional<z.ZodArray<typeof route>>
        >,
      )
      .default({}),
  })
  .prefault({});

/** Runtime name → how many of its agents may run at once (0 = none start). */
const perRuntime = z.record(agentName, z.number().int().min(0, 'a count of agents, 0 or more'));

/** Capacity for a rig (rig.toml): its share of the town's agents. */
const rigScheduler = z.strictObject({
  max_agents: z.number().int().min(1, 'at least 1 agent').optional(),
  max_per_runtime: perRuntime.default({}),
});

/**
 * The dispatch scheduler: how many agents run at once (town-wide and per
 * runtime), how far apart sessions start, and how a runtime that reports rate
 * limiting is backed off (`backoff_initial` doubling per repeat up to
 * `backoff_max`, less up to `backoff_jitter` of it at random).
 */
const townScheduler = z.strictObject({
  ...rigScheduler.shape,
  start_spacing: duration.default('0s'),
  backoff_initial: duration.default('30s'),
  backoff_max: duration.default('10m'),
  backoff_jitter: z.number().min(0, 'a fraction from 0 to 1').max(1, 'a fraction from 0 to 1').default(0.5),
});

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

/** One dog (a maintenance job of the daemon): how often it runs, whether at all, and its own settings. */
const schedule = (every: string) => ({ every: duration.default(every), enabled: z.boolean().default(true) });

/** The daemon's dogs (`gt dog list`); every key has a default, so `[dogs]` is only for changing one. */
const dogs = z
  .strictObject({
    /** Daily log files: `.gt/daemon.log` and `.gt/logs/<name>.log` rotate into `.gt/logs/<name>-YYYY-MM-DD.log`, kept `keep_days`. */
    logs: z.strictObject({ ...schedule('1h'), keep_days: z.number().int().min(1).default(14) }).prefault({}),
    /** Run folders (`.gt/runs/<run>`): older than `keep_days`, or beyond the newest `keep_count`, are removed (never a live agent's). */
    runs: z.strictObject({ ...schedule('1h'), keep_days: z.number().int().min(1).default(7), keep_count: z.number().int().min(1).default(200) }).prefault({}),
    /** Idle polecats: dirty ones are checkpointed and reset for reuse; idle clean ones beyond `keep_idle` per rig are removed. */
    polecats: z.strictObject({ ...schedule('5m'), keep_idle: z.number().int().min(0).default(4) }).prefault({}),
    /** Worktrees, polecat branches and sessions that no agent owns: checkpointed, then removed. */
    orphans: z.strictObject(schedule('10m')).prefault({}),
    /** Protocol mail (ESCALATED, STALLED, MERGE_FAILED, GATE…) whose subject bead closed is acked. */
    mail: z.strictObject(schedule('5m')).prefault({}),
    /** Closed wisps after `wisps_after`; closed mail, merge requests, gates, permission requests and nuked agents after `closed_after`. */
    compact: z.strictObject({ ...schedule('1h'), wisps_after: duration.default('1h'), closed_after: duration.default('7d') }).prefault({}),
    /** The ledger as Beads JSONL at `export.path`, when `export.auto` is set. */
    export: z.strictObject(schedule('15m')).prefault({}),
    /** Daily memory logs older than `memory.rollup_after_days` rolled into weekly files. */
    memory: z.strictObject(schedule('24h')).prefault({}),
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
      /**
       * Team mode (issue 17 §2): auto, tmux, iterm2 or in-process; captured when the daemon or a sling starts. "in-process":
       * every headless agent runs under the one town host process (no Node host per session).
       */
      mode: z.enum(TEAM_MODE_SETTINGS).default('auto'),
      pass_env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')).default([]),
    })
    .default({ backend: 'auto', mode: 'auto', pass_env: [] })
    .superRefine((sessions, context) => {
      if (sessions.mode === 'in-process' && sessions.backend === 'tmux')
        context.addIssue({ code: 'custom', path: ['backend'], message: 'sessions.mode = "in-process" runs agents headless; use backend "auto" or "headless"' });
    }),
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
   * OpenTelemetry export (issue 16): with `otlp_endpoint` (an OTLP/HTTP base URL, e.g. http://localhost:4318) the daemon
   * sends the event stream as logs and the outcome metrics (gt metrics) as gauges every `interval`.
   */
  telemetry: z
    .strictObject({
      otlp_endpoint: z.url({ protocol: /^https?$/, error: 'an http(s) URL, e.g. http://localhost:4318' }).optional(),
      interval: duration.default('60s'),
      service_name: z.string().min(1).default('gt'),
    })
    .default({ interval: '60s', service_name: 'gt' }),
  /** Notification channels `[notify.<name>]` and their settings (core/notify). */
  notify: notifySchema.prefault({}),
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
  scheduler: townScheduler.prefault({}),
  dogs,
  /** `auto`: the export dog keeps a Beads JSONL copy of the ledger at `path` (relative to the town). */
  export: z.strictObject({ auto: z.boolean().default(false), path: z.string().min(1).default('.gt/export/issues.jsonl') }).prefault({}),
  heartbeat: heartbeat.optional(),
  memory,
  /**
   * The ledger (issue 19): without `url`, the SQLite file .gt/ledger.db; with `url = "postgres://user@host:port/db"`,
   * PostgreSQL (a password from the URL, PGPASSWORD or ~/.pgpass). `gt ledger migrate --to` moves a town between them.
   */
  ledger: z
    .strictObject({
      url: z
        .string()
        .min(1)
        // Any other `scheme://` (a typo such as postgress://) is refused here, as the hot path's reader refuses it.
        .refine((url) => /^postgres(ql)?:\/\/\S+$/i.test(url) || !/^[a-z][a-z0-9+.-]*:\/\//i.test(url), LEDGER_URL_RULE)
        .optional(),
    })
    .prefault({}),
  /**
   * A town across machines (README "Scaling out"): `name` is this machine's host in the shared ledger (set by
   * `gt host join`; absent = a one-machine town, every rig local). A host whose daemon has not renewed its heartbeat
   * for `lost_after` is lost: its agents show host-lost. `address` is informational (shown by gt hosts).
   */
  host: z
    .strictObject({
      name: z.string().regex(NAME_PATTERN, 'a host name: lowercase letters, digits, - and _').optional(),
      address: z.string().optional(),
      lost_after: duration.default('30s'),
    })
    .prefault({}),
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
  scheduler: rigScheduler.prefault({}),
  /** `keep_idle`: idle polecats this rig keeps (the town's `dogs.polecats.keep_idle` when unset). */
  polecats: z.strictObject({ keep_idle: z.number().int().min(0).optional() }).prefault({}),
  added_at: z.string().optional(),
});

export type TownConfig = z.infer<typeof townSchema>;
export type RigConfig = z.infer<typeof rigSchema>;
export type PermissionRule = z.infer<typeof permissionRule>;
export type PermissionsConfig = TownConfig['permissions'];
export type Decision = z.infer<typeof decision>;
export type EscalationConfig = TownConfig['escalation'];
export type TownSchedulerConfig = TownConfig['scheduler'];
export type RigSchedulerConfig = RigConfig['scheduler'];
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
