/**
 * The PostgreSQL store as the one factory hands it out, synchronously and without the driver:
 * the store module (and node-postgres in it, a bundle of its own) is loaded, connected and
 * migrated on the first call. A SQLite town never pays for it; a PostgreSQL one pays once.
 */
import type { LedgerReader, LedgerStore, LedgerWriter } from '../../core/beads/store.js';
import type { PostgresLedgerStore, PostgresOptions } from './store.js';
import { maskLedgerUrl } from './url.js';

export type PostgresModule = { PostgresLedgerStore: typeof PostgresLedgerStore };

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

  async read<T>(fn: (tx: LedgerReader) => Promise<T>): Promise<T> {
    return (await this.store()).read(fn);
  }
  async write<T>(fn: (tx: LedgerWriter) => Promise<T>): Promise<T> {
    return (await this.store()).write(fn);
  }
  async schemaVersion(): Promise<number> {
    return (await this.store()).schemaVersion();
  }
  async integrityCheck(): Promise<string[]> {
    return (await this.store()).integrityCheck();
  }
  async watch(wake: () => void): Promise<() => void> {
    return (await this.store()).watch(wake);
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const opened = this.opened;
    if (opened) await (await opened.catch(() => undefined))?.close();
  }
}
