/**
 * The ledger's rules over the store port: every command of `bd` (and every gt
 * service that writes beads) goes through here, so validation, the close guard,
 * cycle refusal, CAS claims and the audit trail hold for all of them.
 * Each public method is one transaction: it applies completely or not at all.
 */
import { randomUUID } from 'node:crypto';
import { GtError, conflictError, notFoundError, validationError } from '../../shared/errors.js';
import { nowTime, unixNanos } from '../../shared/time.js';
import { redactData } from '../../shared/secrets.js';
import { adaptiveLength, childDepth, DEFAULT_ID_CONFIG, hashId, MAX_CHILD_DEPTH, NONCES_PER_LENGTH, type AdaptiveIdConfig } from './ids.js';
import {
  BLOCKING_DEP_TYPES,
  EMPTY_VOCABULARY,
  INFRA_TYPES,
  normalizeType,
  parseCustomStatuses,
  parseCustomTypes,
  validateDepType,
  validateIssueId,
  validateLabel,
  validateStatus,
  validateTitle,
  type Vocabulary,
} from './rules.js';
import { COALESCED_KINDS, type TownEvent, type TownEventFilter, type TownEventInput } from '../events/town-events.js';
import type { NotificationFilter, NotificationInsert, NotificationPatch, NotificationRecord } from '../notify/types.js';
import { guardedStore, type LedgerGuard } from './guard.js';
import type { BlockerInfo, LedgerReader, LedgerStore, LedgerWriter } from './store.js';
import type { BlockedIssue, Comment, Dependency, Issue, IssueDetails, IssueFilter, IssueWithCounts, LedgerEvent, Memory, ReadyFilter, Stats } from './types.js';

export interface LedgerOptions {
  /** Who acts; a function is called once, on the first write (reads never need it). */
  actor: string | (() => string);
  /** Canonical "now"; injectable so tests can pin time. */
  clock?: () => string;
}

export interface CreateInput {
  title: string | undefined;
  description?: string;
  design?: string;
  acceptance_criteria?: string;
  notes?: string;
  type?: string;
  priority?: number;
  assignee?: string;
  owner?: string;
  labels?: string[];
  /** Parent for a hierarchical child ID `P.n` and a parent-child edge. */
  parent?: string;
  /** Edges from the new issue: `{type, id}`; type `blocks` with `reverse` means the new issue blocks id. */
  deps?: Array<{ type: string; id: string; reverse?: boolean }>;
  waitsFor?: { spawner: string; gate: 'all-children' | 'any-children' };
  id?: string;
  external_ref?: string;
  spec_id?: string;
  metadata?: Record<string, unknown>;
  estimated_minutes?: number;
  due_at?: string;
  defer_until?: string;
  ephemeral?: boolean;
  no_history?: boolean;
  wisp_type?: string;
  mol_type?: string;
  pinned?: boolean;
  is_template?: boolean;
  /** ID infix for molecules and wisps: `<prefix>-mol-<hash>`. */
  idInfix?: string;
  /** Override the issue prefix (e.g. a rig's prefix in a town ledger). */
  prefix?: string;
  /**
   * A town event reporting this creation, appended in its transaction; a
   * function gets the new ID. `bead` defaults to the new ID.
   */
  townEvent?: TownEventInput | ((id: string) => TownEventInput);
  noInheritLabels?: boolean;
  status?: string;
  extraFields?: Partial<Issue>;
}

export interface UpdateInput {
  title?: string;
  description?: string;
  design?: string;
  acceptance_criteria?: string;
  notes?: string;
  appendNotes?: string;
  status?: string;
  priority?: number;
  type?: string;
  assignee?: string | null;
  owner?: string | null;
  addLabels?: string[];
  removeLabels?: string[];
  setLabels?: string[];
  /** New parent; null removes the parent edge. The ID never changes. */
  parent?: string | null;
  defer_until?: string | null;
  due_at?: string | null;
  estimated_minutes?: number | null;
  external_ref?: string | null;
  spec_id?: string | null;
  metadata?: Record<string, unknown>;
  setMetadata?: Record<string, unknown>;
  unsetMetadata?: string[];
  await_id?: string | null;
  ephemeral?: boolean;
  no_history?: boolean;
  pinned?: boolean;
  claim?: boolean;
  closeReason?: string;
  /**
   * Compare-and-set: the update applies only if the issue is still in one of
   * these statuses (and, when given, has this assignee; null = unassigned),
   * checked inside the write transaction. Otherwise it fails with a conflict.
   */
  expect?: {
    statuses?: string[];
    assignee?: string | null;
    /** Metadata keys that must hold these values (compared as JSON); null = the key is absent. */
    metadata?: Record<string, unknown>;
  };
  /** Town events reporting this change, appended in its transaction when the update applies. */
  townEvent?: TownEventInput | TownEventInput[];
  /**
   * Volatile bookkeeping (an agent's state, its last signal): the row changes
   * but no audit event is written, so state churn never grows the ledger.
   */
  volatile?: boolean;
}

export interface CloseOptions {
  reason?: string | undefined;
  force?: boolean | undefined;
  session?: string | undefined;
  /** A town event reporting the close, appended in its transaction (for each issue closed). */
  townEvent?: (id: string) => TownEventInput;
}

/** The one result of a one-ID batch call; its failure is thrown. */
export function single<T>(result: BatchResult<T>): T {
  const value = result.done[0];
  if (value !== undefined) return value;
  throw result.failed[0]?.error ?? new GtError('internal', 'the call did nothing');
}

export interface BatchFailure {
  id: string;
  error: GtError;
}

export interface BatchResult<T> {
  done: T[];
  failed: BatchFailure[];
}

export interface ImportRecord {
  issue: Issue;
  labels: string[];
  dependencies: Dependency[];
  comments: Comment[];
  line: number;
}

export interface ImportInput {
  records: ImportRecord[];
  memories: Memory[];
  tombstones: string[];
  source: string;
  dryRun?: boolean;
}

export interface ImportResult {
  source: string;
  created: number;
  updated: number;
  unchanged: number;
  skipped: number;
  tombstones_skipped: number;
  memories: number;
  ids: string[];
  dangling: Array<{ issue_id: string; depends_on_id: string; type: string }>;
  warnings: string[];
  dry_run: boolean;
}

/**
 * The checks of bd create that need the ledger's vocabulary, applied to every
 * imported record (issue 12, finding 8): statuses and types known here (Beads'
 * type aliases normalised), dependency types known. Errors name the line.
 */
function importChecked(input: ImportInput, vocabulary: Vocabulary): ImportRecord[] {
  return input.records.map((record) => {
    const at = <T>(check: () => T): T => {
      try {
        return check();
      } catch (error) {
        if (error instanceof GtError)
          throw new GtError(error.kind, `${input.source} line ${record.line}: ${error.message}; nothing was imported`, error.hint ? { hint: error.hint } : {});
        throw error;
      }
    };
    const issue = {
      ...record.issue,
      status: at(() => validateStatus(record.issue.status, vocabulary)),
      issue_type: at(() => normalizeType(record.issue.issue_type, vocabulary)),
    };
    const dependencies = record.dependencies.map((dep) => ({ ...dep, type: at(() => validateDepType(dep.type)) }));
    return { ...record, issue, dependencies };
  });
}

export interface TreeNode extends Issue {
  depth: number;
  parent_id: string;
  dependency_type: string;
  truncated: boolean;
}

export interface ExplainResult {
  ready: Array<IssueWithCounts & { reason: string; resolved_blockers: string[] }>;
  blocked: Array<IssueWithCounts & { blocked_by: BlockerInfo[]; blocked_by_count: number }>;
  cycles: string[][];
  summary: { total_ready: number; total_blocked: number; cycle_count: number };
}

export interface ShowDetails extends IssueDetails {
  dependents: Array<Dependency & { title?: string; status?: string }>;
  parent?: string;
  is_blocked: boolean;
  epic_total_children?: number;
  epic_closed_children?: number;
  epic_closeable?: boolean;
}

/** Config keys the ledger itself reads. */
export const CONFIG_KEYS = {
  prefix: 'issue_prefix',
  customStatuses: 'status.custom',
  customTypes: 'types.custom',
  minHashLength: 'min_hash_length',
  maxHashLength: 'max_hash_length',
  maxCollisionProb: 'max_collision_prob',
  lastTouched: 'last_touched',
} as const;

/** What bd and gt print on stderr when a partial ID resolved (see Ledger.onPartialId). */
export function partialIdNote(input: string, id: string): string {
  return `Note: ${JSON.stringify(input)} resolved to ${id}`;
}

export class Ledger {
  private readonly base: LedgerStore;
  private guarded: LedgerStore | undefined;
  private readonly clock: () => string;
  private actorSource: string | (() => string);
  private partialIdListener: ((input: string, id: string) => void) | undefined;
  /** Partial IDs already reported: a command that resolves one twice (or a retried transaction) says it once. */
  private readonly reportedPartialIds = new Set<string>();

  constructor(store: LedgerStore, options: LedgerOptions) {
    this.base = store;
    this.actorSource = options.actor;
    this.clock = options.clock ?? nowTime;
  }

  /** Closes the store (the connection, not any issue). Idempotent. */
  async release(): Promise<void> {
    await this.base.close();
  }

  /** Where the ledger lives, its schema version, and what a consistency check finds (empty = healthy). */
  async health(): Promise<{ location: string; schema_version: number; problems: string[] }> {
    return { location: this.store.location, schema_version: await this.store.schemaVersion(), problems: await this.store.integrityCheck() };
  }

  private get store(): LedgerStore {
    return this.guarded ?? this.base;
  }

  /**
   * From now on every issue write passes `write`, and reads see only what
   * `read` lets through (the edges install both for an agent's process).
   */
  guard(guards: LedgerGuard): void {
    this.guarded = guardedStore(this.base, guards);
  }

  /**
   * The same ledger without the write guard: for gt's own code that writes what
   * the caller itself may not (a command gate of a formula a person installed).
   */
  unguarded(): Ledger {
    if (!this.guarded) return this;
    return new Ledger(this.base, { actor: () => this.actor, clock: this.clock });
  }

  get actor(): string {
    if (typeof this.actorSource === 'function') this.actorSource = this.actorSource();
    return this.actorSource;
  }

  now(): string {
    return this.clock();
  }

  // ---- configuration ----

  async prefix(tx?: LedgerReader): Promise<string> {
    const read = async (r: LedgerReader) => (await r.getConfig(CONFIG_KEYS.prefix)) ?? 'bd';
    return tx ? read(tx) : this.store.read(read);
  }

  private async vocabulary(tx: LedgerReader): Promise<Vocabulary> {
    const [statuses, types] = await Promise.all([tx.getConfig(CONFIG_KEYS.customStatuses), tx.getConfig(CONFIG_KEYS.customTypes)]);
    if (!statuses && !types) return EMPTY_VOCABULARY;
    return { customStatuses: parseCustomStatuses(statuses), customTypes: parseCustomTypes(types) };
  }

  private async idConfig(tx: LedgerReader): Promise<AdaptiveIdConfig> {
    const [min, max, prob] = await Promise.all([
      tx.getConfig(CONFIG_KEYS.minHashLength),
      tx.getConfig(CONFIG_KEYS.maxHashLength),
      tx.getConfig(CONFIG_KEYS.maxCollisionProb),
    ]);
    return {
      minLength: min ? Number(min) : DEFAULT_ID_CONFIG.minLength,
      maxLength: max ? Number(max) : DEFAULT_ID_CONFIG.maxLength,
      maxCollisionProbability: prob ? Number(prob) : DEFAULT_ID_CONFIG.maxCollisionProbability,
    };
  }

  async getConfig(key: string): Promise<string | undefined> {
    return this.store.read((tx) => tx.getConfig(key));
  }

  async listConfig(): Promise<Record<string, string>> {
    return this.store.read((tx) => tx.listConfig());
  }

  async setConfig(key: string, value: string): Promise<void> {
    // Validate the keys the ledger interprets, so a typo cannot break every later command.
    if (key === CONFIG_KEYS.customStatuses) parseCustomStatuses(value);
    if (key === CONFIG_KEYS.customTypes) parseCustomTypes(value);
    if (key === CONFIG_KEYS.minHashLength || key === CONFIG_KEYS.maxHashLength) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 3 || n > 8) throw validationError(`${key} must be an integer from 3 to 8, got ${JSON.stringify(value)}`);
    }
    if (key === CONFIG_KEYS.maxCollisionProb) {
      const n = Number(value);
      if (!(n > 0 && n < 1)) throw validationError(`${key} must be a number between 0 and 1, got ${JSON.stringify(value)}`);
    }
    if (key === CONFIG_KEYS.prefix && !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(value)) {
      throw validationError(`invalid prefix ${JSON.stringify(value)}`, 'a prefix starts with a letter or _ and has only letters, digits, _ and -');
    }
    await this.store.write((tx) => tx.setConfig(key, value));
  }

  async unsetConfig(key: string): Promise<void> {
    await this.store.write((tx) => tx.deleteConfig(key));
  }

  // ---- IDs ----

  /**
   * Resolves a full or partial ID: exact, then with the prefix added (`a3f8` →
   * `bd-a3f8`), then a unique prefix match over IDs or over their hash part.
   */
  async resolveId(tx: LedgerReader, text: string): Promise<string> {
    const input = text.trim();
    if (input === '') throw validationError('empty issue ID');
    if (await tx.getIssue(input)) return input;
    const prefix = await this.prefix(tx);
    const candidates = [`${prefix}-${input}`];
    if (input.startsWith(prefix) && !input.startsWith(`${prefix}-`)) candidates.push(`${prefix}-${input.slice(prefix.length)}`);
    for (const candidate of candidates) if (await tx.getIssue(candidate)) return candidate;
    const matches = new Set<string>();
    for (const id of await tx.idsStartingWith(input, 11)) matches.add(id);
    for (const candidate of candidates) for (const id of await tx.idsStartingWith(candidate, 11)) matches.add(id);
    if (matches.size === 0 && /^[0-9a-z]+$/.test(input)) for (const id of await tx.idsWithHashPrefix(input, 11)) matches.add(id);
    if (matches.size === 1) {
      const id = [...matches][0] as string;
      this.reportPartialId(input, id);
      return id;
    }
    if (matches.size > 1) {
      const list = [...matches].sort();
      throw new GtError(
        'ambiguous',
        `ambiguous ID ${JSON.stringify(input)} matches ${list.length > 10 ? 'more than 10' : list.length} issues: ${list.slice(0, 10).join(', ')}`,
        {
          hint: 'type more characters of the ID',
        },
      );
    }
    throw notFoundError(`no issue found matching ${JSON.stringify(input)}`, 'check the ID with `bd list` or `bd search`');
  }

  /**
   * Who is told when a partial ID resolves to a longer one (a unique prefix
   * match, as git takes a short hash): the edges print it on stderr, so a
   * typo such as `cal-8v` for `cal-8vj` never acts on a bead unnoticed.
   */
  onPartialId(listener: (input: string, id: string) => void): void {
    this.partialIdListener = listener;
  }

  private reportPartialId(input: string, id: string): void {
    const key = `${input}\n${id}`;
    if (this.reportedPartialIds.has(key)) return;
    this.reportedPartialIds.add(key);
    this.partialIdListener?.(input, id);
  }

  async resolve(text: string): Promise<string> {
    return this.store.read((tx) => this.resolveId(tx, text));
  }

  /**
   * `resolve` for a command that looks for one kind of thing: an ID that
   * matches nothing is `missing` (in that command's words); an ambiguous one
   * stays ambiguous and lists its matches, as `bd show` does.
   */
  async resolveAs(text: string, missing: GtError): Promise<string> {
    try {
      return await this.resolve(text);
    } catch (error) {
      if (error instanceof GtError && error.kind === 'not_found') throw missing;
      throw error;
    }
  }

  async lastTouched(): Promise<string | undefined> {
    return this.store.read((tx) => tx.getConfig(CONFIG_KEYS.lastTouched));
  }

  private async mintId(tx: LedgerWriter, input: CreateInput, createdAt: string, prefix: string): Promise<string> {
    const base = input.idInfix ? `${prefix}-${input.idInfix}` : prefix;
    const config = await this.idConfig(tx);
    const existing = await tx.countTopLevel(base);
    const start = adaptiveLength(existing, config);
    const nanos = unixNanos(createdAt);
    for (let length = start; length <= config.maxLength; length++) {
      for (let nonce = 0; nonce < NONCES_PER_LENGTH; nonce++) {
        const id = hashId(base, input.title ?? '', input.description ?? '', this.actor, nanos, nonce, length);
        if (!(await tx.getIssue(id))) return id;
      }
    }
    throw conflictError(`could not mint a free ID for prefix ${base} after ${(config.maxLength - start + 1) * NONCES_PER_LENGTH} tries`);
  }

  // ---- create ----

  async create(input: CreateInput): Promise<IssueDetails> {
    return this.store.write(async (tx) => {
      const id = await this.createIn(tx, input);
      if (input.townEvent) await this.appendTownEvent(tx, { bead: id, ...(typeof input.townEvent === 'function' ? input.townEvent(id) : input.townEvent) });
      return this.details(tx, id);
    });
  }

  /** One issue by its exact ID (no partial matching); undefined when there is none. */
  async find(id: string): Promise<Issue | undefined> {
    return this.store.read((tx) => tx.getIssue(id));
  }

  // ---- the town event stream ----

  /** Appends a town event on its own (a happening with no ledger change of its own); returns its position. */
  async emit(event: TownEventInput): Promise<number> {
    return this.store.write((tx) => this.appendTownEvent(tx, event));
  }

  /** Town events after a position, oldest first. */
  async townEvents(afterId: number, filter: TownEventFilter = {}, limit = 500): Promise<TownEvent[]> {
    return this.store.read((tx) => tx.townEvents(afterId, filter, limit));
  }

  async lastTownEventId(): Promise<number> {
    return this.store.read((tx) => tx.lastTownEventId());
  }

  /** Calls `wake` soon after town events are appended, by this process or another (the store's wake-up port); returns the stop. */
  async watchEvents(wake: () => void, options: { foreign?: boolean } = {}): Promise<() => void> {
    return this.store.watch(wake, options);
  }

  // ---- the notification outbox (core/notify) ----

  /** Adds messages to the outbox in one transaction; each entry is its new ID, or undefined when deduplicated. */
  async enqueueNotifications(rows: NotificationInsert[]): Promise<Array<number | undefined>> {
    return this.store.write(async (tx) => {
      const ids: Array<number | undefined> = [];
      for (const row of rows) ids.push(await tx.insertNotification(row));
      return ids;
    });
  }

  async notifications(filter: NotificationFilter): Promise<NotificationRecord[]> {
    return this.store.read((tx) => tx.notifications(filter));
  }

  /** Records a delivery attempt's outcome, and its event in the same transaction. */
  async updateNotification(id: number, patch: NotificationPatch, townEvent?: TownEventInput): Promise<void> {
    await this.store.write(async (tx) => {
      await tx.updateNotification(id, patch);
      if (townEvent) await this.appendTownEvent(tx, townEvent);
    });
  }

  async claimNotification(id: number, dueBy: string, until: string): Promise<boolean> {
    return this.store.write((tx) => tx.claimNotification(id, dueBy, until));
  }

  async notifyCursor(name: string): Promise<string | undefined> {
    return this.store.read((tx) => tx.notifyCursor(name));
  }

  async setNotifyCursor(name: string, value: string): Promise<void> {
    await this.store.write((tx) => tx.setNotifyCursor(name, value));
  }

  private async appendTownEvent(tx: LedgerWriter, event: TownEventInput): Promise<number> {
    const { kind, actor, payload, ...subject } = event;
    // Events are read by every follower (feed, dashboard, notifications): no secret goes in one (issue 12, finding 5).
    const id = await tx.appendTownEvent({ kind, actor: actor ?? this.actor, payload: redactData(payload ?? {}), at: this.now(), ...subject });
    if (COALESCED_KINDS.has(kind) && event.agent !== undefined) await tx.dropTownEvents(kind, event.agent, id);
    return id;
  }

  /**
   * Creates several issues in one transaction: all or none. Each input may
   * carry a `ref` ("@name"); a later input's `parent`, `deps` and `waitsFor`
   * may name an earlier one by that ref. Returns ref → new ID.
   */
  async createMany(inputs: Array<CreateInput & { ref?: string }>): Promise<Record<string, string>> {
    return this.store.write(async (tx) => {
      const ids: Record<string, string> = {};
      const resolve = (text: string) => (text.startsWith('@') ? (ids[text] ?? text) : text);
      for (const input of inputs) {
        const id = await this.createIn(tx, {
          ...input,
          ...(input.parent !== undefined ? { parent: resolve(input.parent) } : {}),
          ...(input.deps ? { deps: input.deps.map((d) => ({ ...d, id: resolve(d.id) })) } : {}),
          ...(input.waitsFor ? { waitsFor: { ...input.waitsFor, spawner: resolve(input.waitsFor.spawner) } } : {}),
        });
        if (input.ref) ids[input.ref] = id;
      }
      return ids;
    });
  }

  private async createIn(tx: LedgerWriter, input: CreateInput): Promise<string> {
    const title = validateTitle(input.title);
    const vocabulary = await this.vocabulary(tx);
    const type = normalizeType(input.type ?? 'task', vocabulary);
    const status = input.status ? validateStatus(input.status, vocabulary) : 'open';
    if (input.estimated_minutes !== undefined && (!Number.isInteger(input.estimated_minutes) || input.estimated_minutes < 0)) {
      throw validationError(`estimate must be a non-negative number of minutes, got ${input.estimated_minutes}`);
    }
    if (input.ephemeral && input.no_history) throw validationError('--ephemeral and --no-history cannot be combined');
    const now = this.now();
    const prefix = input.prefix ?? (await this.prefix(tx));

    let parentId: string | undefined;
    let id: string;
    if (input.parent !== undefined) {
      parentId = await this.resolveId(tx, input.parent);
      if (childDepth(parentId) + 1 > MAX_CHILD_DEPTH) {
        throw validationError(`cannot create a child of ${parentId}: maximum hierarchy depth is ${MAX_CHILD_DEPTH}`);
      }
    }
    if (input.id !== undefined) {
      id = validateIssueId(input.id);
      if (await tx.getIssue(id)) throw conflictError(`issue ${id} already exists`);
    } else if (parentId !== undefined) {
      id = `${parentId}.${await tx.nextChildNumber(parentId)}`;
    } else {
      // Wisps are named <prefix>-wisp-<hash>, as in Beads, so they are told apart at a glance.
      id = await this.mintId(tx, { ...input, idInfix: input.idInfix ?? (input.ephemeral ? 'wisp' : undefined) }, now, prefix);
    }

    const issue: Issue = {
      ...input.extraFields,
      id,
      title,
      status,
      priority: input.priority ?? 2,
      issue_type: type,
      created_at: now,
      created_by: this.actor,
      updated_at: now,
    };
    const optional: Array<keyof CreateInput & keyof Issue> = [
      'description',
      'design',
      'acceptance_criteria',
      'notes',
      'assignee',
      'owner',
      'external_ref',
      'spec_id',
      'metadata',
      'estimated_minutes',
      'due_at',
      'defer_until',
      'ephemeral',
      'no_history',
      'wisp_type',
      'mol_type',
      'pinned',
      'is_template',
    ];
    for (const key of optional) {
      const value = input[key];
      if (value !== undefined && value !== '' && value !== false) (issue as unknown as Record<string, unknown>)[key] = value;
    }
    if (status === 'closed') {
      issue.closed_at = now;
      issue.close_reason = 'Closed';
    }
    if (status === 'in_progress') issue.started_at = now;
    await tx.insertIssue(issue);
    await this.event(tx, id, 'created', { new_value: title });

    const labels = new Set((input.labels ?? []).map(validateLabel));
    if (parentId !== undefined) {
      await this.putEdge(tx, { issue_id: id, depends_on_id: parentId, type: 'parent-child', created_at: now, created_by: this.actor });
      if (!input.noInheritLabels) for (const label of await tx.labels(parentId)) labels.add(label);
    }
    for (const label of labels) {
      await tx.addLabel(id, label);
      await this.event(tx, id, 'label_added', { new_value: label });
    }
    for (const dep of input.deps ?? []) {
      const other = await this.resolveId(tx, dep.id);
      const type = validateDepType(dep.type);
      const edge = dep.reverse
        ? { issue_id: other, depends_on_id: id, type, created_at: now, created_by: this.actor }
        : { issue_id: id, depends_on_id: other, type, created_at: now, created_by: this.actor };
      await this.checkedPutEdge(tx, edge);
    }
    if (input.waitsFor) {
      const spawner = await this.resolveId(tx, input.waitsFor.spawner);
      await this.checkedPutEdge(tx, {
        issue_id: id,
        depends_on_id: spawner,
        type: 'waits-for',
        created_at: now,
        created_by: this.actor,
        metadata: JSON.stringify({ gate: input.waitsFor.gate }),
      });
    }
    await tx.refreshBlocked([id]);
    await tx.setConfig(CONFIG_KEYS.lastTouched, id);
    return id;
  }

  // ---- reads ----

  private async details(tx: LedgerReader, id: string): Promise<IssueDetails> {
    const issue = await tx.getIssue(id);
    if (!issue) throw notFoundError(`no issue found matching ${JSON.stringify(id)}`);
    const [labels, dependencies, comments] = await Promise.all([tx.labels(id), tx.dependencies(id), tx.comments(id)]);
    return { ...issue, labels, dependencies, comments };
  }

  async show(ids: string[]): Promise<ShowDetails[]> {
    return this.store.read(async (tx) => {
      const result: ShowDetails[] = [];
      for (const text of ids) {
        const id = await this.resolveId(tx, text);
        const details = await this.details(tx, id);
        const dependents: ShowDetails['dependents'] = [];
        let total = 0;
        let closed = 0;
        for (const dep of await tx.dependents(id)) {
          const other = await tx.getIssue(dep.issue_id);
          dependents.push(other ? { ...dep, title: other.title, status: other.status } : dep);
          if (dep.type === 'parent-child') {
            total++;
            if (other?.status === 'closed') closed++;
          }
        }
        const show: ShowDetails = { ...details, dependents, is_blocked: await tx.isBlocked(id) };
        const parent = details.dependencies.find((d) => d.type === 'parent-child');
        if (parent) show.parent = parent.depends_on_id;
        if (details.issue_type === 'epic' || total > 0) {
          show.epic_total_children = total;
          show.epic_closed_children = closed;
          show.epic_closeable = total > 0 && closed === total && details.status !== 'closed';
        }
        result.push(show);
      }
      return result;
    });
  }

  async get(id: string): Promise<IssueDetails> {
    return this.store.read(async (tx) => this.details(tx, await this.resolveId(tx, id)));
  }

  async list(filter: IssueFilter): Promise<IssueWithCounts[]> {
    return this.store.read((tx) => tx.list(filter));
  }

  async readyStatuses(tx: LedgerReader): Promise<string[]> {
    const vocabulary = await this.vocabulary(tx);
    return ['open', ...vocabulary.customStatuses.filter((s) => s.category === 'active').map((s) => s.name)];
  }

  async ready(filter: Omit<ReadyFilter, 'now'>): Promise<IssueWithCounts[]> {
    return this.store.read(async (tx) => tx.ready(await this.readyFilter(tx, filter)));
  }

  private async readyFilter(tx: LedgerReader, filter: Omit<ReadyFilter, 'now'>): Promise<ReadyFilter> {
    const resolved: ReadyFilter = { ...filter, now: this.now(), readyStatuses: filter.readyStatuses ?? (await this.readyStatuses(tx)) };
    if (filter.parent !== undefined) resolved.parent = await this.resolveId(tx, filter.parent);
    if (filter.mol !== undefined) resolved.mol = await this.resolveId(tx, filter.mol);
    return resolved;
  }

  /** Atomically picks the first ready issue and claims it for the actor (`bd ready --claim`). */
  async claimNextReady(filter: Omit<ReadyFilter, 'now'>): Promise<IssueWithCounts | undefined> {
    return this.store.write(async (tx) => {
      const [first] = await tx.ready({ ...(await this.readyFilter(tx, filter)), limit: 1 });
      if (!first) return undefined;
      await this.claimIn(tx, first.id);
      const [claimed] = await tx.list({ ids: [first.id], includeEphemeral: true, includeTemplates: true });
      return claimed;
    });
  }

  async explainReady(filter: Omit<ReadyFilter, 'now'>): Promise<ExplainResult> {
    return this.store.read(async (tx) => {
      const resolved = await this.readyFilter(tx, filter);
      const ready = await tx.ready(resolved);
      const readyOut: ExplainResult['ready'] = [];
      for (const issue of ready) {
        const deps = (await tx.dependencies(issue.id)).filter((d) => (BLOCKING_DEP_TYPES as readonly string[]).includes(d.type) || d.type === 'waits-for');
        readyOut.push({
          ...issue,
          reason: deps.length === 0 ? 'no blocking dependencies' : `all ${deps.length} blocker(s) resolved`,
          resolved_blockers: deps.map((d) => d.depends_on_id),
        });
      }
      const blocked: ExplainResult['blocked'] = [];
      for (const issue of await tx.blocked(resolved)) {
        const blockers = await this.blockersIn(tx, issue.id, issue.parent);
        blocked.push({ ...issue, blocked_by: blockers, blocked_by_count: blockers.length });
      }
      const cycles = findCycles(await tx.blockingEdges());
      return { ready: readyOut, blocked, cycles, summary: { total_ready: readyOut.length, total_blocked: blocked.length, cycle_count: cycles.length } };
    });
  }

  /** What keeps an issue from being ready: its open blockers, and its parent when that is blocked. */
  async openBlockers(idText: string): Promise<BlockerInfo[]> {
    return this.store.read(async (tx) => {
      const id = await this.resolveId(tx, idText);
      const parent = (await tx.dependencies(id)).find((d) => d.type === 'parent-child')?.depends_on_id;
      return this.blockersIn(tx, id, parent);
    });
  }

  private async blockersIn(tx: LedgerReader, id: string, parent: string | undefined): Promise<BlockerInfo[]> {
    const blockers = await tx.openBlockers(id);
    if (parent !== undefined && (await tx.isBlocked(parent))) {
      const issue = await tx.getIssue(parent);
      if (issue) blockers.push({ id: issue.id, title: issue.title, status: issue.status, priority: issue.priority, type: 'parent-child' });
    }
    return blockers;
  }

  async blocked(filter: IssueFilter): Promise<BlockedIssue[]> {
    return this.store.read(async (tx) => {
      const resolved = filter.parent !== undefined ? { ...filter, parent: await this.resolveId(tx, filter.parent) } : filter;
      return tx.blocked(resolved);
    });
  }

  async stats(options: { excludeTypes?: string[] } = {}): Promise<Stats> {
    return this.store.read((tx) => tx.stats(this.now(), options.excludeTypes));
  }

  async events(afterId = 0, limit = 100, issue?: string): Promise<LedgerEvent[]> {
    return this.store.read(async (tx) => tx.events(afterId, limit, issue === undefined ? undefined : await this.resolveId(tx, issue)));
  }

  // ---- update / claim ----

  /**
   * Runs `fn` for each ID in its own transaction. One ID's failure (a GtError)
   * is reported and the rest go on, as Beads' multi-ID commands do.
   */
  private async perIssue<T>(ids: string[], fn: (tx: LedgerWriter, id: string) => Promise<T>): Promise<BatchResult<T>> {
    const result: BatchResult<T> = { done: [], failed: [] };
    for (const text of ids) {
      try {
        result.done.push(await this.store.write(async (tx) => fn(tx, await this.resolveId(tx, text))));
      } catch (error) {
        if (!(error instanceof GtError)) throw error;
        result.failed.push({ id: text, error });
      }
    }
    return result;
  }

  async update(ids: string[], input: UpdateInput): Promise<BatchResult<IssueDetails>> {
    if (input.title !== undefined) validateTitle(input.title);
    return this.perIssue(ids, (tx, id) => this.updateIn(tx, id, input));
  }

  private async updateIn(tx: LedgerWriter, id: string, input: UpdateInput): Promise<IssueDetails> {
    // Claim first, so every other change below compares against the claimed state.
    if (input.claim) await this.claimIn(tx, id);
    const issue = await tx.getIssue(id);
    if (!issue) throw notFoundError(`no issue found matching ${JSON.stringify(id)}`);
    if (input.expect) {
      const { statuses, assignee } = input.expect;
      if (statuses && !statuses.includes(issue.status)) throw conflictError(`${id} changed under you: its status is now ${issue.status}`);
      if (assignee !== undefined && (issue.assignee ?? null) !== assignee) {
        throw conflictError(`${id} changed under you: it is now assigned to ${issue.assignee ?? 'nobody'}`);
      }
      for (const [key, value] of Object.entries(input.expect.metadata ?? {})) {
        const current = issue.metadata?.[key] ?? null;
        if (JSON.stringify(current) !== JSON.stringify(value)) throw conflictError(`${id} changed under you: its ${key} is now ${JSON.stringify(current)}`);
      }
    }
    const vocabulary = await this.vocabulary(tx);
    const now = this.now();
    const patch: Partial<Issue> = {};
    const changed: string[] = [];
    const set = <K extends keyof Issue>(key: K, value: Issue[K] | undefined) => {
      const before = issue[key];
      const same = JSON.stringify(before ?? null) === JSON.stringify(value === '' ? null : (value ?? null));
      if (same) return;
      patch[key] = value;
      changed.push(key);
    };

    if (input.title !== undefined) set('title', validateTitle(input.title));
    if (input.description !== undefined) set('description', input.description);
    if (input.design !== undefined) set('design', input.design);
    if (input.acceptance_criteria !== undefined) set('acceptance_criteria', input.acceptance_criteria);
    if (input.notes !== undefined) set('notes', input.notes);
    if (input.appendNotes !== undefined) set('notes', issue.notes ? `${issue.notes}\n${input.appendNotes}` : input.appendNotes);
    if (input.priority !== undefined) set('priority', input.priority);
    if (input.type !== undefined) set('issue_type', normalizeType(input.type, vocabulary));
    if (input.assignee !== undefined) set('assignee', input.assignee ?? undefined);
    if (input.owner !== undefined) set('owner', input.owner ?? undefined);
    if (input.defer_until !== undefined) set('defer_until', input.defer_until ?? undefined);
    if (input.due_at !== undefined) set('due_at', input.due_at ?? undefined);
    if (input.external_ref !== undefined) set('external_ref', input.external_ref ?? undefined);
    if (input.spec_id !== undefined) set('spec_id', input.spec_id ?? undefined);
    if (input.await_id !== undefined) set('await_id', input.await_id ?? undefined);
    if (input.ephemeral !== undefined) set('ephemeral', input.ephemeral || undefined);
    if (input.no_history !== undefined) set('no_history', input.no_history || undefined);
    if (input.pinned !== undefined) set('pinned', input.pinned || undefined);
    if (input.estimated_minutes !== undefined) {
      if (input.estimated_minutes !== null && (!Number.isInteger(input.estimated_minutes) || input.estimated_minutes < 0)) {
        throw validationError(`estimate must be a non-negative number of minutes, got ${input.estimated_minutes}`);
      }
      set('estimated_minutes', input.estimated_minutes ?? undefined);
    }
    if (input.metadata !== undefined || input.setMetadata !== undefined || input.unsetMetadata !== undefined) {
      const metadata: Record<string, unknown> = { ...(input.metadata ?? issue.metadata ?? {}) };
      Object.assign(metadata, input.setMetadata ?? {});
      for (const key of input.unsetMetadata ?? []) delete metadata[key];
      set('metadata', Object.keys(metadata).length ? metadata : undefined);
    }
    const ephemeral = 'ephemeral' in patch ? patch.ephemeral : issue.ephemeral;
    const noHistory = 'no_history' in patch ? patch.no_history : issue.no_history;
    if (ephemeral && noHistory) throw validationError(`${id}: ephemeral and no-history cannot both be set`);

    let statusChanged = false;
    if (input.status !== undefined) {
      const status = validateStatus(input.status, vocabulary);
      if (status !== issue.status) {
        if (status === 'closed') await this.guardClose(tx, issue, false);
        statusChanged = true;
        Object.assign(patch, this.statusPatch(issue, status, now, input.closeReason));
        changed.push('status');
      }
    }

    if (changed.length > 0) {
      patch.updated_at = now;
      await tx.updateIssue(id, patch);
      const fields = changed.filter((f) => f !== 'status');
      if (fields.length > 0 && !input.volatile) await this.event(tx, id, 'updated', { comment: fields.join(',') });
      if (statusChanged) {
        await this.event(tx, id, patch.status === 'closed' ? 'closed' : issue.status === 'closed' ? 'reopened' : 'status_changed', {
          old_value: issue.status,
          new_value: patch.status ?? '',
        });
        await tx.refreshBlocked([id]);
        if (patch.status === 'closed') await this.closeFinishedMolecules(tx, id, now);
      }
    }

    for (const label of input.setLabels ?? []) validateLabel(label);
    if (input.setLabels !== undefined) {
      const before = await tx.labels(id);
      const after = [...new Set(input.setLabels.map(validateLabel))];
      for (const label of before.filter((l) => !after.includes(l))) await this.removeLabelIn(tx, id, label);
      for (const label of after.filter((l) => !before.includes(l))) await this.addLabelIn(tx, id, label);
    }
    for (const label of input.addLabels ?? []) await this.addLabelIn(tx, id, validateLabel(label));
    for (const label of input.removeLabels ?? []) await this.removeLabelIn(tx, id, validateLabel(label));

    if (input.parent !== undefined) {
      const current = (await tx.dependencies(id)).find((d) => d.type === 'parent-child');
      const next = input.parent === null || input.parent === '' ? undefined : await this.resolveId(tx, input.parent);
      if (current?.depends_on_id !== next) {
        if (current) {
          await tx.removeDependency(id, current.depends_on_id);
          await this.event(tx, id, 'dependency_removed', { old_value: `${current.depends_on_id} (parent-child)` });
        }
        if (next !== undefined) {
          if (next === id) throw validationError(`${id} cannot be its own parent`);
          await this.checkedPutEdge(tx, { issue_id: id, depends_on_id: next, type: 'parent-child', created_at: now, created_by: this.actor });
        }
        await tx.refreshBlocked([id]);
      }
    }
    if (!input.volatile) await tx.setConfig(CONFIG_KEYS.lastTouched, id);
    for (const event of input.townEvent === undefined ? [] : Array.isArray(input.townEvent) ? input.townEvent : [input.townEvent])
      await this.appendTownEvent(tx, event);
    return this.details(tx, id);
  }

  /** The fields a status change implies: closed_at iff closed, started_at on first start. */
  private statusPatch(issue: Issue, status: string, now: string, reason?: string): Partial<Issue> {
    const patch: Partial<Issue> = { status };
    if (status === 'closed') {
      patch.closed_at = now;
      patch.close_reason = reason ?? 'Closed';
    } else if (issue.status === 'closed') {
      patch.closed_at = undefined;
      patch.close_reason = undefined;
      patch.closed_by_session = undefined;
    }
    if (status === 'in_progress' && !issue.started_at) patch.started_at = now;
    return patch;
  }

  async claim(idText: string): Promise<IssueDetails> {
    return this.store.write(async (tx) => {
      const id = await this.resolveId(tx, idText);
      await this.claimIn(tx, id);
      await tx.setConfig(CONFIG_KEYS.lastTouched, id);
      return this.details(tx, id);
    });
  }

  private async claimIn(tx: LedgerWriter, id: string): Promise<void> {
    const now = this.now();
    if (await tx.claimIssue(id, this.actor, now)) {
      await this.event(tx, id, 'claimed', { old_value: 'open', new_value: 'in_progress' });
      await tx.refreshBlocked([id]);
      return;
    }
    const issue = await tx.getIssue(id);
    if (!issue) throw notFoundError(`no issue found matching ${JSON.stringify(id)}`);
    if (issue.status === 'in_progress' && issue.assignee === this.actor) return; // idempotent for the same actor
    if (issue.assignee && issue.assignee !== this.actor)
      throw conflictError(`issue ${id} already claimed by ${issue.assignee}`, 'pick another with `bd ready`');
    throw conflictError(`cannot claim ${id}: its status is ${issue.status} (only open issues can be claimed)`);
  }

  // ---- close / reopen ----

  async close(ids: string[], options: CloseOptions = {}): Promise<BatchResult<Issue>> {
    return this.perIssue(ids, async (tx, id) => {
      const closed = await this.closeIn(tx, id, options);
      if (options.townEvent) await this.appendTownEvent(tx, options.townEvent(id));
      return closed;
    });
  }

  private async guardClose(tx: LedgerReader, issue: Issue, force: boolean): Promise<void> {
    if (force) return;
    const blockers = await tx.openBlockers(issue.id);
    if (blockers.length > 0) {
      throw conflictError(
        `cannot close ${issue.id}: blocked by open issues [${blockers.map((b) => b.id).join(', ')}]`,
        'close the blockers first, or use --force',
      );
    }
    if (issue.issue_type === 'epic') {
      const children = await tx.openChildren(issue.id);
      if (children.length > 0) {
        throw conflictError(
          `cannot close epic ${issue.id}: ${children.length} open child issue(s) [${children.map((c) => c.id).join(', ')}]`,
          'close the children first, or use --force',
        );
      }
    }
  }

  private async closeIn(tx: LedgerWriter, id: string, options: CloseOptions): Promise<Issue> {
    const issue = await tx.getIssue(id);
    if (!issue) throw notFoundError(`no issue found matching ${JSON.stringify(id)}`);
    if (issue.status === 'closed') return issue; // re-closing is an idempotent success
    await this.guardClose(tx, issue, options.force ?? false);
    const now = this.now();
    const patch = this.statusPatch(issue, 'closed', now, options.reason?.trim() || 'Closed');
    if (options.session) patch.closed_by_session = options.session;
    patch.updated_at = now;
    await tx.updateIssue(id, patch);
    await this.event(tx, id, 'closed', { old_value: issue.status, new_value: 'closed', comment: patch.close_reason ?? 'Closed' });
    await tx.refreshBlocked([id]);
    await this.closeFinishedMolecules(tx, id, now);
    await tx.setConfig(CONFIG_KEYS.lastTouched, id);
    return (await tx.getIssue(id)) as Issue;
  }

  /**
   * Closing the last open step of a molecule closes the molecule ("all steps
   * complete") — unless the molecule is a worker's hooked work whose commits
   * still have to merge (metadata `close_with_merge`): the refinery closes it.
   */
  private async closeFinishedMolecules(tx: LedgerWriter, id: string, now: string): Promise<void> {
    const parentEdge = (await tx.dependencies(id)).find((d) => d.type === 'parent-child');
    if (!parentEdge) return;
    const parent = await tx.getIssue(parentEdge.depends_on_id);
    if (!parent || parent.status === 'closed') return;
    if (parent.issue_type !== 'molecule' && !parent.ephemeral && !parent.is_template) return;
    if (parent.metadata?.close_with_merge === true) return;
    if ((await tx.openChildren(parent.id)).length > 0) return;
    await tx.updateIssue(parent.id, { ...this.statusPatch(parent, 'closed', now, 'all steps complete'), updated_at: now });
    await this.event(tx, parent.id, 'closed', { old_value: parent.status, new_value: 'closed', comment: 'all steps complete' });
    await tx.refreshBlocked([parent.id]);
    await this.closeFinishedMolecules(tx, parent.id, now);
  }

  async reopen(ids: string[], reason?: string): Promise<BatchResult<Issue>> {
    return this.perIssue(ids, async (tx, id) => {
      const issue = (await tx.getIssue(id)) as Issue;
      if (issue.status !== 'closed') throw conflictError(`${id} is not closed (status: ${issue.status}); nothing to reopen`);
      const now = this.now();
      await tx.updateIssue(id, { ...this.statusPatch(issue, 'open', now), updated_at: now });
      await this.event(tx, id, 'reopened', { old_value: 'closed', new_value: 'open', ...(reason ? { comment: reason } : {}) });
      if (reason) await this.commentIn(tx, id, `Reopened: ${reason}`, this.actor);
      await tx.refreshBlocked([id]);
      await tx.setConfig(CONFIG_KEYS.lastTouched, id);
      return (await tx.getIssue(id)) as Issue;
    });
  }

  // ---- defer ----

  async defer(ids: string[], until?: string): Promise<BatchResult<Issue>> {
    return this.eachWrite(ids, async (tx, id, issue) => {
      if (issue.status === 'closed') throw conflictError(`${id} is closed; reopen it before deferring`);
      const now = this.now();
      // With a time the issue stays open and comes back by itself; without one it is parked as `deferred`.
      const patch: Partial<Issue> =
        until !== undefined ? { defer_until: until, updated_at: now } : { ...this.statusPatch(issue, 'deferred', now), updated_at: now };
      await tx.updateIssue(id, patch);
      if (patch.status) await this.event(tx, id, 'status_changed', { old_value: issue.status, new_value: 'deferred' });
      else await this.event(tx, id, 'updated', { comment: 'defer_until', new_value: until ?? '' });
      await tx.refreshBlocked([id]);
    });
  }

  async undefer(ids: string[]): Promise<BatchResult<Issue>> {
    return this.eachWrite(ids, async (tx, id, issue) => {
      if (issue.status !== 'deferred' && !issue.defer_until) throw conflictError(`${id} is not deferred (status: ${issue.status})`);
      const now = this.now();
      const patch: Partial<Issue> = { defer_until: undefined, updated_at: now };
      if (issue.status === 'deferred') patch.status = 'open';
      await tx.updateIssue(id, patch);
      await this.event(
        tx,
        id,
        patch.status ? 'status_changed' : 'updated',
        patch.status ? { old_value: 'deferred', new_value: 'open' } : { comment: 'defer_until' },
      );
      await tx.refreshBlocked([id]);
    });
  }

  private async eachWrite(ids: string[], fn: (tx: LedgerWriter, id: string, issue: Issue) => Promise<void>): Promise<BatchResult<Issue>> {
    return this.perIssue(ids, async (tx, id) => {
      await fn(tx, id, (await tx.getIssue(id)) as Issue);
      await tx.setConfig(CONFIG_KEYS.lastTouched, id);
      return (await tx.getIssue(id)) as Issue;
    });
  }

  // ---- dependencies ----

  private async putEdge(tx: LedgerWriter, dep: Dependency): Promise<void> {
    await tx.putDependency(dep);
    await this.event(tx, dep.issue_id, 'dependency_added', { new_value: `${dep.depends_on_id} (${dep.type})` });
  }

  /** Adds an edge after the graph checks: no self-edge, one edge per pair, no cycle over blocking types. */
  private async checkedPutEdge(tx: LedgerWriter, dep: Dependency, options: { noCycleCheck?: boolean } = {}): Promise<'added' | 'unchanged'> {
    if (dep.issue_id === dep.depends_on_id) throw validationError(`issue ${dep.issue_id} cannot depend on itself`);
    const existing = await tx.getDependency(dep.issue_id, dep.depends_on_id);
    if (existing) {
      if (existing.type !== dep.type) {
        throw conflictError(
          `dependency ${dep.issue_id} → ${dep.depends_on_id} already exists with type ${existing.type}`,
          `remove it first (bd dep remove ${dep.issue_id} ${dep.depends_on_id}), then add the ${dep.type} edge`,
        );
      }
      if ((existing.metadata ?? '') === (dep.metadata ?? '')) return 'unchanged';
    }
    const reverse = await tx.getDependency(dep.depends_on_id, dep.issue_id);
    if (reverse && dep.type === 'parent-child' && reverse.type === 'parent-child') {
      throw conflictError(`${dep.depends_on_id} is already a child of ${dep.issue_id}; an issue cannot be its own ancestor`);
    }
    if (
      !options.noCycleCheck &&
      (BLOCKING_DEP_TYPES as readonly string[]).includes(dep.type) &&
      (await tx.blockingPathExists(dep.issue_id, dep.depends_on_id))
    ) {
      throw conflictError(
        `adding ${dep.issue_id} → ${dep.depends_on_id} (${dep.type}) would create a dependency cycle`,
        `${dep.depends_on_id} already depends on ${dep.issue_id}, directly or through other issues; see bd dep tree ${dep.depends_on_id}`,
      );
    }
    await this.putEdge(tx, dep);
    return 'added';
  }

  async addDependency(
    from: string,
    to: string,
    type = 'blocks',
    options: { metadata?: string; threadId?: string; noCycleCheck?: boolean } = {},
  ): Promise<Dependency & { result: 'added' | 'unchanged' }> {
    const depType = validateDepType(type);
    if (options.metadata !== undefined) {
      try {
        JSON.parse(options.metadata);
      } catch {
        throw validationError(`dependency metadata is not valid JSON: ${options.metadata}`);
      }
    }
    return this.store.write(async (tx) => {
      const issueId = await this.resolveId(tx, from);
      const dependsOn = await this.resolveId(tx, to);
      const dep: Dependency = { issue_id: issueId, depends_on_id: dependsOn, type: depType, created_at: this.now(), created_by: this.actor };
      if (options.metadata !== undefined) dep.metadata = options.metadata;
      if (options.threadId !== undefined) dep.thread_id = options.threadId;
      const result = await this.checkedPutEdge(tx, dep, options);
      await tx.refreshBlocked([issueId]);
      await tx.updateIssue(issueId, { updated_at: dep.created_at });
      return { ...((await tx.getDependency(issueId, dependsOn)) as Dependency), result };
    });
  }

  async removeDependency(from: string, to: string): Promise<Dependency> {
    return this.store.write(async (tx) => {
      const issueId = await this.resolveId(tx, from);
      const dependsOn = await this.resolveIdOrDangling(tx, issueId, to);
      const existing = await tx.getDependency(issueId, dependsOn);
      if (!existing) throw notFoundError(`no dependency from ${issueId} to ${dependsOn}`, `see bd dep list ${issueId}`);
      await tx.removeDependency(issueId, dependsOn);
      await this.event(tx, issueId, 'dependency_removed', { old_value: `${dependsOn} (${existing.type})` });
      await tx.refreshBlocked([issueId]);
      await tx.updateIssue(issueId, { updated_at: this.now() });
      return existing;
    });
  }

  /** A dangling edge's target does not resolve as an issue; accept its exact ID. */
  private async resolveIdOrDangling(tx: LedgerReader, from: string, to: string): Promise<string> {
    if (await tx.getDependency(from, to)) return to;
    return this.resolveId(tx, to);
  }

  async listDependencies(
    idText: string,
    direction: 'down' | 'up' | 'both' = 'down',
    type?: string,
  ): Promise<Array<Dependency & { title?: string; status?: string; priority?: number; direction: 'down' | 'up' }>> {
    return this.store.read(async (tx) => {
      const id = await this.resolveId(tx, idText);
      const out: Array<Dependency & { title?: string; status?: string; priority?: number; direction: 'down' | 'up' }> = [];
      const add = async (dep: Dependency, dir: 'down' | 'up') => {
        if (type !== undefined && dep.type !== type) return;
        const other = await tx.getIssue(dir === 'down' ? dep.depends_on_id : dep.issue_id);
        out.push(other ? { ...dep, title: other.title, status: other.status, priority: other.priority, direction: dir } : { ...dep, direction: dir });
      };
      if (direction !== 'up') for (const dep of await tx.dependencies(id)) await add(dep, 'down');
      if (direction !== 'down') for (const dep of await tx.dependents(id)) await add(dep, 'up');
      return out;
    });
  }

  /** Depth-first dependency tree (`down` = what it depends on; `up` = what depends on it). */
  async tree(idText: string, direction: 'down' | 'up' = 'down', maxDepth = 50): Promise<TreeNode[]> {
    return this.store.read(async (tx) => {
      const root = await this.resolveId(tx, idText);
      const nodes: TreeNode[] = [];
      const visit = async (id: string, depth: number, parentId: string, type: string, path: Set<string>) => {
        const issue = await tx.getIssue(id);
        const base: Issue = issue ?? { id, title: '(missing issue)', status: 'unknown', priority: 0, issue_type: 'task', created_at: '', updated_at: '' };
        const edges = direction === 'down' ? await tx.dependencies(id) : await tx.dependents(id);
        const truncated = depth >= maxDepth && edges.length > 0;
        nodes.push({ ...base, depth, parent_id: parentId, dependency_type: type, truncated });
        if (truncated || !issue) return;
        for (const edge of edges) {
          const next = direction === 'down' ? edge.depends_on_id : edge.issue_id;
          if (path.has(next)) continue; // a cycle (only possible through imports): show it once
          await visit(next, depth + 1, id, edge.type, new Set([...path, next]));
        }
      };
      await visit(root, 0, '', '', new Set([root]));
      return nodes;
    });
  }

  async cycles(): Promise<string[][]> {
    return this.store.read(async (tx) => findCycles(await tx.blockingEdges()));
  }

  // ---- labels ----

  private async addLabelIn(tx: LedgerWriter, id: string, label: string): Promise<boolean> {
    if (!(await tx.addLabel(id, label))) return false;
    await this.event(tx, id, 'label_added', { new_value: label });
    await tx.updateIssue(id, { updated_at: this.now() });
    return true;
  }

  private async removeLabelIn(tx: LedgerWriter, id: string, label: string): Promise<boolean> {
    if (!(await tx.removeLabel(id, label))) return false;
    await this.event(tx, id, 'label_removed', { old_value: label });
    await tx.updateIssue(id, { updated_at: this.now() });
    return true;
  }

  async addLabel(ids: string[], label: string): Promise<BatchResult<{ id: string; label: string; changed: boolean }>> {
    const clean = validateLabel(label);
    return this.eachLabel(ids, clean, (tx, id) => this.addLabelIn(tx, id, clean));
  }

  /** With `townEvent`, the event is appended (in the same transaction) for each issue whose label was removed. */
  async removeLabel(
    ids: string[],
    label: string,
    options: { townEvent?: (id: string) => TownEventInput } = {},
  ): Promise<BatchResult<{ id: string; label: string; changed: boolean }>> {
    const clean = validateLabel(label);
    return this.eachLabel(ids, clean, async (tx, id) => {
      const changed = await this.removeLabelIn(tx, id, clean);
      if (changed && options.townEvent) await this.appendTownEvent(tx, options.townEvent(id));
      return changed;
    });
  }

  private async eachLabel(ids: string[], label: string, fn: (tx: LedgerWriter, id: string) => Promise<boolean>) {
    return this.perIssue(ids, async (tx, id) => ({ id, label, changed: await fn(tx, id) }));
  }

  async labels(idText?: string): Promise<string[] | Array<{ label: string; count: number }>> {
    return this.store.read(async (tx) => {
      if (idText !== undefined) return tx.labels(await this.resolveId(tx, idText));
      return tx.labelCounts();
    });
  }

  // ---- comments ----

  private async commentIn(tx: LedgerWriter, id: string, text: string, author: string): Promise<Comment> {
    const comment: Comment = { id: randomUUID(), issue_id: id, author, text, created_at: this.now() };
    await tx.addComment(comment);
    await this.event(tx, id, 'commented', { comment: text });
    return comment;
  }

  async addComment(idText: string, text: string, author?: string): Promise<Comment> {
    if (text.trim() === '') throw validationError('comment text cannot be empty', 'give the text as an argument or with --file');
    return this.store.write(async (tx) => {
      const id = await this.resolveId(tx, idText);
      const comment = await this.commentIn(tx, id, text, author ?? this.actor);
      await tx.updateIssue(id, { updated_at: comment.created_at });
      return comment;
    });
  }

  async comments(idText: string): Promise<Comment[]> {
    return this.store.read(async (tx) => tx.comments(await this.resolveId(tx, idText)));
  }

  // ---- delete ----

  async deletePreview(ids: string[]): Promise<Array<{ issue: Issue; dependencies: Dependency[]; dependents: Dependency[] }>> {
    return this.store.read(async (tx) => {
      const out = [];
      for (const text of ids) {
        const id = await this.resolveId(tx, text);
        out.push({ issue: (await tx.getIssue(id)) as Issue, dependencies: await tx.dependencies(id), dependents: await tx.dependents(id) });
      }
      return out;
    });
  }

  /** Deletes issues and every edge to or from them, in one transaction. */
  async delete(ids: string[]): Promise<string[]> {
    return this.store.write(async (tx) => {
      const resolved: string[] = [];
      for (const text of ids) resolved.push(await this.resolveId(tx, text));
      const affected = new Set<string>();
      for (const id of resolved) {
        for (const dep of await tx.dependents(id)) affected.add(dep.issue_id);
        await tx.deleteIssue(id);
        await this.event(tx, id, 'deleted', {});
      }
      for (const id of resolved) affected.delete(id);
      await tx.refreshBlocked([...affected]);
      return resolved;
    });
  }

  // ---- interchange ----

  /**
   * Upserts parsed JSONL records in one transaction: a newer local copy wins
   * (import never rolls an issue back), identical records are left alone.
   */
  async importRecords(input: ImportInput): Promise<ImportResult> {
    const result: ImportResult = {
      source: input.source,
      created: 0,
      updated: 0,
      unchanged: 0,
      skipped: 0,
      tombstones_skipped: input.tombstones.length,
      memories: input.memories.length,
      ids: [],
      dangling: [],
      warnings: [],
      dry_run: input.dryRun ?? false,
    };
    const work = async (tx: LedgerWriter) => {
      const records = importChecked(input, await this.vocabulary(tx));
      const incoming = new Set(records.map((r) => r.issue.id));
      const present = await tx.existingIds([...incoming, ...records.flatMap((r) => r.dependencies.map((d) => d.depends_on_id))]);
      const bulk = await tx.bulkLoad?.(records.length - present.size);
      // One import, one moment: its events share a time (minting 50,000 distinct clock readings showed in the profile).
      const at = this.now();
      for (const record of records) {
        const { issue } = record;
        const existing = present.has(issue.id) ? await tx.getIssue(issue.id) : undefined;
        if (existing) {
          if (existing.updated_at > issue.updated_at) {
            result.skipped++;
            continue;
          }
          const [labels, deps, comments] = await Promise.all([tx.labels(issue.id), tx.dependencies(issue.id), tx.comments(issue.id)]);
          if (sameRecord({ issue: existing, labels, dependencies: deps, comments }, record)) {
            result.unchanged++;
            continue;
          }
          const cleared = Object.fromEntries(Object.keys(existing).map((k) => [k, undefined])) as Partial<Issue>;
          const { id: _id, ...fields } = issue;
          await tx.updateIssue(issue.id, { ...cleared, ...fields });
          await this.event(tx, issue.id, 'updated', { comment: `imported from ${input.source}`, created_at: at });
          result.updated++;
        } else {
          await tx.insertIssue(issue);
          await this.event(tx, issue.id, 'created', { new_value: issue.title, comment: `imported from ${input.source}`, created_at: at });
          result.created++;
        }
        result.ids.push(issue.id);
        const fresh = !existing;
        if (fresh) for (const label of record.labels) await tx.addLabel(issue.id, label);
        else await tx.setLabels(issue.id, record.labels);
        const deps: Dependency[] = [];
        for (const dep of record.dependencies) {
          if (dep.depends_on_id === issue.id) {
            result.warnings.push(`line ${record.line}: ${issue.id} depends on itself; edge dropped`);
            continue;
          }
          deps.push(dep);
          if (!incoming.has(dep.depends_on_id) && !present.has(dep.depends_on_id) && !dep.depends_on_id.startsWith('external:')) {
            result.dangling.push({ issue_id: issue.id, depends_on_id: dep.depends_on_id, type: dep.type });
          }
        }
        if (fresh) {
          for (const dep of deps) await tx.putDependency(dep);
          for (const comment of record.comments) await tx.addComment(comment);
        } else {
          await tx.setDependencies(issue.id, deps);
          await tx.setComments(issue.id, record.comments);
        }
      }
      for (const memory of input.memories) await tx.putMemory(memory);
      await bulk?.finish();
      // bd dep add refuses a blocking cycle; so does import (bd doctor would fail on it afterwards).
      const touched = new Set(result.ids);
      const cycle = findCycles(await tx.blockingEdges()).find((c) => c.some((id) => touched.has(id)));
      if (cycle)
        throw validationError(
          `${input.source}: the file makes a blocking cycle among ${cycle.join(', ')}; nothing was imported`,
          'remove one of these blocks edges from the file, then import again',
        );
      if (result.created + result.updated > 0) await tx.refreshAllBlocked();
      if (input.dryRun) throw new DryRunRollback();
    };
    try {
      await this.store.write(work);
    } catch (error) {
      if (!(error instanceof DryRunRollback)) throw error;
    }
    return result;
  }

  /** Issues with their relations, for `bd export`, sorted by ID. */
  async exportRecords(
    options: { includeInfra?: boolean; includeEphemeral?: boolean; includeTemplates?: boolean } = {},
  ): Promise<{ issues: IssueDetails[]; memories: Memory[] }> {
    return this.store.read(async (tx) => {
      const issues = await tx.exportIssues({
        includeEphemeral: options.includeEphemeral ?? false,
        includeTemplates: options.includeTemplates ?? false,
        excludeTypes: options.includeInfra ? [] : INFRA_TYPES,
      });
      const details: IssueDetails[] = [];
      const batch = 5000;
      for (let i = 0; i < issues.length; i += batch) {
        const slice = issues.slice(i, i + batch);
        const relations = await tx.relations(slice.map((s) => s.id));
        for (const issue of slice) {
          const rel = relations.get(issue.id) ?? { labels: [], dependencies: [], comments: [] };
          details.push({ ...issue, ...rel });
        }
      }
      return { issues: details, memories: await tx.memories() };
    });
  }

  // ---- events ----

  private async event(
    tx: LedgerWriter,
    issueId: string,
    type: string,
    fields: { old_value?: string; new_value?: string; comment?: string; created_at?: string },
  ): Promise<void> {
    await tx.appendEvent({ issue_id: issueId, event_type: type, actor: this.actor, ...fields, created_at: fields.created_at ?? this.now() });
  }
}

class DryRunRollback extends Error {}

function sameRecord(a: { issue: Issue; labels: string[]; dependencies: Dependency[]; comments: Comment[] }, b: ImportRecord): boolean {
  const norm = (r: { issue: Issue; labels: string[]; dependencies: Dependency[]; comments: Comment[] }) =>
    JSON.stringify([
      Object.entries(r.issue)
        .filter(([, v]) => v !== undefined)
        .sort(([x], [y]) => x.localeCompare(y)),
      [...r.labels].sort(),
      r.dependencies.map((d) => [d.depends_on_id, d.type, d.created_at, d.created_by ?? '', d.metadata ?? '', d.thread_id ?? '']).sort(),
      r.comments.map((c) => [String(c.id), c.author, c.text, c.created_at]),
    ]);
  return norm(a) === norm(b);
}

/** Cycles over blocking edges (Tarjan's strongly connected components, sizes > 1). */
export function findCycles(edges: Array<{ from: string; to: string }>): string[][] {
  const graph = new Map<string, string[]>();
  for (const { from, to } of edges) {
    graph.set(from, [...(graph.get(from) ?? []), to]);
    if (!graph.has(to)) graph.set(to, []);
  }
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  // Iterative to survive long chains (50K-deep recursion would overflow).
  for (const start of graph.keys()) {
    if (indices.has(start)) continue;
    const work: Array<{ node: string; next: number }> = [{ node: start, next: 0 }];
    indices.set(start, index);
    low.set(start, index++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: string; next: number };
      const targets = graph.get(frame.node) ?? [];
      if (frame.next < targets.length) {
        const target = targets[frame.next++] as string;
        if (!indices.has(target)) {
          indices.set(target, index);
          low.set(target, index++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, next: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node) as number, indices.get(target) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) === indices.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        if (component.length > 1) cycles.push(component.sort());
      }
    }
  }
  return cycles.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}
