/**
 * Append-only, numbered migrations. Never edit or reorder a shipped entry: add a
 * new one. The schema version is SQLite's `user_version`; a database whose version
 * is newer than the last entry here was written by a newer gt and is refused.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'beads record, edges, labels, comments, events, config',
    sql: `
CREATE TABLE issues (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
  description TEXT,
  design TEXT,
  acceptance_criteria TEXT,
  notes TEXT,
  spec_id TEXT,
  status TEXT NOT NULL DEFAULT 'open',
  priority INTEGER NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 4),
  issue_type TEXT NOT NULL DEFAULT 'task',
  assignee TEXT,
  owner TEXT,
  estimated_minutes INTEGER CHECK (estimated_minutes IS NULL OR estimated_minutes >= 0),
  created_at TEXT NOT NULL,
  created_by TEXT,
  updated_at TEXT NOT NULL,
  started_at TEXT,
  closed_at TEXT,
  close_reason TEXT,
  closed_by_session TEXT,
  due_at TEXT,
  defer_until TEXT,
  external_ref TEXT,
  source_system TEXT,
  metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  compaction_level INTEGER,
  compacted_at TEXT,
  compacted_at_commit TEXT,
  original_size INTEGER,
  sender TEXT,
  ephemeral INTEGER NOT NULL DEFAULT 0,
  no_history INTEGER NOT NULL DEFAULT 0,
  wisp_type TEXT,
  pinned INTEGER NOT NULL DEFAULT 0,
  is_template INTEGER NOT NULL DEFAULT 0,
  bonded_from TEXT,
  await_type TEXT,
  await_id TEXT,
  timeout_ns INTEGER,
  waiters TEXT,
  source_formula TEXT,
  source_location TEXT,
  mol_type TEXT,
  work_type TEXT,
  event_kind TEXT,
  actor TEXT,
  target TEXT,
  payload TEXT,
  extra TEXT,
  is_blocked INTEGER NOT NULL DEFAULT 0,
  CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
  CHECK (NOT (ephemeral AND no_history))
);
-- Matches ready's order (priority, newest first), so ready reads 100 rows instead of sorting thousands.
CREATE INDEX issues_ready ON issues (status, is_blocked, priority, created_at DESC);
CREATE INDEX issues_priority ON issues (priority, created_at DESC);
CREATE INDEX issues_assignee ON issues (assignee);
CREATE INDEX issues_external_ref ON issues (external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX issues_defer ON issues (defer_until) WHERE defer_until IS NOT NULL;

-- One edge per pair (Beads' uniqueness); the target may dangle (imports keep such edges).
CREATE TABLE dependencies (
  issue_id TEXT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
  depends_on_id TEXT NOT NULL,
  type TEXT NOT NULL DEFAULT 'blocks' CHECK (length(type) BETWEEN 1 AND 50),
  created_at TEXT NOT NULL,
  created_by TEXT,
  metadata TEXT,
  thread_id TEXT,
  PRIMARY KEY (issue_id, depends_on_id),
  CHECK (issue_id <> depends_on_id)
) WITHOUT ROWID;
CREATE INDEX dependencies_target ON dependencies (depends_on_id, type);

CREATE TABLE labels (
  issue_id TEXT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
  label TEXT NOT NULL CHECK (length(label) > 0),
  PRIMARY KEY (issue_id, label)
) WITHOUT ROWID;
CREATE INDEX labels_label ON labels (label);

-- id keeps its JSON type: integer ids of SQLite-era exports stay numbers, new ones are UUIDs.
CREATE TABLE comments (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id NOT NULL,
  issue_id TEXT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
  author TEXT NOT NULL DEFAULT '',
  text TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX comments_issue ON comments (issue_id, created_at);

-- Append only: rows are never updated or deleted; id is the position feeds read by.
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  issue_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  old_value TEXT,
  new_value TEXT,
  comment TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX events_issue ON events (issue_id, id);
CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

-- Top-level IDs per base (the ID up to its last '-': 'bd' for bd-a3f, 'bd-mol' for bd-mol-x9z), kept by
-- triggers so minting an ID reads one row instead of counting an index range (6.8 ms at 50K issues).
-- rtrim(id, replace(id, '-', '')) is the ID up to and including its last '-'.
CREATE TABLE id_counts (base TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER id_counts_insert AFTER INSERT ON issues WHEN instr(NEW.id, '.') = 0 BEGIN
  INSERT INTO id_counts (base, n) VALUES (rtrim(rtrim(NEW.id, replace(NEW.id, '-', '')), '-'), 1)
    ON CONFLICT (base) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER id_counts_delete AFTER DELETE ON issues WHEN instr(OLD.id, '.') = 0 BEGIN
  UPDATE id_counts SET n = n - 1 WHERE base = rtrim(rtrim(OLD.id, replace(OLD.id, '-', '')), '-');
END;

CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE child_counters (parent_id TEXT PRIMARY KEY, last_child INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE memories (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
`,
  },
  {
    version: 2,
    name: 'town event stream',
    sql: `
-- The town's typed event stream (design §9). id is the position followers read by. Rows are
-- appended in the transaction of the change they report; only coalesced kinds (agent.state)
-- are ever deleted, by the newer event of the same agent that supersedes them.
CREATE TABLE town_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  rig TEXT,
  bead TEXT,
  agent TEXT,
  payload TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
  at TEXT NOT NULL
);
CREATE INDEX town_events_kind_agent ON town_events (kind, agent, id);
CREATE TRIGGER town_events_append_only_update BEFORE UPDATE ON town_events BEGIN SELECT RAISE(ABORT, 'town events are append-only'); END;
`,
  },
  {
    version: 3,
    name: 'notification outbox',
    sql: `
-- The notification outbox (core/notify): one row per message and channel, written in the
-- transaction that decides to notify, sent by the daemon, retried until delivered. A dedupe key
-- is unique per channel, so the same happening never notifies one channel twice.
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  channel TEXT NOT NULL,
  severity TEXT NOT NULL,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL DEFAULT '',
  bead TEXT,
  dedupe_key TEXT,
  actions TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(actions)),
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at TEXT NOT NULL,
  last_error TEXT,
  receipt TEXT,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL DEFAULT '',
  sent_at TEXT,
  UNIQUE (channel, dedupe_key)
);
CREATE INDEX notifications_due ON notifications (status, next_at);
CREATE INDEX notifications_sent ON notifications (channel, sent_at) WHERE sent_at IS NOT NULL;
-- Positions the notifier keeps: its place in the town events, each Telegram bot's update offset, the last digest.
CREATE TABLE notify_cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
`,
  },
  {
    version: 4,
    name: 'issues by type',
    sql: `
-- The town reads its agents, gates, convoys, merge requests and escalations by type on every daemon
-- pass; without this each was a scan of every issue (28 ms at 50,000, many times a pass).
CREATE INDEX issues_type ON issues (issue_type, status);
`,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
