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

/**
 * A wake-up to wait on: `wake` (from the ledger's watch) ends the current or the next wait, so a
 * change that comes between a read and the wait after it is never slept through.
 */
export class Waker {
  private pending = false;
  private release: (() => void) | undefined;

  readonly wake = (): void => {
    this.pending = true;
    this.release?.();
  };

  /** Resolves at a wake (at once if one came since the last wait), after `ms`, or when `signal` aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.release = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.release = done;
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

export interface FollowOptions {
  /** Start after this position (0: from the beginning). */
  after: number;
  filter: TownEventFilter;
  /** How often to look for new events when the ledger cannot wake the follower. */
  pollMs?: number;
  /** With a wake-up: how often to look anyway (a lost notification costs at most this). */
  fallbackMs?: number;
  signal?: AbortSignal;
}

/**
 * Calls `onEvent` for every event after `after`, in order, until `signal` aborts. Woken by the
 * ledger's watch (PostgreSQL LISTEN, SQLite's data_version) as events are appended, so a new
 * event is read at once, not at the next poll. Returns the last position seen.
 */
export async function followEvents(ledger: Ledger, options: FollowOptions, onEvent: (event: TownEvent) => void): Promise<number> {
  let cursor = options.after;
  const waker = new Waker();
  const unwatch = await ledger.watchEvents(waker.wake).catch(() => undefined);
  try {
    while (!options.signal?.aborted) {
      const events = await ledger.townEvents(cursor, options.filter, 500);
      for (const event of events) {
        onEvent(event);
        cursor = event.id;
      }
      // A full page means more are waiting: read on at once.
      if (events.length < 500) await waker.wait(unwatch ? (options.fallbackMs ?? 5_000) : (options.pollMs ?? 200), options.signal);
    }
  } finally {
    unwatch?.();
  }
  return cursor;
}
