/**
 * A store whose issue writes pass a check first: how the ledger refuses an
 * agent's writes that only a person may make (design §9, issue 12). Every
 * write path of the ledger (create, update, close, import) ends in
 * insertIssue or updateIssue, so the check sees the issue as it would be.
 */
import type { LedgerStore, LedgerWriter } from './store.js';
import type { Issue } from './types.js';

/** Throws when `after` (the issue as the write would leave it; `before` is undefined for a new one) is not allowed. */
export type WriteGuard = (before: Issue | undefined, after: Issue) => void;

export function guardedStore(store: LedgerStore, guard: WriteGuard): LedgerStore {
  const wrap = (tx: LedgerWriter): LedgerWriter =>
    Object.assign(Object.create(tx) as LedgerWriter, {
      insertIssue: async (issue: Issue) => {
        guard(undefined, issue);
        return tx.insertIssue(issue);
      },
      updateIssue: async (id: string, patch: Partial<Issue>) => {
        const before = await tx.getIssue(id);
        const after = { ...before, ...patch } as Issue;
        // A field given as undefined is cleared.
        for (const [key, value] of Object.entries(patch)) if (value === undefined) delete (after as unknown as Record<string, unknown>)[key];
        guard(before, after);
        return tx.updateIssue(id, patch);
      },
    });
  return {
    get location() {
      return store.location;
    },
    read: (fn) => store.read(fn),
    write: (fn) => store.write((tx) => fn(wrap(tx))),
    schemaVersion: () => store.schemaVersion(),
    integrityCheck: () => store.integrityCheck(),
    close: () => store.close(),
  };
}
