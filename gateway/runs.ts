/**
 * Training runs and their hyper-parameter trials, in the gateway's database (its SQLite file, or the
 * PostgreSQL that scaled-out gateways share, through gateway/sql.ts). A run records what was
 * trained (model kind, params), on what (dataset name and hash, pipeline spec hash), by which code
 * (git commit, else package version), how long it took and how it scored on each named split
 * (train, val, test, test1, test2, …), and optionally the evaluation report (opaque JSON) to show again.
 * Trials are stored as they finish, so an interrupted search resumes from `trials(runId)`.
 * Runs stored before splits were named folded extra test splits into `test` as `<split>_<metric>`;
 * they are unfolded on read (see unfoldLegacyMetrics), so old and new runs compare side by side.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { EdgeloopError } from '../src/errors.ts';
import { canonicalJson } from '../src/pipeline/hash.ts';
import type { SqliteDatabase } from '../io/sqlite.ts';
import { createTables, isUniqueViolation, sqliteSql, type SqlDb } from './sql.ts';

export const RUN_STATUSES = ['running', 'completed', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** The splits every dataset may have, listed first; any other split name is allowed too. */
export const METRIC_SPLITS = ['train', 'val', 'test'] as const;
export type MetricSplit = string;
/** Split name → metric name → value. */
export type SplitMetrics = Record<string, Record<string, number>>;
const SPLIT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Metric names the pre-named-splits CLI wrote (models/training.ts measure()): the suffixes unfolded. */
const LEGACY_METRICS = ['accuracy', 'f1_macro', 'f1_weighted', 'roc_auc', 'mse', 'rmse', 'mae', 'r2'] as const;

/** train, val, test first, then the other splits by name. */
export function orderSplits(names: Iterable<string>): string[] {
  const all = [...new Set(names)];
  const rank = (n: string): number => { const i = (METRIC_SPLITS as readonly string[]).indexOf(n); return i < 0 ? METRIC_SPLITS.length : i; };
  return all.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Old runs stored `{ test: { test1_accuracy: … } }` for a split named test1; this moves such keys back
 * to their split (`{ test1: { accuracy: … } }`). Keys that are not `<split>_<known metric>` stay put.
 */
export function unfoldLegacyMetrics(metrics: SplitMetrics): SplitMetrics {
  const test = metrics.test;
  if (!test) return metrics;
  const out: SplitMetrics = {};
  for (const [split, m] of Object.entries(metrics)) if (split !== 'test') out[split] = { ...m };
  const kept: Record<string, number> = {};
  for (const [key, v] of Object.entries(test)) {
    const metric = LEGACY_METRICS.find((name) => key.endsWith(`_${name}`) && key.length > name.length + 1);
    const split = metric ? key.slice(0, key.length - metric.length - 1) : undefined;
    if (metric && split && SPLIT_PATTERN.test(split) && !(METRIC_SPLITS as readonly string[]).includes(split)) out[split] = { ...(out[split] ?? {}), [metric]: v };
    else kept[key] = v;
  }
  if (Object.keys(kept).length > 0) out.test = kept;
  return Object.fromEntries(orderSplits(Object.keys(out)).map((k) => [k, out[k]!]));
}

export interface RunInput {
  modelKind: string;
  params?: Record<string, unknown>;
  dataset?: string;
  datasetHash?: string;
  specHash?: string;
  /** Defaults to the store's code version (git commit, else package version). */
  codeVersion?: string;
  /** Defaults to a generated id. */
  id?: string;
}

export interface RunRecord {
  id: string;
  modelKind: string;
  params: Record<string, unknown>;
  dataset: string | null;
  datasetHash: string | null;
  specHash: string | null;
  metrics: SplitMetrics;
  /** The evaluation report stored with the run (JSON), null when none was. */
  report: Record<string, unknown> | null;
  durationMs: number | null;
  codeVersion: string;
  status: RunStatus;
  error: string | null;
  createdAtMs: number;
  finishedAtMs: number | null;
  trialCount: number;
}

export interface TrialInput {
  /** Trial number within the run (0-based or 1-based, the caller's choice; unique per run). */
  trial: number;
  params: Record<string, unknown>;
  metrics: Record<string, number>;
  /** The search objective when it is not one of the metrics. */
  score?: number;
  durationMs: number;
}

export interface TrialRecord extends TrialInput {
  runId: string;
  createdAtMs: number;
}

export interface RunComparison {
  runs: { id: string; modelKind: string; dataset: string | null; status: RunStatus; durationMs: number | null }[];
  /** Every split seen in any run, train/val/test first. */
  splits: string[];
  /** One row per `split.metric` seen in any run (by split, then metric); null where a run lacks it. */
  metrics: { name: string; split: string; metric: string; values: (number | null)[] }[];
  /** One row per parameter seen in any run, values as canonical JSON; null where a run lacks it. */
  params: { name: string; values: (string | null)[] }[];
}

export interface RunStoreOptions {
  /** The database: `sql` (SQLite or PostgreSQL), or a SQLite handle (`database`, the CLI's). */
  sql?: SqlDb;
  database?: SqliteDatabase;
  now?: () => number;
  newId?: () => string;
  /** Defaults to detectCodeVersion(process.cwd()). */
  codeVersion?: string;
}

/**
 * Both dialects through createTables ({time}); DOUBLE PRECISION because PostgreSQL's REAL is single
 * precision (SQLite gives it REAL affinity, as the files written before held). Runs created in the same
 * millisecond are listed in insertion order: SQLite's rowid, a `seq` identity column on PostgreSQL.
 */
const schema = (dialect: SqlDb['dialect']): string => `
CREATE TABLE IF NOT EXISTS training_runs (
  id TEXT PRIMARY KEY, model_kind TEXT NOT NULL, params TEXT NOT NULL, dataset TEXT, dataset_hash TEXT, spec_hash TEXT,
  metrics TEXT NOT NULL, duration_ms DOUBLE PRECISION, code_version TEXT NOT NULL, status TEXT NOT NULL, error TEXT,
  created_at {time} NOT NULL, finished_at {time}, report TEXT${dialect === 'postgres' ? ', seq BIGINT GENERATED ALWAYS AS IDENTITY' : ''}
);
CREATE INDEX IF NOT EXISTS training_runs_by_time ON training_runs (created_at);
CREATE TABLE IF NOT EXISTS training_trials (
  run_id TEXT NOT NULL REFERENCES training_runs (id), trial INTEGER NOT NULL, params TEXT NOT NULL, metrics TEXT NOT NULL,
  score DOUBLE PRECISION, duration_ms DOUBLE PRECISION NOT NULL, created_at {time} NOT NULL, PRIMARY KEY (run_id, trial)
);
`;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

interface RunRow {
  id: string; model_kind: string; params: string; dataset: string | null; dataset_hash: string | null; spec_hash: string | null; metrics: string;
  duration_ms: number | null; code_version: string; status: RunStatus; error: string | null; created_at: number; finished_at: number | null; trial_count: number;
  report: string | null;
}

interface TrialRow { run_id: string; trial: number; params: string; metrics: string; score: number | null; duration_ms: number; created_at: number }

/** `run-20240131-142501-3fa9c2`: sortable by time, unique enough for one gateway. */
export function defaultRunId(nowMs: number): string {
  const iso = new Date(nowMs).toISOString();
  return `run-${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}-${randomBytes(3).toString('hex')}`;
}

/**
 * The commit checked out in the git work tree containing `cwd` (read from .git without running git),
 * else the version in the nearest package.json, else 'unknown'.
 */
export function detectCodeVersion(cwd: string): string {
  let packageVersion: string | undefined;
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.git'))) {
      const commit = gitCommit(join(dir, '.git'));
      if (commit) return commit;
    }
    if (packageVersion === undefined && existsSync(join(dir, 'package.json'))) {
      try {
        const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: unknown }).version;
        if (typeof version === 'string') packageVersion = version;
      } catch {
        // an unreadable package.json is no reason to fail a training run
      }
    }
    if (dirname(dir) === dir) return packageVersion ?? 'unknown';
  }
}

function gitCommit(gitPath: string): string | undefined {
  try {
    let gitDir = gitPath;
    if (statSync(gitPath).isFile()) {
      // A worktree or submodule: ".git" is a file "gitdir: <path>".
      const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(gitPath, 'utf8'));
      if (!m) return undefined;
      gitDir = resolve(dirname(gitPath), m[1]!.trim());
    }
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    if (/^[0-9a-f]{40}$/.test(head)) return head;
    const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
    if (!ref) return undefined;
    // Linked worktrees keep shared refs in the common dir.
    const common = existsSync(join(gitDir, 'commondir')) ? resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim()) : gitDir;
    for (const base of [gitDir, common]) {
      const loose = join(base, ref);
      if (existsSync(loose)) return readFileSync(loose, 'utf8').trim();
      const packed = join(base, 'packed-refs');
      if (existsSync(packed)) {
        const line = readFileSync(packed, 'utf8').split('\n').find((l) => l.endsWith(` ${ref}`));
        if (line) return line.slice(0, 40);
      }
    }
  } catch {
    // fall through to the package version
  }
  return undefined;
}

function assertObject(what: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new EdgeloopError('BAD_ARGUMENT', `${what} must be an object, got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`);
  return v as Record<string, unknown>;
}

function assertJsonObject(what: string, v: unknown): Record<string, unknown> {
  assertObject(what, v);
  try {
    canonicalJson(v);
  } catch (err) {
    throw new EdgeloopError('BAD_ARGUMENT', `${what} must be plain JSON: ${(err as Error).message}`);
  }
  return v as Record<string, unknown>;
}

function assertMetrics(what: string, v: unknown): Record<string, number> {
  const o = assertObject(what, v);
  for (const [k, x] of Object.entries(o)) {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new EdgeloopError('BAD_ARGUMENT', `${what}.${k} must be a finite number, got ${typeof x === 'number' ? x : typeof x}`);
  }
  return o as Record<string, number>;
}

function assertSplitMetrics(v: unknown): SplitMetrics {
  const o = assertObject('metrics', v);
  for (const [split, m] of Object.entries(o)) {
    if (!SPLIT_PATTERN.test(split)) throw new EdgeloopError('BAD_ARGUMENT', `metrics.${split}: a split name must be 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit`);
    assertMetrics(`metrics.${split}`, m);
  }
  return o as SplitMetrics;
}

function reportJson(v: unknown): string | null {
  if (v === undefined) return null;
  const o = assertJsonObject('report', v);
  const text = JSON.stringify(o);
  if (text.length > 4_000_000) throw new EdgeloopError('BAD_ARGUMENT', `report must be at most 4000000 characters of JSON, got ${text.length}`);
  return text;
}

function assertDuration(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new EdgeloopError('BAD_ARGUMENT', `${what} must be a finite number of milliseconds >= 0, got ${String(v)}`);
  return v;
}

function optionalText(what: string, v: unknown): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw new EdgeloopError('BAD_ARGUMENT', `${what} must be a string of 1-256 characters`);
  return v;
}

export class RunStore {
  readonly #db: SqlDb;
  readonly #now: () => number;
  readonly #newId: () => string;
  readonly #codeVersion: string;

  private constructor(db: SqlDb, options: RunStoreOptions, codeVersion: string) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#newId = options.newId ?? (() => defaultRunId(this.#now()));
    this.#codeVersion = codeVersion;
  }

  static async create(options: RunStoreOptions): Promise<RunStore> {
    const db = options.sql ?? (options.database ? sqliteSql(options.database) : undefined);
    if (!db) throw new EdgeloopError('BAD_ARGUMENT', 'RunStore needs a database: sql (SQLite or PostgreSQL) or a SQLite handle');
    await createTables(db, 'training-runs', schema(db.dialect));
    if (db.dialect === 'sqlite') {
      // Files written before reports were stored lack the column; add it (NULL for old runs).
      const columns = await db.all<{ name: string }>("SELECT name FROM pragma_table_info('training_runs')");
      if (!columns.some((c) => c.name === 'report')) await db.exec('ALTER TABLE training_runs ADD COLUMN report TEXT');
    }
    return new RunStore(db, options, options.codeVersion ?? detectCodeVersion(process.cwd()));
  }

  get codeVersion(): string {
    return this.#codeVersion;
  }

  /** Records a run that has started (status 'running'). */
  async start(input: RunInput): Promise<RunRecord> {
    return this.#get(await this.#insertRun(input));
  }

  async #insertRun(input: RunInput): Promise<string> {
    const id = input.id ?? this.#newId();
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw new EdgeloopError('BAD_ARGUMENT', `run id ${JSON.stringify(id)} must be 1-128 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit`);
    if (typeof input.modelKind !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(input.modelKind)) {
      throw new EdgeloopError('BAD_ARGUMENT', `modelKind ${JSON.stringify(input.modelKind)} must be 1-64 characters of A-Z a-z 0-9 _ -`);
    }
    const params = assertJsonObject('params', input.params ?? {});
    const dataset = optionalText('dataset', input.dataset);
    const datasetHash = optionalText('datasetHash', input.datasetHash);
    const specHash = optionalText('specHash', input.specHash);
    const codeVersion = optionalText('codeVersion', input.codeVersion) ?? this.#codeVersion;
    try {
      await this.#db.run(
        `INSERT INTO training_runs (id, model_kind, params, dataset, dataset_hash, spec_hash, metrics, duration_ms, code_version, status, error, created_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, '{}', NULL, ?, 'running', NULL, ?, NULL)`,
        [id, input.modelKind, JSON.stringify(params), dataset, datasetHash, specHash, codeVersion, this.#now()],
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new EdgeloopError('BAD_ARGUMENT', `run ${id} already exists`, { cause: err });
      throw new EdgeloopError('STORE', `cannot record run ${id}: ${(err as Error).message}`, { cause: err });
    }
    return id;
  }

  /** Marks a running run completed with its metrics. */
  async finish(id: string, result: { metrics: SplitMetrics; durationMs: number; report?: Record<string, unknown> }): Promise<RunRecord> {
    const metrics = assertSplitMetrics(result.metrics);
    const durationMs = assertDuration('durationMs', result.durationMs);
    const report = reportJson(result.report);
    await this.#transition(id, "UPDATE training_runs SET status = 'completed', metrics = ?, duration_ms = ?, finished_at = ?, report = ? WHERE id = ? AND status = 'running'", [JSON.stringify(metrics), durationMs, this.#now(), report, id]);
    return this.#get(id);
  }

  /** Marks a running run failed, keeping the reason. */
  async fail(id: string, failure: { error: string; durationMs?: number }): Promise<RunRecord> {
    if (typeof failure.error !== 'string' || failure.error.length === 0) throw new EdgeloopError('BAD_ARGUMENT', 'fail: error must be a non-empty string saying why the run failed');
    const durationMs = failure.durationMs === undefined ? null : assertDuration('durationMs', failure.durationMs);
    await this.#transition(id, "UPDATE training_runs SET status = 'failed', error = ?, duration_ms = ?, finished_at = ? WHERE id = ? AND status = 'running'", [failure.error.slice(0, 4096), durationMs, this.#now(), id]);
    return this.#get(id);
  }

  /** A finished run in one call (start + finish, one transaction). */
  async record(input: RunInput & { metrics: SplitMetrics; durationMs: number; report?: Record<string, unknown> }): Promise<RunRecord> {
    const metrics = assertSplitMetrics(input.metrics);
    const durationMs = assertDuration('durationMs', input.durationMs);
    const report = reportJson(input.report);
    const id = await this.#db.transaction(async () => {
      const runId = await this.#insertRun(input);
      await this.#db.run("UPDATE training_runs SET status = 'completed', metrics = ?, duration_ms = ?, finished_at = ?, report = ? WHERE id = ?", [JSON.stringify(metrics), durationMs, this.#now(), report, runId]);
      return runId;
    });
    return this.#get(id);
  }

  /** A compare-and-set from running: when no row changed, says whether the run is missing or no longer running. */
  async #transition(id: string, update: string, params: (string | number | null)[]): Promise<void> {
    if ((await this.#db.run(update, params)) === 1) return;
    const row = await this.#db.get<{ status: RunStatus }>('SELECT status FROM training_runs WHERE id = ?', [id]);
    if (row === undefined) throw new EdgeloopError('NOT_FOUND', `run ${id} not found`);
    throw new EdgeloopError('BAD_ARGUMENT', `run ${id} is ${row.status}, not running`);
  }

  /** Stores one finished trial; a trial number is recorded once per run. */
  async addTrial(runId: string, trial: TrialInput): Promise<TrialRecord> {
    if (!Number.isInteger(trial.trial) || trial.trial < 0) throw new EdgeloopError('BAD_ARGUMENT', `trial number must be an integer >= 0, got ${trial.trial}`);
    const params = assertJsonObject('trial params', trial.params);
    const metrics = assertMetrics('trial metrics', trial.metrics);
    const durationMs = assertDuration('trial durationMs', trial.durationMs);
    if (trial.score !== undefined && !Number.isFinite(trial.score)) throw new EdgeloopError('BAD_ARGUMENT', `trial score must be a finite number, got ${trial.score}`);
    const createdAtMs = this.#now();
    if ((await this.#db.get('SELECT 1 AS one FROM training_runs WHERE id = ?', [runId])) === undefined) throw new EdgeloopError('NOT_FOUND', `run ${runId} not found`);
    try {
      await this.#db.run('INSERT INTO training_trials (run_id, trial, params, metrics, score, duration_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [runId, trial.trial, JSON.stringify(params), JSON.stringify(metrics), trial.score ?? null, durationMs, createdAtMs]);
    } catch (err) {
      if (isUniqueViolation(err)) throw new EdgeloopError('BAD_ARGUMENT', `trial ${trial.trial} of run ${runId} is already recorded`, { cause: err });
      throw err;
    }
    const rec: TrialRecord = { runId, trial: trial.trial, params, metrics, durationMs, createdAtMs };
    if (trial.score !== undefined) rec.score = trial.score;
    return rec;
  }

  /** Trials of a run in trial order (what a resumed search skips). */
  async trials(runId: string): Promise<TrialRecord[]> {
    await this.#get(runId);
    const rows = await this.#db.all<TrialRow>('SELECT * FROM training_trials WHERE run_id = ? ORDER BY trial', [runId]);
    return rows.map((r) => {
      const rec: TrialRecord = { runId: r.run_id, trial: r.trial, params: JSON.parse(r.params) as Record<string, unknown>, metrics: JSON.parse(r.metrics) as Record<string, number>, durationMs: r.duration_ms, createdAtMs: Number(r.created_at) };
      if (r.score !== null) rec.score = r.score;
      return rec;
    });
  }

  #select(where: string): string {
    return `SELECT r.*, (SELECT count(*) FROM training_trials t WHERE t.run_id = r.id) AS trial_count FROM training_runs r ${where}`;
  }

  #toRecord(r: RunRow): RunRecord {
    return {
      id: r.id, modelKind: r.model_kind, params: JSON.parse(r.params) as Record<string, unknown>, dataset: r.dataset, datasetHash: r.dataset_hash, specHash: r.spec_hash,
      metrics: unfoldLegacyMetrics(JSON.parse(r.metrics) as SplitMetrics), report: r.report === null ? null : (JSON.parse(r.report) as Record<string, unknown>), durationMs: r.duration_ms, codeVersion: r.code_version, status: r.status, error: r.error,
      createdAtMs: Number(r.created_at), finishedAtMs: r.finished_at === null ? null : Number(r.finished_at), trialCount: Number(r.trial_count),
    };
  }

  async #get(id: string): Promise<RunRecord> {
    const row = await this.#db.get<RunRow>(this.#select('WHERE r.id = ?'), [id]);
    if (row === undefined) throw new EdgeloopError('NOT_FOUND', `run ${JSON.stringify(id)} not found`);
    return this.#toRecord(row);
  }

  async show(id: string): Promise<RunRecord & { trials: TrialRecord[] }> {
    const run = await this.#get(id);
    return { ...run, trials: await this.trials(id) };
  }

  /** Runs, newest first. */
  async list(filter: { modelKind?: string; dataset?: string; status?: RunStatus; limit?: number } = {}): Promise<RunRecord[]> {
    const clauses: string[] = [];
    const params: (string | number)[] = [];
    if (filter.modelKind !== undefined) { clauses.push('r.model_kind = ?'); params.push(filter.modelKind); }
    if (filter.dataset !== undefined) { clauses.push('r.dataset = ?'); params.push(filter.dataset); }
    if (filter.status !== undefined) {
      if (!RUN_STATUSES.includes(filter.status)) throw new EdgeloopError('BAD_ARGUMENT', `status must be one of ${RUN_STATUSES.join(', ')}, got ${JSON.stringify(filter.status)}`);
      clauses.push('r.status = ?');
      params.push(filter.status);
    }
    const limit = filter.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new EdgeloopError('BAD_ARGUMENT', `limit must be an integer in 1..100000, got ${limit}`);
    params.push(limit);
    const seq = this.#db.dialect === 'sqlite' ? 'r.rowid' : 'r.seq';
    const rows = await this.#db.all<RunRow>(this.#select(`${clauses.length ? 'WHERE ' + clauses.join(' AND ') : ''} ORDER BY r.created_at DESC, ${seq} DESC LIMIT ?`), params);
    return rows.map((r) => this.#toRecord(r));
  }

  /** Side-by-side metrics and params of runs, in the order given. */
  async compare(ids: readonly string[]): Promise<RunComparison> {
    if (ids.length < 2) throw new EdgeloopError('BAD_ARGUMENT', `compare needs at least 2 run ids, got ${ids.length}`);
    const runs = await Promise.all(ids.map((id) => this.#get(id)));
    const splits = orderSplits(runs.flatMap((r) => Object.keys(r.metrics)));
    const rows: RunComparison['metrics'] = [];
    for (const split of splits) {
      const names = new Set<string>();
      for (const r of runs) for (const k of Object.keys(r.metrics[split] ?? {})) names.add(k);
      for (const metric of names) rows.push({ name: `${split}.${metric}`, split, metric, values: runs.map((r) => r.metrics[split]?.[metric] ?? null) });
    }
    const paramNames = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
    return {
      runs: runs.map((r) => ({ id: r.id, modelKind: r.modelKind, dataset: r.dataset, status: r.status, durationMs: r.durationMs })),
      splits,
      metrics: rows,
      params: paramNames.map((name) => ({ name, values: runs.map((r) => (name in r.params ? canonicalJson(r.params[name]) : null)) })),
    };
  }
}
