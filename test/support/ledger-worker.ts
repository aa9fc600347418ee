/**
 * A separate OS process that writes to a ledger through the real store, for the
 * reliability tests. Usage:
 *   create <db> <actor> <count>     one transaction per issue, prints each ID
 */
import { Ledger } from '../../src/core/beads/ledger.js';
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
}
await store.close();
