/**
 * The closed sets and validations of the Beads record (research/beads.md §1, §3,
 * §10.2). Every message names the bad value and what is allowed, and keeps the
 * phrase Beads' own tests look for ("invalid priority", "title is required"…).
 */
import { validationError } from '../../shared/errors.js';

export const BUILTIN_STATUSES = ['open', 'in_progress', 'blocked', 'deferred', 'closed', 'pinned', 'hooked'] as const;

/** Statuses that resolve a blocker. Only these unblock dependents (a custom `done` status still blocks, as in Beads). */
export const RESOLVED_STATUSES = ['closed', 'pinned'] as const;

export const BUILTIN_TYPES = [
  'bug',
  'feature',
  'task',
  'epic',
  'chore',
  'decision',
  'message',
  'molecule',
  'gate',
  'spike',
  'story',
  'milestone',
  'event',
  // gt's own bead kinds (Gas Town registers these as custom types; gt has them built in).
  'merge-request',
  'agent',
  'role',
  'rig',
  'host',
  'convoy',
  'slot',
  'permission',
  'escalation',
] as const;

export const TYPE_ALIASES: Record<string, string> = {
  enhancement: 'feature',
  feat: 'feature',
  dec: 'decision',
  adr: 'decision',
  investigation: 'spike',
  timebox: 'spike',
  'user-story': 'story',
  user_story: 'story',
  ms: 'milestone',
  mol: 'molecule',
  mr: 'merge-request',
};

/** Types that `bd ready` never offers as work unless asked for by --type. */
export const NON_WORK_TYPES = [
  'merge-request',
  'gate',
  'molecule',
  'message',
  'agent',
  'role',
  'rig',
  'host',
  'convoy',
  'event',
  'slot',
  'permission',
  'escalation',
];

/**
 * gt's own bookkeeping (agents, mail, merge requests, gates, convoys, permission
 * requests, escalations, dog records…): plain `bd list`, `bd search` and
 * `bd stats` leave these out, as Beads does its infra types, unless
 * `--include-infra` or a `--type` names them (issue 14: 16 of 19 open items in a
 * new user's `bd list` were gt's own).
 */
export const BOOKKEEPING_TYPES = ['agent', 'rig', 'host', 'role', 'message', 'permission', 'merge-request', 'gate', 'convoy', 'slot', 'event', 'escalation'];

/** Types `bd export` leaves out unless --include-infra (or --all). */
export const INFRA_TYPES = ['agent', 'rig', 'host', 'role', 'message', 'permission'];

export const BLOCKING_DEP_TYPES = ['blocks', 'conditional-blocks'] as const;

export const KNOWN_DEP_TYPES = [
  'blocks',
  'parent-child',
  'conditional-blocks',
  'waits-for',
  'related',
  'relates-to',
  'discovered-from',
  'replies-to',
  'duplicates',
  'supersedes',
  'tracks',
  'until',
  'caused-by',
  'validates',
  'delegated-from',
  'authored-by',
  'assigned-to',
  'approved-by',
  'attests',
] as const;

export const MAX_TITLE_LENGTH = 500;

export type StatusCategory = 'active' | 'wip' | 'done' | 'frozen' | '';

export interface CustomStatus {
  name: string;
  category: StatusCategory;
}

/** The ledger's configurable vocabulary (from the config table). */
export interface Vocabulary {
  customStatuses: CustomStatus[];
  customTypes: string[];
}

export const EMPTY_VOCABULARY: Vocabulary = { customStatuses: [], customTypes: [] };

export function validateTitle(title: string | undefined): string {
  if (title === undefined) throw validationError('title required', 'give the title as the first argument, e.g. bd create "Fix login"');
  if (title.trim() === '') throw validationError('title is required: it is empty or only whitespace');
  const length = [...title].length;
  if (length > MAX_TITLE_LENGTH) {
    throw validationError(`title must be ${MAX_TITLE_LENGTH} characters or less (got ${length})`, 'put the detail in --description');
  }
  return title;
}

/**
 * An issue ID: `<prefix>-<suffix>` with hierarchical `.n` children (bd-a3f8,
 * bd-a3f8.1, my-app-12). It becomes part of paths, branch names and shell
 * words, so nothing else (no `/`, `..`, `$`, spaces) is allowed, on create and
 * on import alike.
 */
export const ISSUE_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)+(\.\d+)*$/;

export function validateIssueId(raw: string): string {
  const id = raw.trim();
  if (!ISSUE_ID_PATTERN.test(id)) {
    throw validationError(`invalid ID ${JSON.stringify(raw)}`, 'an ID is <prefix>-<suffix>, e.g. bd-a3f8 or bd-a3f8.1');
  }
  return id;
}

export function parsePriority(value: string | number): number {
  const text = String(value).trim();
  const m = /^[Pp]?([0-9]+)$/.exec(text);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 4) {
    throw validationError(`invalid priority ${JSON.stringify(text)}: must be 0-4 or P0-P4 (0 = critical, 4 = backlog)`);
  }
  return n;
}

export function normalizeType(raw: string, vocabulary: Vocabulary): string {
  const type = raw.trim().toLowerCase();
  const resolved = TYPE_ALIASES[type] ?? type;
  if ((BUILTIN_TYPES as readonly string[]).includes(resolved) || vocabulary.customTypes.includes(resolved)) return resolved;
  throw validationError(
    `invalid issue type ${JSON.stringify(raw)}`,
    `use one of ${BUILTIN_TYPES.join(', ')}${vocabulary.customTypes.length ? `, or a custom type: ${vocabulary.customTypes.join(', ')}` : ''} (add custom ones with bd config set types.custom "a,b")`,
  );
}

export function validateStatus(raw: string, vocabulary: Vocabulary): string {
  const status = raw.trim();
  if ((BUILTIN_STATUSES as readonly string[]).includes(status) || vocabulary.customStatuses.some((s) => s.name === status)) return status;
  const custom = vocabulary.customStatuses.map((s) => s.name);
  throw validationError(
    `invalid status ${JSON.stringify(raw)}`,
    `use one of ${BUILTIN_STATUSES.join(', ')}${custom.length ? `, or a custom status: ${custom.join(', ')}` : ''} (add custom ones with bd config set status.custom "name:category,…")`,
  );
}

export function validateDepType(raw: string): string {
  const type = raw.trim();
  if ((KNOWN_DEP_TYPES as readonly string[]).includes(type)) return type;
  throw validationError(`invalid dependency type ${JSON.stringify(raw)}`, `use one of ${KNOWN_DEP_TYPES.join(', ')}`);
}

export function validateLabel(raw: string): string {
  const label = raw.trim();
  if (label === '') throw validationError('label cannot be empty');
  if (label.length > 255) throw validationError(`label too long (${label.length} characters, at most 255)`);
  return label;
}

export function parseMetadata(text: string, where = '--metadata'): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw validationError(`invalid JSON in ${where}: ${(error as Error).message}`, `give a JSON object, e.g. ${where} '{"team":"core"}'`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw validationError(`${where} must be a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`);
  }
  return parsed as Record<string, unknown>;
}

/** Parses config `status.custom` ("name:category,name2"). */
export function parseCustomStatuses(value: string | undefined): CustomStatus[] {
  if (!value) return [];
  const statuses: CustomStatus[] = [];
  for (const part of value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name = '', category = ''] = part.split(':').map((s) => s.trim());
    if (!/^[a-z][a-z0-9_-]*$/.test(name) || name.length > 50) {
      throw validationError(`invalid custom status name ${JSON.stringify(name)}`, 'names match ^[a-z][a-z0-9_-]*$ (at most 50 characters)');
    }
    if ((BUILTIN_STATUSES as readonly string[]).includes(name)) throw validationError(`custom status ${JSON.stringify(name)} collides with a built-in status`);
    if (!['active', 'wip', 'done', 'frozen', ''].includes(category)) {
      throw validationError(`invalid category ${JSON.stringify(category)} for custom status ${name}`, 'use active, wip, done or frozen');
    }
    statuses.push({ name, category: category as StatusCategory });
  }
  if (statuses.length > 50) throw validationError(`too many custom statuses (${statuses.length}, at most 50)`);
  return statuses;
}

export function parseCustomTypes(value: string | undefined): string[] {
  if (!value) return [];
  const types = value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const type of types) {
    if (!/^[a-z][a-z0-9_-]*$/.test(type) || type.length > 50) throw validationError(`invalid custom type name ${JSON.stringify(type)}`);
  }
  return types;
}
