/**
 * The gateway: a store, an optional embedded broker, the durable MQTT ingest session, the drift
 * service, the model registry and the rollout service, and the HTTP server (API + dashboard), started
 * and stopped together. No I/O happens before `start()`.
 *
 * On a PostgreSQL store (scale-out, docs/scaling.md) every instance ingests and shares the registry;
 * the singleton duties (retraining) run only on the instance elected through an advisory lock
 * (gateway/singleton-duties.ts), and another instance takes them over when it dies or loses the lock.
 */
import { dirname, join } from 'node:path';
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import { gatewayFilters, gatewayStatusTopic } from '../src/topics.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import type { TelemetryLimits } from '../src/contracts/telemetry.ts';
import { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from './broker.ts';
import { generatePassword, hashPassword } from './broker-auth.ts';
import { Registry } from './registry.ts';
import { PUBLIC_KEY_FILE } from '../io/ed25519.ts';
import { RolloutService, type RolloutServiceOptions } from './rollout.ts';
import { rolloutPanels } from './rollout-http.ts';
import type { MqttLogin, MqttTls } from './mqtt-login.ts';
import { DurableSubscriber } from './mqtt-session.ts';
import { Ingestor, type RawMessage } from './ingest.ts';
import { HttpServer, sendJson } from './http.ts';
import { Dashboard } from './dashboard.ts';
import { DriftService, type DriftServiceOptions } from './drift-monitor.ts';
import { SqliteStore } from './store-sqlite.ts';
import { PostgresStore } from './store-postgres.ts';
import { postgresSql, sqliteSql } from './sql.ts';
import { SINGLETON_DEFAULTS, SingletonDuties, dutySessionClientId } from './singleton-duties.ts';
import type { Store } from './store.ts';
import { attachDashboardPanels } from './dashboard-panels.ts';
import { attachRetrainPanel } from './dashboard-retrain.ts';
import { ModelEvaluationStore } from './dashboard-models.ts';
import type { ChangeFeed } from './dashboard-live.ts';
import { RunStore } from './runs.ts';
import { attachRetraining, type AttachRetrainOptions } from './retrain-attach.ts';
import type { RetrainService } from './retrain.ts';

export interface GatewayOptions {
  id: string;
  /** External broker URL; when absent an embedded broker is started. */
  brokerUrl?: string;
  /**
   * The embedded broker: where it listens and, optionally, logins + per-identity ACLs (`auth`) and
   * TLS/mTLS (`tls`), see gateway/broker.ts and docs/security.md.
   */
  embeddedBroker?: { host: string; port: number } & Pick<EmbeddedBrokerOptions, 'auth' | 'tls' | 'maxPacketBytes'>;
  dbPath: string;
  synchronous?: 'full' | 'normal';
  /** Fleet to subscribe to, or '+' for all fleets. */
  fleet?: string;
  /** MQTT 5 shared-subscription group: several gateways split one stream. */
  sharedGroup?: string;
  protocolVersion?: 4 | 5;
  /** The gateway's own broker login (identity `_gateway/<id>`), used by all its MQTT clients. */
  username?: string;
  password?: string;
  /** TLS of the gateway's own MQTT clients (mqtts://): the broker's CA, a client certificate for mTLS. */
  tls?: MqttTls;
  maxBatch?: number;
  /** 0 picks a free port; null disables HTTP. `token`: write requests need it (gateway/http.ts). */
  http?: { host: string; port: number; token?: string | null; protectReads?: boolean } | null;
  limits?: Partial<TelemetryLimits>;
  logger?: Logger;
  now?: () => number;
  /** Use this store instead of opening dbPath (tests of other implementations). */
  store?: Store;
  /** Drift monitoring, performance tracking and alerts (on by default with a SQLite store); false disables it. */
  drift?: false | Pick<DriftServiceOptions, 'policy' | 'performance' | 'alertCooldownMs' | 'webhookUrl' | 'webhook'>;
  /** Folder of the registry's ed25519 signing key; default `keys/` next to dbPath (like `edgeloop models`). */
  keyDir?: string;
  /** Model registry + rollouts (on by default; on PostgreSQL the rollouts run on the elected instance); false disables both. */
  rollouts?: false | GatewayRolloutOptions;
  /** The retraining loop (on by default when rollouts are on); false disables it. */
  retrain?: false | Omit<AttachRetrainOptions, 'logger' | 'now' | 'evaluations' | 'runs'>;
  /**
   * PostgreSQL store only: the election of the instance that runs the singleton duties (advisory lock
   * `key`, default 'edgeloop:singleton-duties'; `retryMs`, default 2000, bounds the fail-over time).
   */
  leader?: { key?: string; retryMs?: number };
}

export type GatewayRolloutOptions = Pick<RolloutServiceOptions, 'tickMs' | 'resumeGraceMs' | 'transferOptions' | 'fleetHealth' | 'timers' | 'newId'>;

/** The registry key folder the gateway uses for a database path (the same rule as cli/config.ts keyDirOf). */
export function defaultKeyDir(dbPath: string): string {
  return join(dirname(dbPath), 'keys');
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export class Gateway {
  readonly #o: GatewayOptions;
  readonly #log: Logger;
  #store: Store | null = null;
  #broker: EmbeddedBroker | null = null;
  #subscriber: DurableSubscriber | null = null;
  #http: HttpServer | null = null;
  #ingestor: Ingestor | null = null;
  #dashboard: Dashboard | null = null;
  #drift: DriftService | null = null;
  #registry: Registry | null = null;
  #rollouts: RolloutService | null = null;
  #evaluations: Promise<ModelEvaluationStore | undefined> | null = null;
  #runs: Promise<RunStore | undefined> | null = null;
  #retrain: RetrainService | null = null;
  #duties: SingletonDuties | null = null;
  #feed: ChangeFeed | null = null;
  #login: MqttLogin = {};
  #publicKeyPath: string | null = null;
  #brokerUrl = '';

  constructor(options: GatewayOptions) {
    this.#o = options;
    this.#log = (options.logger ?? silentLogger).child('gateway');
  }

  get brokerUrl(): string {
    return this.#brokerUrl;
  }

  get httpUrl(): string | null {
    return this.#http ? this.#http.url : null;
  }

  get store(): Store {
    if (!this.#store) throw new Error('gateway not started');
    return this.#store;
  }

  get subscriberStats() {
    return this.#subscriber?.stats ?? null;
  }

  async start(): Promise<void> {
    const now = this.#o.now ?? Date.now;
    this.#store = this.#o.store ?? (await SqliteStore.create({ path: this.#o.dbPath, synchronous: this.#o.synchronous }));
    const ingestor = new Ingestor(this.#store, this.#o.limits);
    this.#ingestor = ingestor;
    try {
      const login: MqttLogin = { username: this.#o.username, password: this.#o.password, protocolVersion: this.#o.protocolVersion, tls: this.#o.tls };
      let clientUrl: string;
      if (this.#o.brokerUrl) {
        this.#brokerUrl = clientUrl = this.#o.brokerUrl;
      } else {
        const embedded = this.#o.embeddedBroker ?? { host: '127.0.0.1', port: 1883 };
        const auth = await this.#ownIdentity(embedded, login);
        this.#broker = await startEmbeddedBroker({ ...embedded, auth, logger: this.#log.child('broker') });
        this.#brokerUrl = this.#broker.url;
        // The own clients reach a wildcard listener over loopback (a TLS certificate names 127.0.0.1, not 0.0.0.0).
        clientUrl = this.#broker.url.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:');
      }
      this.#login = login;
      this.#subscriber = new DurableSubscriber({
        url: clientUrl,
        clientId: `edgeloop-gateway-${this.#o.id}`,
        filters: gatewayFilters(this.#o.fleet ?? '+', this.#o.sharedGroup),
        protocolVersion: login.protocolVersion,
        username: login.username,
        password: login.password,
        tls: login.tls,
        maxBatch: this.#o.maxBatch,
        will: { topic: gatewayStatusTopic(this.#o.id), payload: JSON.stringify({ online: false, id: this.#o.id }), retain: true },
        birth: { topic: gatewayStatusTopic(this.#o.id), payload: JSON.stringify({ online: true, id: this.#o.id, startedAtMs: now(), pid: process.pid }), retain: true },
        logger: this.#log.child('ingest'),
        now,
        onBatch: async (messages) => {
          const outcome = await ingestor.ingest(messages.map((m) => ({ topic: m.topic, payload: m.payload, receivedAtMs: m.receivedAtMs, transport: 'mqtt', source: 'mqtt' })));
          if (outcome.quarantined > 0) {
            this.#log.warn(() => `quarantined ${outcome.quarantined} of ${messages.length} messages: ${outcome.verdicts.filter((v) => v).map((v) => v!.reason).join(', ')}`);
          }
        },
      });
      await this.#subscriber.start();
      const store = this.#store;
      if (this.#o.drift !== false && (store instanceof SqliteStore || store instanceof PostgresStore)) {
        // On PostgreSQL every instance has the service (its routes read the shared tables), only the
        // elected one runs it (SingletonDuties starts and stops it); its session id is the same on all.
        this.#drift = await DriftService.create({
          ...(this.#o.drift ?? {}),
          sql: store instanceof PostgresStore ? postgresSql(store.pool) : sqliteSql(store.database),
          brokerUrl: clientUrl,
          fleet: this.#o.fleet ?? '+',
          clientId: store instanceof PostgresStore ? dutySessionClientId('drift', this.#o.leader?.key ?? SINGLETON_DEFAULTS.key) : `edgeloop-drift-${this.#o.id}`,
          mqtt: login,
          // Reference profiles of the versions devices report come from the registry (created below).
          manifests: async (model, version) => {
            const registry = this.#registry;
            if (!registry) return null;
            const v = await registry.show(`${model}@${version}`);
            const first = v.artifacts[0];
            return first ? await registry.manifest(`${model}@${version}`, first.format, first.variant) : null;
          },
          logger: this.#log,
          now,
        });
        this.#drift.setMetricsSources({
          ingest: async () => ({ counters: await store.counters(), pendingMessages: this.#subscriber?.stats.pending ?? 0 }),
          leader: () => ({ gateway: this.#o.id, leader: this.isLeader }),
        });
        if (!(store instanceof PostgresStore)) await this.#drift.start();
      }
      if (this.#o.rollouts !== false && this.#store instanceof SqliteStore) {
        const keyDir = this.#o.keyDir ?? defaultKeyDir(this.#o.dbPath);
        this.#registry = await Registry.create({ database: this.#store.database, keyDir, logger: this.#log, now });
        this.#rollouts = await RolloutService.create({
          ...(this.#o.rollouts ?? {}),
          sql: sqliteSql(this.#store.database),
          brokerUrl: clientUrl,
          mqtt: login,
          registry: this.#registry,
          gatewayId: this.#o.id,
          logger: this.#log,
          now,
          onChange: (rolloutId) => this.#onRolloutChange(rolloutId),
        });
        await this.#rollouts.start();
        this.#publicKeyPath = join(keyDir, PUBLIC_KEY_FILE);
        this.#log.info(`rollouts on; devices pin the signing key ${this.#registry.publicKey().keyId} (${this.#publicKeyPath})`);
      }
      if (this.#o.rollouts !== false && this.#store instanceof PostgresStore) {
        // Shared by every instance: the registry's tables are in PostgreSQL, the signing key must be the
        // same key pair on every instance (copy the key folder), so there is no default next to a URL.
        if (this.#o.keyDir === undefined) {
          this.#log.warn('registry and singleton duties (retraining) off: a gateway on PostgreSQL needs keyDir, the signing key folder every instance shares');
        } else {
          this.#registry = await Registry.create({ sql: postgresSql(this.#store.pool), keyDir: this.#o.keyDir, logger: this.#log, now });
          this.#publicKeyPath = join(this.#o.keyDir, PUBLIC_KEY_FILE);
          const fleet = this.#o.fleet ?? '+';
          this.#duties = await SingletonDuties.create({
            id: this.#o.id, store: this.#store, registry: this.#registry, drift: this.#drift, evaluations: await this.#evaluationStore(), runs: await this.#runStore(),
            rollouts: { brokerUrl: clientUrl, mqtt: login, options: { ...(this.#o.rollouts ?? {}), onChange: (rolloutId) => this.#onRolloutChange(rolloutId) } },
            retrain: this.#o.retrain === false ? false : { defaultFleet: fleet !== '+' ? fleet : undefined, ...(this.#o.retrain ?? {}) },
            key: this.#o.leader?.key, retryMs: this.#o.leader?.retryMs, logger: this.#log, now,
          });
          const duties = this.#duties;
          this.#drift?.setMetricsSources({
            retrain: async () => (await duties.retrain?.metricsSnapshot()) ?? { jobsByState: await duties.jobs.countsByState(), lastEvaluation: [] },
          });
        }
      }
      if (this.#o.http !== null) {
        const httpOptions = this.#o.http ?? { host: '127.0.0.1', port: 8080 };
        if (!httpOptions.token && !isLoopback(httpOptions.host)) {
          this.#log.warn(`HTTP API on ${httpOptions.host} without an API token: anyone who reaches the port can create rollouts and retraining jobs (set gateway.httpTokenFile)`);
        }
        this.#http = new HttpServer({ ...httpOptions, logger: this.#log.child('http') });
        this.#addRoutes(this.#http, ingestor, now);
        this.#dashboard = new Dashboard({ store: this.#store, subscriberStats: () => this.#subscriber?.stats ?? null, logger: this.#log.child('dashboard'), now });
        this.#dashboard.registerRoutes(this.#http);
        this.#drift?.registerRoutes(this.#http);
        if (this.#rollouts) this.#rollouts.registerRoutes(this.#http);
        if (this.#rollouts || this.#duties) for (const panel of rolloutPanels()) this.#dashboard.addPanel(panel);
        const sqlite = this.#store instanceof SqliteStore ? this.#store : null;
        this.#duties?.registerRoutes(this.#http);
        if (!this.#drift) this.#addLeaderMetrics(this.#http);
        this.#feed = attachDashboardPanels({
          http: this.#http, dashboard: this.#dashboard, store: this.#store, database: sqlite?.database,
          // The models panel reads the registry, the training runs and the artifacts' evaluations on either store.
          registry: this.#registry, drift: this.#drift,
          runs: await this.#runStore(),
          evaluations: await this.#evaluationStore(),
          driftPolicy: this.#o.drift ? this.#o.drift.policy : undefined,
          logger: this.#log.child('dashboard'), now,
        });
        if (this.#o.retrain !== false && ((sqlite && this.#registry && this.#rollouts) || this.#duties)) {
          // The jobs of this gateway's retraining loop (attached below), or the shared ones on PostgreSQL.
          const jobs = { list: async (filter?: { model?: string; limit?: number }) => (await (this.#retrain?.jobStore ?? this.#duties?.jobs)?.list(filter)) ?? [] };
          this.#feed.add(attachRetrainPanel(this.#http, this.#dashboard, jobs));
        }
        await this.#http.start();
        this.#dashboard.start();
        await this.#feed.start();
        this.#log.info(`HTTP API on ${this.#http.url}`);
      }
      // Campaign last: a leader starts its duties with every route in place.
      await this.#duties?.start();
      if (this.#o.retrain !== false && this.#registry && this.#rollouts && this.#store instanceof SqliteStore) {
        const fleet = this.#o.fleet ?? '+';
        this.#retrain = await attachRetraining(this, {
          defaultFleet: fleet !== '+' ? fleet : undefined,
          ...(this.#o.retrain ?? {}),
          evaluations: await this.#evaluationStore(),
          runs: await this.#runStore(),
          logger: this.#log, now,
        });
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  #addRoutes(httpServer: HttpServer, ingestor: Ingestor, now: () => number): void {
    httpServer.route('POST', /^\/v1\/telemetry\/([^/]+)\/([^/]+)$/, async (req, res, [fleet, device], body) => {
      const msg: RawMessage = {
        topic: `edgeloop/${fleet}/${device}/telemetry`,
        payload: body,
        receivedAtMs: now(),
        transport: 'http',
        source: req.socket.remoteAddress ?? 'http',
      };
      const outcome = await ingestor.ingest([msg]);
      const verdict = outcome.verdicts[0];
      if (verdict) return sendJson(res, 400, { error: verdict.reason, message: verdict.detail, quarantined: true });
      sendJson(res, 200, { inserted: outcome.inserted, duplicates: outcome.duplicates });
    });
    httpServer.route('GET', /^\/healthz$/, (_req, res) => sendJson(res, 200, {
      ok: true, id: this.#o.id, mqtt: this.#subscriber?.stats.connected ?? false, leader: this.isLeader, duties: this.#duties?.status() ?? null,
    }));
    httpServer.route('GET', /^\/v1\/ingest$/, async (_req, res) => {
      sendJson(res, 200, { counters: await this.store.counters(), subscriber: this.#subscriber?.stats ?? null });
    });
  }

  /** GET /metrics without the drift service (PostgreSQL gateways): leadership and the shared retraining jobs. */
  #addLeaderMetrics(httpServer: HttpServer): void {
    httpServer.route('GET', /^\/metrics$/, async (_req, res) => {
      const id = JSON.stringify(this.#o.id);
      const lines = [
        '# HELP edgeloop_leader 1 while this gateway instance runs the singleton duties (elected leader, or the only instance on SQLite), else 0',
        '# TYPE edgeloop_leader gauge',
        `edgeloop_leader{gateway=${id}} ${this.isLeader ? 1 : 0}`,
      ];
      if (this.#duties) {
        lines.push('# HELP edgeloop_retrain_jobs Retraining jobs by state', '# TYPE edgeloop_retrain_jobs gauge');
        for (const [state, n] of Object.entries(await this.#duties.jobs.countsByState())) lines.push(`edgeloop_retrain_jobs{state="${state}"} ${n}`);
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(lines.join('\n') + '\n');
    });
  }

  /**
   * Whether this instance runs the singleton duties: on a PostgreSQL store, while it holds the
   * election lock; on SQLite (one gateway per file) always, once started.
   */
  get isLeader(): boolean {
    if (this.#duties) return this.#duties.isLeader;
    return this.#store !== null && !(this.#store instanceof PostgresStore);
  }

  /** The singleton duties and their election (PostgreSQL store with the registry on; else null). */
  get duties(): SingletonDuties | null {
    return this.#duties;
  }

  /** The dashboard, for other parts to add panels and broadcast events (null when HTTP is off). */
  get dashboard(): Dashboard | null {
    return this.#dashboard;
  }

  /** Drift monitoring, performance tracking and alerts (null when disabled). */
  get drift(): DriftService | null {
    return this.#drift;
  }

  /** The model registry on the gateway's database (null before start, with rollouts off or a non-SQLite store). */
  get registry(): Registry | null {
    return this.#registry;
  }

  /** Rollouts and the fleet registry (null before start, when disabled, or on a PostgreSQL gateway that is not the leader). */
  get rollouts(): RolloutService | null {
    return this.#rollouts ?? this.#duties?.rollouts ?? null;
  }

  /** The registry's public key file (SPKI PEM) that devices pin with `edgeloop device --public-key` (null when rollouts are off). */
  get publicKeyPath(): string | null {
    return this.#publicKeyPath;
  }

  /** How the gateway's own clients log in (other in-process services connecting to the same broker). */
  get mqttLogin(): MqttLogin {
    return { ...this.#login };
  }

  /** The training runs, in the gateway's database (SQLite or PostgreSQL); one instance, made on first use. */
  #runStore(): Promise<RunStore | undefined> {
    const store = this.#store;
    this.#runs ??= store instanceof SqliteStore ? RunStore.create({ database: store.database, now: this.#o.now })
      : store instanceof PostgresStore ? RunStore.create({ sql: postgresSql(store.pool), now: this.#o.now }) : Promise.resolve(undefined);
    return this.#runs;
  }

  /** The artifacts' evaluations (confusion matrices), in the gateway's database; one instance, made on first use. */
  #evaluationStore(): Promise<ModelEvaluationStore | undefined> {
    const store = this.#store;
    this.#evaluations ??= store instanceof SqliteStore ? ModelEvaluationStore.create(sqliteSql(store.database))
      : store instanceof PostgresStore ? ModelEvaluationStore.create(postgresSql(store.pool)) : Promise.resolve(undefined);
    return this.#evaluations;
  }

  #onRolloutChange(rolloutId: string): void {
    const dashboard = this.#dashboard;
    const rollouts = this.rollouts;
    if (!dashboard || !rollouts) return;
    rollouts.controller.summary(rolloutId)
      .then((summary) => dashboard.broadcast('rollout', summary))
      .catch((err: unknown) => this.#log.warn(`cannot broadcast rollout ${rolloutId}: ${errorMessage(err)}`));
  }

  /**
   * With logins required on the embedded broker, the gateway's own clients need an identity. Without a
   * configured password or client certificate they get a random per-process password for
   * `_gateway/<id>` that exists only in this process's memory.
   */
  async #ownIdentity(embedded: NonNullable<GatewayOptions['embeddedBroker']>, login: MqttLogin): Promise<EmbeddedBrokerOptions['auth']> {
    const auth = embedded.auth;
    const hasCert = login.tls?.cert !== undefined && login.tls.key !== undefined;
    if (!auth) {
      if (embedded.tls?.requestCert && !hasCert) {
        throw new EdgeloopError('BAD_CONFIG', "the embedded broker asks for client certificates ('tls.requestCert') without password logins: give the gateway a client certificate (tls.cert and tls.key, CN _gateway/<id>) or turn on broker auth");
      }
      return undefined;
    }
    if (login.password !== undefined || (hasCert && embedded.tls?.requestCert)) return auth;
    const identity = `_gateway/${this.#o.id}`;
    if (login.username !== undefined && login.username !== identity) {
      throw new EdgeloopError('BAD_CONFIG', `gateway username ${JSON.stringify(login.username)} has no password: set the password, or leave the username unset to use a generated one for ${identity}`);
    }
    const password = generatePassword();
    login.username = identity;
    login.password = password;
    this.#log.info(`the gateway's own clients log in as ${identity} with a per-process password`);
    const entry = { identity, passwordHash: await hashPassword(password), createdAtMs: Date.now() };
    return { users: [...auth.users.filter((u) => u.identity !== identity), entry] };
  }

  /** The HTTP server, for other parts to add routes (null when HTTP is off). */
  get http(): HttpServer | null {
    return this.#http;
  }

  /** The retraining loop (null before start, when disabled, or on a PostgreSQL instance that is not the leader). */
  get retrain(): RetrainService | null {
    return this.#retrain ?? this.#duties?.retrain ?? null;
  }

  async stop(): Promise<void> {
    // First: hands the duties over (the lock is released) while ingest still runs.
    await this.#duties?.stop();
    this.#duties = null;
    await this.#retrain?.stop();
    this.#retrain = null;
    await this.#feed?.stop();
    this.#feed = null;
    this.#dashboard?.stop();
    this.#dashboard = null;
    await this.#http?.stop();
    this.#http = null;
    await this.#rollouts?.stop();
    this.#rollouts = null;
    this.#registry = null;
    this.#publicKeyPath = null;
    await this.#drift?.stop();
    this.#drift = null;
    await this.#subscriber?.stop();
    this.#subscriber = null;
    await this.#broker?.stop();
    this.#broker = null;
    if (this.#store && !this.#o.store) await this.#store.close();
    this.#store = null;
    this.#evaluations = null;
    this.#runs = null;
    this.#ingestor = null;
  }
}
