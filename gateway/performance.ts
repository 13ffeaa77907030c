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
 *
 * On gateway/sql.ts, so the same class runs on SQLite and on PostgreSQL (test/drift-contract.ts). One
 * MQTT batch is read (prepare), judged in memory (evaluate) and written in the caller's one batch of
 * statements (write): no interactive transaction, and a batch delivered twice is stored once.
 */
import { createTables, schemaFor, type SqlDb } from './sql.ts';
import { placeholders, type SqlBatch } from './sql-batch.ts';
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

// Both dialects (sql-batch.ts createTables); DOUBLE PRECISION because PostgreSQL's REAL is single precision.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS perf_predictions (
  fleet TEXT NOT NULL, device TEXT NOT NULL, ts {time} NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL,
  output DOUBLE PRECISION NOT NULL, proba TEXT, label DOUBLE PRECISION, received_at {time} NOT NULL, joined_at {time},
  PRIMARY KEY (fleet, device, ts, model, version)
) {without_rowid};
CREATE INDEX IF NOT EXISTS perf_joined ON perf_predictions (fleet, device, model, version, ts) WHERE label IS NOT NULL;
CREATE INDEX IF NOT EXISTS perf_by_arrival ON perf_predictions (received_at);
CREATE TABLE IF NOT EXISTS perf_labels (
  fleet TEXT NOT NULL, device TEXT NOT NULL, ts {time} NOT NULL, label DOUBLE PRECISION NOT NULL, received_at {time} NOT NULL,
  PRIMARY KEY (fleet, device, ts)
) {without_rowid};
CREATE INDEX IF NOT EXISTS perf_labels_by_arrival ON perf_labels (received_at);
CREATE TABLE IF NOT EXISTS perf_state (
  fleet TEXT NOT NULL, device TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL, task TEXT NOT NULL, samples INTEGER NOT NULL,
  accuracy DOUBLE PRECISION, f1 DOUBLE PRECISION, mse DOUBLE PRECISION, baseline DOUBLE PRECISION, status TEXT NOT NULL, reasons TEXT NOT NULL, updated_at {time} NOT NULL,
  PRIMARY KEY (fleet, device, model, version)
);
`;

/**
 * SQLite files written before predictions were keyed by version had PRIMARY KEY (fleet, device, ts):
 * the second prediction of a shadow pair was dropped as a duplicate. Rebuilds that table once, keeping its rows.
 */
async function migrateVersionKey(db: SqlDb): Promise<void> {
  if (db.dialect !== 'sqlite') return;
  const row = await db.get<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'perf_predictions'");
  if (!row || !/PRIMARY KEY \(fleet, device, ts\)/.test(row.sql)) return;
  const schema = schemaFor('sqlite', SCHEMA).split(';').map((s) => s.trim()).filter((s) => s.length > 0);
  await db.batch([
    'ALTER TABLE perf_predictions RENAME TO perf_predictions_old', 'DROP INDEX IF EXISTS perf_joined', 'DROP INDEX IF EXISTS perf_by_arrival',
    ...schema,
    'INSERT INTO perf_predictions SELECT fleet, device, ts, model, version, output, proba, label, received_at, joined_at FROM perf_predictions_old',
    'DROP TABLE perf_predictions_old',
  ].map((sql) => ({ sql })));
}

/** Prune at most this often (by the injected clock): it is a range delete, cheap but not free. */
const PRUNE_EVERY_MS = 60_000;
/** Values per IN list or multi-row INSERT (far below SQLite's and PostgreSQL's parameter limits). */
const CHUNK = 500;
const ROW10 = placeholders(10);

/** Predictions or labels a device published, as the drift service received them. */
export type PerformanceEvent =
  | { kind: 'predictions'; fleet: string; device: string; batch: PredictionBatch; receivedAtMs: number }
  | { kind: 'labels'; fleet: string; device: string; batch: LabelBatch; receivedAtMs: number };

interface PredictionRow {
  ts: number;
  model: string;
  version: number;
  output: number;
  proba: string | null;
  label: number | null;
  joinedAtMs: number | null;
  receivedAtMs: number;
  /** In the table before this batch (else inserted by it). */
  stored: boolean;
  /** A stored row this batch labels. */
  joinedNow: boolean;
}

interface PendingLabel {
  label: number;
  receivedAtMs: number;
  stored: boolean;
}

interface DevicePlan {
  fleet: string;
  device: string;
  predictions: Map<number, PredictionRow[]>;
  pending: Map<number, PendingLabel>;
  /** Stored pending labels taken by a prediction of this batch. */
  taken: number[];
}

/**
 * What one MQTT batch does to the performance tables, decided in memory from what they held before it
 * (PerformanceTracker#prepare), then written in the caller's batch (#write) and counted after its
 * commit (#committed).
 */
export interface PerformancePlan {
  /** The (device, model version) groups whose joined samples this batch changed. */
  readonly touched: readonly TouchedGroup[];
  readonly devices: ReadonlyMap<string, DevicePlan>;
  readonly counters: Omit<PerformanceCounters, 'expiredLabels'>;
  readonly states: PerformanceState[];
  /** The status stored before this batch, per touched group. */
  readonly previous: ReadonlyMap<string, PerformanceStatus>;
  readonly latestMs: number;
  prune: { labels: number; predictions: number } | null;
}

type StateRow = {
  fleet: string; device: string; model: string; version: number; task: ModelTask; samples: number; accuracy: number | null; f1: number | null; mse: number | null;
  baseline: number | null; status: PerformanceStatus; reasons: string; updated_at: number;
};

const deviceKey = (fleet: string, device: string): string => `${fleet}\u0000${device}`;
const groupKey = (g: TouchedGroup): string => `${g.fleet}\u0000${g.device}\u0000${g.model}\u0000${g.version}`;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

export class PerformanceTracker {
  readonly #db: SqlDb;
  readonly #p: PerformancePolicy;
  readonly #counters: PerformanceCounters = { predictions: 0, duplicatePredictions: 0, labels: 0, joined: 0, duplicateLabels: 0, labelConflicts: 0, expiredLabels: 0 };
  #lastPruneMs = -Infinity;

  private constructor(db: SqlDb, policy: PerformancePolicy) {
    this.#db = db;
    this.#p = policy;
  }

  /** Validates the policy (BAD_CONFIG), migrates an old SQLite file, creates the tables when missing. */
  static async create(db: SqlDb, policy: Partial<PerformancePolicy> = {}): Promise<PerformanceTracker> {
    const p = resolvePerformancePolicy(policy);
    await migrateVersionKey(db);
    await createTables(db, 'performance', SCHEMA);
    return new PerformanceTracker(db, p);
  }

  get policy(): PerformancePolicy {
    return { ...this.#p };
  }

  /** Events since start, counted after each batch committed. */
  get counters(): PerformanceCounters {
    return { ...this.#counters };
  }

  /**
   * Reads the predictions and pending labels the events name, then joins the events in order in
   * memory, exactly as if each were applied on its own: a prediction takes its waiting label (or the
   * label a sibling of a shadow pair already has), a label joins every unlabelled prediction at its ts
   * or waits. A prediction stored already is a duplicate; a label for a labelled ts is a duplicate
   * (and a conflict when it differs). Writes nothing.
   */
  async prepare(events: readonly PerformanceEvent[]): Promise<PerformancePlan> {
    const devices = new Map<string, DevicePlan>();
    const wanted = new Map<string, Set<number>>();
    for (const e of events) {
      const key = deviceKey(e.fleet, e.device);
      if (!devices.has(key)) devices.set(key, { fleet: e.fleet, device: e.device, predictions: new Map(), pending: new Map(), taken: [] });
      const set = wanted.get(key) ?? new Set<number>();
      for (const x of e.batch) set.add(x.ts);
      wanted.set(key, set);
    }
    for (const [key, set] of wanted) {
      const d = devices.get(key)!;
      for (const part of chunks([...set])) {
        // Predictions (pending = 0) and pending labels (pending = 1) at these ts, in one statement.
        const rows = await this.#db.all<{ pending: number; ts: number; model: string | null; version: number | null; output: number | null; label: number | null; received_at: number }>(
          `SELECT 0 AS pending, ts, model, version, output, label, received_at FROM perf_predictions WHERE fleet = ? AND device = ? AND ts IN ${placeholders(part.length)}
           UNION ALL SELECT 1, ts, NULL, NULL, NULL, label, received_at FROM perf_labels WHERE fleet = ? AND device = ? AND ts IN ${placeholders(part.length)}`,
          [d.fleet, d.device, ...part, d.fleet, d.device, ...part],
        );
        for (const r of rows) {
          if (r.pending === 1) {
            d.pending.set(r.ts, { label: r.label!, receivedAtMs: r.received_at, stored: true });
            continue;
          }
          const list = d.predictions.get(r.ts) ?? [];
          list.push({ ts: r.ts, model: r.model!, version: r.version!, output: r.output!, label: r.label, proba: null, joinedAtMs: null, receivedAtMs: r.received_at, stored: true, joinedNow: false });
          d.predictions.set(r.ts, list);
        }
      }
    }
    const c = { predictions: 0, duplicatePredictions: 0, labels: 0, joined: 0, duplicateLabels: 0, labelConflicts: 0 };
    const touched = new Map<string, TouchedGroup>();
    const touch = (fleet: string, device: string, model: string, version: number): void => {
      const g = { fleet, device, model, version };
      touched.set(groupKey(g), g);
    };
    let latestMs = -Infinity;
    for (const e of events) {
      latestMs = Math.max(latestMs, e.receivedAtMs);
      const d = devices.get(deviceKey(e.fleet, e.device))!;
      if (e.kind === 'predictions') {
        for (const p of e.batch) {
          const rows = d.predictions.get(p.ts) ?? [];
          d.predictions.set(p.ts, rows);
          if (rows.some((r) => r.model === p.model && r.version === p.version)) {
            c.duplicatePredictions++;
            continue;
          }
          c.predictions++;
          // A shadow pair (or an A/B switch) has two predictions at one ts: a label joins each of them.
          const waiting = d.pending.get(p.ts);
          const label = waiting?.label ?? rows.find((r) => r.label !== null)?.label ?? null;
          if (waiting) {
            d.pending.delete(p.ts);
            if (waiting.stored) d.taken.push(p.ts);
          }
          rows.push({
            ts: p.ts, model: p.model, version: p.version, output: p.output, proba: p.proba ? JSON.stringify(p.proba) : null, label,
            joinedAtMs: label === null ? null : e.receivedAtMs, receivedAtMs: e.receivedAtMs, stored: false, joinedNow: false,
          });
          if (label !== null) {
            c.joined++;
            touch(e.fleet, e.device, p.model, p.version);
          }
        }
      } else {
        for (const l of e.batch) {
          c.labels++;
          const rows = d.predictions.get(l.ts) ?? [];
          const open = rows.filter((r) => r.label === null);
          if (open.length > 0) {
            for (const r of open) {
              r.label = l.label;
              r.joinedAtMs = e.receivedAtMs;
              if (r.stored) r.joinedNow = true;
              touch(e.fleet, e.device, r.model, r.version);
            }
            c.joined += open.length;
            continue;
          }
          const existing = rows.find((r) => r.label !== null);
          if (existing) {
            c.duplicateLabels++;
            if (existing.label !== l.label) c.labelConflicts++;
            continue;
          }
          if (d.pending.has(l.ts)) c.duplicateLabels++;
          else d.pending.set(l.ts, { label: l.label, receivedAtMs: e.receivedAtMs, stored: false });
        }
      }
    }
    // The stored status of every touched group, one statement per fleet and chunk of devices.
    const previous = new Map<string, PerformanceStatus>();
    const byFleet = new Map<string, Set<string>>();
    for (const g of touched.values()) byFleet.set(g.fleet, (byFleet.get(g.fleet) ?? new Set()).add(g.device));
    for (const [fleet, set] of byFleet) {
      for (const part of chunks([...set])) {
        const rows = await this.#db.all<TouchedGroup & { status: PerformanceStatus }>(
          `SELECT fleet, device, model, version, status FROM perf_state WHERE fleet = ? AND device IN ${placeholders(part.length)}`, [fleet, ...part],
        );
        for (const r of rows) previous.set(groupKey(r), r.status);
      }
    }
    return { touched: [...touched.values()], devices, counters: c, states: [], previous, latestMs, prune: null };
  }

  /**
   * Recomputes a touched group's rolling metrics over its stored joined samples and this plan's joins;
   * the state is written with the plan. Returns it with the status stored before and the newest
   * prediction ts this plan joined in the group (a prediction is joined once: it names the batch).
   */
  async evaluate(plan: PerformancePlan, group: TouchedGroup, model: { task: ModelTask | null; testMetrics: Record<string, number> }, nowMs: number): Promise<{ state: PerformanceState; previous: PerformanceStatus | null; newestJoinedTs: number | null }> {
    const stored = await this.#db.all<{ ts: number; output: number; label: number }>(
      'SELECT ts, output, label FROM perf_predictions WHERE fleet = ? AND device = ? AND model = ? AND version = ? AND label IS NOT NULL ORDER BY ts DESC LIMIT ?',
      [group.fleet, group.device, group.model, group.version, this.#p.windowSize],
    );
    const byTs = new Map(stored.map((r) => [r.ts, r]));
    let newestJoinedTs: number | null = null;
    for (const [ts, rows] of plan.devices.get(deviceKey(group.fleet, group.device))?.predictions ?? []) {
      for (const r of rows) {
        if (r.model !== group.model || r.version !== group.version || r.label === null || (r.stored && !r.joinedNow)) continue;
        byTs.set(ts, { ts, output: r.output, label: r.label });
        newestJoinedTs = Math.max(newestJoinedTs ?? ts, ts);
      }
    }
    const rows = [...byTs.values()].sort((a, b) => b.ts - a.ts).slice(0, this.#p.windowSize);
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
    plan.states.push(state);
    return { state, previous: plan.previous.get(groupKey(group)) ?? null, newestJoinedTs };
  }

  /**
   * Appends the plan's writes to the caller's batch: new predictions (with their label when this batch
   * joined them), labels of stored predictions, pending labels added and taken, the evaluated states,
   * and (at most every minute) the expiry of old pending labels and predictions. Every insert is
   * ON CONFLICT DO NOTHING and every join `WHERE label IS NULL`: a batch written twice changes nothing.
   */
  write(plan: PerformancePlan, batch: Pick<SqlBatch, 'add'>): void {
    const inserted = [...plan.devices.values()].flatMap((d) => [...d.predictions.values()].flat().filter((r) => !r.stored).map((r) => ({ d, r })));
    for (const part of chunks(inserted)) {
      batch.add(
        `INSERT INTO perf_predictions (fleet, device, ts, model, version, output, proba, label, received_at, joined_at) VALUES ${part.map(() => ROW10).join(', ')} ON CONFLICT DO NOTHING`,
        part.flatMap(({ d, r }) => [d.fleet, d.device, r.ts, r.model, r.version, r.output, r.proba, r.label, r.receivedAtMs, r.joinedAtMs]),
      );
    }
    for (const d of plan.devices.values()) {
      const rows = [...d.predictions.values()].flat();
      // Labels of stored predictions, grouped by value (classes are few): one UPDATE per label value and chunk.
      const joins = new Map<string, { label: number; joinedAtMs: number; ts: number[] }>();
      for (const r of rows) {
        if (!r.joinedNow) continue;
        const k = `${r.label}\u0000${r.joinedAtMs}`;
        const j = joins.get(k) ?? { label: r.label!, joinedAtMs: r.joinedAtMs!, ts: [] };
        if (!j.ts.includes(r.ts)) j.ts.push(r.ts);
        joins.set(k, j);
      }
      for (const j of joins.values()) {
        for (const part of chunks(j.ts)) {
          batch.add(`UPDATE perf_predictions SET label = ?, joined_at = ? WHERE fleet = ? AND device = ? AND ts IN ${placeholders(part.length)} AND label IS NULL`, [j.label, j.joinedAtMs, d.fleet, d.device, ...part]);
        }
      }
      for (const part of chunks(d.taken)) batch.add(`DELETE FROM perf_labels WHERE fleet = ? AND device = ? AND ts IN ${placeholders(part.length)}`, [d.fleet, d.device, ...part]);
      const added = [...d.pending.entries()].filter(([, l]) => !l.stored);
      for (const part of chunks(added)) {
        batch.add(
          `INSERT INTO perf_labels (fleet, device, ts, label, received_at) VALUES ${part.map(() => placeholders(5)).join(', ')} ON CONFLICT DO NOTHING`,
          part.flatMap(([ts, l]) => [d.fleet, d.device, ts, l.label, l.receivedAtMs]),
        );
      }
    }
    // One state per group (touched groups are distinct): a multi-row upsert never updates a row twice.
    for (const part of chunks(plan.states)) {
      batch.add(
        `INSERT INTO perf_state (fleet, device, model, version, task, samples, accuracy, f1, mse, baseline, status, reasons, updated_at) VALUES ${part.map(() => placeholders(13)).join(', ')}
         ON CONFLICT (fleet, device, model, version) DO UPDATE SET task = excluded.task, samples = excluded.samples, accuracy = excluded.accuracy, f1 = excluded.f1,
           mse = excluded.mse, baseline = excluded.baseline, status = excluded.status, reasons = excluded.reasons, updated_at = excluded.updated_at`,
        part.flatMap((s) => [s.fleet, s.device, s.model, s.version, s.task, s.samples, s.accuracy, s.f1, s.mse, s.baseline, s.status, JSON.stringify(s.reasons), s.updatedAtMs]),
      );
    }
    if (plan.devices.size > 0 && plan.latestMs - this.#lastPruneMs >= PRUNE_EVERY_MS) {
      plan.prune = {
        labels: batch.add('DELETE FROM perf_labels WHERE received_at < ?', [plan.latestMs - this.#p.pendingLabelTtlMs]),
        predictions: batch.add('DELETE FROM perf_predictions WHERE received_at < ?', [plan.latestMs - this.#p.predictionRetentionMs]),
      };
    }
  }

  /** After the caller's batch committed: adds the plan's events to the counters. */
  committed(plan: PerformancePlan, counts: readonly number[]): void {
    for (const [k, v] of Object.entries(plan.counters) as [keyof PerformancePlan['counters'], number][]) this.#counters[k] += v;
    if (plan.prune) {
      this.#lastPruneMs = plan.latestMs;
      this.#counters.expiredLabels += counts[plan.prune.labels] ?? 0;
    }
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

  async states(options: { fleet?: string; device?: string } = {}): Promise<PerformanceState[]> {
    const clauses: string[] = [];
    const params: string[] = [];
    if (options.fleet !== undefined) { clauses.push('fleet = ?'); params.push(options.fleet); }
    if (options.device !== undefined) { clauses.push('device = ?'); params.push(options.device); }
    const rows = await this.#db.all<StateRow>(`SELECT * FROM perf_state ${clauses.length ? 'WHERE ' + clauses.join(' AND ') : ''} ORDER BY fleet, device, model, version`, params);
    return rows.map((r) => ({
      fleet: r.fleet, device: r.device, model: r.model, version: r.version, task: r.task, samples: r.samples, accuracy: r.accuracy, f1: r.f1, mse: r.mse,
      baseline: r.baseline, status: r.status, reasons: JSON.parse(r.reasons) as string[], updatedAtMs: r.updated_at,
    }));
  }

  /** Labels still waiting for their prediction. */
  async pendingLabels(): Promise<number> {
    return (await this.#db.get<{ n: number }>('SELECT CAST(count(*) AS INTEGER) AS n FROM perf_labels'))?.n ?? 0;
  }

  /** Labelled predictions of a model version in a fleet that arrived since `sinceMs`, and how many were right (the retraining live watch). */
  async labelled(fleet: string, model: string, version: number, sinceMs: number): Promise<{ samples: number; correct: number }> {
    const row = await this.#db.get<{ samples: number; correct: number | null }>(
      `SELECT CAST(count(*) AS INTEGER) AS samples, CAST(sum(CASE WHEN output = label THEN 1 ELSE 0 END) AS INTEGER) AS correct
       FROM perf_predictions WHERE fleet = ? AND model = ? AND version = ? AND label IS NOT NULL AND received_at >= ?`,
      [fleet, model, version, sinceMs],
    );
    return { samples: row?.samples ?? 0, correct: row?.correct ?? 0 };
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
