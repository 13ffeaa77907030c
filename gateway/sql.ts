/**
 * A small asynchronous SQL surface over the two databases a gateway runs on, for the state of the
 * singleton duties (retraining jobs, the model registry) that several gateways on one PostgreSQL must
 * share: the gateway's better-sqlite3 handle (embedded default) or the PostgreSQL store's pool.
 *
 * Statements use `?` placeholders (numbered `$1…` for PostgreSQL) and SQL both dialects accept
 * (`ON CONFLICT … DO NOTHING|UPDATE`, partial indexes, `CAST(… AS INTEGER)`); schemas differ and are
 * passed per dialect. There is no interactive transaction: `batch` runs statements that are all known
 * in advance atomically, and read-modify-write is done with conditional statements (compare-and-set
 * `UPDATE … WHERE state = ?`, unique indexes). On SQLite that keeps every transaction synchronous, so
 * nothing else on the shared connection can run inside it; on PostgreSQL no row lock is held across a
 * network round trip to the caller.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import type { SqliteDatabase, SqliteStatement } from '../io/sqlite.ts';
import { transaction, type PgPool, type PgPoolClient } from './store-postgres.ts';

export type SqlValue = string | number | boolean | null | Uint8Array;

export interface SqlStatement {
  sql: string;
  params?: readonly SqlValue[];
}

export interface SqlDb {
  readonly dialect: 'sqlite' | 'postgres';
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Resolves to the number of rows the statement changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Runs the statements in one transaction (all or none); resolves to each one's changed-row count. */
  batch(statements: readonly SqlStatement[]): Promise<number[]>;
  /** Runs a script of statements without parameters (schemas). */
  exec(script: string): Promise<void>;
  /**
   * Runs `fn` in one transaction: every statement issued through this SqlDb from `fn`'s asynchronous
   * context joins it; it commits when `fn` resolves and rolls back when it rejects. A nested call joins
   * the outer transaction. For state that one process changes step by step (the rollout controller on
   * the elected gateway), where `batch` would need every statement known in advance.
   *
   * On SQLite the connection is shared by the whole gateway, so the body must await nothing but this
   * SqlDb's statements (they complete synchronously): no other code can then run inside the transaction.
   * A body that yields to the event loop is a programming error; it is detected, committed (nothing that
   * joined by accident is lost) and reported as INTERNAL.
   */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * A schema written once for both dialects, with placeholders for the column types that differ:
 * `{time}` (milliseconds since the epoch), `{bytes}`, `{serial}` (an auto-increment primary key) and
 * `{without_rowid}` (SQLite's clustered-table option after a table definition; nothing on PostgreSQL).
 */
export function schemaFor(dialect: SqlDb['dialect'], script: string): string {
  const types = dialect === 'sqlite'
    ? { time: 'INTEGER', bytes: 'BLOB', serial: 'INTEGER PRIMARY KEY AUTOINCREMENT', without_rowid: 'WITHOUT ROWID' }
    : { time: 'BIGINT', bytes: 'BYTEA', serial: 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY', without_rowid: '' };
  return script.replace(/\{(time|bytes|serial|without_rowid)\}/g, (_, k: keyof typeof types) => types[k]);
}

/**
 * Creates a schema written with `schemaFor` placeholders when its tables are missing. On PostgreSQL
 * under a transaction-scoped advisory lock named after it: gateways starting together would otherwise
 * race on `CREATE … IF NOT EXISTS`.
 */
export async function createTables(db: SqlDb, name: string, script: string): Promise<void> {
  const text = schemaFor(db.dialect, script);
  if (db.dialect === 'sqlite') await db.exec(text);
  else await db.batch([{ sql: 'SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', params: [`edgeloop.schema:${name}`] }, { sql: text }]);
}

/** A unique or primary-key violation (a concurrent writer won the row). */
export function isUniqueViolation(err: unknown): boolean {
  const cause = err instanceof EdgeloopError ? err.cause : err;
  const code = (cause as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

const blob = (v: SqlValue): unknown => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v);

const statementCaches = new WeakMap<SqliteDatabase, Map<string, SqliteStatement>>();
const MAX_CACHED_STATEMENTS = 1000;

/** The gateway's SQLite handle: statements run synchronously, results come back as resolved promises. */
export function sqliteSql(db: SqliteDatabase): SqlDb {
  // Compiling a statement costs more than running a small one: each SQL text is prepared once per
  // connection (the texts are a fixed set, a few hundred at most; past the bound the cache starts over).
  let cache = statementCaches.get(db);
  if (!cache) statementCaches.set(db, (cache = new Map()));
  const statements = cache;
  const prepared = (sql: string): SqliteStatement => {
    let st = statements.get(sql);
    if (!st) {
      if (statements.size >= MAX_CACHED_STATEMENTS) statements.clear();
      st = db.prepare(sql);
      statements.set(sql, st);
    }
    return st;
  };
  const params = (p: readonly SqlValue[] = []): unknown[] => p.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : blob(v)));
  const wrap = <T>(f: () => T): Promise<T> => {
    try {
      return Promise.resolve(f());
    } catch (err) {
      return Promise.reject(err instanceof EdgeloopError ? err : new EdgeloopError('STORE', `SQLite: ${errorMessage(err)}`, { cause: err }));
    }
  };
  return {
    dialect: 'sqlite',
    all: <T>(sql: string, p?: readonly SqlValue[]) => wrap(() => prepared(sql).all(...params(p)) as T[]),
    get: <T>(sql: string, p?: readonly SqlValue[]) => wrap(() => prepared(sql).get(...params(p)) as T | undefined),
    run: (sql, p) => wrap(() => prepared(sql).run(...params(p)).changes),
    batch: (statements) => wrap(() => db.transaction(() => statements.map((s) => prepared(s.sql).run(...params(s.params)).changes)).immediate()),
    exec: (script) => wrap(() => void db.exec(script)),
    transaction: async <T>(fn: () => Promise<T>): Promise<T> => {
      if (db.inTransaction) return fn();
      await wrap(() => db.exec('BEGIN IMMEDIATE'));
      // Two probes: a transaction begun in the check phase (from a setImmediate callback) would see its
      // immediate only on the next turn, after that turn's timers and I/O callbacks could already have
      // resumed and finished the body; the 0 ms timer comes first in the timers phase.
      let yielded = false;
      const probe = setImmediate(() => { yielded = true; });
      const timerProbe = setTimeout(() => { yielded = true; }, 0);
      let out: T;
      try {
        out = await fn();
      } catch (err) {
        // The body's own error goes back as it is; the statements' errors are already STORE errors.
        if (db.inTransaction) db.exec(yielded ? 'COMMIT' : 'ROLLBACK');
        throw err;
      } finally {
        clearImmediate(probe);
        clearTimeout(timerProbe);
      }
      await wrap(() => db.exec('COMMIT'));
      if (yielded) throw new EdgeloopError('INTERNAL', 'a SQLite transaction body yielded to the event loop (it must await only statements): committed, but other code may have joined it');
      return out;
    },
  };
}

const transactionContexts = new WeakMap<PgPool, AsyncLocalStorage<{ client: PgPoolClient; open: boolean }>>();

/** `?` → `$1, $2, …` (no statement of ours has a `?` inside a literal). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** The PostgreSQL store's pool (search_path is the store's schema, int8 comes back as number). */
export function postgresSql(pool: PgPool): SqlDb {
  const params = (p: readonly SqlValue[] = []): unknown[] => p.map(blob);
  const fail = (err: unknown): never => {
    throw err instanceof EdgeloopError ? err : new EdgeloopError('STORE', `PostgreSQL: ${errorMessage(err)}`, { cause: err });
  };
  // The client of the transaction the caller's asynchronous context is in; `open` turns false at its end,
  // so a callback scheduled inside it (a timer, an event handler) later uses the pool, never a released
  // client. Shared by every SqlDb on the pool: a store reached through another wrapper inside the
  // transaction joins it rather than waiting for a second connection (with a small pool, for ever).
  let inTx = transactionContexts.get(pool);
  if (!inTx) transactionContexts.set(pool, (inTx = new AsyncLocalStorage()));
  const context = inTx;
  const on = (): PgPool | PgPoolClient => {
    const tx = context.getStore();
    return tx?.open ? tx.client : pool;
  };
  const query = (sql: string, p?: readonly SqlValue[]) => on().query(numbered(sql), params(p)).catch(fail);
  const txn = <T>(fn: () => Promise<T>): Promise<T> => {
    if (context.getStore()?.open) return fn();
    let bodyFailed = false;
    return transaction(pool, async (client) => {
      const tx = { client, open: true };
      try {
        return await context.run(tx, fn);
      } catch (err) {
        bodyFailed = true;
        throw err;
      } finally {
        tx.open = false;
      }
    }).catch((err: unknown) => (bodyFailed ? Promise.reject(err) : fail(err)));
  };
  return {
    dialect: 'postgres',
    all: async <T>(sql: string, p?: readonly SqlValue[]) => (await query(sql, p)).rows as T[],
    get: async <T>(sql: string, p?: readonly SqlValue[]) => (await query(sql, p)).rows[0] as T | undefined,
    run: async (sql, p) => (await query(sql, p)).rowCount ?? 0,
    batch: (statements) => txn(async () => {
      const out: number[] = [];
      for (const s of statements) out.push((await query(s.sql, s.params)).rowCount ?? 0);
      return out;
    }),
    exec: async (script) => void (await on().query(script).catch(fail)),
    transaction: txn,
  };
}
