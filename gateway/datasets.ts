/**
 * Prepared datasets (`edgeloop prepare` output): the feature matrix with split labels, the pipeline
 * spec, its fitted state and hash, and the cleaning report — stored in the gateway's SQLite file.
 * Matrices are stored as little-endian float64 blobs (compact, exact).
 */
import { EdgeloopError } from '../src/errors.ts';
import { assertSafeName } from '../src/names.ts';
import type { FeatureMatrix } from '../src/frame.ts';
import type { SqliteDatabase } from '../io/sqlite.ts';

export interface DatasetRecord {
  name: string;
  fleet: string;
  specHash: string;
  spec: unknown;
  fitted: unknown;
  report: unknown;
  matrix: FeatureMatrix;
  /** Content hash of the matrix (features, labels, splits). */
  dataHash: string;
  createdAtMs: number;
}

export interface DatasetSummary {
  name: string;
  fleet: string;
  rows: number;
  columns: number;
  specHash: string;
  dataHash: string;
  splits: Record<string, number>;
  createdAtMs: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS datasets (
  name TEXT PRIMARY KEY, fleet TEXT NOT NULL, spec_hash TEXT NOT NULL, data_hash TEXT NOT NULL, spec TEXT NOT NULL,
  fitted TEXT NOT NULL, report TEXT NOT NULL, columns TEXT NOT NULL, rows INTEGER NOT NULL, x BLOB NOT NULL,
  y BLOB, ts BLOB NOT NULL, device TEXT NOT NULL, split TEXT, created_at INTEGER NOT NULL
);`;

function toBlob(values: ArrayLike<number>): Buffer {
  const a = Float64Array.from(values as ArrayLike<number>);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function fromBlob(buf: Buffer): Float64Array {
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return new Float64Array(copy.buffer);
}

export class DatasetStore {
  readonly #db: SqliteDatabase;

  private constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  static async create(database: SqliteDatabase): Promise<DatasetStore> {
    database.exec(SCHEMA);
    return new DatasetStore(database);
  }

  /** Saves (or replaces) a dataset by name. */
  save(d: Omit<DatasetRecord, 'createdAtMs'> & { createdAtMs?: number }): void {
    assertSafeName('dataset', d.name);
    const m = d.matrix;
    const flat = new Float64Array(m.X.length * m.columns.length);
    m.X.forEach((row, i) => flat.set(row, i * m.columns.length));
    this.#db
      .prepare(
        `INSERT OR REPLACE INTO datasets (name, fleet, spec_hash, data_hash, spec, fitted, report, columns, rows, x, y, ts, device, split, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        d.name, d.fleet, d.specHash, d.dataHash, JSON.stringify(d.spec), JSON.stringify(d.fitted), JSON.stringify(d.report),
        JSON.stringify(m.columns), m.X.length, toBlob(flat), m.y ? toBlob(m.y) : null, toBlob(m.ts), JSON.stringify(m.device),
        m.split ? JSON.stringify(m.split) : null, d.createdAtMs ?? Date.now(),
      );
  }

  load(name: string): DatasetRecord {
    const row = this.#db.prepare('SELECT * FROM datasets WHERE name = ?').get(name) as
      | { name: string; fleet: string; spec_hash: string; data_hash: string; spec: string; fitted: string; report: string; columns: string; rows: number; x: Buffer; y: Buffer | null; ts: Buffer; device: string; split: string | null; created_at: number }
      | undefined;
    if (!row) throw new EdgeloopError('NOT_FOUND', `dataset ${JSON.stringify(name)} does not exist (see 'edgeloop datasets list')`);
    const columns = JSON.parse(row.columns) as string[];
    const flat = fromBlob(row.x);
    const X: number[][] = [];
    for (let i = 0; i < row.rows; i++) X.push(Array.from(flat.subarray(i * columns.length, (i + 1) * columns.length)));
    return {
      name: row.name, fleet: row.fleet, specHash: row.spec_hash, dataHash: row.data_hash, spec: JSON.parse(row.spec), fitted: JSON.parse(row.fitted),
      report: JSON.parse(row.report), createdAtMs: row.created_at,
      matrix: {
        columns, X, y: row.y ? Array.from(fromBlob(row.y)) : undefined, ts: Array.from(fromBlob(row.ts)),
        device: JSON.parse(row.device) as string[], split: row.split ? (JSON.parse(row.split) as string[]) : undefined,
      },
    };
  }

  list(): DatasetSummary[] {
    const rows = this.#db.prepare('SELECT name, fleet, rows, columns, spec_hash, data_hash, split, created_at FROM datasets ORDER BY created_at').all() as
      { name: string; fleet: string; rows: number; columns: string; spec_hash: string; data_hash: string; split: string | null; created_at: number }[];
    return rows.map((r) => {
      const splits: Record<string, number> = {};
      for (const s of r.split ? (JSON.parse(r.split) as string[]) : []) splits[s] = (splits[s] ?? 0) + 1;
      return { name: r.name, fleet: r.fleet, rows: r.rows, columns: (JSON.parse(r.columns) as string[]).length, specHash: r.spec_hash, dataHash: r.data_hash, splits, createdAtMs: r.created_at };
    });
  }
}
