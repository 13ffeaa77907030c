/**
 * The singleton duties of gateways sharing one PostgreSQL database (issue #9): every instance ingests,
 * exactly one — the holder of a PostgreSQL advisory lock (gateway/leader.ts) — runs the duties whose
 * decisions must not be taken twice. Today that is the retraining loop (schedule, alert and manual
 * triggers, jobs, publishing). Its state — jobs (gateway/retrain-jobs.ts) and the model registry — is
 * in PostgreSQL, so the instance elected after a fail-over continues where the previous leader stopped:
 * open jobs stay open (no duplicate), a job cut off mid-training is failed with the reason, and a job
 * pending approval is approved on the new leader.
 *
 * Followers serve the retraining reads from the shared tables and answer writes with 503 NOT_LEADER.
 * Rollouts and drift monitoring still keep their state in SQLite and do not run on a PostgreSQL
 * gateway (docs/scaling.md).
 */
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { LeaderElector, type DemotionReason } from './leader.ts';
import type { Registry } from './registry.ts';
import type { PostgresStore } from './store-postgres.ts';
import { postgresSql } from './sql.ts';
import { SqlRetrainJobs, type RetrainJobStore } from './retrain-jobs.ts';
import { RetrainService, registerRetrainRoutes, type RetrainRollouts } from './retrain.ts';
import type { AttachRetrainOptions } from './retrain-attach.ts';
import type { HttpServer } from './http.ts';

export interface SingletonDutiesOptions {
  /** The gateway instance id (logs, the NOT_LEADER answer, the leader row). */
  id: string;
  store: PostgresStore;
  registry: Registry;
  /** Retraining options (false: no duty runs, the instance still campaigns so leadership is visible). */
  retrain: false | Omit<AttachRetrainOptions, 'logger' | 'now' | 'evaluations'>;
  /** Advisory lock key; instances with the same key share the duties. */
  key?: string;
  /** Lock attempts (followers) and checks (leader) period: the fail-over time is about this. */
  retryMs?: number;
  logger?: Logger;
  now?: () => number;
}

export const SINGLETON_DEFAULTS = { key: 'edgeloop:singleton-duties', retryMs: 2000 };

/** Rollouts are not available to a PostgreSQL gateway yet: an accepted candidate fails its job with this. */
const NO_ROLLOUTS: RetrainRollouts = {
  create: () => Promise.reject(new EdgeloopError('STORE', 'rollouts do not run on a gateway with a PostgreSQL store yet (docs/scaling.md): the candidate is registered; roll it out from a SQLite gateway or by hand')),
  view: (id) => { throw new EdgeloopError('NOT_FOUND', `rollout ${id}: rollouts do not run on a gateway with a PostgreSQL store`); },
  pause: () => undefined,
  resume: () => undefined,
  rollback: () => undefined,
};

export class SingletonDuties {
  readonly #o: SingletonDutiesOptions;
  readonly #log: Logger;
  readonly #jobs: RetrainJobStore;
  readonly #elector: LeaderElector;
  #retrain: RetrainService | null = null;
  #electedAtMs: number | null = null;
  #elections = 0;
  #lastDemotion: DemotionReason | null = null;

  private constructor(o: SingletonDutiesOptions, jobs: RetrainJobStore, elector: LeaderElector) {
    this.#o = o;
    this.#log = (o.logger ?? silentLogger).child('duties');
    this.#jobs = jobs;
    this.#elector = elector;
  }

  /** Creates the shared tables (under an advisory lock) and the elector; campaigning starts with start(). */
  static async create(options: SingletonDutiesOptions): Promise<SingletonDuties> {
    const jobs = await SqlRetrainJobs.create(postgresSql(options.store.pool), { newId: options.retrain ? options.retrain.newId : undefined });
    let self: SingletonDuties | null = null;
    const elector = await LeaderElector.create({
      pool: options.store.pool,
      key: options.key ?? SINGLETON_DEFAULTS.key,
      retryMs: options.retryMs ?? SINGLETON_DEFAULTS.retryMs,
      logger: options.logger,
      onElected: () => self!.#elected(),
      onDemoted: (reason) => self!.#demoted(reason),
    });
    self = new SingletonDuties(options, jobs, elector);
    return self;
  }

  get isLeader(): boolean {
    return this.#elector.isLeader;
  }

  /** The retraining loop while this instance leads, else null. */
  get retrain(): RetrainService | null {
    return this.#retrain;
  }

  /** The shared retraining jobs (readable on every instance). */
  get jobs(): RetrainJobStore {
    return this.#jobs;
  }

  /** What /v1/health and /metrics show. */
  status(): { leader: boolean; key: string; electedAtMs: number | null; elections: number; lastDemotion: DemotionReason | null; duties: string[] } {
    return {
      leader: this.isLeader, key: this.#o.key ?? SINGLETON_DEFAULTS.key, electedAtMs: this.#electedAtMs, elections: this.#elections,
      lastDemotion: this.#lastDemotion, duties: this.#retrain ? ['retrain'] : [],
    };
  }

  /** Campaigns; resolves after the first attempt (a lone instance is leader, its duties started, when it resolves). */
  async start(): Promise<void> {
    await this.#elector.start();
    if (!this.isLeader) this.#log.info(`gateway ${this.#o.id} follows: another instance runs the singleton duties`);
  }

  /** Stops the duties if leading, gives the lock back (another instance takes over at its next attempt). */
  async stop(): Promise<void> {
    await this.#elector.stop();
  }

  /** The retraining API on every instance: the leader's service, or reads from the shared jobs. */
  registerRoutes(http: HttpServer): void {
    registerRetrainRoutes(http, {
      service: () => this.#retrain,
      jobs: () => this.#jobs,
      unavailable: () => this.#o.retrain === false ? `retraining is off on gateway ${this.#o.id} (gateway option retrain: false)`
        : this.isLeader ? `gateway ${this.#o.id} was just elected leader and is starting its duties: try again`
          : `gateway ${this.#o.id} is not the leader for the singleton duties (retraining): send writes to the leader instance (GET /healthz shows leader: true)`,
    });
  }

  async #elected(): Promise<void> {
    this.#elections++;
    this.#electedAtMs = (this.#o.now ?? Date.now)();
    this.#log.info(`gateway ${this.#o.id} is leader: starting the singleton duties`);
    const r = this.#o.retrain;
    if (r === false) return;
    const fleet = r.defaultFleet;
    const service = await RetrainService.create({
      ...r, defaultFleet: fleet, jobStore: this.#jobs, store: this.#o.store, registry: this.#o.registry, rollouts: NO_ROLLOUTS, alerts: null,
      logger: this.#o.logger, now: this.#o.now,
      // Fenced by the election; a job the previous leader was training is trained again here.
      leading: () => this.#elector.isLeader, resumeTraining: true,
    });
    await service.start();
    this.#retrain = service;
  }

  async #demoted(reason: DemotionReason): Promise<void> {
    this.#log.info(`gateway ${this.#o.id} is no longer leader (${reason}): stopping the singleton duties`);
    const service = this.#retrain;
    this.#retrain = null;
    this.#electedAtMs = null;
    this.#lastDemotion = reason;
    try {
      await service?.stop();
    } catch (err) {
      this.#log.error(`stopping the retraining loop failed: ${errorMessage(err)}`);
    }
  }
}
