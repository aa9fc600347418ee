import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { ROOT, tempDir, workspace } from '../support/env.js';

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

  it('SIGKILL in the middle of a bulk import leaves an intact database with all or none of it', async () => {
    const db = join(tempDir(), 'ledger.db');
    await worker(['create', db, 'before', '25']);
    let killedAtWal = 0;
    const crash = await worker(['import', db, '40000'], (line, kill) => {
      if (line !== 'importing') return;
      // Wait until the transaction is really writing (the WAL grows), then pull the plug.
      const poll = setInterval(() => {
        let size = 0;
        try {
          size = statSync(`${db}-wal`).size;
        } catch {
          size = 0;
        }
        if (size > 2_000_000) {
          clearInterval(poll);
          killedAtWal = size;
          kill();
        }
      }, 5);
    });
    expect(crash.signal).toBe('SIGKILL');
    expect(crash.stdout).not.toMatch(/imported/);
    expect(killedAtWal).toBeGreaterThan(2_000_000);
    const check = new Database(db);
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    const bulk = (check.prepare(`SELECT COUNT(*) AS n FROM issues WHERE id LIKE 'bulk-%'`).get() as { n: number }).n;
    const before = (check.prepare(`SELECT COUNT(*) AS n FROM issues WHERE title LIKE 'before #%'`).get() as { n: number }).n;
    const labels = (check.prepare(`SELECT COUNT(*) AS n FROM labels`).get() as { n: number }).n;
    check.close();
    expect(bulk).toBe(0);
    expect(labels).toBe(0);
    expect(before).toBe(25);
    // And the ledger is fully usable afterwards.
    const again = await worker(['import', db, '500']);
    expect(again.stdout).toMatch(/imported/);
  }, 120_000);
});
