/**
 * Opens the store a `--db` value names: a postgres:// or postgresql:// URL opens the PostgreSQL store
 * (several gateways on one database), anything else is a SQLite file path (one gateway, embedded).
 */
import { EdgeloopError } from '../src/errors.ts';
import type { Logger } from '../src/log.ts';
import { PostgresStore, redactPostgresUrl, type PostgresStoreOptions } from './store-postgres.ts';
import { SqliteStore } from './store-sqlite.ts';
import type { Store } from './store.ts';

export interface OpenStoreOptions {
  /** SQLite only: 'full' survives power loss, 'normal' process crashes only. */
  synchronous?: 'full' | 'normal';
  maxQuarantinePayloadBytes?: number;
  maxQuarantineRows?: number;
  /** PostgreSQL only. */
  postgres?: Omit<PostgresStoreOptions, 'url' | 'logger' | 'maxQuarantinePayloadBytes' | 'maxQuarantineRows'>;
  logger?: Logger;
}

export function isPostgresUrl(dbUrlOrPath: string): boolean {
  return /^postgres(ql)?:\/\//i.test(dbUrlOrPath);
}

export async function openStore(dbUrlOrPath: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (dbUrlOrPath === '') throw new EdgeloopError('BAD_ARGUMENT', 'db must be a SQLite file path or a postgres:// URL, got an empty string');
  if (isPostgresUrl(dbUrlOrPath)) {
    return PostgresStore.create({
      ...options.postgres,
      url: dbUrlOrPath,
      maxQuarantinePayloadBytes: options.maxQuarantinePayloadBytes,
      maxQuarantineRows: options.maxQuarantineRows,
      logger: options.logger,
    });
  }
  // A URL of another scheme would otherwise silently become a SQLite file named like the URL.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(dbUrlOrPath);
  if (scheme) throw new EdgeloopError('BAD_ARGUMENT', `db ${JSON.stringify(redactPostgresUrl(dbUrlOrPath))} has scheme '${scheme[1]}': only postgres:// (or postgresql://) URLs and SQLite file paths are supported`);
  return SqliteStore.create({
    path: dbUrlOrPath,
    synchronous: options.synchronous,
    maxQuarantinePayloadBytes: options.maxQuarantinePayloadBytes,
    maxQuarantineRows: options.maxQuarantineRows,
  });
}
