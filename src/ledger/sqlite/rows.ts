/**
 * Mapping between the Beads record and SQLite rows. Booleans are 0/1, JSON
 * fields are text, and an absent optional field is NULL (never '').
 */
import type { Issue } from '../../core/beads/types.js';

type Kind = 'text' | 'int' | 'bool' | 'json';

/** Column name, record key, kind. Order is the table's column order. */
const FIELDS: ReadonlyArray<readonly [column: string, key: keyof Issue, kind: Kind]> = [
  ['id', 'id', 'text'],
  ['title', 'title', 'text'],
  ['description', 'description', 'text'],
  ['design', 'design', 'text'],
  ['acceptance_criteria', 'acceptance_criteria', 'text'],
  ['notes', 'notes', 'text'],
  ['spec_id', 'spec_id', 'text'],
  ['status', 'status', 'text'],
  ['priority', 'priority', 'int'],
  ['issue_type', 'issue_type', 'text'],
  ['assignee', 'assignee', 'text'],
  ['owner', 'owner', 'text'],
  ['estimated_minutes', 'estimated_minutes', 'int'],
  ['created_at', 'created_at', 'text'],
  ['created_by', 'created_by', 'text'],
  ['updated_at', 'updated_at', 'text'],
  ['started_at', 'started_at', 'text'],
  ['closed_at', 'closed_at', 'text'],
  ['close_reason', 'close_reason', 'text'],
  ['closed_by_session', 'closed_by_session', 'text'],
  ['due_at', 'due_at', 'text'],
  ['defer_until', 'defer_until', 'text'],
  ['external_ref', 'external_ref', 'text'],
  ['source_system', 'source_system', 'text'],
  ['metadata', 'metadata', 'json'],
  ['compaction_level', 'compaction_level', 'int'],
  ['compacted_at', 'compacted_at', 'text'],
  ['compacted_at_commit', 'compacted_at_commit', 'text'],
  ['original_size', 'original_size', 'int'],
  ['sender', 'sender', 'text'],
  ['ephemeral', 'ephemeral', 'bool'],
  ['no_history', 'no_history', 'bool'],
  ['wisp_type', 'wisp_type', 'text'],
  ['pinned', 'pinned', 'bool'],
  ['is_template', 'is_template', 'bool'],
  ['bonded_from', 'bonded_from', 'json'],
  ['await_type', 'await_type', 'text'],
  ['await_id', 'await_id', 'text'],
  ['timeout_ns', 'timeout', 'int'],
  ['waiters', 'waiters', 'json'],
  ['source_formula', 'source_formula', 'text'],
  ['source_location', 'source_location', 'text'],
  ['mol_type', 'mol_type', 'text'],
  ['work_type', 'work_type', 'text'],
  ['event_kind', 'event_kind', 'text'],
  ['actor', 'actor', 'text'],
  ['target', 'target', 'text'],
  ['payload', 'payload', 'text'],
  ['extra', 'extra', 'json'],
];

export const ISSUE_COLUMNS = FIELDS.map(([column]) => column);
// The mapping loops below run once per field of every row a command reads, on a cold process whose
// code is still interpreted: plain indexed arrays, because destructuring FIELDS' tuples in a for-of
// costs an iterator per field (measured: 6 ms of a 100-row `bd ready`, 0.4 ms this way).
const COLUMNS: readonly string[] = ISSUE_COLUMNS;
const KEYS: readonly string[] = FIELDS.map(([, key]) => key);
const KINDS: readonly Kind[] = FIELDS.map(([, , kind]) => kind);
const COLUMN_OF = new Map<string, string>(FIELDS.map(([column, key]) => [key, column]));
const KIND_OF = new Map<string, Kind>(FIELDS.map(([, key, kind]) => [key, kind]));

/** A row as better-sqlite3 returns it. */
export type Row = Record<string, string | number | bigint | Buffer | null>;
/** Named parameters for a statement. */
export type Params = Record<string, unknown>;

function toColumn(kind: Kind, value: unknown): unknown {
  if (value === undefined || value === null) return kind === 'bool' ? 0 : null;
  switch (kind) {
    case 'bool':
      return value ? 1 : 0;
    case 'json':
      if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0) return null;
      if (Array.isArray(value) && value.length === 0) return null;
      return JSON.stringify(value);
    case 'text':
      return value === '' ? null : typeof value === 'string' ? value : JSON.stringify(value);
    case 'int':
      return typeof value === 'bigint' ? value : Number(value);
  }
}

/** The row's values in ISSUE_COLUMNS order, built directly: an import binds 50,000 of them. */
export function issueToValues(issue: Issue): unknown[] {
  const values = new Array<unknown>(FIELDS.length);
  for (let i = 0; i < FIELDS.length; i++) {
    const [column, key, kind] = FIELDS[i] as (typeof FIELDS)[number];
    // The metadata column is NOT NULL with '{}' meaning "none".
    values[i] = toColumn(kind, issue[key]) ?? (column === 'metadata' ? '{}' : null);
  }
  return values;
}

export function issueToRow(issue: Issue): Params {
  const row: Params = {};
  const record = issue as unknown as Record<string, unknown>;
  for (let i = 0; i < COLUMNS.length; i++) row[COLUMNS[i] as string] = toColumn(KINDS[i] as Kind, record[KEYS[i] as string]);
  // The metadata column is NOT NULL with '{}' meaning "none".
  row.metadata ??= '{}';
  return row;
}

/** Column assignments for a partial update; undefined clears the field. */
export function patchToColumns(patch: Partial<Issue>): Params {
  const row: Params = {};
  for (const [key, value] of Object.entries(patch)) {
    const column = COLUMN_OF.get(key);
    const kind = KIND_OF.get(key);
    if (column === undefined || kind === undefined) throw new Error(`unknown issue field ${key}`);
    row[column] = toColumn(kind, value);
  }
  if ('metadata' in row) row.metadata ??= '{}';
  return row;
}

export function rowToIssue(row: Row): Issue {
  const issue: Record<string, unknown> = {};
  for (let i = 0; i < COLUMNS.length; i++) setField(issue, i, row[COLUMNS[i] as string]);
  return issue as unknown as Issue;
}

type Decoder = (values: readonly unknown[], parseJson: (value: unknown) => unknown) => Record<string, unknown>;
const DECODERS = new WeakMap<readonly string[], Decoder>();

/**
 * An issue from a raw row (the driver's array of values, `columns` naming
 * them in order): what a list reads, because the driver builds a row object
 * property by property (measured: ~170k instructions per 50-column row, 3 ms
 * of a 100-row `bd ready`, against none for an array).
 *
 * The decoder is straight-line code made once per column list (from the fixed
 * FIELDS table, never from data): a loop over the fields with a call per field
 * ran enough bytecode at 100 rows for V8 to optimize it, which cost a cold
 * `bd ready` ~2.4 ms of compiling and ~4 MB of memory (issue 18); one
 * statement per field runs a quarter of the bytecode.
 */
export function valuesToIssue(values: readonly unknown[], columns: readonly string[]): Issue {
  let decode = DECODERS.get(columns);
  if (decode === undefined) {
    decode = decoderFor(columns);
    DECODERS.set(columns, decode);
  }
  return decode(values, parseJsonField) as unknown as Issue;
}

function decoderFor(columns: readonly string[]): Decoder {
  const lines = ['const issue = {};', 'let v;'];
  for (let i = 0; i < COLUMNS.length; i++) {
    const at = columns.indexOf(COLUMNS[i] as string);
    if (at < 0) continue;
    const key = JSON.stringify(KEYS[i]);
    switch (KINDS[i]) {
      case 'bool':
        lines.push(`if (values[${at}]) issue[${key}] = true;`);
        break;
      case 'json':
        lines.push(`v = values[${at}]; if (v != null) { v = parseJson(v); if (v !== undefined) issue[${key}] = v; }`);
        break;
      case 'int':
        lines.push(`v = values[${at}]; if (v != null) issue[${key}] = Number(v);`);
        break;
      case 'text':
        lines.push(`v = values[${at}]; if (v != null) issue[${key}] = v;`);
        break;
    }
  }
  lines.push('return issue;');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- built from the FIELDS table above, not from data
  return new Function('values', 'parseJson', lines.join('\n')) as Decoder;
}

/** A JSON column's value, undefined for an empty object (the record leaves such a field out). */
function parseJsonField(value: unknown): unknown {
  const parsed: unknown = JSON.parse(typeof value === 'string' ? value : (value as Buffer).toString());
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && Object.keys(parsed).length === 0 ? undefined : parsed;
}

function setField(issue: Record<string, unknown>, field: number, value: unknown): void {
  if (value === null || value === undefined) return;
  const key = KEYS[field] as string;
  switch (KINDS[field]) {
    case 'bool':
      if (value) issue[key] = true;
      break;
    case 'json': {
      const parsed = parseJsonField(value);
      if (parsed !== undefined) issue[key] = parsed;
      break;
    }
    case 'int':
      issue[key] = Number(value);
      break;
    case 'text':
      issue[key] = value;
      break;
  }
}
