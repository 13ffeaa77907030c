/**
 * The one module that imports better-sqlite3. Gateway store, device outbox and device state all open
 * their databases here, so pragmas (WAL, synchronous level, busy timeout) are set the same way.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { EdgeloopError } from '../src/errors.ts';

export type SqliteDatabase = Database.Database;
export type SqliteStatement = Database.Statement;

export interface OpenDatabaseOptions {
  /**
   * 'full' fsyncs the WAL at every commit: a committed transaction survives power loss.
   * 'normal' survives a process crash (SIGKILL) but may lose the last commits on power loss.
   */
  synchronous?: 'full' | 'normal';
  readonly?: boolean;
  busyTimeoutMs?: number;
}

export function openDatabase(path: string, options: OpenDatabaseOptions = {}): SqliteDatabase {
  if (path !== ':memory:' && !options.readonly) mkdirSync(dirname(path), { recursive: true });
  let db: SqliteDatabase;
  try {
    db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  } catch (err) {
    throw new EdgeloopError('STORE', `cannot open database '${path}': ${(err as Error).message}`, { cause: err });
  }
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${(options.synchronous ?? 'full').toUpperCase()}`);
    db.pragma('foreign_keys = ON');
  }
  return db;
}
