/**
 * SQLite implementation of the gateway store: WAL, prepared statements, one transaction per batch.
 * synchronous=FULL by default (a commit survives power loss); 'normal' survives process crashes only.
 */
import type { Reading, RejectReason } from '../src/contracts/telemetry.ts';
import { EdgeloopError } from '../src/errors.ts';
import { openDatabase, type SqliteDatabase, type SqliteStatement } from '../io/sqlite.ts';
import { countersFromRows, type IngestCounters, type QuarantineRow, type ReadingQuery, type Reject, type SensorRange, type SeriesStats, type Store, type WriteResult } from './store.ts';

export interface SqliteStoreOptions {
  path: string;
  synchronous?: 'full' | 'normal';
  /** Payload bytes kept per quarantined message. */
  maxQuarantinePayloadBytes?: number;
  /** Quarantine rows kept; the oldest are evicted beyond it (and counted). */
  maxQuarantineRows?: number;
  /** Readings per page of readings() (the event loop gets a turn every two pages). */
  pageRows?: number;
}

/** readings() gives the event loop a turn every PAGES_PER_TURN pages (≈ 20 ms of reading at the default page). */
const PAGES_PER_TURN = 2;

export const SQLITE_STORE_DEFAULTS = {
  synchronous: 'full' as const,
  maxQuarantinePayloadBytes: 64 * 1024,
  maxQuarantineRows: 100_000,
  pageRows: 2000,
};

const SCHEMA_VERSION = '2';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS devices (id INTEGER PRIMARY KEY, fleet TEXT NOT NULL, device TEXT NOT NULL, UNIQUE (fleet, device));
CREATE TABLE IF NOT EXISTS sensors (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
-- Integer keys keep rows small and inserts cheap; (device, ts, sensor) order makes a device's time
-- range one contiguous scan, already in export order.
CREATE TABLE IF NOT EXISTS readings (
  device_id INTEGER NOT NULL, ts INTEGER NOT NULL, sensor_id INTEGER NOT NULL, value REAL NOT NULL,
  PRIMARY KEY (device_id, ts, sensor_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL, transport TEXT NOT NULL, topic TEXT NOT NULL,
  source TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, payload BLOB NOT NULL, payload_bytes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_by_reason ON quarantine (reason, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '${SCHEMA_VERSION}');
`;

/** Rows per multi-row INSERT: fewer calls into SQLite per batch (well under SQLITE_MAX_VARIABLE_NUMBER). */
const CHUNK_ROWS = 128;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #db: SqliteDatabase;
  readonly #opts: Required<Omit<SqliteStoreOptions, 'path'>>;
  readonly #insertChunk: SqliteStatement;
  readonly #insertOne: SqliteStatement;
  readonly #existingValue: SqliteStatement;
  readonly #insertReject: SqliteStatement;
  readonly #bump: SqliteStatement;
  readonly #evict: SqliteStatement;
  readonly #deviceId: SqliteStatement;
  readonly #insertDevice: SqliteStatement;
  readonly #sensorId: SqliteStatement;
  readonly #insertSensor: SqliteStatement;
  /** Committed ids only: ids created in a transaction that rolls back must not be remembered. */
  readonly #devices = new Map<string, number>();
  readonly #sensors = new Map<string, number>();
  readonly #write: (readings: readonly Reading[], rejects: readonly Reject[], created: Map<string, number>) => WriteResult;
  #quarantineRows: number;
  #closed = false;

  private constructor(db: SqliteDatabase, opts: Required<Omit<SqliteStoreOptions, 'path'>>) {
    this.#db = db;
    this.#opts = opts;
    const values = Array.from({ length: CHUNK_ROWS }, () => '(?, ?, ?, ?)').join(', ');
    this.#insertChunk = db.prepare(`INSERT OR IGNORE INTO readings (device_id, ts, sensor_id, value) VALUES ${values}`);
    this.#insertOne = db.prepare('INSERT OR IGNORE INTO readings (device_id, ts, sensor_id, value) VALUES (?, ?, ?, ?)');
    this.#existingValue = db.prepare('SELECT value FROM readings WHERE device_id = ? AND ts = ? AND sensor_id = ?').pluck();
    this.#insertReject = db.prepare(
      'INSERT INTO quarantine (received_at, transport, topic, source, reason, detail, payload, payload_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.#bump = db.prepare('INSERT INTO counters (name, n) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET n = n + excluded.n');
    this.#evict = db.prepare('DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine ORDER BY id LIMIT ?)');
    this.#deviceId = db.prepare('SELECT id FROM devices WHERE fleet = ? AND device = ?').pluck();
    this.#insertDevice = db.prepare('INSERT INTO devices (fleet, device) VALUES (?, ?)');
    this.#sensorId = db.prepare('SELECT id FROM sensors WHERE name = ?').pluck();
    this.#insertSensor = db.prepare('INSERT INTO sensors (name) VALUES (?)');
    this.#quarantineRows = db.prepare('SELECT count(*) FROM quarantine').pluck().get() as number;
    this.#write = db.transaction((readings: readonly Reading[], rejects: readonly Reject[], created: Map<string, number>): WriteResult => {
      const devIds = new Int32Array(readings.length);
      const senIds = new Int32Array(readings.length);
      for (let i = 0; i < readings.length; i++) {
        const r = readings[i]!;
        devIds[i] = this.#idOf('d', `${r.fleet}/${r.device}`, created, () => (this.#deviceId.get(r.fleet, r.device) as number | undefined) ?? Number(this.#insertDevice.run(r.fleet, r.device).lastInsertRowid));
        senIds[i] = this.#idOf('s', r.sensor, created, () => (this.#sensorId.get(r.sensor) as number | undefined) ?? Number(this.#insertSensor.run(r.sensor).lastInsertRowid));
      }
      let inserted = 0;
      let conflicts = 0;
      const params: number[] = new Array(CHUNK_ROWS * 4);
      let i = 0;
      for (; i + CHUNK_ROWS <= readings.length; i += CHUNK_ROWS) {
        for (let k = 0; k < CHUNK_ROWS; k++) {
          const r = readings[i + k]!;
          params[4 * k] = devIds[i + k]!;
          params[4 * k + 1] = r.ts;
          params[4 * k + 2] = senIds[i + k]!;
          params[4 * k + 3] = r.value;
        }
        const changes = this.#insertChunk.run(params).changes;
        inserted += changes;
        if (changes < CHUNK_ROWS) conflicts += this.#countConflicts(readings, devIds, senIds, i, i + CHUNK_ROWS);
      }
      for (; i < readings.length; i++) {
        const r = readings[i]!;
        if (this.#insertOne.run(devIds[i], r.ts, senIds[i], r.value).changes === 1) inserted++;
        else conflicts += this.#countConflicts(readings, devIds, senIds, i, i + 1);
      }
      const duplicates = readings.length - inserted;
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

  #idOf(kind: 'd' | 's', key: string, created: Map<string, number>, resolve: () => number): number {
    const cache = kind === 'd' ? this.#devices : this.#sensors;
    const known = cache.get(key) ?? created.get(kind + key);
    if (known !== undefined) return known;
    const id = resolve();
    created.set(kind + key, id);
    return id;
  }

  /**
   * After an INSERT OR IGNORE skipped rows: a skipped row whose stored value differs from ours is a
   * conflict (the first value is kept). Rows just inserted compare equal, so only real conflicts count.
   */
  #countConflicts(readings: readonly Reading[], devIds: Int32Array, senIds: Int32Array, from: number, to: number): number {
    let n = 0;
    for (let k = from; k < to; k++) {
      const existing = this.#existingValue.get(devIds[k], readings[k]!.ts, senIds[k]) as number | undefined;
      if (existing !== undefined && existing !== readings[k]!.value) n++;
    }
    return n;
  }

  static async create(options: SqliteStoreOptions): Promise<SqliteStore> {
    const opts = { ...SQLITE_STORE_DEFAULTS, ...stripUndefined(options) };
    if (!(Number.isInteger(opts.pageRows) && opts.pageRows >= 1 && opts.pageRows <= 1_000_000)) throw new EdgeloopError('BAD_ARGUMENT', `pageRows must be an integer in 1..1000000, got ${opts.pageRows}`);
    const db = openDatabase(options.path, { synchronous: opts.synchronous });
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
    const version = hasMeta ? (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get() as string | undefined) : undefined;
    if (version !== undefined && version !== SCHEMA_VERSION) {
      db.close();
      throw new EdgeloopError('STORE', `database '${options.path}' has schema version ${version}, this edgeloop needs ${SCHEMA_VERSION}: export its data with the older version or start a new file`);
    }
    db.exec(SCHEMA);
    return new SqliteStore(db, {
      synchronous: opts.synchronous,
      maxQuarantinePayloadBytes: opts.maxQuarantinePayloadBytes,
      maxQuarantineRows: opts.maxQuarantineRows,
      pageRows: opts.pageRows,
    });
  }

  /** The database handle, for other repositories (registry, fleet) that share the same file. */
  get database(): SqliteDatabase {
    return this.#db;
  }

  async writeBatch(readings: readonly Reading[], rejects: readonly Reject[]): Promise<WriteResult> {
    if (readings.length === 0 && rejects.length === 0) return { inserted: 0, duplicates: 0, conflicts: 0, quarantined: 0 };
    const created = new Map<string, number>();
    const result = this.#write(readings, rejects, created);
    for (const [key, id] of created) (key[0] === 'd' ? this.#devices : this.#sensors).set(key.slice(1), id);
    return result;
  }

  #where(q: ReadingQuery): { sql: string; params: (string | number)[] } {
    const clauses = ['d.fleet = ?'];
    const params: (string | number)[] = [q.fleet];
    if (q.device !== undefined) { clauses.push('d.device = ?'); params.push(q.device); }
    if (q.sensors && q.sensors.length > 0) { clauses.push(`s.name IN (${q.sensors.map(() => '?').join(', ')})`); params.push(...q.sensors); }
    if (q.fromMs !== undefined) { clauses.push('r.ts >= ?'); params.push(q.fromMs); }
    if (q.toMs !== undefined) { clauses.push('r.ts < ?'); params.push(q.toMs); }
    return { sql: clauses.join(' AND '), params };
  }

  /**
   * Keyset pages per device over the primary key (device_id, ts, sensor_id), as the PostgreSQL store
   * reads: one statement per page, never an open cursor, and the event loop gets a turn between pages.
   * A single cursor over a training window (a retraining job's, hundreds of thousands of readings) ran
   * as one uninterrupted task on the gateway's thread — a 1 s stall of every MQTT acknowledgement in
   * the demo — and better-sqlite3 refuses every other statement on the connection while one is open,
   * so it could not yield either. Readings committed meanwhile after the cursor are included (for the
   * devices listed when the read started).
   */
  async *readings(query: ReadingQuery): AsyncIterable<Reading> {
    const devices = this.#db.prepare(`SELECT id, device FROM devices WHERE fleet = ?${query.device === undefined ? '' : ' AND device = ?'} ORDER BY device`)
      .all(...(query.device === undefined ? [query.fleet] : [query.fleet, query.device])) as { id: number; device: string }[];
    let sensorIds: number[] | null = null;
    if (query.sensors && query.sensors.length > 0) {
      sensorIds = (this.#db.prepare(`SELECT id FROM sensors WHERE name IN (${query.sensors.map(() => '?').join(', ')})`).pluck().all(...query.sensors) as number[]);
      if (sensorIds.length === 0) return;
    }
    const clauses = ['r.device_id = ?'];
    const fixed: number[] = [];
    if (sensorIds) { clauses.push(`r.sensor_id IN (${sensorIds.map(() => '?').join(', ')})`); fixed.push(...sensorIds); }
    if (query.fromMs !== undefined) { clauses.push('r.ts >= ?'); fixed.push(query.fromMs); }
    if (query.toMs !== undefined) { clauses.push('r.ts < ?'); fixed.push(query.toMs); }
    const page = (after: boolean) => this.#db.prepare(
      `SELECT r.ts AS ts, r.sensor_id AS sensorId, s.name AS sensor, r.value AS value FROM readings r JOIN sensors s ON s.id = r.sensor_id
       WHERE ${[...clauses, ...(after ? ['(r.ts, r.sensor_id) > (?, ?)'] : [])].join(' AND ')} ORDER BY r.ts, r.sensor_id LIMIT ${this.#opts.pageRows}`,
    );
    const first = page(false);
    const next = page(true);
    let pages = 0;
    for (const dev of devices) {
      let rows = first.all(dev.id, ...fixed) as { ts: number; sensorId: number; sensor: string; value: number }[];
      for (;;) {
        for (const r of rows) yield { fleet: query.fleet, device: dev.device, sensor: r.sensor, ts: r.ts, value: r.value };
        if (rows.length < this.#opts.pageRows) break;
        if (++pages % PAGES_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const tail = rows[rows.length - 1]!;
        rows = next.all(dev.id, ...fixed, tail.ts, tail.sensorId) as typeof rows;
      }
    }
  }

  async countReadings(query: ReadingQuery): Promise<number> {
    const { sql, params } = this.#where(query);
    return this.#db.prepare(`SELECT count(*) FROM devices d JOIN readings r ON r.device_id = d.id JOIN sensors s ON s.id = r.sensor_id WHERE ${sql}`).pluck().get(...params) as number;
  }

  async stats(fleet?: string): Promise<SeriesStats[]> {
    const rows = this.#db
      .prepare(
        `SELECT d.fleet AS fleet, d.device AS device, s.name AS sensor, count(*) AS count, min(r.ts) AS firstTsMs, max(r.ts) AS lastTsMs,
                min(r.value) AS min, max(r.value) AS max, avg(r.value) AS mean
         FROM devices d JOIN readings r ON r.device_id = d.id JOIN sensors s ON s.id = r.sensor_id
         ${fleet === undefined ? '' : 'WHERE d.fleet = ?'} GROUP BY d.fleet, d.device, s.name ORDER BY d.fleet, d.device, s.name`,
      )
      .all(...(fleet === undefined ? [] : [fleet]));
    return rows as SeriesStats[];
  }

  async sensorRanges(fleet: string, sensors: readonly string[]): Promise<SensorRange[]> {
    if (sensors.length === 0) return [];
    const rows = this.#db.prepare(
      `SELECT d.device AS device, s.name AS sensor,
              (SELECT r.ts FROM readings r WHERE r.device_id = d.id AND r.sensor_id = s.id ORDER BY r.ts LIMIT 1) AS firstTsMs,
              (SELECT r.ts FROM readings r WHERE r.device_id = d.id AND r.sensor_id = s.id ORDER BY r.ts DESC LIMIT 1) AS lastTsMs
       FROM devices d CROSS JOIN sensors s
       WHERE d.fleet = ? AND s.name IN (${sensors.map(() => '?').join(', ')}) ORDER BY d.device, s.name`,
    ).all(fleet, ...sensors) as (Omit<SensorRange, 'firstTsMs' | 'lastTsMs'> & { firstTsMs: number | null; lastTsMs: number | null })[];
    return rows.filter((r): r is SensorRange => r.firstTsMs !== null && r.lastTsMs !== null);
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
    return countersFromRows(rows);
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
