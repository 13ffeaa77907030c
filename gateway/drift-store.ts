/**
 * Drift storage: reference profiles per model version, which model a device runs, drift reports as a
 * time series per device / model version / feature, the verdict of each report, and the quarantine of
 * drift-related payloads that failed validation (`drift_rejects`).
 *
 * On gateway/sql.ts, so the same class runs on the gateway's SQLite file and on the PostgreSQL shared
 * by scaled-out gateways (test/drift-contract.ts). Writes of one MQTT batch are statements appended to
 * the caller's SqlBatch (one transaction); the single-call methods run their own batch.
 *
 * A report is stored once: drift_reports is unique on (fleet, device, generated_at, model, version),
 * and its rows are inserted with ON CONFLICT DO NOTHING, so a batch delivered again (after a crash
 * before the PUBACK, or to the next elected gateway) adds nothing.
 */
import { createTables, type SqlDb, type SqlValue } from './sql.ts';
import { hasIndex, SqlBatch } from './sql-batch.ts';
import type { DriftReport, FeatureDrift } from '../src/drift/report.ts';
import type { DriftEvaluation, DriftVerdict } from '../src/drift/policy.ts';
import type { ReferenceProfile } from '../src/drift/profile.ts';
import type { ErrorCode } from '../src/errors.ts';

// Both dialects (sql-batch.ts createTables). Existing SQLite files keep their column types (REAL,
// INTEGER: the same affinities); DOUBLE PRECISION because PostgreSQL's REAL is single precision.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS drift_profiles (
  model TEXT NOT NULL, version INTEGER NOT NULL, task TEXT NOT NULL, profile TEXT NOT NULL, test_metrics TEXT NOT NULL,
  registered_at {time} NOT NULL, PRIMARY KEY (model, version)
);
CREATE TABLE IF NOT EXISTS device_models (
  fleet TEXT NOT NULL, device TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL, updated_at {time} NOT NULL,
  PRIMARY KEY (fleet, device)
);
CREATE TABLE IF NOT EXISTS drift_reports (
  id {serial}, fleet TEXT NOT NULL, device TEXT NOT NULL, model TEXT, version INTEGER,
  generated_at {time} NOT NULL, received_at {time} NOT NULL, sample_count INTEGER NOT NULL,
  window_start {time}, window_end {time}, verdict TEXT NOT NULL, reasons TEXT NOT NULL, drifted TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS drift_reports_by_device ON drift_reports (fleet, device, id);
CREATE TABLE IF NOT EXISTS drift_features (
  report_id BIGINT NOT NULL REFERENCES drift_reports (id) ON DELETE CASCADE, feature TEXT NOT NULL, kind TEXT NOT NULL,
  is_output INTEGER NOT NULL, count INTEGER NOT NULL, missing_rate DOUBLE PRECISION NOT NULL, out_rate DOUBLE PRECISION NOT NULL, mean DOUBLE PRECISION,
  psi DOUBLE PRECISION, js DOUBLE PRECISION, test_stat DOUBLE PRECISION, test_p DOUBLE PRECISION, wasserstein DOUBLE PRECISION, level TEXT NOT NULL,
  PRIMARY KEY (report_id, feature)
) {without_rowid};
CREATE TABLE IF NOT EXISTS drift_rejects (
  id {serial}, received_at {time} NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL,
  detail TEXT NOT NULL, payload {bytes} NOT NULL, payload_bytes INTEGER NOT NULL
);
`;

/** One row per report: a report delivered twice is stored once (NULL model/version compare equal here). */
const ONCE_INDEX = 'drift_reports_once';
const ONCE_COLUMNS = "fleet, device, generated_at, COALESCE(model, ''), COALESCE(version, 0)";

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

export interface DriftStoreCreateOptions extends DriftStoreOptions {
  /** Leaves the schema alone (offline readers of a read-only SQLite file). */
  readonly?: boolean;
}

/** A report to store: the resolved model version, and the evaluation (null: no profile to judge it). */
export interface ReportInput {
  fleet: string;
  device: string;
  model: DeviceModel | null;
  receivedAtMs: number;
  report: DriftReport;
  evaluation: DriftEvaluation | null;
}

/** The natural key of a stored report, for lookups and the alert it raises. */
export const reportKey = (r: { fleet: string; device: string; model: DeviceModel | null; generatedAtMs: number }): string =>
  `${r.fleet}/${r.device}/${r.generatedAtMs}/${r.model ? `${r.model.model}@${r.model.version}` : '-'}`;

const REPORT_WHERE = "fleet = ? AND device = ? AND generated_at = ? AND COALESCE(model, '') = ? AND COALESCE(version, 0) = ?";
const reportWhereParams = (r: { fleet: string; device: string; model: DeviceModel | null; generatedAtMs: number }): SqlValue[] =>
  [r.fleet, r.device, r.generatedAtMs, r.model?.model ?? '', r.model?.version ?? 0];

export class DriftStore {
  readonly #db: SqlDb;
  readonly #o: Required<DriftStoreOptions>;

  private constructor(db: SqlDb, options: Required<DriftStoreOptions>) {
    this.#db = db;
    this.#o = options;
  }

  /**
   * Creates the tables when missing (PostgreSQL: under an advisory lock). A SQLite file from before
   * reports were unique keeps its first copy of each report delivered twice, then gets the index.
   */
  static async create(db: SqlDb, options: DriftStoreCreateOptions = {}): Promise<DriftStore> {
    const { readonly, ...rest } = options;
    const onceIndex = `CREATE UNIQUE INDEX IF NOT EXISTS ${ONCE_INDEX} ON drift_reports (${ONCE_COLUMNS});`;
    if (readonly) {
      // Nothing to create.
    } else if (db.dialect === 'postgres') {
      await createTables(db, 'drift', `${SCHEMA}\n${onceIndex}`);
    } else {
      await createTables(db, 'drift', SCHEMA);
      if (!(await hasIndex(db, ONCE_INDEX))) {
        const keep = `SELECT min(id) FROM drift_reports GROUP BY ${ONCE_COLUMNS}`;
        await db.batch([
          { sql: `DELETE FROM drift_features WHERE report_id NOT IN (${keep})` },
          { sql: `DELETE FROM drift_reports WHERE id NOT IN (${keep})` },
          { sql: onceIndex },
        ]);
      }
    }
    return new DriftStore(db, { ...DRIFT_STORE_DEFAULTS, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) });
  }

  get sql(): SqlDb {
    return this.#db;
  }

  async putProfile(rec: ProfileRecord): Promise<void> {
    await this.#db.run(
      `INSERT INTO drift_profiles (model, version, task, profile, test_metrics, registered_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, version) DO UPDATE SET task = excluded.task, profile = excluded.profile, test_metrics = excluded.test_metrics, registered_at = excluded.registered_at`,
      [rec.model, rec.version, rec.task, JSON.stringify(rec.profile), JSON.stringify(rec.testMetrics), rec.registeredAtMs],
    );
  }

  async getProfile(model: string, version: number): Promise<ProfileRecord | null> {
    const r = await this.#db.get<{ model: string; version: number; task: ModelTask; profile: string; test_metrics: string; registered_at: number }>(
      'SELECT model, version, task, profile, test_metrics, registered_at FROM drift_profiles WHERE model = ? AND version = ?', [model, version],
    );
    if (!r) return null;
    return { model: r.model, version: r.version, task: r.task, profile: JSON.parse(r.profile) as ReferenceProfile, testMetrics: JSON.parse(r.test_metrics) as Record<string, number>, registeredAtMs: r.registered_at };
  }

  async listProfiles(): Promise<{ model: string; version: number; task: ModelTask; features: number; registeredAtMs: number }[]> {
    const rows = await this.#db.all<{ model: string; version: number; task: ModelTask; profile: string; registered_at: number }>('SELECT model, version, task, profile, registered_at FROM drift_profiles ORDER BY model, version');
    return rows.map((r) => ({ model: r.model, version: r.version, task: r.task, features: (JSON.parse(r.profile) as ReferenceProfile).features.length, registeredAtMs: r.registered_at }));
  }

  /** Records the model version a device runs (from the rollout, or learned from its predictions). */
  async setDeviceModel(fleet: string, device: string, model: DeviceModel, atMs: number): Promise<void> {
    const batch = new SqlBatch();
    this.addDeviceModels(batch, [{ fleet, device, ...model, atMs }]);
    await batch.run(this.#db);
  }

  /**
   * setDeviceModel for several devices (each at most once) as statements of the caller's batch; a
   * device's timestamp moves only when its version changes.
   */
  addDeviceModels(batch: Pick<SqlBatch, 'add'>, rows: readonly (DeviceModel & { fleet: string; device: string; atMs: number })[]): void {
    for (let i = 0; i < rows.length; i += 500) {
      const part = rows.slice(i, i + 500);
      batch.add(
        `INSERT INTO device_models (fleet, device, model, version, updated_at) VALUES ${part.map(() => '(?, ?, ?, ?, ?)').join(', ')}
         ON CONFLICT (fleet, device) DO UPDATE SET model = excluded.model, version = excluded.version, updated_at = excluded.updated_at
         WHERE device_models.model <> excluded.model OR device_models.version <> excluded.version`,
        part.flatMap((r) => [r.fleet, r.device, r.model, r.version, r.atMs]),
      );
    }
  }

  async getDeviceModel(fleet: string, device: string): Promise<DeviceModel | null> {
    return (await this.#db.get<DeviceModel>('SELECT model, version FROM device_models WHERE fleet = ? AND device = ?', [fleet, device])) ?? null;
  }

  /** The latest ok / warn / alert verdict of a device ('insufficient' and 'no_profile' reports do not count). */
  async lastDecidedVerdict(fleet: string, device: string): Promise<'ok' | 'warn' | 'alert' | null> {
    const row = await this.#db.get<{ verdict: 'ok' | 'warn' | 'alert' }>(
      `SELECT verdict FROM drift_reports WHERE fleet = ? AND device = ? AND verdict IN ('ok', 'warn', 'alert') ORDER BY id DESC LIMIT 1`, [fleet, device],
    );
    return row?.verdict ?? null;
  }

  /** Whether this report (its natural key: reportKey) is stored already. */
  async hasReport(r: { fleet: string; device: string; model: DeviceModel | null; generatedAtMs: number }): Promise<boolean> {
    return (await this.#db.get<{ id: number }>(`SELECT id FROM drift_reports WHERE ${REPORT_WHERE}`, reportWhereParams(r))) !== undefined;
  }

  /**
   * Appends a report and its per-feature rows to the caller's batch (nothing when the same report is
   * stored already); returns the index of the report's INSERT (1 changed row: stored by this batch).
   */
  addReport(batch: Pick<SqlBatch, 'add'>, input: ReportInput): number {
    const { report, evaluation } = input;
    const verdict: StoredVerdict = evaluation ? evaluation.verdict : 'no_profile';
    const reasons = evaluation ? evaluation.reasons : ['no reference profile registered for the model version this device runs'];
    const index = batch.add(
      `INSERT INTO drift_reports (fleet, device, model, version, generated_at, received_at, sample_count, window_start, window_end, verdict, reasons, drifted)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      [input.fleet, input.device, input.model?.model ?? null, input.model?.version ?? null, report.generatedAtMs, input.receivedAtMs, report.sampleCount,
        report.windowStartMs, report.windowEndMs, verdict, JSON.stringify(reasons), JSON.stringify(evaluation?.drifted ?? [])],
    );
    const where = reportWhereParams({ ...input, generatedAtMs: report.generatedAtMs });
    const levels = new Map((evaluation?.drifted ?? []).map((d) => [d.name, d.level]));
    const put = (f: FeatureDrift, isOutput: boolean): void => {
      const numeric = f.kind === 'numeric';
      const test = numeric ? f.ks : f.chi2;
      // The report's id is the one just inserted (or the copy stored before: then nothing is added).
      batch.add(
        `INSERT INTO drift_features (report_id, feature, kind, is_output, count, missing_rate, out_rate, mean, psi, js, test_stat, test_p, wasserstein, level)
         SELECT id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM drift_reports WHERE ${REPORT_WHERE} ON CONFLICT DO NOTHING`,
        [f.name, f.kind, isOutput ? 1 : 0, f.count, f.missingRate, numeric ? f.outOfRangeRate : f.unseenRate, numeric ? f.mean : null,
          f.psi, f.js, test?.statistic ?? null, test?.pValue ?? null, numeric ? f.wasserstein : null, levels.get(f.name) ?? 'ok', ...where],
      );
    };
    for (const f of report.features) put(f, false);
    if (report.output) put(report.output, true);
    return index;
  }

  /** Stores one report in its own transaction; resolves to its id (the stored copy's when it was there already). */
  async insertReport(input: ReportInput): Promise<number> {
    const batch = new SqlBatch();
    this.addReport(batch, input);
    await batch.run(this.#db);
    const row = await this.#db.get<{ id: number }>(`SELECT id FROM drift_reports WHERE ${REPORT_WHERE}`, reportWhereParams({ ...input, generatedAtMs: input.report.generatedAtMs }));
    return row!.id;
  }

  /** The latest report per device (the `drift status` view). */
  async latestPerDevice(fleet?: string): Promise<DriftReportRow[]> {
    const rows = await this.#db.all<ReportDbRow>(
      `SELECT r.* FROM drift_reports r JOIN (SELECT max(id) AS id FROM drift_reports ${fleet === undefined ? '' : 'WHERE fleet = ?'} GROUP BY fleet, device) m ON m.id = r.id
       ORDER BY r.fleet, r.device`,
      fleet === undefined ? [] : [fleet],
    );
    return rows.map(toReport);
  }

  /** A device's reports, newest first. */
  async reports(fleet: string, device: string, limit = 100): Promise<DriftReportRow[]> {
    return (await this.#db.all<ReportDbRow>('SELECT * FROM drift_reports WHERE fleet = ? AND device = ? ORDER BY id DESC LIMIT ?', [fleet, device, limit])).map(toReport);
  }

  /** The time series of a device's per-feature statistics, oldest first (the last `limit` reports). */
  async series(fleet: string, device: string, options: { feature?: string; limit?: number } = {}): Promise<DriftPoint[]> {
    // Placeholders in SQL order: the subquery's (fleet, device, limit), then the feature filter.
    const params: SqlValue[] = [fleet, device, options.limit ?? 100];
    if (options.feature !== undefined) params.push(options.feature);
    const rows = await this.#db.all<PointDbRow>(
      `SELECT f.*, r.generated_at, r.model, r.version FROM drift_features f JOIN (
         SELECT id, generated_at, model, version FROM drift_reports WHERE fleet = ? AND device = ? ORDER BY id DESC LIMIT ?
       ) r ON r.id = f.report_id ${options.feature === undefined ? '' : 'WHERE f.feature = ?'} ORDER BY r.id, f.is_output, f.feature`,
      params,
    );
    return rows.map(toPoint);
  }

  async verdictCounts(): Promise<Record<string, number>> {
    const rows = await this.#db.all<{ verdict: string; n: number }>('SELECT verdict, CAST(count(*) AS INTEGER) AS n FROM drift_reports GROUP BY verdict');
    return Object.fromEntries(rows.map((r) => [r.verdict, r.n]));
  }

  /** The newest report's id (null: none): a cheap change fingerprint on the primary key. */
  async lastReportId(): Promise<number | null> {
    return (await this.#db.get<{ id: number | null }>('SELECT max(id) AS id FROM drift_reports'))?.id ?? null;
  }

  /** Appends a quarantined message (payload truncated to maxRejectPayloadBytes) and the trim to maxRejectRows. */
  addReject(batch: Pick<SqlBatch, 'add'>, r: { receivedAtMs: number; topic: string; reason: ErrorCode; detail: string; payload: Uint8Array }): void {
    const kept = r.payload.byteLength > this.#o.maxRejectPayloadBytes ? r.payload.subarray(0, this.#o.maxRejectPayloadBytes) : r.payload;
    batch.add('INSERT INTO drift_rejects (received_at, topic, reason, detail, payload, payload_bytes) VALUES (?, ?, ?, ?, ?, ?)',
      [r.receivedAtMs, r.topic.slice(0, 1024), r.reason, r.detail.slice(0, 2048), kept, r.payload.byteLength]);
    batch.add('DELETE FROM drift_rejects WHERE id <= (SELECT max(id) FROM drift_rejects) - ?', [this.#o.maxRejectRows]);
  }

  async insertReject(r: { receivedAtMs: number; topic: string; reason: ErrorCode; detail: string; payload: Uint8Array }): Promise<void> {
    const batch = new SqlBatch();
    this.addReject(batch, r);
    await batch.run(this.#db);
  }

  async rejects(options: { limit?: number } = {}): Promise<DriftRejectRow[]> {
    const rows = await this.#db.all<{ id: number; received_at: number; topic: string; reason: ErrorCode; detail: string; payload: Uint8Array; payload_bytes: number }>(
      'SELECT * FROM drift_rejects ORDER BY id DESC LIMIT ?', [options.limit ?? 100],
    );
    return rows.map((r) => ({ id: r.id, receivedAtMs: r.received_at, topic: r.topic, reason: r.reason, detail: r.detail, payload: new Uint8Array(r.payload), payloadBytes: r.payload_bytes }));
  }
}
