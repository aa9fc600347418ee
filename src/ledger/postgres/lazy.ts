/**
 * The PostgreSQL store as the one factory hands it out, synchronously and without the driver:
 * the store module (and node-postgres in it, a bundle of its own) is loaded, connected and
 * migrated on the first call. A SQLite town never pays for it; a PostgreSQL one pays once.
 */
import type { LedgerReader, LedgerStore, LedgerWriter } from '../../core/beads/store.js';
import { GtError, type ErrorKind } from '../../shared/errors.js';
import type { inspectPostgresLedger, PostgresLedgerStore, PostgresOptions } from './store.js';
import { maskLedgerUrl } from './url.js';

export type PostgresModule = { PostgresLedgerStore: typeof PostgresLedgerStore; inspectPostgresLedger: typeof inspectPostgresLedger };

export class LazyPostgresStore implements LedgerStore {
  readonly location: string;
  private opened: Promise<PostgresLedgerStore> | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly options: PostgresOptions,
    private readonly load: () => Promise<PostgresModule>,
  ) {
    this.location = maskLedgerUrl(url);
  }

  /** The connected store (loads the driver and migrates on first use). */
  store(): Promise<PostgresLedgerStore> {
    this.opened ??= this.load().then((module) => module.PostgresLedgerStore.open(this.url, this.options));
    // A failed open (server down) is tried again on the next call.
    this.opened.catch(() => (this.opened = undefined));
    return this.opened;
  }

  /** Runs `fn` on the store; the store's errors come back as this bundle's GtError (the store is a bundle of its own, with its own class). */
  private async on<T>(fn: (store: PostgresLedgerStore) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.store());
    } catch (error) {
      throw sameRealm(error);
    }
  }

  async read<T>(fn: (tx: LedgerReader) => Promise<T>): Promise<T> {
    return this.on((store) => store.read(fn));
  }
  async write<T>(fn: (tx: LedgerWriter) => Promise<T>): Promise<T> {
    return this.on((store) => store.write(fn));
  }
  async schemaVersion(): Promise<number> {
    return this.on((store) => store.schemaVersion());
  }
  async integrityCheck(): Promise<string[]> {
    return this.on((store) => store.integrityCheck());
  }
  async watch(wake: () => void, options: { foreign?: boolean } = {}): Promise<() => void> {
    return this.on((store) => store.watch(wake, options));
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const opened = this.opened;
    if (opened) await (await opened.catch(() => undefined))?.close();
  }
}

/** A GtError made by another bundle's copy of the class, as one of ours (kind, message and hint kept); anything else as it is. */
export function sameRealm(error: unknown): unknown {
  if (error instanceof GtError || !(error instanceof Error) || error.name !== 'GtError' || !('kind' in error)) return error;
  const hint = 'hint' in error && typeof error.hint === 'string' ? error.hint : undefined;
  return new GtError(error.kind as ErrorKind, error.message, { ...(hint === undefined ? {} : { hint }), cause: error });
}
