/**
 * The gateway: a store, an optional embedded broker, the durable MQTT ingest session and the HTTP
 * server, started and stopped together. No I/O happens before `start()`.
 */
import { gatewayFilters, gatewayStatusTopic } from '../src/topics.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import type { TelemetryLimits } from '../src/contracts/telemetry.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker.ts';
import { DurableSubscriber } from './mqtt-session.ts';
import { Ingestor, type RawMessage } from './ingest.ts';
import { HttpServer, sendJson } from './http.ts';
import { Dashboard } from './dashboard.ts';
import { DriftService, type DriftServiceOptions } from './drift-monitor.ts';
import { SqliteStore } from './store-sqlite.ts';
import type { Store } from './store.ts';

export interface GatewayOptions {
  id: string;
  /** External broker URL; when absent an embedded broker is started. */
  brokerUrl?: string;
  embeddedBroker?: { host: string; port: number };
  dbPath: string;
  synchronous?: 'full' | 'normal';
  /** Fleet to subscribe to, or '+' for all fleets. */
  fleet?: string;
  /** MQTT 5 shared-subscription group: several gateways split one stream. */
  sharedGroup?: string;
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string;
  maxBatch?: number;
  /** 0 picks a free port; null disables HTTP. */
  http?: { host: string; port: number } | null;
  limits?: Partial<TelemetryLimits>;
  logger?: Logger;
  now?: () => number;
  /** Use this store instead of opening dbPath (tests of other implementations). */
  store?: Store;
  /** Drift monitoring, performance tracking and alerts (on by default with a SQLite store); false disables it. */
  drift?: false | Pick<DriftServiceOptions, 'policy' | 'performance' | 'alertCooldownMs' | 'webhookUrl' | 'webhook'>;
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
      if (this.#o.brokerUrl) {
        this.#brokerUrl = this.#o.brokerUrl;
      } else {
        this.#broker = await startEmbeddedBroker({ ...(this.#o.embeddedBroker ?? { host: '127.0.0.1', port: 1883 }), logger: this.#log.child('broker') });
        this.#brokerUrl = this.#broker.url;
      }
      this.#subscriber = new DurableSubscriber({
        url: this.#brokerUrl,
        clientId: `edgeloop-gateway-${this.#o.id}`,
        filters: gatewayFilters(this.#o.fleet ?? '+', this.#o.sharedGroup),
        protocolVersion: this.#o.protocolVersion,
        username: this.#o.username,
        password: this.#o.password,
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
      if (this.#o.drift !== false && this.#store instanceof SqliteStore) {
        const store = this.#store;
        this.#drift = await DriftService.create({
          ...(this.#o.drift ?? {}),
          database: store.database,
          brokerUrl: this.#brokerUrl,
          fleet: this.#o.fleet ?? '+',
          clientId: `edgeloop-drift-${this.#o.id}`,
          mqtt: { username: this.#o.username, password: this.#o.password, protocolVersion: this.#o.protocolVersion },
          logger: this.#log,
          now,
        });
        this.#drift.setMetricsSources({
          ingest: async () => ({ counters: await store.counters(), pendingMessages: this.#subscriber?.stats.pending ?? 0 }),
        });
        await this.#drift.start();
      }
      if (this.#o.http !== null) {
        this.#http = new HttpServer({ ...(this.#o.http ?? { host: '127.0.0.1', port: 8080 }), logger: this.#log.child('http') });
        this.#addRoutes(this.#http, ingestor, now);
        this.#dashboard = new Dashboard({ store: this.#store, subscriberStats: () => this.#subscriber?.stats ?? null, logger: this.#log.child('dashboard'), now });
        this.#dashboard.registerRoutes(this.#http);
        this.#drift?.registerRoutes(this.#http);
        await this.#http.start();
        this.#dashboard.start();
        this.#log.info(`HTTP API on ${this.#http.url}`);
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
    httpServer.route('GET', /^\/healthz$/, (_req, res) => sendJson(res, 200, { ok: true, mqtt: this.#subscriber?.stats.connected ?? false }));
    httpServer.route('GET', /^\/v1\/ingest$/, async (_req, res) => {
      sendJson(res, 200, { counters: await this.store.counters(), subscriber: this.#subscriber?.stats ?? null });
    });
  }

  /** The dashboard, for other parts to add panels and broadcast events (null when HTTP is off). */
  get dashboard(): Dashboard | null {
    return this.#dashboard;
  }

  /** Drift monitoring, performance tracking and alerts (null when disabled). */
  get drift(): DriftService | null {
    return this.#drift;
  }

  /** The HTTP server, for other parts to add routes (null when HTTP is off). */
  get http(): HttpServer | null {
    return this.#http;
  }

  async stop(): Promise<void> {
    this.#dashboard?.stop();
    this.#dashboard = null;
    await this.#http?.stop();
    this.#http = null;
    await this.#drift?.stop();
    this.#drift = null;
    await this.#subscriber?.stop();
    this.#subscriber = null;
    await this.#broker?.stop();
    this.#broker = null;
    if (this.#store && !this.#o.store) await this.#store.close();
    this.#store = null;
    this.#ingestor = null;
  }
}
