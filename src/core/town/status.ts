/**
 * `gt status`: one screen of the whole town — the daemon, rigs, agents by
 * state, hooked work, convoys, today's cost, beads. Each part is a section:
 * one object that collects its data (the `--json` key) and says how it reads
 * as lines. Adding a part of the town (the scheduler's queue, escalations) is
 * one more section in STATUS_SECTIONS, nothing else.
 *
 * Lines are spans with a tone, not colours: the edge decides colour (a TTY,
 * NO_COLOR) and width.
 */
import { listEscalations } from '../comms/escalations.js';
import { costReport } from '../governance/costs.js';
import { mergeQueue } from '../merge/refinery.js';
import { readAgents } from '../agents/supervision.js';
import { HOOK_STATUSES } from '../work/hooked.js';
import { listConvoys } from '../work/convoys.js';
import { daemonHealth, readLease, type DaemonHealth } from './daemon-health.js';
import { TEAM_MODE_ENV } from '../agents/team-mode.js';
import type { DaemonStatus } from './ports.js';
import type { Town } from './town.js';
import { rigPlacements, type RigPlacement } from '../hosts/placement.js';
import { schedulerStatus, type SchedulerStatus } from '../scheduler/dispatch.js';

export type Tone = 'ok' | 'warn' | 'bad' | 'dim' | 'strong';
export interface Span {
  text: string;
  tone?: Tone;
}
export type StatusLine = Span[];

export interface StatusContext {
  town: Town;
  daemon: DaemonStatus;
}

export interface StatusSection<T> {
  /** The key of its data in `gt status --json`. */
  key: string;
  /** The label in the left column. */
  label: string;
  collect(context: StatusContext): Promise<T>;
  lines(data: T): StatusLine[];
}

/** How many rows a list section shows before "… N more": the whole town on one screen. */
const MAX_ROWS = 6;

const span = (text: string, tone?: Tone): Span => (tone ? { text, tone } : { text });

function more(count: number, shown: number, what: string): StatusLine[] {
  return count > shown ? [[span(`… ${count - shown} more ${what}`, 'dim')]] : [];
}

// ---- daemon ----

/** The process status with its health (daemon-health.ts): `state` is running, starting, stale (hung), dead or stopped. */
export interface DaemonSection extends DaemonStatus {
  state: DaemonHealth['state'];
  health: DaemonHealth;
}

export const daemonSection: StatusSection<DaemonSection> = {
  key: 'daemon',
  label: 'Daemon',
  async collect({ town, daemon }) {
    const health = daemonHealth(town, daemon);
    return { ...daemon, state: health.state, health };
  },
  lines(d) {
    const pid = d.pid ? ` (pid ${d.pid})` : '';
    if (d.state === 'running') return [[span('running', 'ok'), span(`${pid} · ${d.health.detail}`)]];
    if (d.state === 'starting') return [[span('starting', 'ok'), span(`${pid} · ${d.health.detail}`)]];
    if (d.state === 'stale') return [[span('hung', 'bad'), span(`${pid}: ${d.health.detail}`)]];
    if (d.state === 'dead') return [[span('dead', 'bad'), span(': its pidfile outlived it; nothing merges or restarts agents — gt up')]];
    return [[span('stopped', 'warn'), span(': finished work is not merged — gt up')]];
  },
};

// ---- team mode ----

/** Team mode (issue 17 §2): the setting, what the daemon captured when it started, and what this terminal resolves it to. */
export interface TeamSection {
  setting: string;
  /** The mode the running daemon captured (its slings and restarts use it); null without a daemon. */
  daemon: string | null;
  /** `auto` (or the setting) resolved here: what a sling from this terminal captures. */
  here: string | null;
  problem?: string;
  backend: string;
  /** The town host (in-process mode), when one runs: its pid, resident memory (bytes) and sessions. */
  town_host: { pid: number; rss: number; sessions: number } | null;
}

export const teamSection: StatusSection<TeamSection> = {
  key: 'team',
  label: 'Team mode',
  async collect({ town, daemon }) {
    const setting = town.ports.baseEnv[TEAM_MODE_ENV] ?? town.config.sessions.mode;
    const lease = daemon.running ? readLease(town.ports.files, town.root) : undefined;
    let here: string | null = null;
    let problem: string | undefined;
    try {
      here = town.teamMode();
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    const townHost = (await town.ports.backend('headless').hostStatus?.()) ?? null;
    return {
      setting,
      daemon: lease?.pid === daemon.pid ? (lease?.team_mode ?? null) : null,
      here,
      ...(problem ? { problem } : {}),
      backend: town.config.sessions.backend,
      town_host: townHost,
    };
  },
  lines(t) {
    const mode = t.daemon ?? t.here ?? 'unresolved';
    const where = t.daemon ? 'captured by the daemon' : 'resolved here; gt up captures it';
    const line: StatusLine = [span(mode, t.problem && !t.daemon ? 'bad' : 'strong'), span(` (sessions.mode ${t.setting}; ${where})`)];
    if (t.backend !== 'auto') line.push(span(` · sessions.backend ${t.backend}`, 'dim'));
    if (t.problem) line.push(span(` · ${t.problem}`, 'warn'));
    const lines = [line];
    if (t.town_host)
      lines.push([
        span('town host', 'strong'),
        span(` pid ${t.town_host.pid} · ${t.town_host.sessions} session(s) · ${(t.town_host.rss / 1048576).toFixed(0)} MiB`),
      ]);
    return lines;
  },
};

// ---- rigs ----

export interface RigRow {
  name: string;
  /** A town across hosts: the host it runs on. */
  host?: string;
  prefix: string;
  polecats: number;
  crew: number;
  merge_queue: number;
}

export const rigsSection: StatusSection<RigRow[]> = {
  key: 'rigs',
  label: 'Rigs',
  async collect({ town }) {
    const agents = await town.agents();
    const rows: RigRow[] = [];
    // Across hosts, the rigs of the other hosts too (from their beads: no rig.toml of theirs is here).
    const placements = town.hostName ? await rigPlacements(town) : new Map<string, RigPlacement>();
    const names = [...new Set([...town.rigNames(), ...placements.keys()])].sort();
    for (const name of names) {
      const mine = agents.filter((a) => a.rig === name);
      const placement = placements.get(name);
      const local = town.rigNames().includes(name);
      rows.push({
        name,
        ...(placement?.host ? { host: placement.host } : {}),
        prefix: local ? town.rig(name).prefix : (placement?.prefix ?? '?'),
        polecats: mine.filter((a) => a.role === 'polecat').length,
        crew: mine.filter((a) => a.role === 'crew').length,
        merge_queue: local
          ? (await mergeQueue(town, name)).length
          : (await town.ledger.list({ types: ['merge-request'], metadataFields: { rig: name }, excludeStatuses: ['closed'], includeEphemeral: true, limit: 0 }))
              .length,
      });
    }
    return rows;
  },
  lines(rows) {
    if (rows.length === 0) return [[span('none yet — gt rig add <name> <git-url>', 'dim')]];
    const width = Math.max(...rows.slice(0, MAX_ROWS).map((r) => r.name.length));
    return [
      ...rows
        .slice(0, MAX_ROWS)
        .map((r) => [
          span(r.name.padEnd(width), 'strong'),
          ...(r.host ? [span(` on ${r.host}`, 'dim')] : []),
          span(`  ${r.polecats} polecat(s) · ${r.crew} crew · merge queue `),
          span(String(r.merge_queue), r.merge_queue > 0 ? 'warn' : undefined),
        ]),
      ...more(rows.length, MAX_ROWS, 'rigs'),
    ];
  },
};

// ---- agents ----

/** States that need a person, worst first: the state machine's problem states (agent-state.ts) and a permission waiting for an answer. */
const ATTENTION = ['host-lost', 'dead', 'zombie', 'gupp-violation', 'stalled', 'waiting-permission'];
const STATE_ORDER = ['working', 'starting', 'waiting-permission', 'waiting-gate', 'idle', 'done', 'stalled', 'gupp-violation', 'zombie', 'dead', 'host-lost'];

export interface AgentsSection {
  total: number;
  /** Agents whose session runs. */
  running: number;
  by_state: Record<string, number>;
  /** Agents that need a person (dead, zombie, stalled, GUPP violation, waiting for a permission), with why. */
  attention: Array<{ agent: string; state: string; reason: string; hooked: string[] }>;
}

export const agentsSection: StatusSection<AgentsSection> = {
  key: 'agents',
  label: 'Agents',
  async collect({ town }) {
    const by_state: Record<string, number> = {};
    const attention: AgentsSection['attention'] = [];
    // The one state machine (agents/agent-state.ts), as gt agents and the witness read it.
    const agents = await readAgents(town);
    const running = agents.filter((a) => a.probe.session && a.probe.process).length;
    for (const { agent, state, reason, hooked } of agents) {
      by_state[state] = (by_state[state] ?? 0) + 1;
      if (ATTENTION.includes(state)) attention.push({ agent: agent.address, state, reason, hooked: hooked.map((b) => b.id) });
    }
    attention.sort((a, b) => ATTENTION.indexOf(a.state) - ATTENTION.indexOf(b.state) || a.agent.localeCompare(b.agent));
    return { total: agents.length, running, by_state, attention };
  },
  lines(d) {
    if (d.total === 0) return [[span('none yet — gt sling <bead> <rig>', 'dim')]];
    const rank = (s: string) => (STATE_ORDER.includes(s) ? STATE_ORDER.indexOf(s) : STATE_ORDER.length);
    const states = Object.entries(d.by_state).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
    const summary: StatusLine = [span(`${d.total}: `)];
    states.forEach(([state, count], i) => summary.push(span(`${i ? ' · ' : ''}${count} ${state}`, toneOfState(state))));
    return [
      summary,
      ...d.attention
        .slice(0, MAX_ROWS)
        .map((a) => [span('needs you: ', 'bad'), span(a.agent, 'strong'), span(` ${a.state}${a.hooked.length ? ` holding ${a.hooked.join(', ')}` : ''}`)]),
      ...more(d.attention.length, MAX_ROWS, 'agents need you (gt agents)'),
    ];
  },
};

function toneOfState(state: string): Tone | undefined {
  if (ATTENTION.includes(state) && state !== 'waiting-permission') return 'bad';
  if (state.startsWith('waiting')) return 'warn';
  if (state === 'working' || state === 'starting') return 'ok';
  return 'dim';
}

// ---- escalations ----

export interface EscalationRow {
  id: string;
  severity: string;
  state: string;
  subject?: string;
  agent?: string;
  title: string;
  created_at: string;
}

/** Open and acked escalations (comms/escalations.ts), most severe first: what a person must answer. */
export const escalationsSection: StatusSection<EscalationRow[]> = {
  key: 'escalations',
  label: 'Escalations',
  async collect({ town }) {
    return (await listEscalations(town)).map((e) => ({
      id: e.id,
      severity: e.severity,
      state: e.state,
      ...(e.subject ? { subject: e.subject } : {}),
      ...(e.agent ? { agent: e.agent } : {}),
      title: e.title,
      created_at: e.created_at,
    }));
  },
  lines(rows) {
    if (rows.length === 0) return [[span('none open', 'dim')]];
    const open = rows.filter((r) => r.state === 'open').length;
    const id = Math.max(...rows.slice(0, MAX_ROWS).map((r) => r.id.length));
    return [
      [span(`${open} open`, open ? 'bad' : undefined), span(` · ${rows.length - open} acked — gt escalations`)],
      ...rows
        .slice(0, MAX_ROWS)
        .map((r) => [
          span(r.id.padEnd(id), 'strong'),
          span(` ${r.severity.padEnd(8)}`, r.severity === 'high' || r.severity === 'critical' ? 'bad' : r.severity === 'medium' ? 'warn' : 'dim'),
          span(` ${r.state.padEnd(5)} `, r.state === 'open' ? 'warn' : 'dim'),
          span(`${r.subject ? `${r.subject}: ` : ''}${r.title}`),
        ]),
      ...more(rows.length, MAX_ROWS, 'escalations (gt escalations)'),
    ];
  },
};

// ---- hooked work ----

export interface HookedRow {
  bead: string;
  title: string;
  status: string;
  agent: string;
}

export const hookedSection: StatusSection<HookedRow[]> = {
  key: 'hooked',
  label: 'Hooked',
  async collect({ town }) {
    const beads = await town.ledger.list({ statuses: HOOK_STATUSES, includeEphemeral: true, limit: 0, sort: 'priority' });
    // An agent's own bead (its identity) or a merge request is bookkeeping, not work.
    return beads
      .filter((b) => b.assignee && b.issue_type !== 'agent' && b.issue_type !== 'merge-request')
      .map((b) => ({ bead: b.id, title: b.title, status: b.status, agent: b.assignee as string }));
  },
  lines(rows) {
    if (rows.length === 0) return [[span('nothing on a hook', 'dim')]];
    const id = Math.max(...rows.slice(0, MAX_ROWS).map((r) => r.bead.length));
    const agent = Math.max(...rows.slice(0, MAX_ROWS).map((r) => r.agent.length));
    return [
      ...rows.slice(0, MAX_ROWS).map((r) => [span(r.bead.padEnd(id), 'strong'), span(`  ${r.agent.padEnd(agent)}  `), span(r.title, 'dim')]),
      ...more(rows.length, MAX_ROWS, 'hooked (gt agents)'),
    ];
  },
};

// ---- convoys ----

export interface ConvoyRow {
  id: string;
  name: string;
  closed: number;
  total: number;
}

export const convoysSection: StatusSection<ConvoyRow[]> = {
  key: 'convoys',
  label: 'Convoys',
  async collect({ town }) {
    return (await listConvoys(town)).filter((c) => c.status === 'open').map((c) => ({ id: c.id, name: c.name, closed: c.closed, total: c.total }));
  },
  lines(rows) {
    if (rows.length === 0) return [[span('none open', 'dim')]];
    return [
      ...rows
        .slice(0, MAX_ROWS)
        .map((c) => [
          span(c.id, 'strong'),
          span(` ${progressBar(c.closed, c.total)} `),
          span(`${c.closed}/${c.total}`, c.closed === c.total ? 'ok' : undefined),
          span(`  ${c.name}`, 'dim'),
        ]),
      ...more(rows.length, MAX_ROWS, 'open (gt convoy list)'),
    ];
  },
};

function progressBar(done: number, total: number, width = 10): string {
  const full = total === 0 ? 0 : Math.round((done / total) * width);
  return `${'█'.repeat(full)}${'░'.repeat(width - full)}`;
}

// ---- cost ----

export interface CostSection {
  day: string;
  usd: number;
  tokens: number;
  sessions: number;
  /** Runs whose model has no known price (their USD is not in `usd`). */
  unpriced: number;
  daily_usd_budget?: number;
}

export const costSection: StatusSection<CostSection> = {
  key: 'cost_today',
  label: 'Cost',
  async collect({ town }) {
    const day = town.ports.now().slice(0, 10);
    const { total } = await costReport(town, 'day', { since: day });
    const budget = town.config.budgets.daily_usd;
    return {
      day,
      usd: total.usd,
      tokens: total.input_tokens + total.output_tokens + total.cache_read_tokens + total.cache_write_tokens,
      sessions: total.sessions,
      unpriced: total.unpriced,
      ...(budget !== undefined ? { daily_usd_budget: budget } : {}),
    };
  },
  lines(c) {
    const line: StatusLine = [span(`today $${c.usd.toFixed(2)}`, 'strong'), span(` · ${compact(c.tokens)} tokens · ${c.sessions} session(s)`)];
    if (c.unpriced) line.push(span(` · ${c.unpriced} unpriced`, 'dim'));
    if (c.daily_usd_budget !== undefined) {
      const share = c.usd / c.daily_usd_budget;
      line.push(span(` · ${Math.round(share * 100)}% of $${c.daily_usd_budget}`, share >= 1 ? 'bad' : share >= 0.8 ? 'warn' : undefined));
    }
    return [line];
  },
};

function compact(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

// ---- beads ----

export interface BeadsSection {
  ready: number;
  hooked: number;
  in_progress: number;
  open: number;
  blocked: number;
  closed: number;
}

export const beadsSection: StatusSection<BeadsSection> = {
  key: 'beads',
  label: 'Beads',
  async collect({ town }) {
    const stats = await town.ledger.stats();
    return {
      ready: stats.ready_issues,
      hooked: stats.hooked_issues,
      in_progress: stats.in_progress_issues,
      open: stats.open_issues,
      blocked: stats.blocked_issues,
      closed: stats.closed_issues,
    };
  },
  lines(b) {
    return [
      [
        span(`${b.ready} ready`, b.ready ? 'strong' : undefined),
        span(` · ${b.hooked} hooked · ${b.in_progress} in progress · ${b.open} open · `),
        span(`${b.blocked} blocked`, b.blocked ? 'warn' : undefined),
        span(` · ${b.closed} closed`),
      ],
    ];
  },
};

// ---- the whole ----

interface AnySection {
  key: string;
  label: string;
  collect(context: StatusContext): Promise<unknown>;
  lines(data: unknown): StatusLine[];
}

// ---- scheduler ----

/** Capacity: limits and load, the head of the dispatch queue, runtimes backed off after rate limits. */
export const schedulerSection: StatusSection<SchedulerStatus> = {
  key: 'scheduler',
  label: 'Scheduler',
  collect: ({ town }) => schedulerStatus(town, MAX_ROWS),
  lines(s) {
    const caps = Object.entries(s.max_per_runtime).map(([runtime, n]) => `${runtime} ${s.running_by_runtime[runtime] ?? 0}/${n}`);
    const full = s.max_agents !== undefined && s.running >= s.max_agents;
    const lines: StatusLine[] = [
      [
        span(`${s.running} running${s.max_agents !== undefined ? ` of max ${s.max_agents}` : ''}`, full ? 'warn' : undefined),
        span(`${caps.length ? ` (${caps.join(', ')})` : ''} · `),
        span(`${s.queued} queued`, s.queued > 0 ? 'warn' : undefined),
        span(s.start_spacing !== '0s' ? ` · starts ${s.start_spacing} apart` : ''),
      ],
    ];
    for (const e of s.next)
      lines.push([span(`next ${e.id}`, 'strong'), span(` P${e.priority} → ${e.target} (${e.runtime})${e.reason ? `: ${e.reason}` : ''}`)]);
    lines.push(...more(s.queued, s.next.length, 'queued (gt queue)'));
    for (const b of s.backoffs) {
      lines.push(
        b.active
          ? [
              span(`${b.runtime} backed off`, 'bad'),
              span(` until ${b.until.slice(11, 19)}Z (rate limited, level ${b.level}) · ${b.agents.length} to resume · ${b.reason}`),
            ]
          : [span(`${b.runtime} window over`, 'warn'), span(` · resuming ${b.agents.join(', ') || 'no agents'} on the daemon's next pass`)],
      );
    }
    return lines;
  },
};

/** Erases a section's data type for the list (each section checks its own). */
export const section = <T>(s: StatusSection<T>): AnySection => s;

/** The sections in screen order. */
export const STATUS_SECTIONS: readonly AnySection[] = [
  section(daemonSection),
  section(teamSection),
  section(rigsSection),
  section(agentsSection),
  section(escalationsSection),
  section(hookedSection),
  section(schedulerSection),
  section(convoysSection),
  section(costSection),
  section(beadsSection),
];

export interface TownStatus {
  town: string;
  root: string;
  at: string;
  [section: string]: unknown;
}

/** Collects every section (in order: a section may be slow, and the ledger reads are one connection anyway). */
export async function townStatus(context: StatusContext, sections: readonly AnySection[] = STATUS_SECTIONS): Promise<TownStatus> {
  const status: TownStatus = { town: context.town.config.name, root: context.town.root, at: context.town.ports.now() };
  for (const s of sections) status[s.key] = await s.collect(context);
  return status;
}

/** The screen: a header, then each section's lines with its label in the left column. */
export function statusLines(status: TownStatus, sections: readonly AnySection[] = STATUS_SECTIONS): StatusLine[] {
  const labelWidth = Math.max(...sections.map((s) => s.label.length)) + 2;
  const lines: StatusLine[] = [[span(`Town ${status.town}`, 'strong'), span(`  ${status.root}`, 'dim')]];
  for (const s of sections) {
    s.lines(status[s.key]).forEach((line, i) => lines.push([span((i === 0 ? s.label : '').padEnd(labelWidth), i === 0 ? 'strong' : undefined), ...line]));
  }
  return lines;
}
