/**
 * Model performance from delayed ground truth. A device's predictions and the labels that arrive
 * later (minutes to days) are joined on (fleet, device, ts), whichever comes first: a label without
 * its prediction waits in `perf_labels` until the prediction arrives or `pendingLabelTtlMs` passes.
 * Predictions are keyed by (fleet, device, ts, model, version): in shadow mode a device predicts twice
 * per ts (active and shadow version), and one label scores both.
 *
 * Over the last `windowSize` joined samples per (device, model version): accuracy and F1
 * (classification; binary F1 for 0/1 labels, else macro) or MSE (regression), computed with
 * models/metrics. The state is 'degraded' when a metric is past the absolute threshold or worse than
 * the model's test score (registered with its profile) by more than the margin.
 * Synchronous (better-sqlite3): callers compose these calls inside one transaction per MQTT batch.
 */
import type { SqliteDatabase, SqliteStatement } from '../io/sqlite.ts';
import { EdgeloopError } from '../src/errors.ts';
import type { LabelBatch, PredictionBatch } from '../src/contracts/predictions.ts';
import { accuracy, meanSquaredError, precisionRecallF1 } from '../models/metrics/index.ts';
import type { ModelTask } from './drift-store.ts';

export interface PerformancePolicy {
  /** Joined samples the rolling metrics use (the most recent by prediction ts). */
  windowSize: number;
  /** Fewer joined samples than this → 'insufficient', never an alert. */
  minSamples: number;
  /** Classification: degraded when accuracy < this (null: no absolute floor). */
  minAccuracy: number | null;
  /** Classification: degraded when accuracy < test accuracy − this. */
  maxAccuracyDrop: number;
  /** Regression: degraded when MSE > this (null: no absolute ceiling). */
  maxMse: number | null;
  /** Regression: degraded when MSE > test MSE × (1 + this). */
  maxMseIncreaseFrac: number;
  /** Labels whose prediction has not arrived within this are deleted (and counted). */
  pendingLabelTtlMs: number;
  /** Predictions are kept this long after arrival (joined or not). */
  predictionRetentionMs: number;
}

export const DEFAULT_PERFORMANCE_POLICY: Readonly<PerformancePolicy> = Object.freeze({
  windowSize: 200,
  minSamples: 50,
  minAccuracy: null,
  maxAccuracyDrop: 0.05,
  maxMse: null,
  maxMseIncreaseFrac: 0.5,
  pendingLabelTtlMs: 7 * 24 * 3600_000,
  predictionRetentionMs: 30 * 24 * 3600_000,
});

/** Merges overrides onto the defaults; BAD_CONFIG lists every problem. */
export function resolvePerformancePolicy(overrides: Partial<PerformancePolicy> = {}): PerformancePolicy {
  const p: PerformancePolicy = { ...DEFAULT_PERFORMANCE_POLICY, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  const problems: string[] = [];
  if (!(Number.isInteger(p.windowSize) && p.windowSize >= 1 && p.windowSize <= 100_000)) problems.push(`windowSize must be an integer in [1, 100000], got ${p.windowSize}`);
  if (!(Number.isInteger(p.minSamples) && p.minSamples >= 1 && p.minSamples <= p.windowSize)) problems.push(`minSamples must be an integer in [1, windowSize], got ${p.minSamples}`);
  if (p.minAccuracy !== null && !(p.minAccuracy >= 0 && p.minAccuracy <= 1)) problems.push(`minAccuracy must be null or in [0, 1], got ${p.minAccuracy}`);
  if (!(p.maxAccuracyDrop >= 0 && p.maxAccuracyDrop <= 1)) problems.push(`maxAccuracyDrop must be in [0, 1], got ${p.maxAccuracyDrop}`);
  if (p.maxMse !== null && !(p.maxMse >= 0 && Number.isFinite(p.maxMse))) problems.push(`maxMse must be null or a finite number ≥ 0, got ${p.maxMse}`);
  if (!(p.maxMseIncreaseFrac >= 0 && Number.isFinite(p.maxMseIncreaseFrac))) problems.push(`maxMseIncreaseFrac must be a finite number ≥ 0, got ${p.maxMseIncreaseFrac}`);
  if (!(p.pendingLabelTtlMs > 0)) problems.push(`pendingLabelTtlMs must be > 0, got ${p.pendingLabelTtlMs}`);
  if (!(p.predictionRetentionMs > 0)) problems.push(`predictionRetentionMs must be > 0, got ${p.predictionRetentionMs}`);
  if (problems.length > 0) throw new EdgeloopError('BAD_CONFIG', `performance policy is invalid: ${problems.join('; ')}`);
  return p;
}

export type PerformanceStatus = 'insufficient' | 'ok' | 'degraded';

export interface PerformanceState {
  fleet: string;
  device: string;
  model: string;
  version: number;
  task: ModelTask;
  /** Joined samples in the window. */
  samples: number;
  accuracy: number | null;
  f1: number | null;
  mse: number | null;
  /** The test score compared against (test accuracy or test MSE), when registered. */
  baseline: number | null;
  status: PerformanceStatus;
  reasons: string[];
  updatedAtMs: number;
}

/** A (device, model version) whose joined samples changed in a batch. */
export interface TouchedGroup {
  fleet: string;
  device: string;
  model: string;
  version: number;
}

export interface PerformanceCounters {
  predictions: number;
  duplicatePredictions: number;
  labels: number;
  joined: number;
  /** Labels repeated for an already-labelled prediction (a different value is also a conflict; the first is kept). */
  duplicateLabels: number;
  labelConflicts: number;
  expiredLabels: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS perf_predictions (
  fleet TEXT NOT NULL, device TEXT NOT NULL, ts INTEGER NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL,
  output REAL NOT NULL, proba TEXT, label REAL, received_at INTEGER NOT NULL, joined_at INTEGER,
  PRIMARY KEY (fleet, device, ts, model, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS perf_joined ON perf_predictions (fleet, device, model, version, ts) WHERE label IS NOT NULL;
CREATE INDEX IF NOT EXISTS perf_by_arrival ON perf_predictions (received_at);
CREATE TABLE IF NOT EXISTS perf_labels (
  fleet TEXT NOT NULL, device TEXT NOT NULL, ts INTEGER NOT NULL, label REAL NOT NULL, received_at INTEGER NOT NULL,
  PRIMARY KEY (fleet, device, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS perf_labels_by_arrival ON perf_labels (received_at);
CREATE TABLE IF NOT EXISTS perf_state (
  fleet TEXT NOT NULL, device TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL, task TEXT NOT NULL, samples INTEGER NOT NULL,
  accuracy REAL, f1 REAL, mse REAL, baseline REAL, status TEXT NOT NULL, reasons TEXT NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (fleet, device, model, version)
);
`;

/**
 * Files written before predictions were keyed by version had PRIMARY KEY (fleet, device, ts): the
 * second prediction of a shadow pair was dropped as a duplicate. Rebuilds that table once, keeping its rows.
 */
function migrateVersionKey(db: SqliteDatabase): void {
  const sql = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'perf_predictions'").pluck().get() as string | undefined;
  if (!sql || !/PRIMARY KEY \(fleet, device, ts\)/.test(sql)) return;
  db.transaction(() => {
    db.exec('ALTER TABLE perf_predictions RENAME TO perf_predictions_old; DROP INDEX IF EXISTS perf_joined; DROP INDEX IF EXISTS perf_by_arrival;');
    db.exec(SCHEMA);
    db.exec('INSERT INTO perf_predictions SELECT fleet, device, ts, model, version, output, proba, label, received_at, joined_at FROM perf_predictions_old; DROP TABLE perf_predictions_old;');
  })();
}

/** Prune at most this often (by the injected clock): it is a range delete, cheap but not free. */
const PRUNE_EVERY_MS = 60_000;

export class PerformanceTracker {
  readonly #db: SqliteDatabase;
  readonly #p: PerformancePolicy;
  readonly #s: Record<string, SqliteStatement>;
  readonly #counters: PerformanceCounters = { predictions: 0, duplicatePredictions: 0, labels: 0, joined: 0, duplicateLabels: 0, labelConflicts: 0, expiredLabels: 0 };
  #lastPruneMs = -Infinity;

  private constructor(db: SqliteDatabase, policy: PerformancePolicy) {
    this.#db = db;
    this.#p = policy;
    this.#s = {
      insertPrediction: db.prepare('INSERT OR IGNORE INTO perf_predictions (fleet, device, ts, model, version, output, proba, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      takeLabel: db.prepare('DELETE FROM perf_labels WHERE fleet = ? AND device = ? AND ts = ? RETURNING label'),
      // A shadow pair (or an A/B switch) has two predictions at one ts: a label joins each of them.
      siblingLabel: db.prepare('SELECT label FROM perf_predictions WHERE fleet = ? AND device = ? AND ts = ? AND label IS NOT NULL LIMIT 1'),
      setLabel: db.prepare('UPDATE perf_predictions SET label = ?, joined_at = ? WHERE fleet = ? AND device = ? AND ts = ? AND label IS NULL RETURNING model, version'),
      setVersionLabel: db.prepare('UPDATE perf_predictions SET label = ?, joined_at = ? WHERE fleet = ? AND device = ? AND ts = ? AND model = ? AND version = ?'),
      existingLabel: db.prepare('SELECT label FROM perf_predictions WHERE fleet = ? AND device = ? AND ts = ? AND label IS NOT NULL LIMIT 1'),
      pendLabel: db.prepare('INSERT OR IGNORE INTO perf_labels (fleet, device, ts, label, received_at) VALUES (?, ?, ?, ?, ?)'),
      window: db.prepare('SELECT output, label FROM perf_predictions WHERE fleet = ? AND device = ? AND model = ? AND version = ? AND label IS NOT NULL ORDER BY ts DESC LIMIT ?'),
      getState: db.prepare('SELECT status FROM perf_state WHERE fleet = ? AND device = ? AND model = ? AND version = ?').pluck(),
      putState: db.prepare(`INSERT OR REPLACE INTO perf_state (fleet, device, model, version, task, samples, accuracy, f1, mse, baseline, status, reasons, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      expireLabels: db.prepare('DELETE FROM perf_labels WHERE received_at < ?'),
      expirePredictions: db.prepare('DELETE FROM perf_predictions WHERE received_at < ?'),
    };
  }

  static open(db: SqliteDatabase, policy: Partial<PerformancePolicy> = {}): PerformanceTracker {
    const p = resolvePerformancePolicy(policy);
    migrateVersionKey(db);
    db.exec(SCHEMA);
    return new PerformanceTracker(db, p);
  }

  get policy(): PerformancePolicy {
    return { ...this.#p };
  }

  get counters(): PerformanceCounters {
    return { ...this.#counters };
  }

  /** Stores predictions; joins those whose label came first. Returns the groups whose window changed. */
  addPredictions(fleet: string, device: string, batch: PredictionBatch, receivedAtMs: number): TouchedGroup[] {
    const touched = new Map<string, TouchedGroup>();
    for (const p of batch) {
      const inserted = this.#s.insertPrediction!.run(fleet, device, p.ts, p.model, p.version, p.output, p.proba ? JSON.stringify(p.proba) : null, receivedAtMs).changes === 1;
      if (!inserted) {
        this.#counters.duplicatePredictions++;
        continue;
      }
      this.#counters.predictions++;
      const waiting = (this.#s.takeLabel!.get(fleet, device, p.ts) ?? this.#s.siblingLabel!.get(fleet, device, p.ts)) as { label: number } | undefined;
      if (waiting) {
        this.#s.setVersionLabel!.run(waiting.label, receivedAtMs, fleet, device, p.ts, p.model, p.version);
        this.#counters.joined++;
        touched.set(`${p.model}\u0000${p.version}`, { fleet, device, model: p.model, version: p.version });
      }
    }
    this.#prune(receivedAtMs);
    return [...touched.values()];
  }

  /** Joins labels to their predictions, or keeps them until the prediction arrives. */
  addLabels(fleet: string, device: string, batch: LabelBatch, receivedAtMs: number): TouchedGroup[] {
    const touched = new Map<string, TouchedGroup>();
    for (const l of batch) {
      this.#counters.labels++;
      const joined = this.#s.setLabel!.all(l.label, receivedAtMs, fleet, device, l.ts) as { model: string; version: number }[];
      if (joined.length > 0) {
        this.#counters.joined += joined.length;
        for (const j of joined) touched.set(`${j.model}\u0000${j.version}`, { fleet, device, ...j });
        continue;
      }
      const existing = this.#s.existingLabel!.get(fleet, device, l.ts) as { label: number | null } | undefined;
      if (existing && existing.label !== null) {
        this.#counters.duplicateLabels++;
        if (existing.label !== l.label) this.#counters.labelConflicts++;
        continue;
      }
      if (this.#s.pendLabel!.run(fleet, device, l.ts, l.label, receivedAtMs).changes === 0) this.#counters.duplicateLabels++;
    }
    this.#prune(receivedAtMs);
    return [...touched.values()];
  }

  /** Recomputes a group's rolling metrics and stores the state; returns it with the previous status. */
  evaluate(group: TouchedGroup, model: { task: ModelTask | null; testMetrics: Record<string, number> }, nowMs: number): { state: PerformanceState; previous: PerformanceStatus | null } {
    const previous = (this.#s.getState!.get(group.fleet, group.device, group.model, group.version) as PerformanceStatus | undefined) ?? null;
    const rows = this.#s.window!.all(group.fleet, group.device, group.model, group.version, this.#p.windowSize) as { output: number; label: number }[];
    const yPred = rows.map((r) => r.output);
    const yTrue = rows.map((r) => r.label);
    // Unregistered model version: integers on both sides look like classes.
    const task: ModelTask = model.task ?? (rows.every((r) => Number.isInteger(r.output) && Number.isInteger(r.label)) ? 'classification' : 'regression');
    const state: PerformanceState = { ...group, task, samples: rows.length, accuracy: null, f1: null, mse: null, baseline: null, status: 'insufficient', reasons: [], updatedAtMs: nowMs };
    if (rows.length > 0) {
      if (task === 'classification') {
        state.accuracy = accuracy(yTrue, yPred);
        const binary = yTrue.every((v) => v === 0 || v === 1) && yPred.every((v) => v === 0 || v === 1);
        state.f1 = precisionRecallF1(yTrue, yPred, { average: binary ? 'binary' : 'macro' }).f1;
        state.baseline = model.testMetrics.test_accuracy ?? model.testMetrics.accuracy ?? testBaseline(model.testMetrics, 'accuracy');
      } else {
        state.mse = meanSquaredError(yTrue, yPred);
        state.baseline = model.testMetrics.test_mse ?? model.testMetrics.mse ?? testBaseline(model.testMetrics, 'mse');
      }
    }
    if (rows.length < this.#p.minSamples) {
      state.reasons.push(`${rows.length} joined samples < minSamples ${this.#p.minSamples}`);
    } else {
      state.reasons.push(...this.#degradation(state));
      state.status = state.reasons.length > 0 ? 'degraded' : 'ok';
    }
    this.#s.putState!.run(group.fleet, group.device, group.model, group.version, task, state.samples, state.accuracy, state.f1, state.mse, state.baseline, state.status, JSON.stringify(state.reasons), nowMs);
    return { state, previous };
  }

  #degradation(s: PerformanceState): string[] {
    const p = this.#p;
    const out: string[] = [];
    const f = (x: number): string => x.toFixed(4);
    if (s.task === 'classification' && s.accuracy !== null) {
      if (p.minAccuracy !== null && s.accuracy < p.minAccuracy) out.push(`accuracy ${f(s.accuracy)} < minAccuracy ${p.minAccuracy} over ${s.samples} samples`);
      if (s.baseline !== null && s.accuracy < s.baseline - p.maxAccuracyDrop) out.push(`accuracy ${f(s.accuracy)} < test accuracy ${f(s.baseline)} − ${p.maxAccuracyDrop} over ${s.samples} samples`);
    } else if (s.task === 'regression' && s.mse !== null) {
      if (p.maxMse !== null && s.mse > p.maxMse) out.push(`MSE ${f(s.mse)} > maxMse ${p.maxMse} over ${s.samples} samples`);
      if (s.baseline !== null && s.mse > s.baseline * (1 + p.maxMseIncreaseFrac)) out.push(`MSE ${f(s.mse)} > test MSE ${f(s.baseline)} × ${1 + p.maxMseIncreaseFrac} over ${s.samples} samples`);
    }
    return out;
  }

  states(options: { fleet?: string; device?: string } = {}): PerformanceState[] {
    const clauses: string[] = [];
    const params: string[] = [];
    if (options.fleet !== undefined) { clauses.push('fleet = ?'); params.push(options.fleet); }
    if (options.device !== undefined) { clauses.push('device = ?'); params.push(options.device); }
    const rows = this.#db.prepare(`SELECT * FROM perf_state ${clauses.length ? 'WHERE ' + clauses.join(' AND ') : ''} ORDER BY fleet, device, model, version`).all(...params) as {
      fleet: string; device: string; model: string; version: number; task: ModelTask; samples: number; accuracy: number | null; f1: number | null; mse: number | null;
      baseline: number | null; status: PerformanceStatus; reasons: string; updated_at: number;
    }[];
    return rows.map((r) => ({
      fleet: r.fleet, device: r.device, model: r.model, version: r.version, task: r.task, samples: r.samples, accuracy: r.accuracy, f1: r.f1, mse: r.mse,
      baseline: r.baseline, status: r.status, reasons: JSON.parse(r.reasons) as string[], updatedAtMs: r.updated_at,
    }));
  }

  /** Labels still waiting for their prediction. */
  pendingLabels(): number {
    return this.#db.prepare('SELECT count(*) FROM perf_labels').pluck().get() as number;
  }

  #prune(nowMs: number): void {
    if (nowMs - this.#lastPruneMs < PRUNE_EVERY_MS) return;
    this.#lastPruneMs = nowMs;
    this.#counters.expiredLabels += this.#s.expireLabels!.run(nowMs - this.#p.pendingLabelTtlMs).changes;
    this.#s.expirePredictions!.run(nowMs - this.#p.predictionRetentionMs);
  }
}

/**
 * The baseline from held-out splits: publishModel writes `<split>_<metric>` for each evaluation split
 * (test1_accuracy and test2_accuracy for a prepared dataset, holdout_accuracy for a retrained version,
 * `<split>_rmse` for regression). Every split but the training one counts, and the least favourable
 * value wins, so that a device is not judged against its best case.
 */
function testBaseline(metrics: Record<string, number>, metric: 'accuracy' | 'mse'): number | null {
  const values: number[] = [];
  for (const [key, v] of Object.entries(metrics)) {
    if (!Number.isFinite(v)) continue;
    const m = /^([A-Za-z0-9]+)_(accuracy|mse|rmse)$/.exec(key);
    if (!m || m[1]!.startsWith('train')) continue;
    if (metric === 'accuracy' && m[2] === 'accuracy') values.push(v);
    if (metric === 'mse' && m[2] === 'mse') values.push(v);
    if (metric === 'mse' && m[2] === 'rmse') values.push(v * v);
  }
  if (values.length === 0) return null;
  return metric === 'accuracy' ? Math.min(...values) : Math.max(...values);
}
