import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ledger } from '../../src/core/beads/ledger.js';
import { PostgresLedgerStore } from '../../src/ledger/postgres/store.js';
import { ROOT, onCleanup, POSTGRES_TESTS } from '../support/env.js';
import { freshDatabase } from '../support/postgres.js';

const WORKER = join(ROOT, 'test', 'support', 'ledger-worker.ts');
const TSX = createRequire(import.meta.url).resolve('tsx');

function worker(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, WORKER, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const PROCESSES = 8;
const WRITERS = 25;
const CREATES = 2;
const CLAIMS = 4;

// Issue 19: the ledger on PostgreSQL under real concurrency (see test/support/env.ts for when it runs).
describe.skipIf(!POSTGRES_TESTS)('PostgreSQL ledger under concurrency', () => {
  it(`${PROCESSES} processes × ${WRITERS} concurrent writers: no lost write, no duplicate ID, exactly one winner per claim`, async () => {
    const url = await freshDatabase();
    const seed = await PostgresLedgerStore.open(url, { create: true });
    onCleanup(() => seed.close());
    const ledger = new Ledger(seed, { actor: 'seed' });
    await ledger.setConfig('issue_prefix', 'race');
    const targets: string[] = [];
    for (let i = 0; i < CLAIMS; i++) targets.push((await ledger.create({ title: `claim me ${i}` })).id);

    const runs = await Promise.all(
      Array.from({ length: PROCESSES }, (_, p) => worker(['race', url, `p${p}`, String(WRITERS), String(CREATES), targets.join(',')])),
    );
    for (const run of runs) {
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
    }
    const lines = runs.flatMap((r) => r.stdout.split('\n').filter(Boolean));
    const created = lines.filter((l) => l.startsWith('created ')).map((l) => l.split(' ')[1] as string);
    const claims = lines.filter((l) => l.startsWith('claimed ')).map((l) => l.split(' ') as [string, string, string]);
    const retries = lines.filter((l) => l.startsWith('retries ')).reduce((sum, l) => sum + Number(l.split(' ')[1]), 0);
    console.log(`[postgres] ${PROCESSES * WRITERS} writers: ${created.length} creates, ${claims.length} claims won, ${retries} serialization retries`);

    // Every reported create is in the ledger, once; nothing else is.
    expect(created).toHaveLength(PROCESSES * WRITERS * CREATES);
    expect(new Set(created).size).toBe(created.length);
    const all = await ledger.list({ limit: 0 });
    expect(all).toHaveLength(created.length + CLAIMS);
    expect(new Set(all.map((i) => i.id))).toEqual(new Set([...created, ...targets]));
    for (let p = 0; p < PROCESSES; p++) for (let w = 0; w < WRITERS; w++) expect(all.filter((i) => i.title.startsWith(`p${p}-w${w} #`))).toHaveLength(CREATES);

    // Exactly one winner per claimed issue, and the ledger agrees with what the winner was told.
    expect(claims.map(([, id]) => id).sort()).toEqual([...targets].sort());
    for (const [, id, actor] of claims) {
      const issue = await ledger.get(id);
      expect(issue).toMatchObject({ status: 'in_progress', assignee: actor });
      const claimedEvents = (await ledger.events(0, 100_000, id)).filter((e) => e.event_type === 'claimed');
      expect(claimedEvents.map((e) => e.actor)).toEqual([actor]);
    }
    expect(await seed.integrityCheck()).toEqual([]);
  }, 300_000);
});
