import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIssueLine, parseJsonl, parseLine } from '../../src/ledger/jsonl.js';
import type { IssueDetails } from '../../src/core/beads/types.js';
import { GtError } from '../../src/shared/errors.js';
import { OWN_FIXTURES } from '../support/env.js';

const fixture = readFileSync(join(OWN_FIXTURES, 'legacy-mix.jsonl'), 'utf8');

describe('reading every era of Beads JSONL', () => {
  const parsed = parseJsonl(fixture);
  const byId = new Map(parsed.records.map((r) => [r.issue.id, r]));

  it('splits issues, tombstones and memories', () => {
    expect(parsed.records.map((r) => r.issue.id)).toEqual(['mx-1', 'mx-2', 'mx-4', 'mx-5', 'mx-6', 'mx-1.1']);
    expect(parsed.tombstones).toEqual(['mx-3']);
    expect(parsed.memories).toEqual([{ key: 'deploy-notes', value: 'staging uses port 8443' }]);
  });

  it('reads a missing priority as P0 and local-offset nanosecond times as UTC', () => {
    const p0 = byId.get('mx-2')?.issue;
    expect(p0?.priority).toBe(0);
    expect(p0?.created_at).toBe('2025-12-17T02:18:58.115507000Z');
  });

  it('keeps integer and UUID comment ids as they were', () => {
    expect(byId.get('mx-4')?.comments[0]?.id).toBe(2);
    expect(byId.get('mx-5')?.comments[0]?.id).toBe('6f1c2b0e-5d3a-4c1e-9a7b-2f8e4d6c1a00');
  });

  it('keeps unknown keys, drops computed counts, maps legacy wisp to ephemeral', () => {
    expect(byId.get('mx-4')?.issue.extra).toEqual({ hook_bead: 'mx-9', quality_score: 0.8 });
    expect(byId.get('mx-5')?.issue.extra).toBeUndefined();
    expect(byId.get('mx-6')?.issue.ephemeral).toBe(true);
    expect(byId.get('mx-5')?.issue.metadata).toEqual({ team: 'core', n: 2 });
  });

  it('reports every bad line with its number and applies nothing', () => {
    const bad = `${fixture.split('\n')[0]}\n{not json\n{"id":"x-1","title":"ok","priority":9,"created_at":"2026-01-01T00:00:00Z"}\n{"title":"no id"}\n{"id":"x-2","title":"","created_at":"2026-01-01T00:00:00Z"}\n`;
    let error: unknown;
    try {
      parseJsonl(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GtError);
    const message = (error as GtError).message;
    expect(message).toMatch(/4 bad line\(s\); nothing was imported/);
    expect(message).toMatch(/line 2: not valid JSON/);
    expect(message).toMatch(/line 3: issue x-1 priority 9 is not 0-4/);
    expect(message).toMatch(/line 4: missing "id"/);
    expect(message).toMatch(/line 5: issue x-2 has no title/);
    const skipped = parseJsonl(bad, { skipBadLines: true });
    expect(skipped.records).toHaveLength(1);
    expect(skipped.badLines.map((b) => b.line)).toEqual([2, 3, 4, 5]);
  });

  it('rejects a wrong-typed field with the key named', () => {
    expect(() => parseLine('{"id":"a-1","title":"t","created_at":"2026-01-01T00:00:00Z","priority":"high"}', 7)).toThrow(/line 7: priority must be an integer/);
    expect(() => parseLine('{"id":"a-1","title":"t","created_at":"yesterday"}', 3)).toThrow(/line 3: created_at is not an RFC3339 time/);
  });
});

describe('writing bd export lines', () => {
  const base: IssueDetails = {
    id: 'bd-a1',
    title: 'Angle <b> & co',
    status: 'open',
    priority: 0,
    issue_type: 'task',
    created_at: '2026-01-17T17:38:21.000000000Z',
    updated_at: '2026-01-17T17:38:21.500000000Z',
    labels: ['z', 'a'],
    dependencies: [],
    comments: [],
    extra: { work_type_legacy: 'x' },
  };

  it('writes _type first, Go field order, priority even when 0, RFC3339Nano UTC, Go HTML escaping, unknown keys last', () => {
    expect(formatIssueLine(base)).toBe(
      '{"_type":"issue","id":"bd-a1","title":"Angle \\u003cb\\u003e \\u0026 co","status":"open","priority":0,"issue_type":"task",' +
        '"created_at":"2026-01-17T17:38:21Z","updated_at":"2026-01-17T17:38:21.5Z","labels":["a","z"],"work_type_legacy":"x"}',
    );
  });

  it('omits empty optionals but keeps set ones in order', () => {
    const line = formatIssueLine({
      ...base,
      extra: undefined,
      labels: [],
      description: 'd',
      assignee: 'me',
      metadata: {},
      ephemeral: false,
      pinned: true,
      dependencies: [{ issue_id: 'bd-a1', depends_on_id: 'bd-b2', type: 'blocks', created_at: '2026-01-17T17:38:21.000000000Z', created_by: 'me' }],
    });
    expect(Object.keys(JSON.parse(line) as object)).toEqual([
      '_type',
      'id',
      'title',
      'description',
      'status',
      'priority',
      'issue_type',
      'assignee',
      'created_at',
      'updated_at',
      'dependencies',
      'pinned',
    ]);
  });
});
