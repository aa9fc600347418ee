/**
 * A store whose issue writes pass a check first: how the ledger refuses an
 * agent's writes that only a person may make (design §9, issue 12). Every
 * write path of the ledger (create, update, close, import) ends in
 * insertIssue or updateIssue, so the check sees the issue as it would be.
 */
import type { TownEvent } from '../events/town-events.js';
import type { LedgerReader, LedgerStore, LedgerWriter } from './store.js';
import type { Issue } from './types.js';

/** Throws when `after` (the issue as the write would leave it; `before` is undefined for a new one) is not allowed. */
export type WriteGuard = (before: Issue | undefined, after: Issue) => void;

/**
 * What a process may see: issues and town events outside it read as absent
 * (another agent's mail, for an agent's own process). Every read of issues and
 * events goes through these reader methods.
 */
export interface ReadGuard {
  issue: (issue: Pick<Issue, 'issue_type' | 'assignee' | 'sender' | 'created_by'>) => boolean;
  event: (event: TownEvent) => boolean;
}

export interface LedgerGuard {
  write?: WriteGuard;
  read?: ReadGuard;
}

/** The reader with `read`'s hidden issues and events taken out. */
function filtered<T extends LedgerReader>(tx: T, read: ReadGuard): T {
  const keep = <I extends Pick<Issue, 'issue_type' | 'assignee' | 'sender' | 'created_by'>>(issues: I[]) => issues.filter((i) => read.issue(i));
  return Object.assign(Object.create(tx) as T, {
    getIssue: async (id: string) => {
      const issue = await tx.getIssue(id);
      return issue && read.issue(issue) ? issue : undefined;
    },
    list: async (...args: Parameters<LedgerReader['list']>) => keep(await tx.list(...args)),
    ready: async (...args: Parameters<LedgerReader['ready']>) => keep(await tx.ready(...args)),
    blocked: async (...args: Parameters<LedgerReader['blocked']>) => keep(await tx.blocked(...args)),
    exportIssues: async (...args: Parameters<LedgerReader['exportIssues']>) => keep(await tx.exportIssues(...args)),
    townEvents: async (...args: Parameters<LedgerReader['townEvents']>) => (await tx.townEvents(...args)).filter((e) => read.event(e)),
  });
}

export function guardedStore(store: LedgerStore, guards: LedgerGuard): LedgerStore {
  const { write: guard, read } = guards;
  const wrap = (raw: LedgerWriter): LedgerWriter => {
    const tx = read ? filtered(raw, read) : raw;
    if (!guard) return tx;
    return Object.assign(Object.create(tx) as LedgerWriter, {
      insertIssue: async (issue: Issue) => {
        guard(undefined, issue);
        return tx.insertIssue(issue);
      },
      updateIssue: async (id: string, patch: Partial<Issue>) => {
        const before = await raw.getIssue(id);
        const after = { ...before, ...patch } as Issue;
        // A field given as undefined is cleared.
        for (const [key, value] of Object.entries(patch)) if (value === undefined) delete (after as unknown as Record<string, unknown>)[key];
        guard(before, after);
        return tx.updateIssue(id, patch);
      },
    });
  };
  return {
    get location() {
      return store.location;
    },
    read: (fn) => store.read((tx) => fn(read ? filtered(tx, read) : tx)),
    write: (fn) => store.write((tx) => fn(wrap(tx))),
    schemaVersion: () => store.schemaVersion(),
    integrityCheck: () => store.integrityCheck(),
    close: () => store.close(),
  };
}
