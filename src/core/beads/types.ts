/**
 * The Beads record (research/beads.md §1). Field names are the JSONL keys, so a
 * bead reads the same in TypeScript, in SQL and in `bd export`. Times are
 * canonical UTC strings (shared/time.ts). Empty optional values are absent,
 * never '' — Beads' omitempty.
 */
export interface Issue {
  id: string;
  title: string;
  description?: string;
  design?: string;
  acceptance_criteria?: string;
  notes?: string;
  spec_id?: string;
  status: string;
  priority: number;
  issue_type: string;
  assignee?: string;
  owner?: string;
  estimated_minutes?: number;
  created_at: string;
  created_by?: string;
  updated_at: string;
  started_at?: string;
  closed_at?: string;
  close_reason?: string;
  closed_by_session?: string;
  due_at?: string;
  defer_until?: string;
  external_ref?: string;
  source_system?: string;
  /** A JSON object; `{}` when unset. */
  metadata?: Record<string, unknown>;
  compaction_level?: number;
  compacted_at?: string;
  compacted_at_commit?: string;
  original_size?: number;
  sender?: string;
  ephemeral?: boolean;
  no_history?: boolean;
  wisp_type?: string;
  pinned?: boolean;
  is_template?: boolean;
  bonded_from?: BondRef[];
  await_type?: string;
  await_id?: string;
  /** Gate timeout in nanoseconds (Go time.Duration). */
  timeout?: number;
  waiters?: string[];
  source_formula?: string;
  source_location?: string;
  mol_type?: string;
  work_type?: string;
  event_kind?: string;
  actor?: string;
  target?: string;
  payload?: string;
  /** JSONL keys this version does not know, kept verbatim and written back on export. */
  extra?: Record<string, unknown>;
}

export interface BondRef {
  source_id: string;
  bond_type: string;
  bond_point?: string;
}

/** An edge `issue_id → depends_on_id`: the issue depends on (is blocked by) the target. */
export interface Dependency {
  issue_id: string;
  depends_on_id: string;
  type: string;
  created_at: string;
  created_by?: string;
  /** A JSON text, as in Beads (e.g. `{"gate":"any-children"}`). */
  metadata?: string;
  thread_id?: string;
}

export interface Comment {
  /** A UUID string; integer ids from SQLite-era exports are kept as numbers. */
  id: string | number;
  issue_id: string;
  author: string;
  text: string;
  created_at: string;
}

/** One row of the append-only audit trail. `id` is its position: feeds read by it. */
export interface LedgerEvent {
  id: number;
  issue_id: string;
  event_type: string;
  actor: string;
  old_value?: string;
  new_value?: string;
  comment?: string;
  created_at: string;
}

/** A bead with its relations, as `bd show` and `bd export` see it. */
export interface IssueDetails extends Issue {
  labels: string[];
  dependencies: Dependency[];
  comments: Comment[];
}

/** A bead as `bd list`/`bd ready` return it: labels and counts, no edge lists. */
export interface IssueWithCounts extends Issue {
  labels: string[];
  dependency_count: number;
  dependent_count: number;
  comment_count: number;
  parent?: string;
}

export type SortPolicy = 'priority' | 'hybrid' | 'oldest';

/** Filters shared by list, ready, blocked and search. Every field narrows. */
export interface IssueFilter {
  ids?: string[];
  statuses?: string[];
  excludeStatuses?: string[];
  types?: string[];
  excludeTypes?: string[];
  priorities?: number[];
  priorityMin?: number;
  priorityMax?: number;
  assignee?: string;
  unassigned?: boolean;
  labelsAll?: string[];
  labelsAny?: string[];
  excludeLabels?: string[];
  noLabels?: boolean;
  /** Transitive descendants of this issue (by parent-child edge, or `P.` ID prefix without an edge). */
  parent?: string;
  noParent?: boolean;
  titleContains?: string;
  descContains?: string;
  notesContains?: string;
  /** Free-text query: title or description contains it, or the ID starts with it. */
  query?: string;
  createdAfter?: string;
  createdBefore?: string;
  updatedAfter?: string;
  updatedBefore?: string;
  closedAfter?: string;
  closedBefore?: string;
  metadataFields?: Record<string, string>;
  hasMetadataKeys?: string[];
  includeEphemeral?: boolean;
  includeTemplates?: boolean;
  pinned?: boolean;
  /** Deferred: status `deferred` or a defer time still in the future (relative to `now`). */
  deferred?: boolean;
  /** Past its due time and not closed (relative to `now`). */
  overdue?: boolean;
  /** Reference time for deferred/overdue. */
  now?: string;
  limit?: number;
  sort?: ListSort;
  reverse?: boolean;
}

export type ListSort = 'priority' | 'created' | 'updated' | 'closed' | 'status' | 'id' | 'title' | 'type' | 'assignee';

export interface ReadyFilter extends IssueFilter {
  policy?: SortPolicy;
  includeDeferred?: boolean;
  /** Direct children of this molecule only. */
  mol?: string;
  /** Statuses that count as "open" for ready: `open` plus custom `active` ones. */
  readyStatuses?: string[];
  now: string;
}

export interface BlockedIssue extends IssueWithCounts {
  blocked_by_count: number;
  blocked_by: string[];
}

export interface Stats {
  total_issues: number;
  open_issues: number;
  in_progress_issues: number;
  closed_issues: number;
  blocked_issues: number;
  deferred_issues: number;
  ready_issues: number;
  pinned_issues: number;
  hooked_issues: number;
  epics_eligible_for_closure: number;
  average_lead_time_hours: number;
}

export interface Memory {
  key: string;
  value: string;
}
