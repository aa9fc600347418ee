/**
 * SQL for the filters of list, ready, blocked and search. Every value is a bound
 * parameter; only column names chosen here are spliced into the text.
 */
import { NON_WORK_TYPES } from '../../core/beads/rules.js';
import type { IssueFilter, ListSort, ReadyFilter } from '../../core/beads/types.js';

export interface SqlPart {
  sql: string;
  params: Record<string, unknown>;
}

/**
 * Where the SQL of SQLite and PostgreSQL differ in these filters (ledger/postgres uses the same
 * builders): list membership, JSON paths, case-insensitive LIKE, string search, case-folded order.
 */
export interface SqlDialect {
  /** `column IN list` over a bound list parameter (`not`: NOT IN); `param` binds a value and names it. */
  inList(column: string, values: readonly unknown[], param: (value: unknown) => string, not?: boolean): string;
  /** A JSON value's text at `path` (keys) inside a text column, NULL when absent or not JSON. */
  jsonText(column: string, path: string[], param: (value: unknown) => string): string;
  /** Whether a JSON text column has a value (JSON null counts) at `path`. */
  jsonHas(column: string, path: string[], param: (value: unknown) => string): string;
  /** The case-insensitive LIKE operator. */
  like: string;
  /** The text after the first '-' of a column. */
  afterDash(column: string): string;
  /** An order term that ignores ASCII case. */
  nocase(column: string): string;
}

export const SQLITE_DIALECT: SqlDialect = {
  inList: (column, values, param, not) => `${column} ${not ? 'NOT IN' : 'IN'} (SELECT value FROM json_each(${param(json(values))}))`,
  jsonText: (column, path, param) => `CAST(json_extract(${column}, ${param(jsonPath(path))}) AS TEXT)`,
  jsonHas: (column, path, param) => `json_type(${column}, ${param(jsonPath(path))}) IS NOT NULL`,
  like: 'LIKE',
  afterDash: (column) => `substr(${column}, instr(${column}, '-') + 1)`,
  nocase: (column) => `${column} COLLATE NOCASE`,
};

const json = (values: readonly unknown[]) => JSON.stringify(values);
const like = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export function buildFilter(filter: IssueFilter, dialect: SqlDialect = SQLITE_DIALECT): SqlPart {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  let n = 0;
  const param = (value: unknown) => {
    const name = `p${n++}`;
    params[name] = value;
    return `@${name}`;
  };
  const inList = (column: string, values: readonly unknown[], not = false) => dialect.inList(column, values, param, not);
  const LIKE = dialect.like;

  if (filter.ids?.length) where.push(inList('i.id', filter.ids));
  if (filter.statuses?.length) where.push(inList('i.status', filter.statuses));
  if (filter.excludeStatuses?.length) where.push(inList('i.status', filter.excludeStatuses, true));
  if (filter.types?.length) where.push(inList('i.issue_type', filter.types));
  if (filter.excludeTypes?.length) where.push(inList('i.issue_type', filter.excludeTypes, true));
  if (filter.priorities?.length) where.push(inList('i.priority', filter.priorities));
  if (filter.priorityMin !== undefined) where.push(`i.priority >= ${param(filter.priorityMin)}`);
  if (filter.priorityMax !== undefined) where.push(`i.priority <= ${param(filter.priorityMax)}`);
  if (filter.assignee !== undefined) where.push(`i.assignee = ${param(filter.assignee)}`);
  if (filter.unassigned) where.push(`i.assignee IS NULL`);
  // Without a limit every match is read anyway: start from the label's rows (the dispatch queue's gt:queued
  // each daemon pass read all 50,000 issues). With one, walk the order and stop early (a common label).
  for (const label of filter.labelsAll ?? [])
    where.push(
      filter.limit
        ? `EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = i.id AND l.label = ${param(label)})`
        : `i.id IN (SELECT l.issue_id FROM labels l WHERE l.label = ${param(label)})`,
    );
  if (filter.labelsAny?.length) where.push(`EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = i.id AND ${inList('l.label', filter.labelsAny)})`);
  if (filter.excludeLabels?.length) where.push(`NOT EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = i.id AND ${inList('l.label', filter.excludeLabels)})`);
  if (filter.noLabels) where.push(`NOT EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = i.id)`);
  if (filter.parent !== undefined) {
    const parent = param(filter.parent);
    // Descendants by edge, plus `P.n` IDs that have no parent edge of their own.
    where.push(`(i.id IN (WITH RECURSIVE below(id) AS (
        SELECT issue_id FROM dependencies WHERE depends_on_id = ${parent} AND type = 'parent-child'
        UNION SELECT d.issue_id FROM dependencies d JOIN below b ON d.depends_on_id = b.id WHERE d.type = 'parent-child')
      SELECT id FROM below)
      OR (i.id > ${param(`${filter.parent}.`)} AND i.id < ${param(`${filter.parent}/`)}
          AND NOT EXISTS (SELECT 1 FROM dependencies d WHERE d.issue_id = i.id AND d.type = 'parent-child')))`);
  }
  if (filter.noParent) where.push(`NOT EXISTS (SELECT 1 FROM dependencies d WHERE d.issue_id = i.id AND d.type = 'parent-child')`);
  if (filter.titleContains) where.push(`i.title ${LIKE} ${param(like(filter.titleContains))} ESCAPE '\\'`);
  if (filter.descContains) where.push(`i.description ${LIKE} ${param(like(filter.descContains))} ESCAPE '\\'`);
  if (filter.notesContains) where.push(`i.notes ${LIKE} ${param(like(filter.notesContains))} ESCAPE '\\'`);
  if (filter.query) {
    const q = param(like(filter.query));
    const prefix = param(`${filter.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    where.push(`(i.title ${LIKE} ${q} ESCAPE '\\' OR i.description ${LIKE} ${q} ESCAPE '\\' OR i.id ${LIKE} ${prefix} ESCAPE '\\'
      OR ${dialect.afterDash('i.id')} ${LIKE} ${prefix} ESCAPE '\\' OR i.external_ref = ${param(filter.query)})`);
  }
  const range = (column: string, after?: string, before?: string) => {
    if (after !== undefined) where.push(`i.${column} > ${param(after)}`);
    if (before !== undefined) where.push(`i.${column} < ${param(before)}`);
  };
  range('created_at', filter.createdAfter, filter.createdBefore);
  range('updated_at', filter.updatedAfter, filter.updatedBefore);
  range('closed_at', filter.closedAfter, filter.closedBefore);
  for (const [key, value] of Object.entries(filter.metadataFields ?? {})) {
    where.push(`${dialect.jsonText('i.metadata', key.split('.'), param)} = ${param(value)}`);
  }
  for (const key of filter.hasMetadataKeys ?? []) where.push(dialect.jsonHas('i.metadata', key.split('.'), param));
  if (!filter.includeEphemeral) where.push('i.ephemeral = 0');
  if (!filter.includeTemplates) where.push('i.is_template = 0');
  if (filter.pinned !== undefined) where.push(filter.pinned ? 'i.pinned = 1' : 'i.pinned = 0');
  if (filter.deferred) where.push(`(i.status = 'deferred' OR i.defer_until > ${param(filter.now ?? '')})`);
  if (filter.overdue) where.push(`(i.due_at < ${param(filter.now ?? '')} AND i.status <> 'closed')`);
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

function jsonPath(path: string[]): string {
  return `$.${path.map((part) => JSON.stringify(part)).join('.')}`;
}

/**
 * Ready = open (or a custom `active` status), not blocked, not pinned, not a
 * non-work type, not deferred, not the child of a deferred parent
 * (research/beads.md §3, "Ready algorithm at HEAD").
 */
export function readyConditions(
  filter: Pick<ReadyFilter, 'now' | 'readyStatuses' | 'types' | 'excludeTypes' | 'includeDeferred' | 'mol' | 'includeEphemeral'>,
  dialect: SqlDialect = SQLITE_DIALECT,
): {
  conditions: string[];
  params: Record<string, unknown>;
  recentCutoff: string;
} {
  const statuses = filter.readyStatuses ?? ['open'];
  const params: Record<string, unknown> = {};
  // Fixed names (ready_statuses, non_work): one statement text, so SQLite's statement cache serves every call.
  const named = (name: string) => (value: unknown) => {
    params[name] = value;
    return `@${name}`;
  };
  const conditions = [
    statuses.length === 1 ? `i.status = ${named('ready_status')(statuses[0])}` : dialect.inList('i.status', statuses, named('ready_statuses')),
    'i.is_blocked = 0',
    'i.pinned = 0',
  ];
  if (!filter.includeEphemeral) conditions.push('i.ephemeral = 0');
  if (!filter.types?.length) conditions.push(dialect.inList('i.issue_type', NON_WORK_TYPES, named('non_work'), true));
  if (!filter.includeDeferred) {
    params.now = filter.now;
    conditions.push('(i.defer_until IS NULL OR i.defer_until <= @now)');
    conditions.push(`NOT EXISTS (SELECT 1 FROM dependencies pd JOIN issues p ON p.id = pd.depends_on_id
      WHERE pd.issue_id = i.id AND pd.type = 'parent-child' AND p.defer_until > @now)`);
  }
  if (filter.mol !== undefined) {
    params.mol = filter.mol;
    conditions.push(`EXISTS (SELECT 1 FROM dependencies md WHERE md.issue_id = i.id AND md.depends_on_id = @mol AND md.type = 'parent-child')`);
  }
  const nowMs = Date.parse(`${filter.now.slice(0, 19)}Z`);
  const recentCutoff = `${new Date(nowMs - 48 * 3_600_000).toISOString().slice(0, 19)}.000000000Z`;
  return { conditions, params, recentCutoff };
}

const SORT_COLUMNS: Record<ListSort, string> = {
  priority: 'i.priority ASC, i.created_at DESC',
  created: 'i.created_at DESC',
  updated: 'i.updated_at DESC',
  closed: 'i.closed_at DESC',
  status: 'i.status ASC',
  id: 'i.id ASC',
  title: 'i.title COLLATE NOCASE ASC',
  type: 'i.issue_type ASC',
  assignee: 'i.assignee ASC',
};

export function orderBy(sort: ListSort, reverse: boolean, dialect: SqlDialect = SQLITE_DIALECT): string {
  const base = `${sort === 'title' ? `${dialect.nocase('i.title')} ASC` : SORT_COLUMNS[sort]}, i.id ASC`;
  if (!reverse) return base;
  return base.replace(/\b(ASC|DESC)\b/g, (dir) => (dir === 'ASC' ? 'DESC' : 'ASC'));
}

/** Hydrating listed issues (ids as one JSON array parameter): their labels, then their counts and parent. */
export const HYDRATE_LABELS_SQL = 'SELECT issue_id, label FROM labels WHERE issue_id IN (SELECT value FROM json_each(?)) ORDER BY label';
export const HYDRATE_COUNTS_SQL = `SELECT j.value AS id,
   (SELECT COUNT(*) FROM dependencies d WHERE d.issue_id = j.value) AS dependency_count,
   (SELECT COUNT(*) FROM dependencies d WHERE d.depends_on_id = j.value) AS dependent_count,
   (SELECT COUNT(*) FROM comments c WHERE c.issue_id = j.value) AS comment_count,
   (SELECT d.depends_on_id FROM dependencies d WHERE d.issue_id = j.value AND d.type = 'parent-child' LIMIT 1) AS parent
 FROM json_each(?) j`;
