/**
 * Retraining jobs in the gateway's SQLite file (table retrain_jobs), and their state machine:
 *
 *   pending-approval ─approve→ training → evaluating → rejected(reason)
 *        │ reject                   ↑ ↓             └→ rolling-out → promoted | rolled-back(reason)
 *        └→ rejected(reason)    waiting-data        any non-terminal state → failed(error)
 *
 * waiting-data: the fleet's recent labelled data spans less than the policy's `minRecentSpanMs`
 * (a job opened by the first alert after a change would otherwise train on a few hours); the watch
 * moves it back to training once enough has arrived, or fails it after `dataWaitTimeoutMs`.
 *
 * One open (non-terminal) job per model; the cooldown is judged by the service from `lastCreatedAtMs`.
 */
import { randomUUID } from 'node:crypto';
import { EdgeloopError } from '../src/errors.ts';
import type { SqliteDatabase } from '../io/sqlite.ts';

export const RETRAIN_STATES = ['pending-approval', 'waiting-data', 'training', 'evaluating', 'rejected', 'rolling-out', 'promoted', 'rolled-back', 'failed'] as const;
export type RetrainState = (typeof RETRAIN_STATES)[number];
export const OPEN_STATES: readonly RetrainState[] = ['pending-approval', 'waiting-data', 'training', 'evaluating', 'rolling-out'];

/** Allowed moves of the job state machine (shared with the asynchronous store, gateway/retrain-jobs.ts). */
export const TRANSITIONS: Record<RetrainState, readonly RetrainState[]> = {
  'pending-approval': ['training', 'rejected', 'failed'],
  'waiting-data': ['training', 'rejected', 'failed'],
  training: ['waiting-data', 'evaluating', 'rejected', 'failed'],
  evaluating: ['rejected', 'rolling-out', 'failed'],
  'rolling-out': ['promoted', 'rolled-back', 'failed'],
  rejected: [],
  promoted: [],
  'rolled-back': [],
  failed: [],
};

export type RetrainTrigger =
  | { kind: 'alert'; alertId: number; alertKind: string; device: string; message: string }
  | { kind: 'schedule'; everyMs: number }
  | { kind: 'manual'; by: string };

/** Holdout figures of the candidate and the current model on the same recent rows. */
export interface RetrainEvaluation {
  metric: 'accuracy' | 'rmse';
  candidate: number;
  current: number;
  /** Rows of the recent holdout both models were scored on. */
  holdoutRows: number;
  trainRows: number;
  /** Data time range of the recent window [fromMs, toMs) and where the holdout starts. */
  windowFromMs: number;
  holdoutFromMs: number;
  windowToMs: number;
  minGain: number;
}

/** What the live watch saw when it decided. */
export interface RetrainLive {
  candidate: { samples: number; accuracy: number | null };
  current: { samples: number; accuracy: number | null };
  decidedBy: 'labels' | 'no-labels-policy' | 'rollout';
}

export interface RetrainJob {
  id: string;
  model: string;
  fleet: string;
  trigger: RetrainTrigger;
  state: RetrainState;
  /** Why the job ended as it did (rejected, rolled-back, failed) or what it waits for. */
  reason: string | null;
  currentVersion: number | null;
  candidateVersion: number | null;
  runId: string | null;
  evaluation: RetrainEvaluation | null;
  rolloutId: string | null;
  live: RetrainLive | null;
  createdAtMs: number;
  updatedAtMs: number;
  finishedAtMs: number | null;
  /** When the rollout started (the live watch counts labels from here). */
  rolloutStartedAtMs: number | null;
}

export const RETRAIN_JOBS_SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS retrain_jobs (
  id TEXT PRIMARY KEY, model TEXT NOT NULL, fleet TEXT NOT NULL, trigger TEXT NOT NULL, state TEXT NOT NULL, reason TEXT,
  current_version INTEGER, candidate_version INTEGER, run_id TEXT, evaluation TEXT, rollout_id TEXT, live TEXT,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, finished_at INTEGER, rollout_started_at INTEGER
);
CREATE INDEX IF NOT EXISTS retrain_jobs_by_model ON retrain_jobs (model, created_at);
`;

export interface RetrainJobRow {
  id: string; model: string; fleet: string; trigger: string; state: RetrainState; reason: string | null; current_version: number | null; candidate_version: number | null;
  run_id: string | null; evaluation: string | null; rollout_id: string | null; live: string | null; created_at: number; updated_at: number; finished_at: number | null; rollout_started_at: number | null;
}

export const toJob = (r: RetrainJobRow): RetrainJob => ({
  id: r.id, model: r.model, fleet: r.fleet, trigger: JSON.parse(r.trigger) as RetrainTrigger, state: r.state, reason: r.reason,
  currentVersion: r.current_version, candidateVersion: r.candidate_version, runId: r.run_id,
  evaluation: r.evaluation === null ? null : (JSON.parse(r.evaluation) as RetrainEvaluation), rolloutId: r.rollout_id,
  live: r.live === null ? null : (JSON.parse(r.live) as RetrainLive), createdAtMs: r.created_at, updatedAtMs: r.updated_at, finishedAtMs: r.finished_at,
  rolloutStartedAtMs: r.rollout_started_at,
});

export type JobUpdate = Partial<Pick<RetrainJob, 'reason' | 'currentVersion' | 'candidateVersion' | 'runId' | 'evaluation' | 'rolloutId' | 'live' | 'rolloutStartedAtMs'>>;

export const COLUMNS: Record<keyof JobUpdate, string> = {
  reason: 'reason', currentVersion: 'current_version', candidateVersion: 'candidate_version', runId: 'run_id', evaluation: 'evaluation',
  rolloutId: 'rollout_id', live: 'live', rolloutStartedAtMs: 'rollout_started_at',
};

export class RetrainStore {
  readonly #db: SqliteDatabase;
  readonly #newId: () => string;

  private constructor(db: SqliteDatabase, newId: () => string) {
    this.#db = db;
    this.#newId = newId;
  }

  static async create(database: SqliteDatabase, options: { newId?: () => string } = {}): Promise<RetrainStore> {
    database.exec(RETRAIN_JOBS_SQLITE_SCHEMA);
    return new RetrainStore(database, options.newId ?? (() => `rt-${randomUUID().slice(0, 8)}`));
  }

  /** Opens a job unless one is open for the model (returned as `open` instead). Atomic. */
  open(input: { model: string; fleet: string; trigger: RetrainTrigger; state: 'pending-approval' | 'training'; nowMs: number; reason?: string }): { job: RetrainJob; created: boolean } {
    return this.#db.transaction(() => {
      const existing = this.openFor(input.model);
      if (existing) return { job: existing, created: false };
      const id = this.#newId();
      this.#db.prepare('INSERT INTO retrain_jobs (id, model, fleet, trigger, state, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(id, input.model, input.fleet, JSON.stringify(input.trigger), input.state, input.reason ?? null, input.nowMs, input.nowMs);
      return { job: this.get(id)!, created: true };
    }).immediate();
  }

  openFor(model: string): RetrainJob | null {
    const marks = OPEN_STATES.map(() => '?').join(', ');
    const row = this.#db.prepare(`SELECT * FROM retrain_jobs WHERE model = ? AND state IN (${marks}) ORDER BY created_at DESC LIMIT 1`).get(model, ...OPEN_STATES) as RetrainJobRow | undefined;
    return row ? toJob(row) : null;
  }

  /** Creation time of the model's newest job (any state), for the cooldown. */
  lastCreatedAtMs(model: string): number | null {
    return (this.#db.prepare('SELECT max(created_at) FROM retrain_jobs WHERE model = ?').pluck().get(model) as number | null) ?? null;
  }

  get(id: string): RetrainJob | null {
    const row = this.#db.prepare('SELECT * FROM retrain_jobs WHERE id = ?').get(id) as RetrainJobRow | undefined;
    return row ? toJob(row) : null;
  }

  mustGet(id: string): RetrainJob {
    const job = this.get(id);
    if (!job) throw new EdgeloopError('NOT_FOUND', `no retraining job ${JSON.stringify(id)} (see 'edgeloop retrain list')`);
    return job;
  }

  list(filter: { model?: string; state?: RetrainState; limit?: number } = {}): RetrainJob[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.model !== undefined) { where.push('model = ?'); args.push(filter.model); }
    if (filter.state !== undefined) { where.push('state = ?'); args.push(filter.state); }
    const sql = `SELECT * FROM retrain_jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id LIMIT ?`;
    return (this.#db.prepare(sql).all(...args, filter.limit ?? 100) as RetrainJobRow[]).map(toJob);
  }

  countsByState(): Record<RetrainState, number> {
    const out = Object.fromEntries(RETRAIN_STATES.map((s) => [s, 0])) as Record<RetrainState, number>;
    for (const r of this.#db.prepare('SELECT state, count(*) AS n FROM retrain_jobs GROUP BY state').all() as { state: RetrainState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  /** Moves a job along the state machine (BAD_ARGUMENT for an illegal move) and applies `update`. */
  transition(id: string, to: RetrainState, nowMs: number, update: JobUpdate = {}): RetrainJob {
    return this.#db.transaction(() => {
      const job = this.mustGet(id);
      if (!TRANSITIONS[job.state].includes(to)) {
        throw new EdgeloopError('BAD_ARGUMENT', `retraining job ${id} is ${job.state}: it cannot become ${to} (allowed: ${TRANSITIONS[job.state].join(', ') || 'none, it is finished'})`);
      }
      const terminal = !OPEN_STATES.includes(to);
      this.#update(id, nowMs, update, { state: to, ...(terminal ? { finished_at: nowMs } : {}) });
      return this.get(id)!;
    }).immediate();
  }

  /** Changes fields without a state change. */
  update(id: string, nowMs: number, update: JobUpdate): RetrainJob {
    this.#update(id, nowMs, update, {});
    return this.mustGet(id);
  }

  #update(id: string, nowMs: number, update: JobUpdate, extra: Record<string, string | number>): void {
    const sets: string[] = ['updated_at = ?'];
    const args: (string | number | null)[] = [nowMs];
    for (const [k, v] of Object.entries(extra)) { sets.push(`${k} = ?`); args.push(v); }
    for (const [k, v] of Object.entries(update) as [keyof JobUpdate, unknown][]) {
      sets.push(`${COLUMNS[k]} = ?`);
      args.push(v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : (v as string | number));
    }
    this.#db.prepare(`UPDATE retrain_jobs SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
  }
}
