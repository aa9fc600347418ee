/**
 * Outcome metrics (issue 16): what the town got done and what it cost, from
 * the event stream and the runtimes' usage records alone — beads merged per
 * hour and day, merge-queue wait and success rate, rework, human
 * interventions per convoy, tokens and USD per merged bead. `computeMetrics`
 * is a pure function of its inputs (the CLI, the dashboard, OTLP export and
 * the tests all call it); `loadMetricsInput` reads them from a town.
 */
import type { TownEvent } from '../events/town-events.js';
import { convoysOf, usageRecords, type UsageRecord } from '../governance/costs.js';
import type { Town } from '../town/town.js';

export const METRIC_GROUPS = ['rig', 'runtime', 'day'] as const;
export type MetricGroup = (typeof METRIC_GROUPS)[number];

/** The kinds metrics read: the rest of the stream never changes a figure. */
export const METRIC_EVENT_KINDS = [
  'bead.slung',
  'bead.unslung',
  'mr.queued',
  'mr.merged',
  'mr.rejected',
  'nudge.sent',
  'mail.sent',
  'permission.decided',
  'gate.opened',
  'escalation.acked',
] as const;

/**
 * What a person did to steer work already under way. The first sling of a
 * bead is dispatch, not an intervention; a second one is (the work had to be
 * taken back and handed out again).
 */
const INTERVENTION_KINDS = new Set(['bead.slung', 'bead.unslung', 'nudge.sent', 'mail.sent', 'permission.decided', 'gate.opened', 'escalation.acked']);

export interface MetricsInput {
  /** Events of METRIC_EVENT_KINDS, oldest first, from the start of the stream (a merge's wait needs its queueing, however old). */
  events: TownEvent[];
  usage: UsageRecord[];
  /** The convoys tracking each bead. */
  convoys: Map<string, string[]>;
  /** Convoy names, for display. */
  convoyNames?: Map<string, string>;
  /** Who counts as a person (the ledger's actor for a human is `human`). */
  isPerson?: (actor: string) => boolean;
}

export interface MetricsOptions {
  /** Only outcomes at or after this ISO time. */
  since?: string;
  /** The end of the window (ISO): now. */
  until: string;
  by?: MetricGroup;
}

export interface WaitStats {
  count: number;
  mean_ms: number;
  p50_ms: number;
  p90_ms: number;
  max_ms: number;
}

export interface MetricsRow {
  key: string;
  /** Beads whose merge request merged in the window. */
  merged: number;
  /** Merge requests rejected in the window. */
  rejected: number;
  /** merged / (merged + rejected) over merge requests decided in the window; null when none was. */
  success_rate: number | null;
  /** From queueing to the refinery's decision, for the requests decided in the window. */
  mq_wait: WaitStats;
  /** Beads slung in the window. */
  slung: number;
  /** Beads that needed doing again: rejected by the merge queue or slung more than once. */
  rework: number;
  /** rework / beads slung or decided in the window; null when none was. */
  rework_rate: number | null;
  tokens: number;
  usd: number;
  /** tokens / merged (null when nothing merged). */
  tokens_per_merged: number | null;
  usd_per_merged: number | null;
}

export interface ConvoyInterventions {
  convoy: string;
  name?: string;
  /** Person actions on the convoy's beads or the agents working them. */
  interventions: number;
  kinds: Record<string, number>;
}

export interface Metrics {
  since?: string;
  until: string;
  by?: MetricGroup;
  /** Hours covered: since (or the first event) to until. */
  hours: number;
  merged_per_hour: number;
  merged_per_day: number;
  total: MetricsRow;
  rows: MetricsRow[];
  /** Beads merged per hour (UTC, `YYYY-MM-DDTHH`), oldest first, the hours with merges only. */
  merged_by_hour: Array<{ hour: string; merged: number }>;
  /** Beads merged per day (UTC), oldest first. */
  merged_by_day: Array<{ day: string; merged: number }>;
  interventions: ConvoyInterventions[];
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const tokensOf = (r: UsageRecord) => r.input_tokens + r.output_tokens + r.cache_read_tokens + r.cache_write_tokens;
const round = (n: number, places: number) => Math.round(n * 10 ** places) / 10 ** places;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

function waitStats(waits: number[]): WaitStats {
  const sorted = [...waits].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    mean_ms: sorted.length ? Math.round(sum / sorted.length) : 0,
    p50_ms: percentile(sorted, 50),
    p90_ms: percentile(sorted, 90),
    max_ms: sorted.at(-1) ?? 0,
  };
}

/** One group's raw tallies; `finish` turns them into a row. */
class Tally {
  merged = new Set<string>();
  rejected = 0;
  waits: number[] = [];
  slung = new Set<string>();
  touched = new Set<string>();
  rework = new Set<string>();
  tokens = 0;
  usd = 0;

  finish(key: string): MetricsRow {
    const merged = this.merged.size;
    const decided = merged + this.rejected;
    return {
      key,
      merged,
      rejected: this.rejected,
      success_rate: decided ? round(merged / decided, 4) : null,
      mq_wait: waitStats(this.waits),
      slung: this.slung.size,
      rework: this.rework.size,
      rework_rate: this.touched.size ? round(this.rework.size / this.touched.size, 4) : null,
      tokens: this.tokens,
      usd: round(this.usd, 6),
      tokens_per_merged: merged ? round(this.tokens / merged, 2) : null,
      usd_per_merged: merged ? round(this.usd / merged, 6) : null,
    };
  }
}

export function computeMetrics(input: MetricsInput, options: MetricsOptions): Metrics {
  const isPerson = input.isPerson ?? ((actor: string) => actor === 'human');
  const inWindow = (at: string) => (!options.since || at >= options.since) && at <= options.until;
  // Facts gathered over the whole stream: who worked a bead with which runtime, when a request was queued.
  const runtimeOfBead = new Map<string, string>();
  const runtimeOfAgent = new Map<string, string>();
  const rigOfBead = new Map<string, string>();
  const queuedAt = new Map<string, string>();
  const slings = new Map<string, number>();
  /** The bead each agent works (its latest sling): a person's nudge or permission answer to it is about that bead. */
  const beadOfAgent = new Map<string, string>();
  const groups = new Map<string, Tally>();
  const total = new Tally();
  const byHour = new Map<string, Set<string>>();
  const byDay = new Map<string, Set<string>>();
  const interventions = new Map<string, ConvoyInterventions>();

  const keyOf = (event: { at: string; rig?: string | undefined }, bead: string | undefined, agent: string | undefined): string | undefined => {
    switch (options.by) {
      case undefined:
        return undefined;
      case 'day':
        return event.at.slice(0, 10);
      case 'rig':
        return event.rig ?? (bead ? rigOfBead.get(bead) : undefined) ?? '(none)';
      case 'runtime':
        return (bead ? runtimeOfBead.get(bead) : undefined) ?? (agent ? runtimeOfAgent.get(agent) : undefined) ?? '(none)';
    }
  };
  const tallies = (key: string | undefined): Tally[] => {
    if (key === undefined) return [total];
    let tally = groups.get(key);
    if (!tally) groups.set(key, (tally = new Tally()));
    return [total, tally];
  };

  for (const event of input.events) {
    const bead = event.bead;
    const payload = event.payload;
    if (event.kind === 'bead.slung' && bead) {
      const runtime = str(payload.runtime);
      if (runtime) runtimeOfBead.set(bead, runtime);
      if (runtime && event.agent) runtimeOfAgent.set(event.agent, runtime);
      if (event.rig) rigOfBead.set(bead, event.rig);
      if (event.agent) beadOfAgent.set(event.agent, bead);
    }
    if (event.kind === 'mr.queued' && bead && event.rig) rigOfBead.set(bead, event.rig);
    const mr = str(payload.merge_request);
    if (event.kind === 'mr.queued' && mr) queuedAt.set(mr, event.at);
    const times = event.kind === 'bead.slung' && bead ? (slings.get(bead) ?? 0) + 1 : 0;
    if (times) slings.set(bead as string, times);

    if (inWindow(event.at)) {
      const groupsOf = () => tallies(keyOf(event, bead, event.agent));
      if (event.kind === 'bead.slung' && bead) {
        for (const t of groupsOf()) {
          t.slung.add(bead);
          t.touched.add(bead);
          if (times > 1) t.rework.add(bead);
        }
      } else if (event.kind === 'mr.merged' && bead) {
        const queued = mr ? queuedAt.get(mr) : undefined;
        for (const t of groupsOf()) {
          t.merged.add(bead);
          t.touched.add(bead);
          if (queued) t.waits.push(Date.parse(event.at) - Date.parse(queued));
        }
        byHour.set(event.at.slice(0, 13), (byHour.get(event.at.slice(0, 13)) ?? new Set()).add(bead));
        byDay.set(event.at.slice(0, 10), (byDay.get(event.at.slice(0, 10)) ?? new Set()).add(bead));
      } else if (event.kind === 'mr.rejected') {
        const queued = mr ? queuedAt.get(mr) : undefined;
        for (const t of groupsOf()) {
          t.rejected += 1;
          if (queued) t.waits.push(Date.parse(event.at) - Date.parse(queued));
          if (bead) {
            t.rework.add(bead);
            t.touched.add(bead);
          }
        }
      }
      if (INTERVENTION_KINDS.has(event.kind) && isPerson(event.actor) && !(event.kind === 'bead.slung' && times <= 1)) {
        // A person's act about a bead, or about an agent (then: the bead it is working).
        const about = event.kind === 'mail.sent' || event.kind === 'permission.decided' ? undefined : bead;
        const target = about ?? (event.agent ? beadOfAgent.get(event.agent) : undefined);
        for (const convoy of target ? (input.convoys.get(target) ?? []) : []) {
          const entry = interventions.get(convoy) ?? { convoy, interventions: 0, kinds: {} };
          const name = input.convoyNames?.get(convoy);
          if (name) entry.name = name;
          entry.interventions += 1;
          entry.kinds[event.kind] = (entry.kinds[event.kind] ?? 0) + 1;
          interventions.set(convoy, entry);
        }
      }
    }
    if (event.kind === 'bead.unslung' && event.agent) beadOfAgent.delete(event.agent);
  }

  for (const record of input.usage) {
    if (!inWindow(record.at)) continue;
    const key = keyOf({ at: record.at, ...(record.rig ? { rig: record.rig } : {}) }, record.bead, record.agent);
    for (const t of tallies(key)) {
      t.tokens += tokensOf(record);
      t.usd += record.usd;
    }
  }

  const first = [...input.events, ...input.usage].reduce<string | undefined>((min, e) => (inWindow(e.at) && (!min || e.at < min) ? e.at : min), undefined);
  const start = options.since ?? first ?? options.until;
  const hours = Math.max(0, (Date.parse(options.until) - Date.parse(start)) / 3_600_000);
  const totalRow = total.finish('total');
  // Rates over at least one hour, so a minute-old town does not claim sixty merges an hour.
  const span = Math.max(1, hours);
  return {
    ...(options.since ? { since: options.since } : {}),
    until: options.until,
    ...(options.by ? { by: options.by } : {}),
    hours: round(hours, 2),
    merged_per_hour: round(totalRow.merged / span, 4),
    merged_per_day: round((totalRow.merged / span) * 24, 4),
    total: totalRow,
    rows: [...groups.entries()].map(([key, t]) => t.finish(key)).sort((a, b) => a.key.localeCompare(b.key)),
    merged_by_hour: [...byHour.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([hour, beads]) => ({ hour, merged: beads.size })),
    merged_by_day: [...byDay.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([day, beads]) => ({ day, merged: beads.size })),
    interventions: [...interventions.values()].sort((a, b) => b.interventions - a.interventions || a.convoy.localeCompare(b.convoy)),
  };
}

/** Reads what `computeMetrics` needs from a town: the stream's metric events, usage records, convoy membership. */
export async function loadMetricsInput(town: Town): Promise<MetricsInput> {
  const events: TownEvent[] = [];
  let cursor = 0;
  for (;;) {
    const page = await town.ledger.townEvents(cursor, { kinds: [...METRIC_EVENT_KINDS] }, 5000);
    events.push(...page);
    const last = page.at(-1);
    if (!last || page.length < 5000) break;
    cursor = last.id;
  }
  const usage = await usageRecords(town);
  const convoys = await convoysOf(town);
  const convoyNames = new Map((await town.ledger.list({ types: ['convoy'], limit: 0, includeEphemeral: true })).map((c) => [c.id, c.title]));
  return { events, usage, convoys, convoyNames };
}
