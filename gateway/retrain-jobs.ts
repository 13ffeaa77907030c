/**
 * Retraining jobs (table retrain_jobs) and their state machine:
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
 *
 * The jobs sit behind an asynchronous interface, on SQLite (the gateway's file) or PostgreSQL (shared
 * by every gateway, so the leader elected after a fail-over continues the jobs the previous one
 * opened). Both are this one class on gateway/sql.ts and pass test/retrain-jobs-contract.ts.
 *
 * Concurrency without interactive transactions, so two instances (a demoted leader still finishing a
 * step, the new leader) cannot corrupt a job:
 * - one open job per model: a partial unique index over the open states; `open` inserts with
 *   ON CONFLICT DO NOTHING and returns the winner's job when it lost;
 * - every state change is a compare-and-set (`UPDATE … WHERE id = ? AND state = ?`): a move from a
 *   state the job no longer has fails with BAD_ARGUMENT instead of overwriting the other's move.
 */
import { createHash, randomUUID } from 'node:crypto';
import { EdgeloopError } from '../src/errors.ts';
import { createTables, type SqlDb, type SqlValue } from './sql.ts';

export const RETRAIN_STATES = ['pending-approval', 'waiting-data', 'training', 'evaluating', 'rejected', 'rolling-out', 'promoted', 'rolled-back', 'failed'] as const;
export type RetrainState = (typeof RETRAIN_STATES)[number];
export const OPEN_STATES: readonly RetrainState[] = ['pending-approval', 'waiting-data', 'training', 'evaluating', 'rolling-out'];

/** Allowed moves of the job state machine. */
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

/** Both dialects (gateway/sql.ts schemaFor). */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS retrain_jobs (
  id TEXT PRIMARY KEY, model TEXT NOT NULL, fleet TEXT NOT NULL, trigger TEXT NOT NULL, state TEXT NOT NULL, reason TEXT,
  current_version INTEGER, candidate_version INTEGER, run_id TEXT, evaluation TEXT, rollout_id TEXT, live TEXT,
  created_at {time} NOT NULL, updated_at {time} NOT NULL, finished_at {time}, rollout_started_at {time}
);
CREATE INDEX IF NOT EXISTS retrain_jobs_by_model ON retrain_jobs (model, created_at);
`;

interface RetrainJobRow {
  id: string; model: string; fleet: string; trigger: string; state: RetrainState; reason: string | null; current_version: number | null; candidate_version: number | null;
  run_id: string | null; evaluation: string | null; rollout_id: string | null; live: string | null; created_at: number; updated_at: number; finished_at: number | null; rollout_started_at: number | null;
}

const toJob = (r: RetrainJobRow): RetrainJob => ({
  id: r.id, model: r.model, fleet: r.fleet, trigger: JSON.parse(r.trigger) as RetrainTrigger, state: r.state, reason: r.reason,
  currentVersion: r.current_version, candidateVersion: r.candidate_version, runId: r.run_id,
  evaluation: r.evaluation === null ? null : (JSON.parse(r.evaluation) as RetrainEvaluation), rolloutId: r.rollout_id,
  live: r.live === null ? null : (JSON.parse(r.live) as RetrainLive), createdAtMs: r.created_at, updatedAtMs: r.updated_at, finishedAtMs: r.finished_at,
  rolloutStartedAtMs: r.rollout_started_at,
});

export type JobUpdate = Partial<Pick<RetrainJob, 'reason' | 'currentVersion' | 'candidateVersion' | 'runId' | 'evaluation' | 'rolloutId' | 'live' | 'rolloutStartedAtMs'>>;

const COLUMNS: Record<keyof JobUpdate, string> = {
  reason: 'reason', currentVersion: 'current_version', candidateVersion: 'candidate_version', runId: 'run_id', evaluation: 'evaluation',
  rolloutId: 'rollout_id', live: 'live', rolloutStartedAtMs: 'rollout_started_at',
};

export interface OpenJobInput {
  model: string;
  fleet: string;
  trigger: RetrainTrigger;
  state: 'pending-approval' | 'training';
  nowMs: number;
  reason?: string;
}

/** What the retraining service needs from its job table. */
export interface RetrainJobStore {
  /** Opens a job unless one is open for the model (returned with created false instead). */
  open(input: OpenJobInput): Promise<{ job: RetrainJob; created: boolean }>;
  openFor(model: string): Promise<RetrainJob | null>;
  /** Creation time of the model's newest job (any state), for the cooldown. */
  lastCreatedAtMs(model: string): Promise<number | null>;
  get(id: string): Promise<RetrainJob | null>;
  /** NOT_FOUND for an unknown id. */
  mustGet(id: string): Promise<RetrainJob>;
  list(filter?: { model?: string; state?: RetrainState; limit?: number }): Promise<RetrainJob[]>;
  countsByState(): Promise<Record<RetrainState, number>>;
  /** Moves a job along the state machine (BAD_ARGUMENT for an illegal or lost move) and applies `update`. */
  transition(id: string, to: RetrainState, nowMs: number, update?: JobUpdate): Promise<RetrainJob>;
  /** Changes fields without a state change. */
  update(id: string, nowMs: number, update: JobUpdate): Promise<RetrainJob>;
}

const OPEN_LIST = OPEN_STATES.map((s) => `'${s}'`).join(', ');
// The index name carries the open states: a later set of states gets its own index.
const ONE_OPEN_INDEX = `retrain_jobs_one_open_${createHash('sha256').update(OPEN_LIST).digest('hex').slice(0, 8)}`;


export class SqlRetrainJobs implements RetrainJobStore {
  readonly #db: SqlDb;
  readonly #newId: () => string;

  private constructor(db: SqlDb, newId: () => string) {
    this.#db = db;
    this.#newId = newId;
  }

  /**
   * Creates the table and indexes when missing (PostgreSQL: under an advisory lock, gateways may start
   * together); `readonly` leaves the schema alone, for offline readers of a read-only SQLite file.
   */
  static async create(db: SqlDb, options: { newId?: () => string; readonly?: boolean } = {}): Promise<SqlRetrainJobs> {
    const index = `CREATE UNIQUE INDEX IF NOT EXISTS ${ONE_OPEN_INDEX} ON retrain_jobs (model) WHERE state IN (${OPEN_LIST})`;
    if (!options.readonly) await createTables(db, 'retrain_jobs', `${SCHEMA}\n${index};`);
    return new SqlRetrainJobs(db, options.newId ?? (() => `rt-${randomUUID().slice(0, 8)}`));
  }

  async open(input: OpenJobInput): Promise<{ job: RetrainJob; created: boolean }> {
    // Two tries: the open job that beat this insert may have finished before it could be read.
    for (let attempt = 0; attempt < 2; attempt++) {
      const existing = await this.openFor(input.model);
      if (existing) return { job: existing, created: false };
      const id = this.#newId();
      const inserted = await this.#db.run(
        'INSERT INTO retrain_jobs (id, model, fleet, trigger, state, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
        [id, input.model, input.fleet, JSON.stringify(input.trigger), input.state, input.reason ?? null, input.nowMs, input.nowMs],
      );
      if (inserted === 1) return { job: await this.mustGet(id), created: true };
    }
    throw new EdgeloopError('STORE', `cannot open a retraining job for ${input.model}: other instances keep opening and closing its jobs`);
  }

  async openFor(model: string): Promise<RetrainJob | null> {
    const row = await this.#db.get<RetrainJobRow>(`SELECT * FROM retrain_jobs WHERE model = ? AND state IN (${OPEN_LIST}) ORDER BY created_at DESC LIMIT 1`, [model]);
    return row ? toJob(row) : null;
  }

  async lastCreatedAtMs(model: string): Promise<number | null> {
    const row = await this.#db.get<{ last: number | null }>('SELECT max(created_at) AS last FROM retrain_jobs WHERE model = ?', [model]);
    return row?.last ?? null;
  }

  async get(id: string): Promise<RetrainJob | null> {
    const row = await this.#db.get<RetrainJobRow>('SELECT * FROM retrain_jobs WHERE id = ?', [id]);
    return row ? toJob(row) : null;
  }

  async mustGet(id: string): Promise<RetrainJob> {
    const job = await this.get(id);
    if (!job) throw new EdgeloopError('NOT_FOUND', `no retraining job ${JSON.stringify(id)} (see 'edgeloop retrain list')`);
    return job;
  }

  async list(filter: { model?: string; state?: RetrainState; limit?: number } = {}): Promise<RetrainJob[]> {
    const limit = filter.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new EdgeloopError('BAD_ARGUMENT', `limit must be an integer in 1..100000, got ${limit}`);
    const where: string[] = [];
    const args: SqlValue[] = [];
    if (filter.model !== undefined) { where.push('model = ?'); args.push(filter.model); }
    if (filter.state !== undefined) { where.push('state = ?'); args.push(filter.state); }
    const sql = `SELECT * FROM retrain_jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id LIMIT ?`;
    return (await this.#db.all<RetrainJobRow>(sql, [...args, limit])).map(toJob);
  }

  async countsByState(): Promise<Record<RetrainState, number>> {
    const out = Object.fromEntries(RETRAIN_STATES.map((s) => [s, 0])) as Record<RetrainState, number>;
    for (const r of await this.#db.all<{ state: RetrainState; n: number }>('SELECT state, CAST(count(*) AS INTEGER) AS n FROM retrain_jobs GROUP BY state')) out[r.state] = r.n;
    return out;
  }

  async transition(id: string, to: RetrainState, nowMs: number, update: JobUpdate = {}): Promise<RetrainJob> {
    const job = await this.mustGet(id);
    if (!TRANSITIONS[job.state].includes(to)) {
      throw new EdgeloopError('BAD_ARGUMENT', `retraining job ${id} is ${job.state}: it cannot become ${to} (allowed: ${TRANSITIONS[job.state].join(', ') || 'none, it is finished'})`);
    }
    const terminal = !OPEN_STATES.includes(to);
    const changed = await this.#update(id, nowMs, update, { state: to, ...(terminal ? { finished_at: nowMs } : {}) }, job.state);
    if (changed === 0) {
      const now = await this.mustGet(id);
      throw new EdgeloopError('BAD_ARGUMENT', `retraining job ${id} became ${now.state} meanwhile (another gateway instance moved it): it cannot go from ${job.state} to ${to}`);
    }
    return this.mustGet(id);
  }

  async update(id: string, nowMs: number, update: JobUpdate): Promise<RetrainJob> {
    await this.#update(id, nowMs, update, {}, null);
    return this.mustGet(id);
  }

  #update(id: string, nowMs: number, update: JobUpdate, extra: Record<string, string | number>, fromState: RetrainState | null): Promise<number> {
    const sets: string[] = ['updated_at = ?'];
    const args: SqlValue[] = [nowMs];
    for (const [k, v] of Object.entries(extra)) { sets.push(`${k} = ?`); args.push(v); }
    for (const [k, v] of Object.entries(update) as [keyof JobUpdate, unknown][]) {
      sets.push(`${COLUMNS[k]} = ?`);
      args.push(v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : (v as string | number));
    }
    const guard = fromState === null ? '' : ' AND state = ?';
    return this.#db.run(`UPDATE retrain_jobs SET ${sets.join(', ')} WHERE id = ?${guard}`, [...args, id, ...(fromState === null ? [] : [fromState])]);
  }
}
