/**
 * A store whose issue writes pass a check first: how the ledger refuses an
 * agent's writes that only a person may make (design §9, issue 12). Every
 * write path of the ledger (create, update, close, import) ends in
 * insertIssue or updateIssue, so the check sees the issue as it would be.
 */
import type { TownEvent } from '../events/town-events.js';
import type { LedgerReader, LedgerStore, LedgerWriter } from './store.js';
import { notFoundError } from '../../shared/errors.js';
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
  // An ID no issue has (a dangling edge's target) stays: only issues are hidden.
  const visibleIds = async (ids: string[]) => {
    const out: string[] = [];
    for (const id of ids) {
      const issue = await tx.getIssue(id);
      if (!issue || read.issue(issue)) out.push(id);
    }
    return out;
  };
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
    // IDs and the audit trail: a hidden issue is not there, by partial ID or by its history.
    idsStartingWith: async (...args: Parameters<LedgerReader['idsStartingWith']>) => visibleIds(await tx.idsStartingWith(...args)),
    idsWithHashPrefix: async (...args: Parameters<LedgerReader['idsWithHashPrefix']>) => visibleIds(await tx.idsWithHashPrefix(...args)),
    existingIds: async (ids: string[]) => new Set(await visibleIds([...(await tx.existingIds(ids))])),
    events: async (...args: Parameters<LedgerReader['events']>) => {
      const events = await tx.events(...args);
      const shown = new Set(await visibleIds([...new Set(events.map((e) => e.issue_id))]));
      return events.filter((e) => shown.has(e.issue_id));
    },
  });
}

export function guardedStore(store: LedgerStore, guards: LedgerGuard): LedgerStore {
  const { write: guard, read } = guards;
  const wrap = (raw: LedgerWriter): LedgerWriter => {
    const seen = read ? filtered(raw, read) : raw;
    // A hidden issue cannot be deleted either (it reads as absent, so this is its "not found").
    const tx = read
      ? Object.assign(Object.create(seen) as LedgerWriter, {
          deleteIssue: async (id: string) => {
            const issue = await raw.getIssue(id);
            if (issue && !read.issue(issue)) throw notFoundError(`no issue found matching ${JSON.stringify(id)}`);
            return raw.deleteIssue(id);
          },
        })
      : seen;
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
    watch: (wake, options) => store.watch(wake, options),
    close: () => store.close(),
  };
}
