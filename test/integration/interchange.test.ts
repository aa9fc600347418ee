import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { ImportResult } from '../../src/core/beads/ledger.js';
import { canonicalTime } from '../../src/shared/time.js';
import { OWN_FIXTURES, SHARED_FIXTURES, workspace } from '../support/env.js';

/** What `bd import --json` prints. */
type ImportSummary = ImportResult;

const OWN = join(OWN_FIXTURES, 'legacy-mix.jsonl');
const COMPUTED = new Set(['_type', 'dependency_count', 'dependent_count', 'comment_count']);
const isTime = (key: string) => /(_at|_until)$/.test(key);

/** Same instant, any offset or precision: "2025-10-12T00:43:03.4534-07:00" equals "2025-10-12T07:43:03.4534Z". */
function sameValue(key: string, a: unknown, b: unknown): boolean {
  if (isTime(key) && typeof a === 'string' && typeof b === 'string') return canonicalTime(a) === canonicalTime(b);
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Every key of the source line survives export with the same meaning. */
function expectNoLoss(source: Record<string, unknown>, exported: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    if (COMPUTED.has(key)) continue;
    const out = exported[key];
    if (key === 'labels') expect(out, key).toEqual([...(value as string[])].sort());
    else if (key === 'dependencies' || key === 'comments') {
      const norm = (list: unknown) =>
        (list as Array<Record<string, unknown>>).map((item) =>
          Object.fromEntries(
            Object.entries(item)
              .map(([k, v]) => [k, isTime(k) ? canonicalTime(String(v)) : v])
              .filter(([k, v]) => !(k === 'metadata' && v === '{}')),
          ),
        );
      // Edges are a set (export sorts them); comments keep their order.
      const order = (list: Array<Record<string, unknown>>) =>
        key === 'dependencies' ? [...list].sort((x, y) => String(x.depends_on_id).localeCompare(String(y.depends_on_id))) : list;
      expect(order(norm(out)), `${String(source.id)} ${key}`).toEqual(order(norm(value)));
    } else expect(sameValue(key, value, out), `${String(source.id)}.${key}: ${JSON.stringify(value)} vs ${JSON.stringify(out)}`).toBe(true);
  }
  if (!('priority' in source)) expect(exported.priority).toBe(0);
}

function lines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('bd import / export', () => {
  it('imports every legacy form, reports dangling edges, and round-trips byte-stable', () => {
    const w = workspace('mx');
    const first = w.bd(['import', OWN, '--json']);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout) as ImportSummary;
    expect(summary).toMatchObject({ created: 6, updated: 0, tombstones_skipped: 1, memories: 1 });
    expect(summary.dangling).toEqual([expect.objectContaining({ issue_id: 'mx-5', depends_on_id: 'mx-missing' })]);
    expect(first.stderr).toMatch(/mx-5 → mx-missing \(blocks\): target not in the ledger/);

    const exported = w.bd(['export', '--all']).stdout;
    const byId = new Map(lines(exported).map((o) => [o.id, o]));
    for (const source of lines(readFileSync(OWN, 'utf8'))) {
      if (source._type === 'memory') continue;
      if (source.status === 'tombstone') {
        expect(byId.has(source.id)).toBe(false);
        continue;
      }
      const { wisp, ...rest } = source;
      const out = byId.get(source.id) as Record<string, unknown>;
      expectNoLoss(rest, out);
      if (wisp) expect(out.ephemeral).toBe(true);
    }
    expect(exported).toMatch(/"_type":"memory","key":"deploy-notes"/);

    const file = join(w.dir, 'round.jsonl');
    writeFileSync(file, exported);
    const fresh = workspace('mx');
    expect(fresh.bd(['import', file]).code).toBe(0);
    expect(fresh.bd(['export', '--all']).stdout).toBe(exported);
  });

  it('re-import is a no-op; an older copy never overwrites a newer local one', () => {
    const w = workspace('mx');
    w.bd(['import', OWN]);
    expect(w.json<ImportSummary>(['import', OWN])).toMatchObject({ created: 0, updated: 0, unchanged: 6 });
    w.bd(['update', 'mx-1', '--title', 'Edited locally']);
    expect(w.json<ImportSummary>(['import', OWN])).toMatchObject({ skipped: 1, unchanged: 5 });
    expect(w.json<Array<{ title: string }>>(['show', 'mx-1'])[0]?.title).toBe('Edited locally');
  });

  it('a corrupt line is reported with its line number and nothing is applied; --skip-bad-lines imports the rest', () => {
    const w = workspace('mx');
    const good = readFileSync(OWN, 'utf8').split('\n');
    good.splice(3, 0, '{"id":"mx-9","title":"broken",');
    const file = join(w.dir, 'corrupt.jsonl');
    writeFileSync(file, good.join('\n'));
    const r = w.bd(['import', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/line 4: not valid JSON/);
    expect(r.stderr).toMatch(/nothing was imported/);
    expect(w.json<unknown[]>(['list', '--all'])).toEqual([]);
    const skipped = w.bd(['import', file, '--skip-bad-lines', '--json']);
    expect(skipped.code).toBe(0);
    expect(JSON.parse(skipped.stdout)).toMatchObject({ created: 6, bad_lines: [{ line: 4 }] });
  });

  it('--dry-run reports and changes nothing', () => {
    const w = workspace('mx');
    expect(w.json<ImportSummary>(['import', OWN, '--dry-run'])).toMatchObject({ created: 6 });
    expect(w.json<unknown[]>(['list', '--all'])).toEqual([]);
  });

  it('export -o writes atomically and leaves out wisps, templates and infra beads unless asked', () => {
    const w = workspace('mx');
    w.bd(['import', OWN]);
    w.bd(['create', 'an agent bead', '-t', 'agent']);
    const out = join(w.dir, 'issues.jsonl');
    const r = w.bd(['export', '-o', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Exported 5 issue\(s\)/);
    const ids = lines(readFileSync(out, 'utf8')).map((o) => o.id);
    expect(ids).toEqual(['mx-1', 'mx-1.1', 'mx-2', 'mx-4', 'mx-5']);
    expect(readFileSync(out, 'utf8')).not.toMatch(/"_type":"memory"/);
  });
});

describe('bd import holds the rules bd create holds (issue 12, finding 8)', () => {
  const T = '2026-01-01T00:00:00Z';
  const line = (fields: Record<string, unknown>) => JSON.stringify({ title: 'x', created_at: T, updated_at: T, ...fields });
  const AGENT = { GT_AGENT: 'app/polecats/nux', BD_ACTOR: 'app/polecats/nux' };

  it('refuses bad IDs, blocking cycles, unknown statuses and types, and conflicting duplicates, naming the line; nothing is applied', () => {
    const w = workspace('app');
    const marker = join(w.dir, 'PWNED');
    const cases: Array<[string, RegExp]> = [
      [line({ id: '../../x' }), /line 1: invalid ID "\.\.\/\.\.\/x"/],
      [line({ id: `app-$(touch ${marker})` }), /line 1: invalid ID/],
      [`${line({ id: 'app-1' })}\n${line({ id: 'app-2', dependencies: [{ depends_on_id: '../etc', type: 'blocks' }] })}`, /line 2: invalid ID "\.\.\/etc"/],
      [
        `${line({ id: 'app-a', dependencies: [{ depends_on_id: 'app-b', type: 'blocks' }] })}\n${line({ id: 'app-b', dependencies: [{ depends_on_id: 'app-a', type: 'blocks' }] })}`,
        /blocking cycle among .*app-a/,
      ],
      [line({ id: 'app-1', status: 'bogus' }), /line 1: invalid status "bogus"/],
      [line({ id: 'app-1', issue_type: 'weird' }), /line 1: invalid issue type "weird"/],
      [line({ id: 'app-1', dependencies: [{ depends_on_id: 'app-2', type: 'owns' }] }), /line 1: invalid dependency type "owns"/],
      [`${line({ id: 'app-1' })}\n${line({ id: 'app-1', title: 'other' })}`, /line 2: issue app-1 is also on line 1, with other content/],
      [line({ id: 'app-1', labels: ['x'.repeat(300)] }), /line 1: label too long/],
      [line({ id: 'app-1', estimated_minutes: -5 }), /line 1: .*negative/],
    ];
    for (const [text, message] of cases) {
      const file = join(w.dir, 'bad.jsonl');
      writeFileSync(file, `${text}\n`);
      // The repro: an agent's bd import (GT_AGENT in its environment, as sessions have).
      const r = w.bd(['import', file], { env: AGENT });
      expect(r.code, text).toBe(1);
      expect(r.stderr, text).toMatch(message);
      expect(w.json<unknown[]>(['list', '--all']), text).toEqual([]);
    }
    expect(existsSync(marker)).toBe(false);
    expect(w.json<{ ok: boolean }>(['doctor']).ok).toBe(true);
  });

  it("still takes Beads' legacy forms: type aliases (normalised), identical duplicate lines, external edges", () => {
    const w = workspace('app');
    const file = join(w.dir, 'ok.jsonl');
    const same = line({ id: 'app-1', issue_type: 'enhancement' });
    writeFileSync(file, `${same}\n${same}\n${line({ id: 'app-2', dependencies: [{ depends_on_id: 'external:gh-12', type: 'related' }] })}\n`);
    expect(w.json<ImportSummary>(['import', file])).toMatchObject({ created: 2 });
    expect(w.json<Array<{ issue_type: string }>>(['show', 'app-1'])[0]?.issue_type).toBe('feature');
  });
});

const eras = ['jsonl-era-2025-10', 'jsonl-era-2025-12', 'dolt-era-2026-01'];

describe('the real Beads files in shared/fixtures', () => {
  if (!existsSync(SHARED_FIXTURES)) {
    it.skip(`skipped: ${SHARED_FIXTURES} is not present (the shared/ folder sits beside the repository)`, () => undefined);
    return;
  }
  for (const era of eras) {
    it(`${era}: every record loads without loss, and export → import → export is stable`, () => {
      const file = join(SHARED_FIXTURES, era, 'issues.jsonl');
      const source = lines(readFileSync(file, 'utf8'));
      const w = workspace('bd');
      const r = w.bd(['import', file, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout) as ImportSummary;
      const live = source.filter((s) => s.status !== 'tombstone');
      expect(summary.created).toBe(live.length);
      expect(summary.tombstones_skipped).toBe(source.length - live.length);

      const exported = w.bd(['export', '--all']).stdout;
      const byId = new Map(lines(exported).map((o) => [o.id, o]));
      expect(byId.size).toBe(live.length);
      for (const record of live) expectNoLoss(record, byId.get(record.id) as Record<string, unknown>);

      const again = join(w.dir, 'again.jsonl');
      writeFileSync(again, exported);
      const fresh = workspace('bd');
      expect(fresh.bd(['import', again]).code).toBe(0);
      expect(fresh.bd(['export', '--all']).stdout).toBe(exported);
      expect(w.json<{ ok: boolean }>(['doctor']).ok).toBe(true);
    });
  }

  it('dolt era: the dangling edge is reported; reopened, the gate blocks its step until it closes again', () => {
    const w = workspace('bd');
    const r = w.bd(['import', join(SHARED_FIXTURES, 'dolt-era-2026-01', 'issues.jsonl'), '--json']);
    const summary = JSON.parse(r.stdout) as ImportSummary;
    expect(summary.dangling).toEqual([expect.objectContaining({ issue_id: 'bd-mol-e15', depends_on_id: 'bd-mol-5j3' })]);
    expect(w.bd(['reopen', 'bd-mol-bzx', 'bd-mol-e15']).code).toBe(0);
    const blocked = w.json<Array<{ id: string; blocked_by: string[] }>>(['blocked']);
    expect(blocked.find((b) => b.id === 'bd-mol-e15')?.blocked_by).toEqual(['bd-mol-bzx']);
    const ready = () => w.json<Array<{ id: string }>>(['ready', '-n', '0']).map((i) => i.id);
    expect(ready()).not.toContain('bd-mol-e15');
    expect(ready()).not.toContain('bd-mol-bzx'); // gates are never offered as work
    w.bd(['close', 'bd-mol-bzx']);
    expect(ready()).toContain('bd-mol-e15');
  });

  it('jsonl era 2025-12: the issue without a priority key imports as P0', () => {
    const w = workspace('bd');
    w.bd(['import', join(SHARED_FIXTURES, 'jsonl-era-2025-12', 'issues.jsonl')]);
    expect(w.json<Array<{ priority: number }>>(['show', 'bd-1tw'])[0]?.priority).toBe(0);
  });

  it('a large import builds its indexes once at the end: same schema, counts and ready set; a bad one rolls back whole', () => {
    const w = workspace('big');
    const path = join(w.dir, '.beads', 'beads.db');
    const query = (sql: string) => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare(sql).all();
      } finally {
        db.close();
      }
    };
    const schema = () => query('SELECT type, name, sql FROM sqlite_master ORDER BY name');
    const before = schema();
    const T = '2026-01-01T00:00:00Z';
    // 2,500 issues (a bulk load): each even one blocked by the odd one before it.
    const record = (i: number, extra: Array<{ depends_on_id: string; type: string }> = []) =>
      JSON.stringify({
        id: `big-${i}`,
        title: `Issue ${i}`,
        created_at: T,
        updated_at: T,
        labels: [`area:${i % 7}`],
        dependencies: [...(i % 2 === 0 ? [{ depends_on_id: `big-${i - 1}`, type: 'blocks' }] : []), ...extra],
      });
    const ids = Array.from({ length: 2_500 }, (_, i) => i + 1);
    const file = join(w.dir, 'big.jsonl');
    writeFileSync(file, `${ids.map((i) => record(i, i === 1 ? [{ depends_on_id: 'big-2', type: 'blocks' }] : [])).join('\n')}\n`);
    const bad = w.bd(['import', file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/blocking cycle among .*big-1/);
    expect(w.json<unknown[]>(['list', '--all'])).toEqual([]);
    expect(schema()).toEqual(before);

    writeFileSync(file, `${ids.map((i) => record(i)).join('\n')}\n`);
    expect(JSON.parse(w.bd(['import', file, '--json']).stdout)).toMatchObject({ created: 2_500 });
    expect(schema()).toEqual(before);
    expect(w.json<unknown[]>(['ready', '-n', '0'])).toHaveLength(1_250);
    expect(w.json<unknown[]>(['blocked'])).toHaveLength(1_250);
    expect(w.json<unknown[]>(['list', '--label', 'area:3', '-n', '0'])).toHaveLength(357);
    // The top-level ID count the insert trigger keeps (ID minting reads it) matches row-by-row loading.
    expect(query(`SELECT n FROM id_counts WHERE base = 'big'`)).toEqual([{ n: 2_500 }]);
    expect(w.bd(['create', 'After the import', '--silent']).stdout.trim()).toMatch(/^big-[0-9a-z]+$/);
    expect(w.json<{ ok: boolean }>(['doctor']).ok).toBe(true);
  });
});
