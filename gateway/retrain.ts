/**
 * Automatic retraining (issue #7). A trigger — an alert from drift/performance monitoring, a schedule,
 * or `edgeloop retrain run` — opens a job for a model (one open job per model, a cooldown after the
 * last one). In `approve` mode the job waits in pending-approval for `edgeloop retrain approve`.
 * The job retrains the current version's recipe on recent data (gateway/retrain-recipe.ts), compares
 * candidate and current model on the same recent holdout and rejects the candidate unless it gains at
 * least `minGain`. An accepted candidate is published (signed registry version, same formats as the
 * current one) and rolled out as a canary (or in shadow); the live watch then promotes it (alias +
 * rest of the fleet) when its labelled live accuracy holds against the current version's, and rolls
 * the rollout back otherwise. Every step and reason is in the retrain_jobs table, the HTTP API, the
 * CLI and /metrics. See docs/operations.md "Retraining".
 */
import type http from 'node:http';
import { EdgeloopError, errorMessage, isEdgeloopError } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { assertSafeName } from '../src/names.ts';
import type { TuneOptions } from '../models/training.ts';
import type { NativeModel } from '../models/training.ts';
import type { SqliteDatabase } from '../io/sqlite.ts';
import { registerPrepared, type EvaluationSink } from './publish.ts';
import { prepareVersionInWorker } from './retrain-worker-client.ts';
import type { Registry } from './registry.ts';
import { RunStore } from './runs.ts';
import type { Store } from './store.ts';
import { sendJson, type HttpServer } from './http.ts';
import type { Alert } from './alerts.ts';
import type { RetrainSnapshot } from './metrics.ts';
import { buildCandidate, gainOf, recentWindowOf, type CurrentModel } from './retrain-recipe.ts';
import { RETRAIN_STATES, SqlRetrainJobs, type RetrainJob, type RetrainJobStore, type RetrainLive, type RetrainState, type RetrainTrigger } from './retrain-jobs.ts';
import { sqliteSql } from './sql.ts';
import type { LiveMetrics, RetrainRollouts } from './retrain-adapters.ts';

export * from './retrain-jobs.ts';
export { rolloutsOf, type RetrainRollouts, type LiveMetrics, type RolloutView } from './retrain-adapters.ts';

export interface RetrainPolicy {
  /** auto: jobs proceed; approve: they wait in pending-approval for approve/reject. */
  mode: 'auto' | 'approve';
  /** The alias that names the current model, moved to the candidate on promotion. */
  alias: string;
  recentWindowMs: number;
  /**
   * A job trains only once the fleet's recent labelled data spans this much data time; until then it
   * waits (state waiting-data). The first alert after a change comes a few hours of data in: a model
   * fitted on those hours has seen neither a night nor a morning.
   */
  minRecentSpanMs: number;
  /** A job still waiting for data this long (wall clock) after it opened fails with the reason. */
  dataWaitTimeoutMs: number;
  holdoutFraction: number;
  includeOriginal: boolean;
  /** Re-tune with this search (else the run's params are reused as they are). */
  retune: TuneOptions | null;
  /** Accept only when candidate − current ≥ this (accuracy), or current − candidate ≥ this (RMSE). */
  minGain: number;
  /** No alert- or schedule-triggered job within this after the model's last job. */
  cooldownMs: number;
  /** Alert kinds that open a job. */
  triggerOn: readonly string[];
  rollout: {
    /** canary: the candidate goes to `canary` of the targets; the rest waits (rollout paused) for the decision. shadow: all targets run it in shadow. */
    kind: 'canary' | 'shadow';
    target: string;
    canary: string;
    timeout: string;
    abortFailureRate: string;
    /**
     * Devices with a critical drift alert (a stuck or broken sensor, a shifted feature) raised within
     * this long go last in the canary rollout (RolloutRequest.defer): the candidate is judged on devices
     * whose inputs are sound, and the alerting ones still get it once it is promoted. 0: off.
     */
    deferAlertingMs: number;
  };
  live: {
    /** Labelled live predictions of the candidate needed to decide. */
    minSamples: number;
    /** Promote when candidate live accuracy ≥ current live accuracy − this. */
    maxDrop: number;
    /** Without enough labels this long after the rollout started, `onNoLabels` decides. */
    timeoutMs: number;
    onNoLabels: 'promote' | 'rollback';
  };
  seed: number;
}

const DEFAULTS: RetrainPolicy = {
  mode: 'auto',
  alias: 'production',
  // A full weekly cycle: occupancy-like targets follow the week (docs/operations.md "Retraining").
  recentWindowMs: 7 * 24 * 3600_000,
  minRecentSpanMs: 24 * 3600_000,
  dataWaitTimeoutMs: 3 * 24 * 3600_000,
  holdoutFraction: 0.3,
  includeOriginal: false,
  retune: null,
  minGain: 0.005,
  cooldownMs: 6 * 3600_000,
  triggerOn: ['drift', 'performance'],
  rollout: { kind: 'canary', target: 'all', canary: '10%', timeout: '5m', abortFailureRate: '20%', deferAlertingMs: 24 * 3600_000 },
  // The candidate already beat the current model offline and installed cleanly on the canary: without
  // labels, no live evidence contradicts it, so it is promoted after the timeout (set 'rollback' to be strict).
  live: { minSamples: 50, maxDrop: 0.02, timeoutMs: 24 * 3600_000, onNoLabels: 'promote' },
  seed: 1,
};
export const RETRAIN_DEFAULTS: Readonly<RetrainPolicy> = Object.freeze(DEFAULTS);

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface RetrainServiceOptions {
  /**
   * The gateway's SQLite handle: jobs and training runs live there. Without it (a gateway on
   * PostgreSQL) give `jobStore` and `runs`; live metrics come from `live` (none by default).
   */
  database?: SqliteDatabase;
  /** Where the candidates' training runs are recorded (default: the training_runs table of `database`; none without either). */
  runs?: RunStore;
  /** Where the jobs live (default: the retrain_jobs table of `database`); PostgreSQL for several gateways. */
  jobStore?: RetrainJobStore;
  store: Store;
  registry: Registry;
  rollouts: RetrainRollouts;
  /** Labelled live predictions per version (DriftService#performance); none: no live labels, the no-labels policy decides. */
  live?: LiveMetrics;
  /** Where alerts come from (DriftService#alerts); null: no alert trigger. `list` reads the stored ones (defer). */
  alerts?: { onAlert(listener: (alert: Alert) => void): () => void; list?(filter: { fleet?: string; kind?: 'drift'; limit?: number }): Promise<Alert[]> } | null;
  policy?: Partial<Omit<RetrainPolicy, 'rollout' | 'live'>> & { rollout?: Partial<RetrainPolicy['rollout']>; live?: Partial<RetrainPolicy['live']> };
  /** Scheduled retraining of these models. */
  schedule?: { everyMs: number; models: { model: string; fleet: string }[] } | null;
  /** Fleet of manual jobs when the request names none. */
  defaultFleet?: string;
  evaluations?: EvaluationSink;
  logger?: Logger;
  now?: () => number;
  timers?: Timers;
  newId?: () => string;
  /** How often rolling-out jobs and schedules are checked. */
  tickMs?: number;
  /**
   * Singleton duty (gateway/singleton-duties.ts): false once this instance lost the leadership. The
   * service then starts no job and publishes nothing more; the job is left to the new leader.
   */
  leading?: () => boolean;
  /**
   * On start, queue jobs left in `training` again (they restart from the beginning: nothing is
   * published before `evaluating`) instead of failing them. The new leader after a fail-over does this;
   * jobs left in `evaluating` still fail (their candidate may already be registered).
   */
  resumeTraining?: boolean;
}

const defaultTimers: Timers = { setInterval: (fn, ms) => setInterval(fn, ms), clearInterval: (h) => clearInterval(h as NodeJS.Timeout) };
const f4 = (x: number): string => x.toFixed(4);
const duration = (ms: number): string => (ms < 10_000 ? `${ms} ms` : ms < 3 * 3600_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 3600_000).toFixed(1)} h`);

export function resolveRetrainPolicy(p: RetrainServiceOptions['policy'] = {}): RetrainPolicy {
  const d = RETRAIN_DEFAULTS;
  const policy: RetrainPolicy = { ...d, ...p, rollout: { ...d.rollout, ...p.rollout }, live: { ...d.live, ...p.live } };
  const problems: string[] = [];
  if (policy.mode !== 'auto' && policy.mode !== 'approve') problems.push(`mode must be 'auto' or 'approve', got ${JSON.stringify(policy.mode)}`);
  if (!(policy.recentWindowMs > 0)) problems.push(`recentWindowMs must be > 0, got ${policy.recentWindowMs}`);
  if (!(policy.minRecentSpanMs >= 0 && policy.minRecentSpanMs <= policy.recentWindowMs)) problems.push(`minRecentSpanMs must be in [0, recentWindowMs = ${policy.recentWindowMs}], got ${policy.minRecentSpanMs}`);
  if (!(policy.dataWaitTimeoutMs > 0)) problems.push(`dataWaitTimeoutMs must be > 0, got ${policy.dataWaitTimeoutMs}`);
  if (!(policy.holdoutFraction > 0 && policy.holdoutFraction < 1)) problems.push(`holdoutFraction must be in (0, 1), got ${policy.holdoutFraction}`);
  if (!Number.isFinite(policy.minGain)) problems.push(`minGain must be a finite number, got ${policy.minGain}`);
  if (!(policy.cooldownMs >= 0)) problems.push(`cooldownMs must be ≥ 0, got ${policy.cooldownMs}`);
  if (policy.rollout.kind !== 'canary' && policy.rollout.kind !== 'shadow') problems.push(`rollout.kind must be 'canary' or 'shadow', got ${JSON.stringify(policy.rollout.kind)}`);
  if (!(policy.rollout.deferAlertingMs >= 0)) problems.push(`rollout.deferAlertingMs must be ≥ 0, got ${policy.rollout.deferAlertingMs}`);
  if (!(Number.isInteger(policy.live.minSamples) && policy.live.minSamples >= 1)) problems.push(`live.minSamples must be an integer ≥ 1, got ${policy.live.minSamples}`);
  if (!(policy.live.maxDrop >= 0 && policy.live.maxDrop <= 1)) problems.push(`live.maxDrop must be in [0, 1], got ${policy.live.maxDrop}`);
  if (!(policy.live.timeoutMs > 0)) problems.push(`live.timeoutMs must be > 0, got ${policy.live.timeoutMs}`);
  if (policy.live.onNoLabels !== 'promote' && policy.live.onNoLabels !== 'rollback') problems.push(`live.onNoLabels must be 'promote' or 'rollback', got ${JSON.stringify(policy.live.onNoLabels)}`);
  if (problems.length > 0) throw new EdgeloopError('BAD_CONFIG', `retraining policy is invalid: ${problems.join('; ')}`);
  return policy;
}

const NO_LIVE_METRICS: LiveMetrics = { labelled: () => Promise.resolve({ samples: 0, correct: 0 }) };

export class RetrainService {
  readonly policy: RetrainPolicy;
  readonly #o: RetrainServiceOptions;
  readonly #jobs: RetrainJobStore;
  readonly #runs: RunStore | null;
  readonly #live: LiveMetrics;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #timers: Timers;
  readonly #queue: string[] = [];
  #worker: Promise<void> | null = null;
  #timer: unknown = null;
  #unsubscribe: (() => void) | null = null;
  #running = false;
  #watching = false;

  private constructor(o: RetrainServiceOptions, jobs: RetrainJobStore, runs: RunStore | null, policy: RetrainPolicy) {
    this.#o = o;
    this.#jobs = jobs;
    this.#runs = runs;
    this.policy = policy;
    this.#live = o.live ?? NO_LIVE_METRICS;
    this.#log = (o.logger ?? silentLogger).child('retrain');
    this.#now = o.now ?? Date.now;
    this.#timers = o.timers ?? defaultTimers;
  }

  /** Validates the policy (BAD_CONFIG listing every problem) and creates the tables; no timers yet. */
  static async create(options: RetrainServiceOptions): Promise<RetrainService> {
    const policy = resolveRetrainPolicy(options.policy);
    if (options.schedule && !(options.schedule.everyMs > 0)) throw new EdgeloopError('BAD_CONFIG', `retraining schedule.everyMs must be > 0, got ${options.schedule.everyMs}`);
    const db = options.database;
    if (!db && !options.jobStore) throw new EdgeloopError('BAD_CONFIG', 'retraining needs a database (SQLite) or a jobStore (PostgreSQL) for its jobs');
    const jobs = options.jobStore ?? (await SqlRetrainJobs.create(sqliteSql(db!), { newId: options.newId }));
    const runs = options.runs ?? (db ? await RunStore.create({ database: db, now: options.now }) : null);
    return new RetrainService(options, jobs, runs, policy);
  }

  /** The jobs, wherever they live (SQLite or PostgreSQL). */
  get jobStore(): RetrainJobStore {
    return this.#jobs;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const now = this.#now();
    // A job cut off mid-training by a restart is not resumed half-way: it fails with the reason, or
    // (resumeTraining) trains again from the start.
    for (const state of ['training', 'evaluating'] as const) {
      for (const job of await this.#jobs.list({ state, limit: 1000 })) {
        if (state === 'training' && this.#o.resumeTraining) {
          this.#log.info(`retraining job ${job.id} was cut off while training: training it again`);
          this.#enqueue(job.id);
          continue;
        }
        await this.#jobs.transition(job.id, 'failed', now, { reason: `interrupted by a gateway restart or leader fail-over while ${state}` })
          .catch((err: unknown) => this.#log.warn(`cannot fail interrupted job ${job.id}: ${errorMessage(err)}`));
      }
    }
    if (this.#o.alerts) this.#unsubscribe = this.#o.alerts.onAlert((alert) => this.#onAlert(alert));
    this.#timer = this.#timers.setInterval(() => void this.tick(), this.#o.tickMs ?? 1000);
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== null) this.#timers.clearInterval(this.#timer);
    this.#timer = null;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#queue.length = 0;
    await this.#worker;
  }

  /**
   * Opens a job (or returns the model's open one). `manual` ignores the cooldown; alert and schedule
   * triggers within the cooldown return null.
   */
  async trigger(input: { model: string; fleet?: string; trigger: RetrainTrigger }): Promise<RetrainJob | null> {
    const model = assertSafeName('model', input.model);
    const fleet = assertSafeName('fleet', input.fleet ?? this.#o.defaultFleet ?? '');
    await this.#o.registry.resolve(`${model}@${this.policy.alias}`); // NOT_FOUND: nothing to retrain
    const now = this.#now();
    if (input.trigger.kind !== 'manual') {
      const last = await this.#jobs.lastCreatedAtMs(model);
      if (last !== null && now - last < this.policy.cooldownMs) {
        this.#log.info(`${input.trigger.kind} trigger for ${model} ignored: last job ${duration(now - last)} ago, cooldown ${duration(this.policy.cooldownMs)}`);
        return null;
      }
    }
    const approve = this.policy.mode === 'approve';
    const { job, created } = await this.#jobs.open({
      model, fleet, trigger: input.trigger, state: approve ? 'pending-approval' : 'training', nowMs: now,
      reason: approve ? "waiting for 'edgeloop retrain approve'" : undefined,
    });
    if (!created) {
      this.#log.info(`${model} already has open retraining job ${job.id} (${job.state})`);
      return job;
    }
    this.#log.info(`retraining job ${job.id} for ${model} in ${fleet} (${input.trigger.kind}): ${job.state}`);
    if (!approve) this.#enqueue(job.id);
    return job;
  }

  async approve(id: string): Promise<RetrainJob> {
    const job = await this.#jobs.transition(id, 'training', this.#now(), { reason: null });
    this.#enqueue(id);
    return job;
  }

  async reject(id: string, reason = 'rejected by operator'): Promise<RetrainJob> {
    const job = await this.#jobs.mustGet(id);
    if (job.state !== 'pending-approval') throw new EdgeloopError('BAD_ARGUMENT', `retraining job ${id} is ${job.state}: only a job pending approval can be rejected`);
    return this.#jobs.transition(id, 'rejected', this.#now(), { reason });
  }

  /** Resolves when no job is training or evaluating (tests, CLI). */
  async idle(): Promise<void> {
    while (this.#worker) await this.#worker;
  }

  /** One watch step: schedules, and the live decision of every rolling-out job. */
  async tick(): Promise<void> {
    if (!this.#running || this.#watching) return;
    this.#watching = true;
    try {
      await this.#schedule();
      for (const job of await this.#jobs.list({ state: 'waiting-data', limit: 1000 })) {
        try {
          await this.#checkData(job);
        } catch (err) {
          await this.#fail(job.id, err);
        }
      }
      for (const job of await this.#jobs.list({ state: 'rolling-out', limit: 1000 })) {
        try {
          await this.#watch(job);
        } catch (err) {
          this.#log.error(`watch of retraining job ${job.id} failed: ${errorMessage(err)}`);
        }
      }
    } finally {
      this.#watching = false;
    }
  }

  async metricsSnapshot(): Promise<RetrainSnapshot> {
    const seen = new Set<string>();
    const lastEvaluation: RetrainSnapshot['lastEvaluation'][number][] = [];
    for (const j of await this.#jobs.list({ limit: 1000 })) {
      if (!j.evaluation || seen.has(j.model)) continue;
      seen.add(j.model);
      lastEvaluation.push({ model: j.model, metric: j.evaluation.metric, candidate: j.evaluation.candidate, current: j.evaluation.current });
    }
    return { jobsByState: await this.#jobs.countsByState(), lastEvaluation };
  }

  #onAlert(alert: Alert): void {
    if (!alert.model || !this.policy.triggerOn.includes(alert.kind)) return;
    const trigger: RetrainTrigger = { kind: 'alert', alertId: alert.id, alertKind: alert.kind, device: alert.device, message: alert.message.slice(0, 500) };
    this.trigger({ model: alert.model, fleet: alert.fleet, trigger }).catch((err: unknown) => {
      this.#log.warn(`alert ${alert.id} did not open a retraining job for ${alert.model}: ${errorMessage(err)}`);
    });
  }

  async #schedule(): Promise<void> {
    const s = this.#o.schedule;
    if (!s) return;
    const now = this.#now();
    for (const m of s.models) {
      const last = await this.#jobs.lastCreatedAtMs(m.model);
      if (last !== null && now - last < s.everyMs) continue;
      try {
        await this.trigger({ model: m.model, fleet: m.fleet, trigger: { kind: 'schedule', everyMs: s.everyMs } });
      } catch (err) {
        this.#log.warn(`scheduled retraining of ${m.model} not started: ${errorMessage(err)}`);
      }
    }
  }

  #enqueue(id: string): void {
    this.#queue.push(id);
    if (this.#worker) return;
    this.#worker = (async () => {
      while (this.#queue.length > 0) {
        const next = this.#queue.shift()!;
        try {
          await this.#runJob(next);
        } catch (err) {
          await this.#fail(next, err);
        }
      }
    })().finally(() => {
      this.#worker = null;
    });
  }

  async #fail(id: string, err: unknown): Promise<void> {
    const reason = isEdgeloopError(err) ? `${err.code}: ${err.message}` : errorMessage(err);
    this.#log.error(`retraining job ${id} failed: ${reason}`);
    try {
      await this.#jobs.transition(id, 'failed', this.#now(), { reason });
    } catch (inner) {
      this.#log.error(`cannot mark retraining job ${id} failed: ${errorMessage(inner)}`);
    }
  }

  async #current(model: string): Promise<CurrentModel> {
    const registry = this.#o.registry;
    const record = await registry.resolve(`${model}@${this.policy.alias}`);
    const native = (await registry.nativeModel(`${model}@${record.version}`)) as NativeModel;
    let kind: string | null = null;
    let params: Record<string, unknown> = {};
    if (record.lineage.runId && this.#runs) {
      try {
        const run = await this.#runs.show(record.lineage.runId);
        kind = run.modelKind;
        params = run.params;
      } catch (err) {
        if (!isEdgeloopError(err, 'NOT_FOUND')) throw err;
      }
    }
    if (kind === null) {
      // No run recorded: the native document still names the kind and its fitted params.
      if (native.family === 'classical') { kind = native.model.kind; params = native.model.params; }
      else throw new EdgeloopError('BAD_DATA', `${model}@${record.version} has no training run (lineage.runId) to take the recipe of a neural net from`);
    }
    return { record, native, kind, params };
  }

  /** False once a singleton-duty instance lost the leadership (nothing irreversible after that). */
  #leading(): boolean {
    return this.#o.leading?.() ?? true;
  }

  async #runJob(id: string): Promise<void> {
    let job = await this.#jobs.mustGet(id);
    if (job.state !== 'training' || !this.#leading()) return;
    const p = this.policy;
    const current = await this.#current(job.model);
    job = await this.#jobs.update(id, this.#now(), { currentVersion: current.record.version });
    const window = await recentWindowOf(this.#o.store, job.fleet, current.record, p.recentWindowMs);
    if (window.labelledSpanMs < p.minRecentSpanMs) {
      await this.#jobs.transition(id, 'waiting-data', this.#now(), { reason: this.#waitReason(job.fleet, window.labelledSpanMs) });
      this.#log.info(`retraining job ${id} waits for data: ${this.#waitReason(job.fleet, window.labelledSpanMs)}`);
      return;
    }
    const cand = await buildCandidate(this.#o.store, job.fleet, current, {
      recentWindowMs: p.recentWindowMs, holdoutFraction: p.holdoutFraction, includeOriginal: p.includeOriginal, retune: p.retune ?? undefined, seed: p.seed,
    }, window);
    if (!this.#leading()) return;
    const evaluation = { ...cand.evaluation, minGain: p.minGain };
    job = await this.#jobs.transition(id, 'evaluating', this.#now(), { evaluation });
    const gain = gainOf(evaluation);
    const figures = `candidate ${evaluation.metric} ${f4(evaluation.candidate)} vs current ${job.model}@${current.record.version} ${f4(evaluation.current)} on ${evaluation.holdoutRows} recent holdout rows`;
    if (gain < p.minGain) {
      await this.#jobs.transition(id, 'rejected', this.#now(), { reason: `not better: ${figures}; gain ${f4(gain)} < minGain ${p.minGain}` });
      this.#log.info(`retraining job ${id} rejected the candidate: ${figures}`);
      return;
    }
    if (!this.#leading()) {
      this.#log.warn(`retraining job ${id}: leadership lost before publishing the candidate; the new leader takes the job over`);
      return;
    }
    const run = await this.#runs?.record({
      modelKind: cand.trained.kind, params: cand.trained.params, dataset: `retrain-${id}`, metrics: cand.trained.metrics, durationMs: cand.trained.durationMs,
    });
    const targets = current.record.artifacts.map((a) => ({ format: a.format, variant: a.variant }));
    // Export and runtime evaluation take seconds of CPU: on a worker thread, like the fit.
    const prepared = await prepareVersionInWorker({
      model: job.model, native: cand.trained.model.toJSON(), task: cand.trained.model.task, classes: current.record.classes, createdBy: `retrain:${id}`,
      runId: run?.id, parentVersion: current.record.version,
      dataset: { name: `retrain-${id}`, spec: cand.spec, fitted: cand.fitted, matrix: cand.matrix, dataHash: cand.dataHash },
      targets,
    });
    if (!this.#leading()) {
      this.#log.warn(`retraining job ${id}: leadership lost before registering the candidate; the new leader takes the job over`);
      return;
    }
    const published = await registerPrepared(this.#o.registry, prepared, this.#o.evaluations);
    for (const s of prepared.skipped) this.#log.warn(`retraining job ${id}: ${s.format}/${s.variant} not exported: ${s.reason}`);
    job = await this.#jobs.update(id, this.#now(), { candidateVersion: published.version, runId: run?.id ?? null });
    const artifact = targets.find((t) => t.format === 'onnx' && t.variant === 'float32') ?? targets[0]!;
    const shadow = p.rollout.kind === 'shadow';
    const defer = shadow ? [] : await this.#alertingDevices(job.fleet);
    const rollout = await this.#o.rollouts.create({
      model: `${job.model}@${published.version}`, fleet: job.fleet, target: p.rollout.target, strategy: shadow ? 'all-at-once' : 'canary', canary: p.rollout.canary,
      waveInterval: '0s', timeout: p.rollout.timeout, abortFailureRate: p.rollout.abortFailureRate, mode: shadow ? 'shadow' : 'active',
      format: artifact.format, variant: artifact.variant, createdBy: `retrain:${id}`, defer,
    });
    // Hold the rest of the fleet until the live decision (the canary wave was dispatched by create).
    if (!shadow && rollout.state === 'running' && rollout.waves > 1) await this.#o.rollouts.pause(rollout.id);
    await this.#jobs.transition(id, 'rolling-out', this.#now(), {
      rolloutId: rollout.id, rolloutStartedAtMs: this.#now(),
      reason: `accepted (${figures}; gain ${f4(gain)} ≥ minGain ${p.minGain}); ${shadow ? 'shadow' : 'canary'} rollout ${rollout.id} of ${job.model}@${published.version}${defer.length ? ` (not the canary, critical drift alert: ${defer.join(', ')})` : ''}`,
    });
    this.#log.info(`retraining job ${id}: ${job.model}@${published.version} registered and rolling out (${rollout.id}): ${figures}`);
  }

  /** Devices of the fleet with a critical drift alert within policy.rollout.deferAlertingMs (wall clock). */
  async #alertingDevices(fleet: string): Promise<string[]> {
    const windowMs = this.policy.rollout.deferAlertingMs;
    const list = this.#o.alerts?.list;
    if (!(windowMs > 0) || !list) return [];
    const since = this.#now() - windowMs;
    const recent = await list.call(this.#o.alerts, { fleet, kind: 'drift', limit: 1000 });
    return [...new Set(recent.filter((a) => a.severity === 'critical' && a.raisedAtMs >= since).map((a) => a.device))].sort();
  }

  #waitReason(fleet: string, spanMs: number): string {
    return `waiting until the recent labelled data of fleet '${fleet}' spans ${duration(this.policy.minRecentSpanMs)} of data time (${(spanMs / 3600_000).toFixed(1)} h so far)`;
  }

  /** A waiting job goes back to training once the data is there, or fails after dataWaitTimeoutMs. */
  async #checkData(job: RetrainJob): Promise<void> {
    // The production version's record alone (not its native model and run, as #current loads): every tick.
    const record = await this.#o.registry.resolve(`${job.model}@${this.policy.alias}`);
    const window = await recentWindowOf(this.#o.store, job.fleet, record, this.policy.recentWindowMs);
    const now = this.#now();
    if (window.labelledSpanMs >= this.policy.minRecentSpanMs) {
      await this.#jobs.transition(job.id, 'training', now, { reason: null });
      this.#log.info(`retraining job ${job.id}: ${(window.labelledSpanMs / 3600_000).toFixed(1)} h of recent labelled data, training`);
      this.#enqueue(job.id);
    } else if (now - job.createdAtMs >= this.policy.dataWaitTimeoutMs) {
      await this.#jobs.transition(job.id, 'failed', now, { reason: `not enough recent data within ${duration(this.policy.dataWaitTimeoutMs)}: ${this.#waitReason(job.fleet, window.labelledSpanMs)}` });
    }
  }

  async #watch(job: RetrainJob): Promise<void> {
    const rollouts = this.#o.rollouts;
    const view = await rollouts.view(job.rolloutId!);
    const now = this.#now();
    if (view.state === 'aborted' || view.state === 'rolled-back') {
      await this.#jobs.transition(job.id, 'rolled-back', now, { reason: `rollout ${view.id} ${view.state}: ${view.reason ?? 'no reason given'}`, live: await this.#liveOf(job, 'rollout') });
      return;
    }
    // A shadow rollout must have finished before promotion starts the active one (one live rollout per model).
    if (!view.settled || (this.policy.rollout.kind === 'shadow' && view.state !== 'completed')) return;
    if (view.active === 0) {
      if (view.state !== 'rolled-back') await rollouts.rollback(view.id, `retraining job ${job.id}: no canary device activated the candidate`);
      await this.#jobs.transition(job.id, 'rolled-back', now, { reason: `no canary device activated ${job.model}@${job.candidateVersion} (${view.failed} failed)`, live: await this.#liveOf(job, 'rollout') });
      return;
    }
    const lp = this.policy.live;
    const live = await this.#liveOf(job, 'labels');
    const cand = live.candidate;
    const cur = live.current;
    if (cand.samples >= lp.minSamples && cand.accuracy !== null) {
      // Against the current version's live accuracy over the same period when it has enough labels,
      // else against the current model's figure on the recent holdout.
      const reference = cur.samples >= lp.minSamples && cur.accuracy !== null ? { what: `current ${job.model}@${job.currentVersion} live accuracy ${f4(cur.accuracy)} over ${cur.samples} labels`, value: cur.accuracy }
        : { what: `current ${job.model}@${job.currentVersion} holdout accuracy ${f4(job.evaluation!.current)} (only ${cur.samples} live labels)`, value: job.evaluation!.current };
      const text = `candidate live accuracy ${f4(cand.accuracy)} over ${cand.samples} labels vs ${reference.what}, maxDrop ${lp.maxDrop}`;
      if (cand.accuracy >= reference.value - lp.maxDrop) await this.#promote(job, `live metrics hold: ${text}`, live);
      else await this.#rollback(job, `live metrics fell: ${text}`, live);
      return;
    }
    const since = job.rolloutStartedAtMs ?? job.updatedAtMs;
    if (now - since >= lp.timeoutMs) {
      const noLabels: RetrainLive = { ...live, decidedBy: 'no-labels-policy' };
      const text = `only ${cand.samples} of ${lp.minSamples} labelled live predictions of the candidate within ${duration(lp.timeoutMs)}; policy onNoLabels=${lp.onNoLabels}`;
      if (lp.onNoLabels === 'promote') await this.#promote(job, text, noLabels);
      else await this.#rollback(job, text, noLabels);
    }
  }

  async #liveOf(job: RetrainJob, decidedBy: RetrainLive['decidedBy']): Promise<RetrainLive> {
    const since = job.rolloutStartedAtMs ?? job.updatedAtMs;
    const of = async (version: number | null): Promise<RetrainLive['candidate']> => {
      if (version === null) return { samples: 0, accuracy: null };
      const r = await this.#live.labelled(job.fleet, job.model, version, since);
      return { samples: r.samples, accuracy: r.samples === 0 ? null : r.correct / r.samples };
    };
    return { candidate: await of(job.candidateVersion), current: await of(job.currentVersion), decidedBy };
  }

  async #promote(job: RetrainJob, why: string, live: RetrainLive): Promise<void> {
    const ref = `${job.model}@${job.candidateVersion}`;
    await this.#o.registry.promote(ref, this.policy.alias, { by: `retrain:${job.id}` });
    let rest = '';
    const view = await this.#o.rollouts.view(job.rolloutId!);
    if (this.policy.rollout.kind === 'shadow') {
      const active = await this.#o.rollouts.create({
        model: ref, fleet: job.fleet, target: this.policy.rollout.target, strategy: 'all-at-once', timeout: this.policy.rollout.timeout,
        abortFailureRate: this.policy.rollout.abortFailureRate, mode: 'active', createdBy: `retrain:${job.id}`,
      });
      rest = `; active rollout ${active.id} to ${this.policy.rollout.target}`;
    } else if (view.state === 'paused') {
      await this.#o.rollouts.resume(view.id);
      rest = `; rollout ${view.id} resumed to the rest of the fleet`;
    }
    await this.#jobs.transition(job.id, 'promoted', this.#now(), { reason: `${why}; ${ref} is now ${this.policy.alias}${rest}`, live });
    this.#log.info(`retraining job ${job.id}: promoted ${ref} (${why})`);
  }

  async #rollback(job: RetrainJob, why: string, live: RetrainLive): Promise<void> {
    await this.#o.rollouts.rollback(job.rolloutId!, `retraining job ${job.id}: ${why}`);
    await this.#jobs.transition(job.id, 'rolled-back', this.#now(), { reason: why, live });
    this.#log.warn(`retraining job ${job.id}: rolled back ${job.model}@${job.candidateVersion} (${why})`);
  }

  /** Fleet of manual jobs when the request names none. */
  get defaultFleet(): string | undefined {
    return this.#o.defaultFleet;
  }

  /** The HTTP API on this service (see registerRetrainRoutes). */
  registerRoutes(server: HttpServer): void {
    registerRetrainRoutes(server, { service: () => this, jobs: () => this.#jobs, unavailable: () => 'the retraining service is stopped' });
  }
}

/** Where the retraining routes send requests: the running service, or (a follower gateway) only the shared jobs for reads. */
export interface RetrainRouteTarget {
  service(): RetrainService | null;
  jobs(): RetrainJobStore | null;
  /** Why writes are refused while there is no service (e.g. this instance is not the leader). */
  unavailable(): string;
}

/**
 * GET /v1/retrain[?model=M&state=S], GET /v1/retrain/<id>, POST /v1/retrain {model, fleet?},
 * POST /v1/retrain/<id>/approve, POST /v1/retrain/<id>/reject {reason?}. Without a running service
 * reads come from the job store and writes answer 503 NOT_LEADER.
 */
export function registerRetrainRoutes(server: HttpServer, target: RetrainRouteTarget): void {
  const guard = (handler: (req: http.IncomingMessage, res: http.ServerResponse, params: string[], body: Buffer) => Promise<void> | void) =>
    async (req: http.IncomingMessage, res: http.ServerResponse, params: string[], body: Buffer): Promise<void> => {
      try {
        await handler(req, res, params, body);
      } catch (err) {
        if (!isEdgeloopError(err)) throw err;
        const status = err.code === 'NOT_FOUND' ? 404 : err.code === 'NOT_LEADER' ? 503
          : err.message.includes(' cannot become ') || err.message.includes('only a job pending') || err.message.includes(' meanwhile ') ? 409 : 400;
        sendJson(res, status, { error: err.code, message: err.message });
      }
    };
  const service = (): RetrainService => {
    const s = target.service();
    if (!s) throw new EdgeloopError('NOT_LEADER', target.unavailable());
    return s;
  };
  const jobs = (): RetrainJobStore => {
    const j = target.service()?.jobStore ?? target.jobs();
    if (!j) throw new EdgeloopError('NOT_LEADER', target.unavailable());
    return j;
  };
  const json = (body: Buffer): Record<string, unknown> => {
    if (body.length === 0) return {};
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new EdgeloopError('BAD_ARGUMENT', `request body is not JSON: ${errorMessage(err)}`);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new EdgeloopError('BAD_ARGUMENT', 'request body must be a JSON object');
    return doc as Record<string, unknown>;
  };
  server.route('GET', /^\/v1\/retrain$/, guard(async (req, res) => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const state = q.get('state') ?? undefined;
    if (state !== undefined && !(RETRAIN_STATES as readonly string[]).includes(state)) throw new EdgeloopError('BAD_ARGUMENT', `state must be one of ${RETRAIN_STATES.join(', ')}, got ${JSON.stringify(state)}`);
    const model = q.get('model') ?? undefined;
    const list = await jobs().list({ model: model === undefined ? undefined : assertSafeName('model', model), state: state as RetrainState | undefined });
    sendJson(res, 200, { policy: target.service()?.policy ?? null, jobs: list });
  }));
  server.route('GET', /^\/v1\/retrain\/([^/]+)$/, guard(async (_req, res, [id]) => sendJson(res, 200, await jobs().mustGet(id!))));
  server.route('POST', /^\/v1\/retrain$/, guard(async (_req, res, _p, body) => {
    const s = service();
    const doc = json(body);
    if (typeof doc.model !== 'string') throw new EdgeloopError('BAD_ARGUMENT', 'model is required (a registered model name)');
    if (doc.fleet !== undefined && typeof doc.fleet !== 'string') throw new EdgeloopError('BAD_ARGUMENT', 'fleet must be a string');
    if (doc.fleet === undefined && s.defaultFleet === undefined) throw new EdgeloopError('BAD_ARGUMENT', 'fleet is required: this gateway has no default fleet for retraining');
    const by = typeof doc.by === 'string' && doc.by.length > 0 ? doc.by.slice(0, 128) : 'api';
    const job = await s.trigger({ model: doc.model, fleet: doc.fleet as string | undefined, trigger: { kind: 'manual', by } });
    sendJson(res, 202, job);
  }));
  server.route('POST', /^\/v1\/retrain\/([^/]+)\/approve$/, guard(async (_req, res, [id]) => sendJson(res, 200, await service().approve(id!))));
  server.route('POST', /^\/v1\/retrain\/([^/]+)\/reject$/, guard(async (_req, res, [id], body) => {
    const reason = json(body).reason;
    sendJson(res, 200, await service().reject(id!, typeof reason === 'string' && reason.length > 0 ? reason.slice(0, 500) : undefined));
  }));
}
