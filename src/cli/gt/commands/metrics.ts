import type { Command } from 'commander';
import { computeMetrics, loadMetricsInput, METRIC_GROUPS, type MetricGroup, type MetricsRow } from '../../../core/metrics/metrics.js';
import { DURATION, parseDuration } from '../../../shared/duration.js';
import { usageError } from '../../../shared/errors.js';
import { table } from '../../output.js';
import { action, type GtContext } from '../context.js';

const pct = (n: number | null) => (n === null ? '-' : `${(n * 100).toFixed(n === 1 || n === 0 ? 0 : 1)}%`);
const usd = (n: number | null) => (n === null ? '-' : `$${n.toFixed(n >= 1 ? 2 : 4)}`);
const count = (n: number | null) => (n === null ? '-' : Math.round(n).toLocaleString('en-US'));

/** A wait in the unit a person reads it in. */
export function shortDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

/** `--since 24h` (back from now) or a date/time. */
function sinceTime(text: string, now: number): string {
  if (DURATION.test(text.trim())) return new Date(now - parseDuration(text)).toISOString();
  if (/^\d+d$/.test(text.trim())) return new Date(now - Number.parseInt(text, 10) * 86_400_000).toISOString();
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) throw usageError(`--since ${JSON.stringify(text)} is neither a duration nor a date`, 'use e.g. 24h, 7d, 2026-11-27 or an ISO time');
  return new Date(parsed).toISOString();
}

export default function register(program: Command, ctx: GtContext): void {
  program
    .command('metrics')
    .description('Outcome metrics: beads merged per hour/day, merge-queue wait and success rate, rework, human interventions per convoy, cost per merged bead')
    .option('--since <when>', 'only outcomes at or after this time: a duration back from now (24h, 7d) or a date/time')
    .option('--by <group>', `one row per ${METRIC_GROUPS.join(', ')}`)
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      `
Figures come from the event stream (gt events) and the runtimes' usage (gt costs):
  merged        beads whose merge request merged (mr.merged)
  success       merged / (merged + rejected) merge requests
  mq wait       from mr.queued to the refinery's decision (mean, p50, p90)
  rework        beads rejected by the merge queue or slung more than once
  interventions a person's re-sling, unsling, nudge, mail, permission answer or gate approval
                about a convoy's beads (or the agents working them)
  $/merged      USD of usage in the window / beads merged in it

Examples:
  gt metrics
  gt metrics --since 24h --by rig
  gt metrics --by day --json`,
    )
    .action(
      action(ctx, async (opts: unknown) => {
        const options = opts as { since?: string; by?: string };
        if (options.by !== undefined && !(METRIC_GROUPS as readonly string[]).includes(options.by))
          throw usageError(`cannot group metrics by ${JSON.stringify(options.by)}`, `use one of ${METRIC_GROUPS.join(', ')}`);
        const now = Date.now();
        const town = await ctx.town();
        const metrics = computeMetrics(await loadMetricsInput(town), {
          until: new Date(now).toISOString(),
          ...(options.since ? { since: sinceTime(options.since, now) } : {}),
          ...(options.by ? { by: options.by as MetricGroup } : {}),
        });
        ctx.emit(metrics, () => {
          const row = (r: MetricsRow) => [
            r.key,
            count(r.merged),
            count(r.rejected),
            pct(r.success_rate),
            r.mq_wait.count ? `${shortDuration(r.mq_wait.mean_ms)} / ${shortDuration(r.mq_wait.p50_ms)} / ${shortDuration(r.mq_wait.p90_ms)}` : '-',
            `${count(r.rework)} (${pct(r.rework_rate)})`,
            count(r.tokens_per_merged),
            usd(r.usd_per_merged),
            usd(r.usd),
          ];
          const head = [
            (options.by ?? '').toUpperCase() || 'TOWN',
            'MERGED',
            'REJECTED',
            'SUCCESS',
            'MQ WAIT mean/p50/p90',
            'REWORK',
            'TOKENS/MERGED',
            '$/MERGED',
            'USD',
          ];
          const lines = [
            `${metrics.since ? `Since ${metrics.since.slice(0, 16).replace('T', ' ')}Z` : 'All time'}: ${metrics.total.merged} merged, ${metrics.merged_per_hour}/hour, ${metrics.merged_per_day}/day`,
            '',
            table([head, ...metrics.rows.map(row), row(metrics.total)]),
          ];
          if (metrics.interventions.length) {
            lines.push(
              '',
              table([['CONVOY', 'NAME', 'HUMAN INTERVENTIONS'], ...metrics.interventions.map((c) => [c.convoy, c.name ?? '', String(c.interventions)])]),
            );
          }
          return lines.join('\n');
        });
      }),
    );
}
