/**
 * A separate OS process that writes to a ledger through the real store, for the
 * reliability tests. Usage:
 *   create <db> <actor> <count>     one transaction per issue, prints each ID
 *   race <postgres-url> <name> <writers> <creates> <ids,…>
 *                                   <writers> concurrent writers in this process (one connection
 *                                   each): each creates <creates> issues, printing `created <id>`,
 *                                   then tries to claim every listed issue, printing
 *                                   `claimed <id> <actor>` for each claim it wins; finally
 *                                   `retries <n>` (serialization failures retried)
 */
import { Ledger } from '../../src/core/beads/ledger.js';
import { SqliteLedgerStore } from '../../src/ledger/sqlite/store.js';
import { PostgresLedgerStore } from '../../src/ledger/postgres/store.js';
import { GtError } from '../../src/shared/errors.js';

const [mode, db, ...rest] = process.argv.slice(2);

if (mode === 'create') {
  const store = SqliteLedgerStore.open(db as string, { create: true });
  const [actor, count] = rest;
  const ledger = new Ledger(store, { actor: actor as string });
  for (let i = 0; i < Number(count); i++) {
    const issue = await ledger.create({ title: `${actor} #${i}` });
    process.stdout.write(`${issue.id}\n`);
  }
  await store.close();
} else if (mode === 'race') {
  const [name, writers, creates, targets] = rest as [string, string, string, string];
  const store = await PostgresLedgerStore.open(db as string, { maxConnections: Number(writers) });
  const claimIds = targets.split(',').filter(Boolean);
  const lines: string[] = [];
  await Promise.all(
    Array.from({ length: Number(writers) }, async (_, w) => {
      const actor = `${name}-w${w}`;
      const ledger = new Ledger(store, { actor });
      for (let i = 0; i < Number(creates); i++) lines.push(`created ${(await ledger.create({ title: `${actor} #${i}` })).id}`);
      for (const id of claimIds) {
        try {
          await ledger.claim(id);
          lines.push(`claimed ${id} ${actor}`);
        } catch (error) {
          // Losing a claim is the expected outcome for all but one writer; anything else is a failure.
          if (!(error instanceof GtError && error.kind === 'conflict')) throw error;
        }
      }
    }),
  );
  lines.push(`retries ${store.retries}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  await store.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}
