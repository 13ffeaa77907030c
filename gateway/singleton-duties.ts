/**
 * The singleton duties of gateways sharing one PostgreSQL database (issue #9): every instance ingests,
 * exactly one — the holder of a PostgreSQL advisory lock (gateway/leader.ts) — runs the duties whose
 * decisions must not be taken twice:
 * - the rollout controller (gateway/rollout.ts): follows the devices' status, heartbeats and command
 *   results into the fleet registry and the rollouts, sends install and rollback commands, serves the
 *   model chunks. Its MQTT session has one client id for every instance, so the instance elected after
 *   a fail-over takes over the session and receives what the broker queued meanwhile;
 * - drift and performance monitoring and its alerts (gateway/drift-monitor.ts; same session rule);
 * - the retraining loop (schedule, alert and manual triggers, jobs, publishing, canary rollouts).
 * Their state — rollouts, fleet registry, retraining jobs (gateway/retrain-jobs.ts), the model
 * registry — is in PostgreSQL, so the instance elected after a fail-over continues where the previous
 * leader stopped: live rollouts resume (their timeouts wait a grace period for queued results), open
 * jobs stay open (no duplicate), a job cut off mid-training is trained again, and a job pending
 * approval is approved on the new leader.
 *
 * Followers serve the reads (rollouts, fleet, jobs) from the shared tables and answer writes with 503
 * NOT_LEADER.
 */
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { LeaderElector, type DemotionReason } from './leader.ts';
import type { Registry } from './registry.ts';
import type { PostgresStore } from './store-postgres.ts';
import { postgresSql } from './sql.ts';
import { SqlRetrainJobs, type RetrainJobStore } from './retrain-jobs.ts';
import { RetrainService, registerRetrainRoutes } from './retrain.ts';
import { rolloutsOf } from './retrain-adapters.ts';
import type { AttachRetrainOptions } from './retrain-attach.ts';
import type { HttpServer } from './http.ts';
import { FleetRegistry } from './fleet.ts';
import { RolloutStore } from './rollout-store.ts';
import { RolloutService, type RolloutServiceOptions } from './rollout.ts';
import { registerRolloutRoutes } from './rollout-http.ts';
import type { MqttLogin } from './mqtt-login.ts';
import type { DriftService } from './drift-monitor.ts';
import type { EvaluationSink } from './publish.ts';
import type { RunStore } from './runs.ts';

/** How the leader's rollout service reaches the devices, and its options. */
export interface DutyRolloutOptions {
  brokerUrl: string;
  mqtt?: MqttLogin;
  options?: Omit<RolloutServiceOptions, 'sql' | 'brokerUrl' | 'mqtt' | 'registry' | 'logger' | 'now' | 'gatewayId' | 'sessionClientId'>;
}

export interface SingletonDutiesOptions {
  /** The gateway instance id (logs, the NOT_LEADER answer, the leader row). */
  id: string;
  store: PostgresStore;
  registry: Registry;
  /** Retraining options (false: off; the instance still campaigns so leadership is visible). */
  retrain: false | Omit<AttachRetrainOptions, 'logger' | 'now' | 'evaluations' | 'runs'>;
  /** The rollout controller (false: off, and retraining then fails an accepted candidate's job). */
  rollouts: false | DutyRolloutOptions;
  /**
   * Drift and performance monitoring with its alerts (gateway/drift-monitor.ts), created by the gateway
   * on every instance (its routes read the shared tables) and started here on the leader only; its
   * alerts trigger retraining. null: off.
   */
  drift?: DriftService | null;
  /** Where a published candidate's artifact evaluations (confusion matrices) go. */
  evaluations?: EvaluationSink;
  /** Where the candidates' training runs are recorded (the shared PostgreSQL). */
  runs?: RunStore;
  /** Advisory lock key; instances with the same key share the duties. */
  key?: string;
  /** Lock attempts (followers) and checks (leader) period: the fail-over time is about this. */
  retryMs?: number;
  logger?: Logger;
  now?: () => number;
}

export const SINGLETON_DEFAULTS = { key: 'edgeloop:singleton-duties', retryMs: 2000 };

/** With the rollout duty off, an accepted candidate fails its job with this. */
const NO_ROLLOUTS = {
  create: () => Promise.reject(new EdgeloopError('BAD_CONFIG', 'rollouts are off on these gateways (gateway option rollouts: false): the candidate is registered; roll it out by hand')),
  view: (id: string) => Promise.reject(new EdgeloopError('NOT_FOUND', `rollout ${id}: rollouts are off on these gateways`)),
  pause: () => Promise.resolve(),
  resume: () => Promise.resolve(),
  rollback: () => Promise.resolve(),
};

/**
 * The MQTT session id of a duty's subscriber, the same on every instance sharing the duties: the
 * instance elected after a fail-over takes over the session and receives what the broker queued.
 */
export function dutySessionClientId(duty: 'rollout' | 'drift', key: string): string {
  return `edgeloop-${duty}-${key.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

export class SingletonDuties {
  readonly #o: SingletonDutiesOptions;
  readonly #log: Logger;
  readonly #jobs: RetrainJobStore;
  readonly #fleet: FleetRegistry;
  readonly #rolloutStore: RolloutStore;
  readonly #elector: LeaderElector;
  #retrain: RetrainService | null = null;
  #rollouts: RolloutService | null = null;
  #driftRunning = false;
  #electedAtMs: number | null = null;
  #elections = 0;
  #lastDemotion: DemotionReason | null = null;

  private constructor(o: SingletonDutiesOptions, tables: { jobs: RetrainJobStore; fleet: FleetRegistry; rollouts: RolloutStore }, elector: LeaderElector) {
    this.#o = o;
    this.#log = (o.logger ?? silentLogger).child('duties');
    this.#jobs = tables.jobs;
    this.#fleet = tables.fleet;
    this.#rolloutStore = tables.rollouts;
    this.#elector = elector;
  }

  /** Creates the shared tables (under an advisory lock) and the elector; campaigning starts with start(). */
  static async create(options: SingletonDutiesOptions): Promise<SingletonDuties> {
    const sql = postgresSql(options.store.pool);
    const jobs = await SqlRetrainJobs.create(sql, { newId: options.retrain ? options.retrain.newId : undefined });
    const fleetHealth = options.rollouts ? options.rollouts.options?.fleetHealth : undefined;
    const tables = { jobs, fleet: await FleetRegistry.create({ sql, now: options.now, ...fleetHealth }), rollouts: await RolloutStore.create(sql) };
    let self: SingletonDuties | null = null;
    const elector = await LeaderElector.create({
      pool: options.store.pool,
      key: options.key ?? SINGLETON_DEFAULTS.key,
      retryMs: options.retryMs ?? SINGLETON_DEFAULTS.retryMs,
      logger: options.logger,
      onElected: () => self!.#elected(),
      onDemoted: (reason) => self!.#demoted(reason),
    });
    self = new SingletonDuties(options, tables, elector);
    return self;
  }

  get isLeader(): boolean {
    return this.#elector.isLeader;
  }

  /** The retraining loop while this instance leads, else null. */
  get retrain(): RetrainService | null {
    return this.#retrain;
  }

  /** The rollout service while this instance leads, else null. */
  get rollouts(): RolloutService | null {
    return this.#rollouts;
  }

  /** The shared retraining jobs (readable on every instance). */
  get jobs(): RetrainJobStore {
    return this.#jobs;
  }

  /** What /v1/health and /metrics show. */
  status(): { leader: boolean; key: string; electedAtMs: number | null; elections: number; lastDemotion: DemotionReason | null; duties: string[] } {
    return {
      leader: this.isLeader, key: this.#o.key ?? SINGLETON_DEFAULTS.key, electedAtMs: this.#electedAtMs, elections: this.#elections,
      lastDemotion: this.#lastDemotion, duties: [...(this.#driftRunning ? ['drift'] : []), ...(this.#rollouts ? ['rollouts'] : []), ...(this.#retrain ? ['retrain'] : [])],
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

  /** The rollout and retraining APIs on every instance: the leader's services, or reads from the shared tables. */
  registerRoutes(http: HttpServer): void {
    if (this.#o.rollouts !== false) {
      registerRolloutRoutes(http, {
        fleet: this.#fleet, store: this.#rolloutStore, now: this.#o.now ?? Date.now, controller: () => this.#rollouts?.controller ?? null,
        unavailable: () => this.isLeader ? `gateway ${this.#o.id} was just elected leader and is starting its duties: try again`
          : `gateway ${this.#o.id} is not the leader for the singleton duties (rollouts): send writes to the leader instance (GET /healthz shows leader: true)`,
      });
    }
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
    try {
      await this.#startDuties();
    } catch (err) {
      // The elector gives the lock back; nothing may keep running on an instance that does not lead.
      await this.#stopDuties();
      throw err;
    }
  }

  async #startDuties(): Promise<void> {
    const sql = postgresSql(this.#o.store.pool);
    const drift = this.#o.drift ?? null;
    if (drift) {
      await drift.start();
      this.#driftRunning = true;
    }
    const ro = this.#o.rollouts;
    if (ro !== false) {
      const rollouts = await RolloutService.create({
        ...ro.options, sql, brokerUrl: ro.brokerUrl, mqtt: ro.mqtt, registry: this.#o.registry, gatewayId: this.#o.id,
        sessionClientId: dutySessionClientId('rollout', this.#o.key ?? SINGLETON_DEFAULTS.key), logger: this.#o.logger, now: this.#o.now,
      });
      await rollouts.start();
      this.#rollouts = rollouts;
    }
    const r = this.#o.retrain;
    if (r === false) return;
    const fleet = r.defaultFleet;
    const service = await RetrainService.create({
      ...r, defaultFleet: fleet, jobStore: this.#jobs, store: this.#o.store, registry: this.#o.registry,
      rollouts: this.#rollouts ? rolloutsOf(this.#rollouts) : NO_ROLLOUTS, live: drift?.performance, alerts: drift?.alerts ?? null, evaluations: this.#o.evaluations, runs: this.#o.runs,
      logger: this.#o.logger, now: this.#o.now,
      // Fenced by the election; a job the previous leader was training is trained again here.
      leading: () => this.#elector.isLeader, resumeTraining: true,
    });
    await service.start();
    this.#retrain = service;
  }

  async #demoted(reason: DemotionReason): Promise<void> {
    this.#log.info(`gateway ${this.#o.id} is no longer leader (${reason}): stopping the singleton duties`);
    this.#electedAtMs = null;
    this.#lastDemotion = reason;
    await this.#stopDuties();
  }

  /** Stops what runs, in the reverse order of #elected (the retraining loop uses the other two). */
  async #stopDuties(): Promise<void> {
    const steps: [string, (() => Promise<void>) | undefined][] = [
      ['the retraining loop', this.#retrain ? this.#retrain.stop.bind(this.#retrain) : undefined],
      ['the rollout service', this.#rollouts ? this.#rollouts.stop.bind(this.#rollouts) : undefined],
      ['drift monitoring', this.#driftRunning && this.#o.drift ? this.#o.drift.stop.bind(this.#o.drift) : undefined],
    ];
    this.#retrain = null;
    this.#rollouts = null;
    this.#driftRunning = false;
    for (const [what, stop] of steps) {
      try {
        await stop?.();
      } catch (err) {
        this.#log.error(`stopping ${what} failed: ${errorMessage(err)}`);
      }
    }
  }
}
