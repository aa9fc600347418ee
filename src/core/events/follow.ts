/**
 * Reading the town event stream by position: a page at a time, or following
 * it as it grows. A follower keeps the id of the last event it saw; since
 * events are appended only by committed transactions, reading `id > cursor`
 * again never skips one and never repeats one. (Coalesced kinds are the
 * exception by design: a follower slower than an agent's state changes sees
 * only its latest state.)
 */
import type { Ledger } from '../beads/ledger.js';
import type { TownEvent, TownEventFilter } from './town-events.js';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/** The newest `limit` events matching `filter`, oldest first (what `gt events` shows without a cursor). */
export async function recentEvents(ledger: Ledger, filter: TownEventFilter, limit: number): Promise<TownEvent[]> {
  const last = await ledger.lastTownEventId();
  // Read backwards in windows until `limit` matches are found or the start is reached.
  let window = Math.max(limit * 4, 200);
  for (;;) {
    const after = Math.max(0, last - window);
    const events = await ledger.townEvents(after, filter, Number.MAX_SAFE_INTEGER);
    if (events.length >= limit || after === 0) return events.slice(-limit);
    window *= 4;
  }
}

export interface FollowOptions {
  /** Start after this position (0: from the beginning). */
  after: number;
  filter: TownEventFilter;
  /** How often to look for new events. */
  pollMs?: number;
  signal?: AbortSignal;
}

/** Calls `onEvent` for every event after `after`, in order, until `signal` aborts. Returns the last position seen. */
export async function followEvents(ledger: Ledger, options: FollowOptions, onEvent: (event: TownEvent) => void): Promise<number> {
  let cursor = options.after;
  while (!options.signal?.aborted) {
    const events = await ledger.townEvents(cursor, options.filter, 500);
    for (const event of events) {
      onEvent(event);
      cursor = event.id;
    }
    // A full page means more are waiting: read on at once.
    if (events.length < 500) await sleep(options.pollMs ?? 200, options.signal);
  }
  return cursor;
}
