/**
 * Drift storage in the gateway's SQLite file: reference profiles per model version, which model a
 * device runs, drift reports as a time series per device / model version / feature, the verdict of
 * each report, and the quarantine of drift-related payloads that failed validation (`drift_rejects`).
 * Synchronous (better-sqlite3): callers compose these calls inside one transaction per MQTT batch.
 */
import type { SqliteDatabase, SqliteStatement } from '../io/sqlite.ts';
import type { DriftReport, FeatureDrift } from '../src/drift/report.ts';
import type { DriftEvaluation, DriftVerdict } from '../src/drift/policy.ts';
import type { ReferenceProfile } from '../src/drift/profile.ts';
import type { ErrorCode } from '../src/errors.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS drift_profiles (
  model TEXT NOT NULL, version INTEGER NOT NULL, task TEXT NOT NULL, profile TEXT NOT NULL, test_metrics TEXT NOT NULL,
  registered_at INTEGER NOT NULL, PRIMARY KEY (model, version)
);
CREATE TABLE IF NOT EXISTS device_models (
  fleet TEXT NOT NULL, device TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (fleet, device)
);
CREATE TABLE IF NOT EXISTS drift_reports (
  id INTEGER PRIMARY KEY AUTOINCREMENT, fleet TEXT NOT NULL, device TEXT NOT NULL, model TEXT, version INTEGER,
  generated_at INTEGER NOT NULL, received_at INTEGER NOT NULL, sample_count INTEGER NOT NULL,
  window_start INTEGER, window_end INTEGER, verdict TEXT NOT NULL, reasons TEXT NOT NULL, drifted TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS drift_reports_by_device ON drift_reports (fleet, device, id);
CREATE TABLE IF NOT EXISTS drift_features (
  report_id INTEGER NOT NULL REFERENCES drift_reports (id) ON DELETE CASCADE, feature TEXT NOT NULL, kind TEXT NOT NULL,
  is_output INTEGER NOT NULL, count INTEGER NOT NULL, missing_rate REAL NOT NULL, out_rate REAL NOT NULL, mean REAL,
  psi REAL, js REAL, test_stat REAL, test_p REAL, wasserstein REAL, level TEXT NOT NULL,
  PRIMARY KEY (report_id, feature)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS drift_rejects (
  id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL,
  detail TEXT NOT NULL, payload BLOB NOT NULL, payload_bytes INTEGER NOT NULL
);
`;

export type ModelTask = 'classification' | 'regression';

/** A stored verdict: the policy's, or 'no_profile' when the device's model version has no registered profile. */
export type StoredVerdict = DriftVerdict | 'no_profile';

export interface ProfileRecord {
  model: string;
  version: number;
  task: ModelTask;
  profile: ReferenceProfile;
  /** The model's scores on its test split (manifest `metrics`), e.g. { test_accuracy: 0.97 }. */
  testMetrics: Record<string, number>;
  registeredAtMs: number;
}

export interface DeviceModel {
  model: string;
  version: number;
}

export interface DriftReportRow {
  id: number;
  fleet: string;
  device: string;
  model: string | null;
  version: number | null;
  generatedAtMs: number;
  receivedAtMs: number;
  sampleCount: number;
  verdict: StoredVerdict;
  reasons: string[];
  drifted: DriftEvaluation['drifted'];
}

export interface DriftPoint {
  reportId: number;
  generatedAtMs: number;
  model: string | null;
  version: number | null;
  feature: string;
  kind: 'numeric' | 'categorical';
  isOutput: boolean;
  count: number;
  missingRate: number;
  /** Out-of-range rate (numeric) or unseen-category rate (categorical). */
  outRate: number;
  mean: number | null;
  psi: number | null;
  js: number | null;
  /** KS statistic (numeric) or chi-square statistic (categorical). */
  testStat: number | null;
  testP: number | null;
  wasserstein: number | null;
  level: 'ok' | 'warn' | 'alert';
}

export interface DriftRejectRow {
  id: number;
  receivedAtMs: number;
  topic: string;
  reason: ErrorCode;
  detail: string;
  payload: Uint8Array;
  payloadBytes: number;
}

export interface DriftStoreOptions {
  /** Payload bytes kept per rejected message. */
  maxRejectPayloadBytes?: number;
  /** Reject rows kept; older ones are deleted. */
  maxRejectRows?: number;
}

export const DRIFT_STORE_DEFAULTS = { maxRejectPayloadBytes: 64 * 1024, maxRejectRows: 100_000 };

interface ReportDbRow {
  id: number; fleet: string; device: string; model: string | null; version: number | null; generated_at: number; received_at: number;
  sample_count: number; verdict: StoredVerdict; reasons: string; drifted: string;
}

interface PointDbRow {
  report_id: number; generated_at: number; model: string | null; version: number | null; feature: string; kind: 'numeric' | 'categorical';
  is_output: number; count: number; missing_rate: number; out_rate: number; mean: number | null; psi: number | null; js: number | null;
  test_stat: number | null; test_p: number | null; wasserstein: number | null; level: 'ok' | 'warn' | 'alert';
}

const toReport = (r: ReportDbRow): DriftReportRow => ({
  id: r.id, fleet: r.fleet, device: r.device, model: r.model, version: r.version, generatedAtMs: r.generated_at, receivedAtMs: r.received_at,
  sampleCount: r.sample_count, verdict: r.verdict, reasons: JSON.parse(r.reasons) as string[], drifted: JSON.parse(r.drifted) as DriftEvaluation['drifted'],
});

const toPoint = (r: PointDbRow): DriftPoint => ({
  reportId: r.report_id, generatedAtMs: r.generated_at, model: r.model, version: r.version, feature: r.feature, kind: r.kind, isOutput: r.is_output === 1,
  count: r.count, missingRate: r.missing_rate, outRate: r.out_rate, mean: r.mean, psi: r.psi, js: r.js, testStat: r.test_stat, testP: r.test_p,
  wasserstein: r.wasserstein, level: r.level,
});

export class DriftStore {
  readonly #db: SqliteDatabase;
  readonly #o: Required<DriftStoreOptions>;
  readonly #s: Record<string, SqliteStatement>;

  private constructor(db: SqliteDatabase, options: Required<DriftStoreOptions>) {
    this.#db = db;
    this.#o = options;
    this.#s = {
      putProfile: db.prepare(`INSERT INTO drift_profiles (model, version, task, profile, test_metrics, registered_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (model, version) DO UPDATE SET task = excluded.task, profile = excluded.profile, test_metrics = excluded.test_metrics, registered_at = excluded.registered_at`),
      getProfile: db.prepare('SELECT model, version, task, profile, test_metrics, registered_at FROM drift_profiles WHERE model = ? AND version = ?'),
      setDeviceModel: db.prepare(`INSERT INTO device_models (fleet, device, model, version, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (fleet, device) DO UPDATE SET model = excluded.model, version = excluded.version, updated_at = excluded.updated_at
        WHERE device_models.model != excluded.model OR device_models.version != excluded.version`),
      getDeviceModel: db.prepare('SELECT model, version FROM device_models WHERE fleet = ? AND device = ?'),
      insertReport: db.prepare(`INSERT INTO drift_reports (fleet, device, model, version, generated_at, received_at, sample_count, window_start, window_end, verdict, reasons, drifted)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertFeature: db.prepare(`INSERT OR REPLACE INTO drift_features (report_id, feature, kind, is_output, count, missing_rate, out_rate, mean, psi, js, test_stat, test_p, wasserstein, level)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      lastDecided: db.prepare(`SELECT verdict FROM drift_reports WHERE fleet = ? AND device = ? AND verdict IN ('ok', 'warn', 'alert') ORDER BY id DESC LIMIT 1`).pluck(),
      insertReject: db.prepare('INSERT INTO drift_rejects (received_at, topic, reason, detail, payload, payload_bytes) VALUES (?, ?, ?, ?, ?, ?)'),
      trimRejects: db.prepare('DELETE FROM drift_rejects WHERE id <= (SELECT max(id) FROM drift_rejects) - ?'),
    };
  }

  /** Creates the tables when missing. No other I/O. */
  static open(db: SqliteDatabase, options: DriftStoreOptions = {}): DriftStore {
    db.exec(SCHEMA);
    return new DriftStore(db, { ...DRIFT_STORE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) });
  }

  get database(): SqliteDatabase {
    return this.#db;
  }

  putProfile(rec: ProfileRecord): void {
    this.#s.putProfile!.run(rec.model, rec.version, rec.task, JSON.stringify(rec.profile), JSON.stringify(rec.testMetrics), rec.registeredAtMs);
  }

  getProfile(model: string, version: number): ProfileRecord | null {
    const r = this.#s.getProfile!.get(model, version) as { model: string; version: number; task: ModelTask; profile: string; test_metrics: string; registered_at: number } | undefined;
    if (!r) return null;
    return { model: r.model, version: r.version, task: r.task, profile: JSON.parse(r.profile) as ReferenceProfile, testMetrics: JSON.parse(r.test_metrics) as Record<string, number>, registeredAtMs: r.registered_at };
  }

  listProfiles(): { model: string; version: number; task: ModelTask; features: number; registeredAtMs: number }[] {
    const rows = this.#db.prepare('SELECT model, version, task, profile, registered_at FROM drift_profiles ORDER BY model, version').all() as { model: string; version: number; task: ModelTask; profile: string; registered_at: number }[];
    return rows.map((r) => ({ model: r.model, version: r.version, task: r.task, features: (JSON.parse(r.profile) as ReferenceProfile).features.length, registeredAtMs: r.registered_at }));
  }

  /** Records the model version a device runs (from the rollout, or learned from its predictions). */
  setDeviceModel(fleet: string, device: string, model: DeviceModel, atMs: number): void {
    this.#s.setDeviceModel!.run(fleet, device, model.model, model.version, atMs);
  }

  getDeviceModel(fleet: string, device: string): DeviceModel | null {
    return (this.#s.getDeviceModel!.get(fleet, device) as DeviceModel | undefined) ?? null;
  }

  /** The latest ok / warn / alert verdict of a device ('insufficient' and 'no_profile' reports do not count). */
  lastDecidedVerdict(fleet: string, device: string): 'ok' | 'warn' | 'alert' | null {
    return (this.#s.lastDecided!.get(fleet, device) as 'ok' | 'warn' | 'alert' | undefined) ?? null;
  }

  insertReport(input: {
    fleet: string; device: string; model: DeviceModel | null; receivedAtMs: number; report: DriftReport; evaluation: DriftEvaluation | null;
  }): number {
    const { report, evaluation } = input;
    const verdict: StoredVerdict = evaluation ? evaluation.verdict : 'no_profile';
    const reasons = evaluation ? evaluation.reasons : ['no reference profile registered for the model version this device runs'];
    const id = Number(this.#s.insertReport!.run(
      input.fleet, input.device, input.model?.model ?? null, input.model?.version ?? null, report.generatedAtMs, input.receivedAtMs, report.sampleCount,
      report.windowStartMs, report.windowEndMs, verdict, JSON.stringify(reasons), JSON.stringify(evaluation?.drifted ?? []),
    ).lastInsertRowid);
    const levels = new Map((evaluation?.drifted ?? []).map((d) => [d.name, d.level]));
    const put = (f: FeatureDrift, isOutput: boolean): void => {
      const numeric = f.kind === 'numeric';
      const test = numeric ? f.ks : f.chi2;
      this.#s.insertFeature!.run(
        id, f.name, f.kind, isOutput ? 1 : 0, f.count, f.missingRate, numeric ? f.outOfRangeRate : f.unseenRate, numeric ? f.mean : null,
        f.psi, f.js, test?.statistic ?? null, test?.pValue ?? null, numeric ? f.wasserstein : null, levels.get(f.name) ?? 'ok',
      );
    };
    for (const f of report.features) put(f, false);
    if (report.output) put(report.output, true);
    return id;
  }

  /** The latest report per device (the `drift status` view). */
  latestPerDevice(fleet?: string): DriftReportRow[] {
    const rows = this.#db.prepare(
      `SELECT r.* FROM drift_reports r JOIN (SELECT max(id) AS id FROM drift_reports ${fleet === undefined ? '' : 'WHERE fleet = ?'} GROUP BY fleet, device) m ON m.id = r.id
       ORDER BY r.fleet, r.device`,
    ).all(...(fleet === undefined ? [] : [fleet])) as ReportDbRow[];
    return rows.map(toReport);
  }

  /** A device's reports, newest first. */
  reports(fleet: string, device: string, limit = 100): DriftReportRow[] {
    const rows = this.#db.prepare('SELECT * FROM drift_reports WHERE fleet = ? AND device = ? ORDER BY id DESC LIMIT ?').all(fleet, device, limit) as ReportDbRow[];
    return rows.map(toReport);
  }

  /** The time series of a device's per-feature statistics, oldest first (the last `limit` reports). */
  series(fleet: string, device: string, options: { feature?: string; limit?: number } = {}): DriftPoint[] {
    // Placeholders in SQL order: the subquery's (fleet, device, limit), then the feature filter.
    const params: (string | number)[] = [fleet, device, options.limit ?? 100];
    if (options.feature !== undefined) params.push(options.feature);
    const rows = this.#db.prepare(
      `SELECT f.*, r.generated_at, r.model, r.version FROM drift_features f JOIN (
         SELECT id, generated_at, model, version FROM drift_reports WHERE fleet = ? AND device = ? ORDER BY id DESC LIMIT ?
       ) r ON r.id = f.report_id ${options.feature === undefined ? '' : 'WHERE f.feature = ?'} ORDER BY r.id, f.is_output, f.feature`,
    ).all(...params) as PointDbRow[];
    return rows.map(toPoint);
  }

  verdictCounts(): Record<string, number> {
    const rows = this.#db.prepare('SELECT verdict, count(*) AS n FROM drift_reports GROUP BY verdict').all() as { verdict: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.verdict, r.n]));
  }

  insertReject(r: { receivedAtMs: number; topic: string; reason: ErrorCode; detail: string; payload: Uint8Array }): void {
    const kept = r.payload.byteLength > this.#o.maxRejectPayloadBytes ? r.payload.subarray(0, this.#o.maxRejectPayloadBytes) : r.payload;
    this.#s.insertReject!.run(r.receivedAtMs, r.topic.slice(0, 1024), r.reason, r.detail.slice(0, 2048), Buffer.from(kept), r.payload.byteLength);
    this.#s.trimRejects!.run(this.#o.maxRejectRows);
  }

  rejects(options: { limit?: number } = {}): DriftRejectRow[] {
    const rows = this.#db.prepare('SELECT * FROM drift_rejects ORDER BY id DESC LIMIT ?').all(options.limit ?? 100) as {
      id: number; received_at: number; topic: string; reason: ErrorCode; detail: string; payload: Buffer; payload_bytes: number;
    }[];
    return rows.map((r) => ({ id: r.id, receivedAtMs: r.received_at, topic: r.topic, reason: r.reason, detail: r.detail, payload: new Uint8Array(r.payload), payloadBytes: r.payload_bytes }));
  }
}
