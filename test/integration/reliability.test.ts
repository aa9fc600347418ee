import { spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { SqliteDatabase as Database } from '../../src/ledger/sqlite/store.js';
import { BD, ROOT, tempDir, workspace } from '../support/env.js';

const WORKER = join(ROOT, 'test', 'support', 'ledger-worker.ts');
const TSX = createRequire(import.meta.url).resolve('tsx');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function worker(args: string[], onLine?: (line: string, kill: () => void) => void): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, WORKER, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (onLine) for (const line of d.toString().split('\n').filter(Boolean)) onLine(line, () => child.kill('SIGKILL'));
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('reliability under concurrency and crashes', () => {
  it('16 processes × 200 creates on one database: 3,200 issues, unique IDs, no lost write, no "locked" error', async () => {
    const db = join(tempDir(), 'ledger.db');
    const seed = new Database(db);
    seed.close();
    // Create the schema once so the 16 writers race on issues, not on migration.
    await worker(['create', db, 'seed', '0']);
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => worker(['create', db, `agent-${i}`, '200'])));
    for (const r of results) {
      expect(r.stderr).not.toMatch(/locked|busy/i);
      expect(r.code).toBe(0);
    }
    const reported = results.flatMap((r) => r.stdout.split('\n').filter(Boolean));
    expect(reported).toHaveLength(3200);
    expect(new Set(reported).size).toBe(3200);
    const check = new Database(db, { readonly: true });
    const rows = check.prepare('SELECT id, title FROM issues').all() as Array<{ id: string; title: string }>;
    const integrity = check.pragma('integrity_check', { simple: true });
    check.close();
    expect(integrity).toBe('ok');
    expect(rows).toHaveLength(3200);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(reported));
    for (let i = 0; i < 16; i++) expect(rows.filter((r) => r.title.startsWith(`agent-${i} #`))).toHaveLength(200);
  }, 240_000);

  it('concurrent bd processes never show "database is locked" to the user', async () => {
    const w = workspace('race');
    const runs = await Promise.all(Array.from({ length: 12 }, (_, i) => w.bdAsync(['q', `racer ${i}`])));
    for (const r of runs) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    expect(w.json<unknown[]>(['list', '-n', '0'])).toHaveLength(12);
  }, 120_000);

  it('SIGKILL in the middle of `bd import` leaves an intact database with all or none of the import', async () => {
    const w = workspace('pre');
    for (let i = 0; i < 5; i++) w.bd(['q', `before #${i}`]);
    const file = join(w.dir, 'bulk.jsonl');
    const lines: string[] = [];
    for (let i = 0; i < 40_000; i++) {
      lines.push(
        JSON.stringify({
          id: `bulk-${i}`,
          title: `bulk issue ${i} ${'x'.repeat(200)}`,
          description: 'y'.repeat(500),
          status: 'open',
          priority: i % 5,
          issue_type: 'task',
          created_at: '2026-01-01T00:00:00Z',
          updated_at: '2026-01-01T00:00:00Z',
          labels: ['bulk', `l${i % 7}`],
        }),
      );
    }
    writeFileSync(file, `${lines.join('\n')}\n`);
    const db = join(w.dir, '.beads', 'beads.db');
    const child = spawn(process.execPath, [BD, 'import', file], { cwd: w.dir, env: w.env, stdio: 'ignore' });
    let killedAtWal = 0;
    const exit = await new Promise<NodeJS.Signals | null>((resolve) => {
      // Wait until the import transaction is really writing (the WAL grows past 2 MB), then pull the plug.
      const poll = setInterval(() => {
        let size = 0;
        try {
          size = statSync(`${db}-wal`).size;
        } catch {
          size = 0;
        }
        if (size > 2_000_000 && killedAtWal === 0) {
          killedAtWal = size;
          child.kill('SIGKILL');
        }
      }, 2);
      child.on('close', (_code, signal) => {
        clearInterval(poll);
        resolve(signal);
      });
    });
    expect(exit).toBe('SIGKILL');
    expect(killedAtWal).toBeGreaterThan(2_000_000);
    const check = new Database(db);
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    const count = (sql: string) => (check.prepare(sql).get() as { n: number }).n;
    const bulk = count(`SELECT COUNT(*) AS n FROM issues WHERE id LIKE 'bulk-%'`);
    const bulkLabels = count(`SELECT COUNT(*) AS n FROM labels WHERE issue_id LIKE 'bulk-%'`);
    const bulkEvents = count(`SELECT COUNT(*) AS n FROM events WHERE issue_id LIKE 'bulk-%'`);
    check.close();
    expect([bulk, bulkLabels, bulkEvents]).toEqual([0, 0, 0]);
    // The ledger is whole and usable: earlier work intact, the same import now completes.
    expect(w.json<unknown[]>(['list'])).toHaveLength(5);
    expect(w.json<{ ok: boolean }>(['doctor']).ok).toBe(true);
    expect(w.json<{ created: number }>(['import', file]).created).toBe(40_000);
  }, 180_000);
});
