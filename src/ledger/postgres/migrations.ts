/**
 * The PostgreSQL schema: append-only, numbered migrations, the same story and the same version
 * numbers as ledger/sqlite's (version N holds the same tables on both, so `gt ledger migrate`
 * copies between equal versions). Never edit or reorder a shipped entry: add a new one. The
 * version is the row of `gt_schema`; a database whose version is newer than the last entry
 * here was written by a newer gt and is refused untouched.
 *
 * Differences from SQLite, each for a reason:
 * - every text column is COLLATE "C": IDs, export order and range scans (`id >= 'bd-a'`)
 *   compare bytes, as SQLite does, whatever the database's default collation;
 * - JSON stays TEXT (parsed by gt), so `bd export` writes back the very text it was given;
 * - comments.id is jsonb: integer IDs of SQLite-era exports stay numbers, new ones are UUIDs;
 * - a town event wakes followers by NOTIFY gt_town_events at commit (LISTEN in the store).
 */
export interface PgMigration {
  version: number;
  name: string;
  sql: string;
}

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    version: 1,
    name: 'beads record, edges, labels, comments, events, config',
    sql: `
-- Whether a text is JSON, and a value's text inside it (NULL when absent or not JSON): SQLite's json_valid and json_extract.
CREATE FUNCTION gt_json_valid(doc text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
  PERFORM doc::jsonb;
  RETURN true;
EXCEPTION WHEN others THEN
  RETURN false;
END $$;
CREATE FUNCTION gt_json_text(doc text, path text[]) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN doc::jsonb #>> path;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;
-- Hours between two timestamps (NULL when either is not one): SQLite's julianday difference * 24.
CREATE FUNCTION gt_hours(a text, b text) RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN EXTRACT(EPOCH FROM (b::timestamptz - a::timestamptz)) / 3600;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;
CREATE FUNCTION gt_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% are append-only', TG_ARGV[0];
END $$;

CREATE TABLE issues (
  id TEXT COLLATE "C" PRIMARY KEY,
  title TEXT COLLATE "C" NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
  description TEXT COLLATE "C",
  design TEXT COLLATE "C",
  acceptance_criteria TEXT COLLATE "C",
  notes TEXT COLLATE "C",
  spec_id TEXT COLLATE "C",
  status TEXT COLLATE "C" NOT NULL DEFAULT 'open',
  priority INTEGER NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 4),
  issue_type TEXT COLLATE "C" NOT NULL DEFAULT 'task',
  assignee TEXT COLLATE "C",
  owner TEXT COLLATE "C",
  estimated_minutes INTEGER CHECK (estimated_minutes IS NULL OR estimated_minutes >= 0),
  created_at TEXT COLLATE "C" NOT NULL,
  created_by TEXT COLLATE "C",
  updated_at TEXT COLLATE "C" NOT NULL,
  started_at TEXT COLLATE "C",
  closed_at TEXT COLLATE "C",
  close_reason TEXT COLLATE "C",
  closed_by_session TEXT COLLATE "C",
  due_at TEXT COLLATE "C",
  defer_until TEXT COLLATE "C",
  external_ref TEXT COLLATE "C",
  source_system TEXT COLLATE "C",
  metadata TEXT COLLATE "C" NOT NULL DEFAULT '{}' CHECK (gt_json_valid(metadata)),
  compaction_level INTEGER,
  compacted_at TEXT COLLATE "C",
  compacted_at_commit TEXT COLLATE "C",
  original_size BIGINT,
  sender TEXT COLLATE "C",
  ephemeral INTEGER NOT NULL DEFAULT 0,
  no_history INTEGER NOT NULL DEFAULT 0,
  wisp_type TEXT COLLATE "C",
  pinned INTEGER NOT NULL DEFAULT 0,
  is_template INTEGER NOT NULL DEFAULT 0,
  bonded_from TEXT COLLATE "C",
  await_type TEXT COLLATE "C",
  await_id TEXT COLLATE "C",
  timeout_ns BIGINT,
  waiters TEXT COLLATE "C",
  source_formula TEXT COLLATE "C",
  source_location TEXT COLLATE "C",
  mol_type TEXT COLLATE "C",
  work_type TEXT COLLATE "C",
  event_kind TEXT COLLATE "C",
  actor TEXT COLLATE "C",
  target TEXT COLLATE "C",
  payload TEXT COLLATE "C",
  extra TEXT COLLATE "C",
  is_blocked INTEGER NOT NULL DEFAULT 0,
  CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
  CHECK (NOT (ephemeral <> 0 AND no_history <> 0))
);
CREATE INDEX issues_ready ON issues (status, is_blocked, priority, created_at DESC);
CREATE INDEX issues_priority ON issues (priority, created_at DESC);
CREATE INDEX issues_assignee ON issues (assignee);
CREATE INDEX issues_external_ref ON issues (external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX issues_defer ON issues (defer_until) WHERE defer_until IS NOT NULL;

CREATE TABLE dependencies (
  issue_id TEXT COLLATE "C" NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
  depends_on_id TEXT COLLATE "C" NOT NULL,
  type TEXT COLLATE "C" NOT NULL DEFAULT 'blocks' CHECK (length(type) BETWEEN 1 AND 50),
  created_at TEXT COLLATE "C" NOT NULL,
  created_by TEXT COLLATE "C",
  metadata TEXT COLLATE "C",
  thread_id TEXT COLLATE "C",
  PRIMARY KEY (issue_id, depends_on_id),
  CHECK (issue_id <> depends_on_id)
);
CREATE INDEX dependencies_target ON dependencies (depends_on_id, type);

CREATE TABLE labels (
  issue_id TEXT COLLATE "C" NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
  label TEXT COLLATE "C" NOT NULL CHECK (length(label) > 0),
  PRIMARY KEY (issue_id, label)
);
CREATE INDEX labels_label ON labels (label);

CREATE TABLE comments (
  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  id JSONB NOT NULL,
  issue_id TEXT COLLATE "C" NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
  author TEXT COLLATE "C" NOT NULL DEFAULT '',
  text TEXT COLLATE "C" NOT NULL,
  created_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX comments_issue ON comments (issue_id, created_at);

CREATE TABLE events (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  issue_id TEXT COLLATE "C" NOT NULL,
  event_type TEXT COLLATE "C" NOT NULL,
  actor TEXT COLLATE "C" NOT NULL DEFAULT '',
  old_value TEXT COLLATE "C",
  new_value TEXT COLLATE "C",
  comment TEXT COLLATE "C",
  created_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX events_issue ON events (issue_id, id);
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION gt_append_only('events');

-- Top-level IDs per base (the ID up to its last '-'), kept by a trigger: minting an ID reads one row.
CREATE TABLE id_counts (base TEXT COLLATE "C" PRIMARY KEY, n INTEGER NOT NULL);
CREATE FUNCTION gt_id_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF strpos(NEW.id, '.') = 0 THEN
      INSERT INTO id_counts (base, n) VALUES (rtrim(rtrim(NEW.id, replace(NEW.id, '-', '')), '-'), 1)
        ON CONFLICT (base) DO UPDATE SET n = id_counts.n + 1;
    END IF;
    RETURN NEW;
  END IF;
  IF strpos(OLD.id, '.') = 0 THEN
    UPDATE id_counts SET n = n - 1 WHERE base = rtrim(rtrim(OLD.id, replace(OLD.id, '-', '')), '-');
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER id_counts_change AFTER INSERT OR DELETE ON issues FOR EACH ROW EXECUTE FUNCTION gt_id_counts();

CREATE TABLE config (key TEXT COLLATE "C" PRIMARY KEY, value TEXT COLLATE "C" NOT NULL);
CREATE TABLE child_counters (parent_id TEXT COLLATE "C" PRIMARY KEY, last_child INTEGER NOT NULL);
CREATE TABLE memories (key TEXT COLLATE "C" PRIMARY KEY, value TEXT COLLATE "C" NOT NULL);
`,
  },
  {
    version: 2,
    name: 'town event stream',
    sql: `
CREATE TABLE town_events (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  kind TEXT COLLATE "C" NOT NULL,
  actor TEXT COLLATE "C" NOT NULL DEFAULT '',
  rig TEXT COLLATE "C",
  bead TEXT COLLATE "C",
  agent TEXT COLLATE "C",
  payload TEXT COLLATE "C" NOT NULL DEFAULT '{}' CHECK (gt_json_valid(payload)),
  at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX town_events_kind_agent ON town_events (kind, agent, id);
CREATE TRIGGER town_events_append_only BEFORE UPDATE ON town_events FOR EACH ROW EXECUTE FUNCTION gt_append_only('town events');
-- Followers (gt events --follow, the feed, the dashboard, the daemon) LISTEN: woken at the commit, not by polling.
CREATE FUNCTION gt_town_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('gt_town_events', '');
  RETURN NULL;
END $$;
CREATE TRIGGER town_events_notify AFTER INSERT ON town_events FOR EACH STATEMENT EXECUTE FUNCTION gt_town_events_notify();
`,
  },
  {
    version: 3,
    name: 'notification outbox',
    sql: `
CREATE TABLE notifications (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  channel TEXT COLLATE "C" NOT NULL,
  severity TEXT COLLATE "C" NOT NULL,
  kind TEXT COLLATE "C" NOT NULL,
  title TEXT COLLATE "C" NOT NULL,
  body TEXT COLLATE "C" NOT NULL DEFAULT '',
  bead TEXT COLLATE "C",
  dedupe_key TEXT COLLATE "C",
  actions TEXT COLLATE "C" NOT NULL DEFAULT '[]' CHECK (gt_json_valid(actions)),
  status TEXT COLLATE "C" NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at TEXT COLLATE "C" NOT NULL,
  last_error TEXT COLLATE "C",
  receipt TEXT COLLATE "C",
  created_at TEXT COLLATE "C" NOT NULL,
  created_by TEXT COLLATE "C" NOT NULL DEFAULT '',
  sent_at TEXT COLLATE "C",
  UNIQUE (channel, dedupe_key)
);
CREATE INDEX notifications_due ON notifications (status, next_at);
CREATE INDEX notifications_sent ON notifications (channel, sent_at) WHERE sent_at IS NOT NULL;
CREATE TABLE notify_cursors (name TEXT COLLATE "C" PRIMARY KEY, value TEXT COLLATE "C" NOT NULL);
`,
  },
  {
    version: 4,
    name: 'issues by type',
    sql: `
-- The daemon reads agents, gates, convoys, merge requests and escalations by type every pass (as SQLite's schema 4).
CREATE INDEX issues_type ON issues (issue_type, status);
`,
  },
];

export const PG_LATEST_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]?.version ?? 0;

/** The tables of a ledger, in an order that copies safely (parents before the rows that reference them). */
export const LEDGER_TABLES = [
  'config',
  'issues',
  'dependencies',
  'labels',
  'comments',
  'events',
  'child_counters',
  'memories',
  'town_events',
  'notifications',
  'notify_cursors',
] as const;
