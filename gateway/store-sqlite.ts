/**
 * SQLite implementation of the gateway store: WAL, prepared statements, one transaction per batch.
 * synchronous=FULL by default (a commit survives power loss); 'normal' survives process crashes only.
 */
import type { Reading, RejectReason } from '../src/contracts/telemetry.ts';
import { openDatabase, type SqliteDatabase, type SqliteStatement } from '../io/sqlite.ts';
import type { IngestCounters, QuarantineRow, ReadingQuery, Reject, SeriesStats, Store, WriteResult } from './store.ts';

export interface SqliteStoreOptions {
  path: string;
  synchronous?: 'full' | 'normal';
  /** Payload bytes kept per quarantined message. */
  maxQuarantinePayloadBytes?: number;
  /** Quarantine rows kept; the oldest are evicted beyond it (and counted). */
  maxQuarantineRows?: number;
}

export const SQLITE_STORE_DEFAULTS = {
  synchronous: 'full' as const,
  maxQuarantinePayloadBytes: 64 * 1024,
  maxQuarantineRows: 100_000,
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
  fleet TEXT NOT NULL, device TEXT NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
  PRIMARY KEY (fleet, device, sensor, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_time ON readings (fleet, device, ts);
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL, transport TEXT NOT NULL, topic TEXT NOT NULL,
  source TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, payload BLOB NOT NULL, payload_bytes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_by_reason ON quarantine (reason, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
`;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #db: SqliteDatabase;
  readonly #opts: Required<Omit<SqliteStoreOptions, 'path'>>;
  readonly #insertReading: SqliteStatement;
  readonly #existingValue: SqliteStatement;
  readonly #insertReject: SqliteStatement;
  readonly #bump: SqliteStatement;
  readonly #evict: SqliteStatement;
  readonly #write: (readings: readonly Reading[], rejects: readonly Reject[]) => WriteResult;
  #quarantineRows: number;
  #closed = false;

  private constructor(db: SqliteDatabase, opts: Required<Omit<SqliteStoreOptions, 'path'>>) {
    this.#db = db;
    this.#opts = opts;
    this.#insertReading = db.prepare('INSERT OR IGNORE INTO readings (fleet, device, sensor, ts, value) VALUES (?, ?, ?, ?, ?)');
    this.#existingValue = db.prepare('SELECT value FROM readings WHERE fleet = ? AND device = ? AND sensor = ? AND ts = ?').pluck();
    this.#insertReject = db.prepare(
      'INSERT INTO quarantine (received_at, transport, topic, source, reason, detail, payload, payload_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#bump = db.prepare('INSERT INTO counters (name, n) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET n = n + excluded.n');
    this.#evict = db.prepare('DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine ORDER BY id LIMIT ?)');
    this.#quarantineRows = db.prepare('SELECT count(*) FROM quarantine').pluck().get() as number;
    this.#write = db.transaction((readings: readonly Reading[], rejects: readonly Reject[]): WriteResult => {
      let inserted = 0;
      let duplicates = 0;
      let conflicts = 0;
      for (const r of readings) {
        if (this.#insertReading.run(r.fleet, r.device, r.sensor, r.ts, r.value).changes === 1) {
          inserted++;
        } else {
          duplicates++;
          const existing = this.#existingValue.get(r.fleet, r.device, r.sensor, r.ts) as number | undefined;
          if (existing !== undefined && existing !== r.value) conflicts++;
        }
      }
      const perReason = new Map<RejectReason, number>();
      for (const j of rejects) {
        const kept = j.payload.byteLength > this.#opts.maxQuarantinePayloadBytes ? j.payload.subarray(0, this.#opts.maxQuarantinePayloadBytes) : j.payload;
        this.#insertReject.run(j.receivedAtMs, j.transport, j.topic.slice(0, 1024), j.source.slice(0, 256), j.reason, j.detail.slice(0, 2048), Buffer.from(kept), j.payload.byteLength);
        perReason.set(j.reason, (perReason.get(j.reason) ?? 0) + 1);
      }
      this.#quarantineRows += rejects.length;
      const excess = this.#quarantineRows - this.#opts.maxQuarantineRows;
      if (excess > 0) {
        this.#evict.run(excess);
        this.#quarantineRows -= excess;
        this.#bump.run('quarantine_evicted', excess);
      }
      if (inserted) this.#bump.run('inserted', inserted);
      if (duplicates) this.#bump.run('duplicates', duplicates);
      if (conflicts) this.#bump.run('conflicts', conflicts);
      for (const [reason, n] of perReason) this.#bump.run(`rejected:${reason}`, n);
      return { inserted, duplicates, conflicts, quarantined: rejects.length };
    });
  }

  static async create(options: SqliteStoreOptions): Promise<SqliteStore> {
    const opts = { ...SQLITE_STORE_DEFAULTS, ...stripUndefined(options) };
    const db = openDatabase(options.path, { synchronous: opts.synchronous });
    db.exec(SCHEMA);
    return new SqliteStore(db, {
      synchronous: opts.synchronous,
      maxQuarantinePayloadBytes: opts.maxQuarantinePayloadBytes,
      maxQuarantineRows: opts.maxQuarantineRows,
    });
  }

  /** The database handle, for other repositories (registry, fleet) that share the same file. */
  get database(): SqliteDatabase {
    return this.#db;
  }

  async writeBatch(readings: readonly Reading[], rejects: readonly Reject[]): Promise<WriteResult> {
    if (readings.length === 0 && rejects.length === 0) return { inserted: 0, duplicates: 0, conflicts: 0, quarantined: 0 };
    return this.#write(readings, rejects);
  }

  #where(q: ReadingQuery): { sql: string; params: (string | number)[] } {
    const clauses = ['fleet = ?'];
    const params: (string | number)[] = [q.fleet];
    if (q.device !== undefined) { clauses.push('device = ?'); params.push(q.device); }
    if (q.sensors && q.sensors.length > 0) { clauses.push(`sensor IN (${q.sensors.map(() => '?').join(', ')})`); params.push(...q.sensors); }
    if (q.fromMs !== undefined) { clauses.push('ts >= ?'); params.push(q.fromMs); }
    if (q.toMs !== undefined) { clauses.push('ts < ?'); params.push(q.toMs); }
    return { sql: clauses.join(' AND '), params };
  }

  async *readings(query: ReadingQuery): AsyncIterable<Reading> {
    const { sql, params } = this.#where(query);
    const stmt = this.#db.prepare(`SELECT fleet, device, sensor, ts, value FROM readings WHERE ${sql} ORDER BY device, ts, sensor`);
    for (const row of stmt.iterate(...params)) yield row as Reading;
  }

  async countReadings(query: ReadingQuery): Promise<number> {
    const { sql, params } = this.#where(query);
    return this.#db.prepare(`SELECT count(*) FROM readings WHERE ${sql}`).pluck().get(...params) as number;
  }

  async stats(fleet?: string): Promise<SeriesStats[]> {
    const rows = this.#db
      .prepare(
        `SELECT fleet, device, sensor, count(*) AS count, min(ts) AS firstTsMs, max(ts) AS lastTsMs, min(value) AS min, max(value) AS max, avg(value) AS mean
         FROM readings ${fleet === undefined ? '' : 'WHERE fleet = ?'} GROUP BY fleet, device, sensor ORDER BY fleet, device, sensor`,
      )
      .all(...(fleet === undefined ? [] : [fleet]));
    return rows as SeriesStats[];
  }

  async quarantine(options: { limit?: number; reason?: RejectReason; afterId?: number } = {}): Promise<QuarantineRow[]> {
    const clauses: string[] = ['id > ?'];
    const params: (string | number)[] = [options.afterId ?? 0];
    if (options.reason) { clauses.push('reason = ?'); params.push(options.reason); }
    params.push(options.limit ?? 1000);
    const rows = this.#db
      .prepare(`SELECT id, received_at, transport, topic, source, reason, detail, payload, payload_bytes FROM quarantine WHERE ${clauses.join(' AND ')} ORDER BY id LIMIT ?`)
      .all(...params) as { id: number; received_at: number; transport: Reject['transport']; topic: string; source: string; reason: RejectReason; detail: string; payload: Buffer; payload_bytes: number }[];
    return rows.map((r) => ({
      id: r.id, receivedAtMs: r.received_at, transport: r.transport, topic: r.topic, source: r.source, reason: r.reason, detail: r.detail,
      payload: new Uint8Array(r.payload), payloadBytes: r.payload_bytes, truncated: r.payload.byteLength < r.payload_bytes,
    }));
  }

  async counters(): Promise<IngestCounters> {
    const rows = this.#db.prepare('SELECT name, n FROM counters').all() as { name: string; n: number }[];
    const c: IngestCounters = { inserted: 0, duplicates: 0, conflicts: 0, rejected: {}, quarantineEvicted: 0 };
    for (const { name, n } of rows) {
      if (name === 'inserted') c.inserted = n;
      else if (name === 'duplicates') c.duplicates = n;
      else if (name === 'conflicts') c.conflicts = n;
      else if (name === 'quarantine_evicted') c.quarantineEvicted = n;
      else if (name.startsWith('rejected:')) c.rejected[name.slice(9) as RejectReason] = n;
    }
    return c;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
