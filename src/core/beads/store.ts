/**
 * The ledger port. `core` states what it needs from storage; `ledger/sqlite` (and
 * later `ledger/postgres`) implement it, and one conformance suite runs against
 * each. Writes happen inside `write()`: one serializable transaction, retried by
 * the store on contention, never half-applied. Events appended inside a write
 * become visible only when it commits.
 */
import type { BlockedIssue, Comment, Dependency, Issue, IssueFilter, IssueWithCounts, LedgerEvent, Memory, ReadyFilter, Stats } from './types.js';
import type { TownEvent, TownEventFilter } from '../events/town-events.js';
import type { NotificationFilter, NotificationInsert, NotificationPatch, NotificationRecord } from '../notify/types.js';

export interface BlockerInfo {
  id: string;
  title: string;
  status: string;
  priority: number;
  type: string;
}

export interface ExportSelection {
  includeEphemeral: boolean;
  includeTemplates: boolean;
  excludeTypes: string[];
}

export interface LedgerReader {
  getIssue(id: string): Promise<Issue | undefined>;
  /** Which of these IDs exist (one query for many; imports check 50,000 at once). */
  existingIds(ids: string[]): Promise<Set<string>>;
  /** IDs that start with `text` (for partial-ID resolution), at most `limit`. */
  idsStartingWith(text: string, limit: number): Promise<string[]>;
  /** IDs whose hash part (after `<prefix>-`) starts with `text`, at most `limit`. */
  idsWithHashPrefix(text: string, limit: number): Promise<string[]>;
  /** How many top-level (dotless) IDs have the form `<base>-<hash>` (drives adaptive ID length). */
  countTopLevel(base: string): Promise<number>;
  labels(id: string): Promise<string[]>;
  /** Every label in use with how many issues carry it, sorted by label. */
  labelCounts(): Promise<Array<{ label: string; count: number }>>;
  /** Outgoing edges of an issue (what it depends on). */
  dependencies(id: string): Promise<Dependency[]>;
  /** Incoming edges (what depends on it). */
  dependents(id: string): Promise<Dependency[]>;
  getDependency(from: string, to: string): Promise<Dependency | undefined>;
  /** True when `to` can reach `from` over blocking edges, so `from → to` would close a cycle. */
  blockingPathExists(from: string, to: string): Promise<boolean>;
  /** Unresolved targets of the issue's blocks/conditional-blocks/waits-for edges. */
  openBlockers(id: string): Promise<BlockerInfo[]>;
  /** Children (by parent-child edge) not yet resolved. */
  openChildren(id: string): Promise<BlockerInfo[]>;
  comments(id: string): Promise<Comment[]>;
  isBlocked(id: string): Promise<boolean>;
  getConfig(key: string): Promise<string | undefined>;
  listConfig(): Promise<Record<string, string>>;
  list(filter: IssueFilter): Promise<IssueWithCounts[]>;
  ready(filter: ReadyFilter): Promise<IssueWithCounts[]>;
  blocked(filter: IssueFilter): Promise<BlockedIssue[]>;
  /** Counts; issues of `excludeTypes` are left out of every one. */
  stats(now: string, excludeTypes?: string[]): Promise<Stats>;
  events(afterId: number, limit: number, issueId?: string): Promise<LedgerEvent[]>;
  /** Town events after a position, oldest first, at most `limit`. */
  townEvents(afterId: number, filter: TownEventFilter, limit: number): Promise<TownEvent[]>;
  /** The newest town event's position (0 when none): where a follower that wants only new events starts. */
  lastTownEventId(): Promise<number>;
  /** Every issue chosen for export, sorted by ID. */
  exportIssues(selection: ExportSelection): Promise<Issue[]>;
  /** Labels, outgoing edges and comments for many issues at once. */
  relations(ids: string[]): Promise<Map<string, { labels: string[]; dependencies: Dependency[]; comments: Comment[] }>>;
  memories(): Promise<Memory[]>;
  /** All edges over blocking types (for cycle reports). */
  blockingEdges(): Promise<Array<{ from: string; to: string }>>;
  /** The notification outbox (core/notify), oldest first unless the filter says newest. */
  notifications(filter: NotificationFilter): Promise<NotificationRecord[]>;
  /** A position the notifier keeps (its place in the events, a bot's update offset). */
  notifyCursor(name: string): Promise<string | undefined>;
}

export interface LedgerWriter extends LedgerReader {
  insertIssue(issue: Issue): Promise<void>;
  /** Sets the given fields; a field given as undefined is cleared. */
  updateIssue(id: string, patch: Partial<Issue>): Promise<void>;
  /** Removes the issue, its labels, comments and every edge from or to it. */
  deleteIssue(id: string): Promise<void>;
  /**
   * Compare-and-swap claim: assigns and starts the issue only if it is `open` and
   * unassigned (or already the actor's). Returns whether the row changed.
   */
  claimIssue(id: string, actor: string, now: string): Promise<boolean>;
  /** Reserves the next child number of a parent (persistent counter, never reused). */
  nextChildNumber(parentId: string): Promise<number>;
  addLabel(id: string, label: string): Promise<boolean>;
  removeLabel(id: string, label: string): Promise<boolean>;
  setLabels(id: string, labels: string[]): Promise<void>;
  /** Inserts or replaces the edge for the pair (one edge per pair). */
  putDependency(dep: Dependency): Promise<void>;
  removeDependency(from: string, to: string): Promise<boolean>;
  setDependencies(id: string, deps: Dependency[]): Promise<void>;
  addComment(comment: Comment): Promise<void>;
  setComments(id: string, comments: Comment[]): Promise<void>;
  appendEvent(event: Omit<LedgerEvent, 'id'>): Promise<void>;
  /** Appends a town event; returns its position. */
  appendTownEvent(event: Omit<TownEvent, 'id'>): Promise<number>;
  /** Drops the events of this kind and agent before a position (coalesced kinds only). */
  dropTownEvents(kind: string, agent: string, beforeId: number): Promise<void>;
  setConfig(key: string, value: string): Promise<void>;
  deleteConfig(key: string): Promise<void>;
  putMemory(memory: Memory): Promise<void>;
  /** Recomputes the materialized blocked flag for these issues and everything it propagates to. */
  refreshBlocked(ids: string[]): Promise<void>;
  refreshAllBlocked(): Promise<void>;
  /**
   * A bulk load of about `rows` new issues into this transaction: the store may set its secondary
   * indexes and bookkeeping triggers aside (cheaper to build once than to update row by row) and
   * rebuilds them in `finish`, inside the same transaction, so a failure still rolls everything back.
   * Optional: a store without it loads row by row.
   */
  bulkLoad?(rows: number): Promise<{ finish(): Promise<void> }>;
  /** Adds a message to the outbox; undefined when its channel already has one with the same dedupe key. */
  insertNotification(notification: NotificationInsert): Promise<number | undefined>;
  updateNotification(id: number, patch: NotificationPatch): Promise<void>;
  /** Takes a due, pending message for one sender until `until` (a lease: a sender that dies lets it go); false when another has it. */
  claimNotification(id: number, dueBy: string, until: string): Promise<boolean>;
  setNotifyCursor(name: string, value: string): Promise<void>;
}

export interface LedgerStore {
  /** Where the ledger lives (a file path or a connection URL without password). */
  readonly location: string;
  read<T>(fn: (tx: LedgerReader) => Promise<T>): Promise<T>;
  write<T>(fn: (tx: LedgerWriter) => Promise<T>): Promise<T>;
  schemaVersion(): Promise<number>;
  /** Database-level consistency check: an empty list means healthy. */
  integrityCheck(): Promise<string[]>;
  /**
   * The wake-up port: calls `wake` soon after a transaction (of any process) appends town events,
   * so followers read at once instead of polling. It may also call it when nothing changed (a
   * follower just reads and finds nothing). SQLite polls its cheap data_version; PostgreSQL
   * LISTENs. `foreign`: only commits of other processes (the daemon is not woken by its own
   * writes). Resolves once watching; the function it gives stops it.
   */
  watch(wake: () => void, options?: { foreign?: boolean }): Promise<() => void>;
  close(): Promise<void>;
}
