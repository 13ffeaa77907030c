/**
 * Statements collected from several stores for one `SqlDb.batch` (all or none): the drift service
 * reads what a batch of MQTT messages needs, decides in memory, then writes everything in one batch.
 * `add` returns the statement's index in the changed-row counts `run` resolves to, so each store can
 * tell afterwards what its own statements changed (an `ON CONFLICT DO NOTHING` that changed 0 rows
 * means another delivery of the same message was stored first).
 */
import type { SqlDb, SqlStatement, SqlValue } from './sql.ts';

export class SqlBatch {
  readonly #statements: SqlStatement[] = [];

  /** Appends a statement; returns its index in the counts of run(). */
  add(sql: string, params: readonly SqlValue[] = []): number {
    return this.#statements.push({ sql, params }) - 1;
  }

  get size(): number {
    return this.#statements.length;
  }

  /** Runs every statement in one transaction; resolves to each one's changed-row count after the commit. */
  run(db: SqlDb): Promise<number[]> {
    return this.#statements.length === 0 ? Promise.resolve([]) : db.batch(this.#statements);
  }
}

/** Whether an index exists (in the current schema on PostgreSQL): migrations that build one check first. */
export async function hasIndex(db: SqlDb, name: string): Promise<boolean> {
  const sql = db.dialect === 'sqlite'
    ? "SELECT 1 AS one FROM sqlite_master WHERE type = 'index' AND name = ?"
    : 'SELECT 1 AS one FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?';
  return (await db.get<{ one: number }>(sql, [name])) !== undefined;
}

/** `(?, ?, …)` for an IN list of n values. */
export const placeholders = (n: number): string => `(${new Array<string>(n).fill('?').join(', ')})`;
