/**
 * Text views of beads for people. Scripts use --json, whose shapes follow Beads.
 */
import type { IssueWithCounts, Issue } from '../../core/beads/types.js';
import type { ShowDetails } from '../../core/beads/ledger.js';
import { visibleData } from '../../shared/text.js';
import { formatTime } from '../../shared/time.js';
import { table, type Style } from '../output.js';
import { describePlace } from '../../core/scheduler/decide.js';

const STATUS_ICON: Record<string, string> = { open: '○', in_progress: '◐', blocked: '●', deferred: '❄', closed: '✓', pinned: '📌', hooked: '⚓' };

export function statusIcon(status: string): string {
  return STATUS_ICON[status] ?? '·';
}

export function issueRows(issues: Array<Issue & Partial<Pick<IssueWithCounts, 'labels'>>>, s: Style): string {
  return table(
    visibleData(issues).map((i) => [
      `${statusIcon(i.status)} ${s.bold(i.id)}`,
      `P${i.priority}`,
      i.issue_type,
      i.status,
      `${i.title}${i.assignee ? s.dim(` @${i.assignee}`) : ''}${i.labels?.length ? s.cyan(` [${i.labels.join(', ')}]`) : ''}`,
    ]),
  );
}

export function showText(details: ShowDetails, s: Style, queued?: { position: number; of: number }): string {
  // Control characters in the bead show as ^[ and the like, before gt adds its own colours.
  const d = visibleData(details);
  const lines = [`${statusIcon(d.status)} ${s.bold(d.id)}: ${d.title}`];
  const field = (name: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '') lines.push(`${name}: ${value}`);
  };
  field(
    'Status',
    d.status +
      (d.is_blocked && d.status !== 'closed' ? ' (blocked)' : '') +
      (queued ? ` (${describePlace(queued)}, for ${String(d.metadata?.queue_target)})` : ''),
  );
  field('Priority', `P${d.priority}`);
  field('Type', d.issue_type);
  field('Assignee', d.assignee);
  field('Owner', d.owner);
  field('Created', `${formatTime(d.created_at)}${d.created_by ? ` by ${d.created_by}` : ''}`);
  field('Updated', formatTime(d.updated_at));
  if (d.started_at) field('Started', formatTime(d.started_at));
  if (d.closed_at) field('Closed', `${formatTime(d.closed_at)}${d.close_reason ? ` (${d.close_reason})` : ''}`);
  if (d.defer_until) field('Deferred until', formatTime(d.defer_until));
  if (d.due_at) field('Due', formatTime(d.due_at));
  if (d.estimated_minutes !== undefined) field('Estimate', `${d.estimated_minutes} min`);
  field('External ref', d.external_ref);
  field('Spec', d.spec_id);
  if (d.parent) field('Parent', d.parent);
  if (d.labels.length) field('Labels', d.labels.join(', '));
  if (d.metadata && Object.keys(d.metadata).length) field('Metadata', JSON.stringify(d.metadata));
  if (d.epic_total_children !== undefined)
    field('Children', `${d.epic_closed_children}/${d.epic_total_children} closed${d.epic_closeable ? ' (ready to close)' : ''}`);
  const section = (title: string, text: string | undefined) => {
    if (text) lines.push('', s.bold(title), text);
  };
  section('Description', d.description);
  section('Design', d.design);
  section('Acceptance Criteria', d.acceptance_criteria);
  section('Notes', d.notes);
  const deps = d.dependencies.filter((x) => x.type !== 'parent-child');
  if (deps.length) {
    lines.push('', s.bold(`Dependencies (${deps.length}):`));
    for (const dep of deps) lines.push(`  → ${dep.depends_on_id} (${dep.type})`);
  }
  if (d.dependents.length) {
    lines.push('', s.bold(`Dependents (${d.dependents.length}):`));
    for (const dep of d.dependents) lines.push(`  ← ${dep.issue_id} (${dep.type})${dep.title ? `: ${dep.title}` : ''}${dep.status ? ` [${dep.status}]` : ''}`);
  }
  if (d.comments.length) {
    lines.push('', s.bold(`Comments (${d.comments.length}):`));
    for (const c of d.comments) lines.push(`  [${c.author}] ${formatTime(c.created_at)}`, ...c.text.split('\n').map((l) => `    ${l}`));
  }
  return lines.join('\n');
}

/** Times in --json output are RFC3339 like Beads; the store keeps canonical nanosecond strings. */
export function jsonIssue<T extends object>(issue: T): T {
  // for…in and plain string tests: Object.entries and a regex per key were ~4 KB of garbage per issue, enough at
  // 100 rows to cost a cold `bd ready` two scavenges (issue 18).
  const out: Record<string, unknown> = {};
  const fields = issue as Record<string, unknown>;
  for (const key in fields) {
    const value = fields[key];
    if (key === 'extra') {
      Object.assign(out, value as object);
      continue;
    }
    out[key] =
      typeof value === 'string' && (key.endsWith('_at') || key === 'defer_until')
        ? formatTime(value)
        : Array.isArray(value)
          ? value.map((v: unknown) => (v && typeof v === 'object' ? jsonIssue(v) : v))
          : value;
  }
  return out as T;
}
