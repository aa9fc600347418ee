/**
 * A separate OS process that writes to a ledger through the real store, for the
 * reliability tests. Usage:
 *   create <db> <actor> <count>     one transaction per issue, prints each ID
 *   import <db> <count>             one bulk import of <count> generated issues
 */
import { Ledger, type ImportRecord } from '../../src/core/beads/ledger.js';
import { SqliteLedgerStore } from '../../src/ledger/sqlite/store.js';

const [mode, db, ...rest] = process.argv.slice(2);
const store = SqliteLedgerStore.open(db as string, { create: true });

if (mode === 'create') {
  const [actor, count] = rest;
  const ledger = new Ledger(store, { actor: actor as string });
  for (let i = 0; i < Number(count); i++) {
    const issue = await ledger.create({ title: `${actor} #${i}` });
    process.stdout.write(`${issue.id}\n`);
  }
} else if (mode === 'import') {
  const count = Number(rest[0]);
  const ledger = new Ledger(store, { actor: 'importer' });
  const records: ImportRecord[] = [];
  for (let i = 0; i < count; i++) {
    const id = `bulk-${i}`;
    records.push({
      issue: { id, title: `bulk issue ${i} ${'x'.repeat(200)}`, status: 'open', priority: i % 5, issue_type: 'task', created_at: '2026-01-01T00:00:00.000000000Z', updated_at: '2026-01-01T00:00:00.000000000Z', description: 'y'.repeat(500) },
      labels: ['bulk', `l${i % 7}`],
      dependencies: i > 0 ? [{ issue_id: id, depends_on_id: `bulk-${i - 1}`, type: 'related', created_at: '2026-01-01T00:00:00.000000000Z' }] : [],
      comments: [],
      line: i + 1,
    });
  }
  process.stdout.write('importing\n');
  await ledger.importRecords({ records, memories: [], tombstones: [], source: 'worker' });
  process.stdout.write('imported\n');
}
await store.close();
