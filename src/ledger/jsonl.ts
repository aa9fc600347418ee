/**
 * Beads' JSONL interchange (research/beads.md §1, §10.1). The writer produces
 * what `bd export` writes: one compact object per line, `_type` first, Go's field
 * order, RFC3339 UTC times, empty optionals omitted, and Go's HTML-safe escaping.
 * The reader accepts every era's form: no `_type`, memories, tombstones, legacy
 * `wisp`, integer or string comment ids, missing priority (= P0 under omitempty),
 * local-offset nanosecond times; keys it does not know are kept and written back.
 */
import { createHash } from 'node:crypto';
import { GtError } from '../shared/errors.js';
import { validateIssueId, validateLabel } from '../core/beads/rules.js';
import { canonicalTime, formatTime } from '../shared/time.js';
import type { ImportRecord } from '../core/beads/ledger.js';
import type { BondRef, Comment, Dependency, Issue, IssueDetails, Memory } from '../core/beads/types.js';

type Kind = 'string' | 'time' | 'int' | 'bool' | 'object' | 'strings' | 'bonds';

/** The record's keys in Beads' export order. */
const FIELD_ORDER: ReadonlyArray<readonly [key: string, kind: Kind]> = [
  ['id', 'string'],
  ['title', 'string'],
  ['description', 'string'],
  ['design', 'string'],
  ['acceptance_criteria', 'string'],
  ['notes', 'string'],
  ['spec_id', 'string'],
  ['status', 'string'],
  ['priority', 'int'],
  ['issue_type', 'string'],
  ['assignee', 'string'],
  ['owner', 'string'],
  ['estimated_minutes', 'int'],
  ['created_at', 'time'],
  ['created_by', 'string'],
  ['updated_at', 'time'],
  ['started_at', 'time'],
  ['closed_at', 'time'],
  ['close_reason', 'string'],
  ['closed_by_session', 'string'],
  ['due_at', 'time'],
  ['defer_until', 'time'],
  ['external_ref', 'string'],
  ['source_system', 'string'],
  ['metadata', 'object'],
  ['compaction_level', 'int'],
  ['compacted_at', 'time'],
  ['compacted_at_commit', 'string'],
  ['original_size', 'int'],
  // labels, dependencies and comments are written here
  ['sender', 'string'],
  ['ephemeral', 'bool'],
  ['no_history', 'bool'],
  ['wisp_type', 'string'],
  ['pinned', 'bool'],
  ['is_template', 'bool'],
  ['bonded_from', 'bonds'],
  ['await_type', 'string'],
  ['await_id', 'string'],
  ['timeout', 'int'],
  ['waiters', 'strings'],
  ['source_formula', 'string'],
  ['source_location', 'string'],
  ['mol_type', 'string'],
  ['work_type', 'string'],
  ['event_kind', 'string'],
  ['actor', 'string'],
  ['target', 'string'],
  ['payload', 'string'],
];
const RELATIONS_AFTER = 'original_size';
const KIND_OF = new Map(FIELD_ORDER);

/** Output-only keys that `bd list/show --json` add; never stored. */
const COMPUTED_KEYS = new Set([
  '_type',
  'dependency_count',
  'dependent_count',
  'comment_count',
  'parent',
  'dependents',
  'epic_total_children',
  'epic_closed_children',
  'epic_closeable',
  'is_blocked',
  'blocked_by',
  'blocked_by_count',
  'labels',
  'dependencies',
  'comments',
]);

/** A line the reader could not accept. */
export class JsonlLineError extends GtError {
  readonly line: number;
  constructor(line: number, message: string) {
    super('validation', `line ${line}: ${message}`);
    this.line = line;
  }
}

export type ParsedLine = { kind: 'issue'; record: ImportRecord } | { kind: 'memory'; memory: Memory } | { kind: 'tombstone'; id: string } | { kind: 'blank' };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** The last time read and its canonical form: a line's times and its edges' often repeat one value (an import reads 250,000). */
let lastTime: { text: string; canonical: string } | undefined;

function time(value: unknown, key: string, line: number): string {
  if (typeof value !== 'string') throw new JsonlLineError(line, `${key} must be an RFC3339 string, got ${JSON.stringify(value)}`);
  if (value === lastTime?.text) return lastTime.canonical;
  const t = canonicalTime(value);
  if (t === undefined) throw new JsonlLineError(line, `${key} is not an RFC3339 time: ${JSON.stringify(value)}`);
  lastTime = { text: value, canonical: t };
  return t;
}

/** Parses one JSONL line. Throws JsonlLineError naming the line on anything it cannot accept. */
export function parseLine(text: string, line: number): ParsedLine {
  if (text.trim() === '') return { kind: 'blank' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new JsonlLineError(line, `not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(raw)) throw new JsonlLineError(line, 'expected a JSON object');
  const type = raw._type;
  if (type === 'memory') {
    if (typeof raw.key !== 'string' || raw.key === '') throw new JsonlLineError(line, 'memory line without a key');
    return { kind: 'memory', memory: { key: raw.key, value: typeof raw.value === 'string' ? raw.value : JSON.stringify(raw.value ?? '') } };
  }
  if (type !== undefined && type !== 'issue') throw new JsonlLineError(line, `unknown _type ${JSON.stringify(type)}`);
  if (typeof raw.id !== 'string' || raw.id.trim() === '') throw new JsonlLineError(line, 'missing "id"');
  const id = raw.id;
  // The rules bd create enforces (issue 12, finding 8); the ledger checks the rest (statuses, types, cycles).
  checked(line, () => validateIssueId(id));
  if (id !== id.trim()) throw new JsonlLineError(line, `invalid ID ${JSON.stringify(id)}: it has surrounding spaces`);
  if (raw.status === 'tombstone') return { kind: 'tombstone', id };

  const issue: Record<string, unknown> = {};
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (COMPUTED_KEYS.has(key)) continue;
    if (key === 'wisp') {
      if (value === true) issue.ephemeral = true;
      continue;
    }
    const kind = KIND_OF.get(key);
    if (kind === undefined) {
      extra[key] = value;
      continue;
    }
    if (value === null || value === undefined) continue;
    switch (kind) {
      case 'string':
        if (typeof value !== 'string') throw new JsonlLineError(line, `${key} must be a string, got ${JSON.stringify(value)}`);
        if (value !== '') issue[key] = value;
        break;
      case 'time':
        if (value !== '') issue[key] = time(value, key, line);
        break;
      case 'int':
        if (typeof value !== 'number' || !Number.isInteger(value)) throw new JsonlLineError(line, `${key} must be an integer, got ${JSON.stringify(value)}`);
        issue[key] = value;
        break;
      case 'bool':
        if (typeof value !== 'boolean') throw new JsonlLineError(line, `${key} must be true or false, got ${JSON.stringify(value)}`);
        if (value) issue[key] = true;
        break;
      case 'object':
        if (!isObject(value)) throw new JsonlLineError(line, `${key} must be a JSON object`);
        if (Object.keys(value).length > 0) issue[key] = value;
        break;
      case 'strings':
        if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new JsonlLineError(line, `${key} must be an array of strings`);
        if (value.length > 0) issue[key] = value;
        break;
      case 'bonds':
        if (!Array.isArray(value) || !value.every(isObject)) throw new JsonlLineError(line, `${key} must be an array of objects`);
        if (value.length > 0)
          issue[key] = value.map((b: Record<string, unknown>): BondRef => ({ ...b, source_id: str(b.source_id ?? b.proto_id), bond_type: str(b.bond_type) }));
        break;
    }
  }
  if (Object.keys(extra).length > 0) issue.extra = extra;

  if (typeof issue.title !== 'string') throw new JsonlLineError(line, `issue ${id} has no title`);
  if ([...issue.title].length > 500) throw new JsonlLineError(line, `issue ${id} title is longer than 500 characters`);
  issue.priority ??= 0; // Dec-2025 exports omitted P0 (omitempty)
  if ((issue.priority as number) < 0 || (issue.priority as number) > 4)
    throw new JsonlLineError(line, `issue ${id} priority ${String(issue.priority)} is not 0-4`);
  issue.status ??= 'open';
  issue.issue_type ??= 'task';
  issue.created_at ??= issue.updated_at;
  if (issue.created_at === undefined) throw new JsonlLineError(line, `issue ${id} has no created_at`);
  issue.updated_at ??= issue.created_at;
  // closed_at is set iff the issue is closed; older files break this both ways.
  if (issue.status === 'closed') issue.closed_at ??= issue.updated_at;
  else delete issue.closed_at;
  if (issue.ephemeral && issue.no_history) throw new JsonlLineError(line, `issue ${id} is both ephemeral and no_history`);
  if (typeof issue.estimated_minutes === 'number' && issue.estimated_minutes < 0)
    throw new JsonlLineError(line, `issue ${id} estimate ${issue.estimated_minutes} is negative`);
  if (issue.title.trim() === '') throw new JsonlLineError(line, `issue ${id} has an empty title`);

  const labels = parseLabels(raw.labels, line);
  const dependencies = parseDependencies(raw.dependencies, id, issue.created_at as string, line);
  const comments = parseComments(raw.comments, id, line);
  return { kind: 'issue', record: { issue: issue as unknown as Issue, labels, dependencies, comments, line } };
}

function parseLabels(value: unknown, line: number): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new JsonlLineError(line, 'labels must be an array of strings');
  return [...new Set((value as string[]).map((l) => l.trim()).filter(Boolean))].map((label) => checked(line, () => validateLabel(label)));
}

/** Runs one of bd create's checks, its error naming the line. */
function checked<T>(line: number, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof GtError) throw new JsonlLineError(line, `${error.message}${error.hint ? ` (${error.hint})` : ''}`);
    throw error;
  }
}

function parseDependencies(value: unknown, id: string, createdAt: string, line: number): Dependency[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new JsonlLineError(line, 'dependencies must be an array');
  const seen = new Map<string, Dependency>();
  for (const raw of value) {
    if (!isObject(raw)) throw new JsonlLineError(line, 'each dependency must be an object');
    const target = raw.depends_on_id;
    if (typeof target !== 'string' || target === '') throw new JsonlLineError(line, 'a dependency has no depends_on_id');
    if (!target.startsWith('external:')) checked(line, () => validateIssueId(target));
    if (target !== target.trim()) throw new JsonlLineError(line, `invalid dependency target ${JSON.stringify(target)}`);
    if (raw.issue_id !== undefined && raw.issue_id !== id)
      throw new JsonlLineError(line, `dependency issue_id ${JSON.stringify(raw.issue_id)} does not match issue ${id}`);
    const dep: Dependency = {
      issue_id: id,
      depends_on_id: target,
      type: typeof raw.type === 'string' && raw.type !== '' ? raw.type : 'blocks',
      created_at: raw.created_at === undefined || raw.created_at === '' ? createdAt : time(raw.created_at, 'dependency created_at', line),
    };
    if (typeof raw.created_by === 'string' && raw.created_by !== '') dep.created_by = raw.created_by;
    if (raw.metadata !== undefined && raw.metadata !== null && raw.metadata !== '') {
      dep.metadata = typeof raw.metadata === 'string' ? raw.metadata : JSON.stringify(raw.metadata);
    }
    if (typeof raw.thread_id === 'string' && raw.thread_id !== '') dep.thread_id = raw.thread_id;
    seen.set(target, dep); // one edge per pair: the last one wins
  }
  return [...seen.values()];
}

function parseComments(value: unknown, id: string, line: number): Comment[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new JsonlLineError(line, 'comments must be an array');
  return value.map((raw, index) => {
    if (!isObject(raw)) throw new JsonlLineError(line, 'each comment must be an object');
    if (typeof raw.text !== 'string') throw new JsonlLineError(line, `comment ${index + 1} has no text`);
    const createdAt = raw.created_at === undefined ? undefined : time(raw.created_at, 'comment created_at', line);
    let commentId: string | number;
    if (typeof raw.id === 'number' || (typeof raw.id === 'string' && raw.id !== '')) commentId = raw.id;
    else commentId = stableUuid(`${id}|${index}|${String(raw.author)}|${raw.text}|${createdAt ?? ''}`);
    return {
      id: commentId,
      issue_id: id,
      author: typeof raw.author === 'string' ? raw.author : '',
      text: raw.text,
      created_at: createdAt ?? '1970-01-01T00:00:00.000000000Z',
    };
  });
}

/** A UUID derived from content, so re-importing a file without comment ids is idempotent. */
function stableUuid(content: string): string {
  const h = createHash('sha256').update(content).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Go's encoding/json escapes these for HTML safety; Beads' files carry `\u003e` and friends. */
function goEscape(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function exportValue(kind: Kind, value: unknown): unknown {
  switch (kind) {
    case 'time':
      return formatTime(value as string);
    default:
      return value;
  }
}

/** One export line for an issue with its relations. */
export function formatIssueLine(issue: IssueDetails): string {
  const out: Record<string, unknown> = { _type: 'issue' };
  const source = issue as unknown as Record<string, unknown>;
  for (const [key, kind] of FIELD_ORDER) {
    const value = source[key];
    const omit =
      value === undefined ||
      value === null ||
      value === '' ||
      value === false ||
      (kind === 'int' && value === 0 && key !== 'priority' && key !== 'estimated_minutes') ||
      (Array.isArray(value) && value.length === 0) ||
      (kind === 'object' && isObject(value) && Object.keys(value).length === 0);
    if (!omit || key === 'priority') out[key] = exportValue(kind, value ?? 0);
    if (key === RELATIONS_AFTER) {
      if (issue.labels.length > 0) out.labels = [...issue.labels].sort();
      if (issue.dependencies.length > 0) out.dependencies = issue.dependencies.map(formatDependency);
      if (issue.comments.length > 0) out.comments = issue.comments.map(formatComment);
    }
  }
  for (const [key, value] of Object.entries(issue.extra ?? {})) if (!(key in out)) out[key] = value;
  return goEscape(JSON.stringify(out));
}

function formatDependency(dep: Dependency): Record<string, unknown> {
  const out: Record<string, unknown> = { issue_id: dep.issue_id, depends_on_id: dep.depends_on_id, type: dep.type, created_at: formatTime(dep.created_at) };
  if (dep.created_by) out.created_by = dep.created_by;
  if (dep.metadata && dep.metadata !== '{}') out.metadata = dep.metadata;
  if (dep.thread_id) out.thread_id = dep.thread_id;
  return out;
}

function formatComment(comment: Comment): Record<string, unknown> {
  return { id: comment.id, issue_id: comment.issue_id, author: comment.author, text: comment.text, created_at: formatTime(comment.created_at) };
}

export function formatMemoryLine(memory: Memory): string {
  return goEscape(JSON.stringify({ _type: 'memory', key: memory.key, value: memory.value }));
}

export interface ParsedFile {
  records: ImportRecord[];
  memories: Memory[];
  tombstones: string[];
  /** Lines skipped with --skip-bad-lines. */
  badLines: JsonlLineError[];
}

/**
 * Parses a whole file. A bad line fails the whole file (nothing is applied)
 * unless `skipBadLines`, in which case it is reported and left out. Every bad
 * line is reported, not only the first.
 */
export function parseJsonl(text: string, options: { skipBadLines?: boolean } = {}): ParsedFile {
  const result: ParsedFile = { records: [], memories: [], tombstones: [], badLines: [] };
  const lines = text.split('\n');
  const byId = new Map<string, number>();
  lines.forEach((content, index) => {
    const line = index + 1;
    try {
      const parsed = parseLine(content.replace(/\r$/, ''), line);
      switch (parsed.kind) {
        case 'issue': {
          // A file holds each issue once. The same record twice (a careless merge) is harmless; two
          // different ones are a conflict nobody resolved: which one is meant is not for import to guess.
          const previous = byId.get(parsed.record.issue.id);
          const earlier = previous === undefined ? undefined : result.records[previous];
          if (earlier !== undefined) {
            if (JSON.stringify({ ...earlier, line: 0 }) !== JSON.stringify({ ...parsed.record, line: 0 })) {
              throw new JsonlLineError(
                line,
                `issue ${parsed.record.issue.id} is also on line ${earlier.line}, with other content (resolve the merge: keep one)`,
              );
            }
          } else {
            byId.set(parsed.record.issue.id, result.records.length);
            result.records.push(parsed.record);
          }
          break;
        }
        case 'memory':
          result.memories.push(parsed.memory);
          break;
        case 'tombstone':
          result.tombstones.push(parsed.id);
          break;
        case 'blank':
          break;
      }
    } catch (error) {
      if (!(error instanceof JsonlLineError)) throw error;
      result.badLines.push(error);
    }
  });
  if (result.badLines.length > 0 && !options.skipBadLines) {
    const shown = result.badLines
      .slice(0, 10)
      .map((e) => `  ${e.message}`)
      .join('\n');
    const more = result.badLines.length > 10 ? `\n  … and ${result.badLines.length - 10} more` : '';
    throw new GtError('validation', `${result.badLines.length} bad line(s); nothing was imported:\n${shown}${more}`, {
      hint: 'fix the lines, or pass --skip-bad-lines to import the rest',
    });
  }
  return result;
}
