/**
 * The gateway side of drift monitoring (DriftService): subscribes durably to the devices' drift,
 * predictions and labels topics, stores drift reports as a per-feature time series, judges each one
 * with the drift policy against the reference profile of the model version the device runs,
 * tracks performance from delayed labels, raises alerts on ok → warn/alert transitions (and on
 * performance degradation), and serves /metrics and the /v1/drift, /v1/alerts, /v1/performance API.
 *
 * One MQTT batch = one transaction (reports, verdicts, joins, rejects and alert rows): the batch is
 * read, judged in memory and written as one `SqlDb.batch` (gateway/sql-batch.ts); the broker gets its
 * PUBACKs only after that commit, and alerts leave (MQTT, webhook) only after it. The tables are on
 * gateway/sql.ts: the gateway's SQLite file, or the PostgreSQL shared by scaled-out gateways (where the
 * elected leader runs this service). A batch delivered again (a crash before the PUBACK, or the next
 * leader taking over the MQTT session) is stored once: reports, predictions, labels and alerts are
 * keyed, and what a batch stored already raises nothing new.
 *
 * Which model a device runs: set by the rollout (setDeviceModel) or learned from the newest
 * prediction the device published. A DriftReport from an older device does not name its model
 * (src/drift/report.ts), so a report from a device whose model is unknown, or whose version has no registered profile,
 * is stored with the verdict 'no_profile' and raises nothing.
 */
import type http from 'node:http';
import type { SqliteDatabase } from '../io/sqlite.ts';
import { sqliteSql, type SqlDb } from './sql.ts';
import { SqlBatch } from './sql-batch.ts';
import { connectMqtt, endAsync, publishAsync, type MqttClient } from '../io/mqtt-client.ts';
import { EdgeloopError, errorMessage, isEdgeloopError, type ErrorCode } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { assertSafeName } from '../src/names.ts';
import { alertsTopic, parseTopic, TOPIC_ROOT } from '../src/topics.ts';
import { parseDriftReport, type DriftReport } from '../src/drift/report.ts';
import { evaluateDrift, resolveDriftPolicy, type DriftEvaluation, type DriftPolicy } from '../src/drift/policy.ts';
import type { ReferenceProfile } from '../src/drift/profile.ts';
import type { ModelManifest } from '../src/manifest.ts';
import { decodeJsonPayload, parseLabelBatch, parsePredictionBatch, type LabelBatch, type PredictionBatch } from '../src/contracts/predictions.ts';
import { DurableSubscriber, type ReceivedMessage } from './mqtt-session.ts';
import { sendJson, type HttpServer } from './http.ts';
import { DriftStore, reportKey, type DeviceModel, type ModelTask, type ProfileRecord, type StoredVerdict } from './drift-store.ts';
import { PerformanceTracker, resolvePerformancePolicy, type PerformanceEvent, type PerformancePolicy, type PerformanceState } from './performance.ts';
import { AlertManager, ALERT_KINDS, resolveAlertOptions, type Alert, type AlertKind, type AlertManagerOptions, type AlertPublisher, type KeyedAlertInput, type WebhookOptions, type WebhookPost } from './alerts.ts';
import { GatewayMetrics, type MetricsSources } from './metrics.ts';

export interface DriftServiceOptions {
  /** The gateway's SQLite handle (SqliteStore#database): drift tables live in the same file. Or `sql`. */
  database?: SqliteDatabase;
  /** Where the drift, performance and alert tables live: sqliteSql(database) or postgresSql(pool). Exactly one of database and sql. */
  sql?: SqlDb;
  brokerUrl: string;
  /** Fleet to monitor, or '+' for every fleet. */
  fleet: string;
  policy?: Partial<DriftPolicy>;
  performance?: Partial<PerformancePolicy>;
  /** Same device + model + kind within this is counted, not re-sent. */
  alertCooldownMs?: number;
  webhookUrl?: string;
  webhook?: Partial<WebhookOptions>;
  logger?: Logger;
  now?: () => number;
  /**
   * MQTT client id prefix (the subscriber uses it as is, the alert publisher adds '-alerts'); default
   * `edgeloop-drift-<fleet|all>`. Its session is persistent: gateways on one PostgreSQL should all use
   * the same id, so the elected leader takes over the session (and its unacknowledged messages).
   */
  clientId?: string;
  mqtt?: { username?: string; password?: string; protocolVersion?: 4 | 5; tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; rejectUnauthorized?: boolean } };
  /** Largest accepted drift / predictions / labels payload. */
  maxPayloadBytes?: number;
  /**
   * Where the reference profile of a model version comes from when a device reports one that was not
   * registered (the Gateway passes the model registry): looked up once per version, before the batch
   * that names it is judged. Null: not found.
   */
  manifests?: (model: string, version: number) => Promise<ModelManifest | null>;
  metricsSources?: MetricsSources;
  /** Tests: replace the alert MQTT publisher (null: no MQTT alerts) or the webhook POST. */
  alertPublisher?: AlertPublisher | null;
  webhookPost?: WebhookPost;
}

export const DRIFT_SERVICE_DEFAULTS = { maxPayloadBytes: 1024 * 1024 };

type Item =
  | { kind: 'drift'; fleet: string; device: string; report: DriftReport; msg: ReceivedMessage }
  | { kind: 'predictions'; fleet: string; device: string; batch: PredictionBatch; msg: ReceivedMessage }
  | { kind: 'labels'; fleet: string; device: string; batch: LabelBatch; msg: ReceivedMessage }
  | { kind: 'reject'; topicKind: string; reason: ErrorCode; detail: string; msg: ReceivedMessage };

interface BatchEffects {
  reports: { fleet: string; device: string; model: { model: string; version: number } | null; report: DriftReport; verdict: StoredVerdict }[];
  perf: PerformanceState[];
  rejects: { topicKind: string; reason: ErrorCode }[];
  alerts: Alert[];
}

/** What a batch read or decided so far, for the messages after it in the same batch. */
interface BatchContext {
  profiles: Map<string, ProfileRecord | null>;
  /** Device models set by this batch's predictions ("fleet/device"), the newest message's last. */
  deviceModels: Map<string, DeviceModel & { fleet: string; device: string; atMs: number }>;
  /** The latest decided verdict per device after this batch's reports so far. */
  verdicts: Map<string, 'ok' | 'warn' | 'alert' | null>;
  /** Report keys stored by this batch. */
  reports: Set<string>;
  raised: KeyedAlertInput[];
}

export interface BatchOutcome {
  reports: number;
  predictions: number;
  labels: number;
  rejected: number;
  alertsSent: number;
}

const RANK: Record<'ok' | 'warn' | 'alert', number> = { ok: 0, warn: 1, alert: 2 };

function profileProblem(p: unknown): string | null {
  if (p === null || typeof p !== 'object') return 'must be an object';
  const r = p as Partial<ReferenceProfile>;
  if (r.version !== 1) return `version must be 1, got ${String(r.version)}`;
  if (!Array.isArray(r.features) || r.features.length === 0) return 'features must be a non-empty array';
  for (const [i, f] of r.features.entries()) {
    if (f === null || typeof f !== 'object' || (f.kind !== 'numeric' && f.kind !== 'categorical') || typeof f.name !== 'string') {
      return `features[${i}] must be a numeric or categorical feature profile with a name`;
    }
  }
  return null;
}

export class DriftService {
  readonly #o: DriftServiceOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #policy: DriftPolicy;
  readonly #store: DriftStore;
  readonly #perf: PerformanceTracker;
  readonly #alerts: AlertManager;
  readonly #metrics: GatewayMetrics;
  readonly #sql: SqlDb;
  #subscriber: DurableSubscriber | null = null;
  #client: MqttClient | null = null;

  private constructor(o: DriftServiceOptions, sql: SqlDb, policy: DriftPolicy, store: DriftStore, perf: PerformanceTracker, alerts: AlertManager) {
    this.#sql = sql;
    this.#o = o;
    this.#log = (o.logger ?? silentLogger).child('drift');
    this.#now = o.now ?? Date.now;
    this.#policy = policy;
    this.#store = store;
    this.#perf = perf;
    this.#alerts = alerts;
    this.#metrics = new GatewayMetrics(
      {
        alerts: async () => ({ byKind: await alerts.countsByKind(), stats: alerts.stats }),
        performance: async () => ({ counters: perf.counters, pendingLabels: await perf.pendingLabels() }),
      },
      { now: this.#now, sources: o.metricsSources },
    );
  }

  /**
   * Validates the options (BAD_CONFIG lists every problem) and creates the tables. No network I/O:
   * that happens in start().
   */
  static async create(options: DriftServiceOptions): Promise<DriftService> {
    const problems: string[] = [];
    if (options.fleet !== '+') {
      try {
        assertSafeName('fleet', options.fleet);
      } catch (err) {
        problems.push(errorMessage(err));
      }
    }
    if (!/^(mqtt|mqtts|tcp):\/\/[^/\s]+$/.test(options.brokerUrl)) problems.push(`brokerUrl ${JSON.stringify(options.brokerUrl)} must look like mqtt://host:port`);
    const maxPayloadBytes = options.maxPayloadBytes ?? DRIFT_SERVICE_DEFAULTS.maxPayloadBytes;
    if (!(Number.isInteger(maxPayloadBytes) && maxPayloadBytes >= 64)) problems.push(`maxPayloadBytes must be an integer ≥ 64, got ${maxPayloadBytes}`);
    if ((options.database === undefined) === (options.sql === undefined)) problems.push('exactly one of database (SQLite) or sql must be given');
    const attempt = <T>(f: () => T): T | null => {
      try {
        return f();
      } catch (err) {
        problems.push(errorMessage(err));
        return null;
      }
    };
    const policy = attempt(() => resolveDriftPolicy(options.policy));
    attempt(() => resolvePerformancePolicy(options.performance));
    const alertOptions: AlertManagerOptions = {
      topic: alertsTopic,
      cooldownMs: options.alertCooldownMs,
      webhookUrl: options.webhookUrl,
      webhook: options.webhook,
      publisher: options.alertPublisher ?? null,
      post: options.webhookPost,
      logger: options.logger,
      now: options.now,
    };
    attempt(() => resolveAlertOptions(alertOptions));
    if (problems.length > 0 || !policy) throw new EdgeloopError('BAD_CONFIG', `drift service options are invalid: ${problems.join('; ')}`);
    const sql = options.sql ?? sqliteSql(options.database!);
    const store = await DriftStore.create(sql);
    const perf = await PerformanceTracker.create(sql, options.performance);
    const alerts = await AlertManager.create(sql, alertOptions);
    return new DriftService({ ...options, maxPayloadBytes }, sql, policy, store, perf, alerts);
  }

  get store(): DriftStore {
    return this.#store;
  }

  get performance(): PerformanceTracker {
    return this.#perf;
  }

  get alerts(): AlertManager {
    return this.#alerts;
  }

  get metrics(): GatewayMetrics {
    return this.#metrics;
  }

  get subscriberStats() {
    return this.#subscriber?.stats ?? null;
  }

  /** Ingest and rollout callbacks for /metrics (the Gateway wires its store counters here). */
  setMetricsSources(sources: MetricsSources): void {
    this.#metrics.setSources(sources);
  }

  /**
   * Registers the reference profile of a model version (the registry calls this at publish time).
   * `task` defaults from the profile's output (numeric → regression); `testMetrics` (the manifest's
   * `metrics`, e.g. test_accuracy / test_mse) is the baseline of the performance check.
   */
  async registerProfile(model: string, version: number, profile: ReferenceProfile, options: { task?: ModelTask; testMetrics?: Record<string, number> } = {}): Promise<void> {
    assertSafeName('model', model);
    if (!(Number.isInteger(version) && version >= 1)) throw new EdgeloopError('BAD_ARGUMENT', `version must be an integer ≥ 1, got ${version}`);
    const problem = profileProblem(profile);
    if (problem) throw new EdgeloopError('BAD_ARGUMENT', `profile of ${model} v${version} is not a reference profile: ${problem}`);
    const task = options.task ?? (profile.output?.kind === 'numeric' ? 'regression' : 'classification');
    if (task !== 'classification' && task !== 'regression') throw new EdgeloopError('BAD_ARGUMENT', `task must be 'classification' or 'regression', got ${String(task)}`);
    const testMetrics = options.testMetrics ?? {};
    for (const [k, v] of Object.entries(testMetrics)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new EdgeloopError('BAD_ARGUMENT', `testMetrics.${k} must be a finite number, got ${String(v)}`);
    }
    await this.#store.putProfile({ model, version, task, profile, testMetrics, registeredAtMs: this.#now() });
    this.#log.info(`registered reference profile of ${model} v${version} (${profile.features.length} features, ${task})`);
  }

  /** registerProfile from a model manifest (reference.profile, task, metrics). */
  async registerManifest(manifest: ModelManifest): Promise<void> {
    if (!manifest.reference) throw new EdgeloopError('BAD_ARGUMENT', `manifest of ${manifest.model} v${manifest.version} has no reference profile (reference is null)`);
    await this.registerProfile(manifest.model, manifest.version, manifest.reference.profile as ReferenceProfile, { task: manifest.task, testMetrics: manifest.metrics });
  }

  /** Records the model version a device runs (the rollout calls this when a device activates a version). */
  async setDeviceModel(fleet: string, device: string, model: string, version: number): Promise<void> {
    assertSafeName('fleet', fleet);
    assertSafeName('device', device);
    assertSafeName('model', model);
    if (!(Number.isInteger(version) && version >= 1)) throw new EdgeloopError('BAD_ARGUMENT', `version must be an integer ≥ 1, got ${version}`);
    await this.#store.setDeviceModel(fleet, device, { model, version }, this.#now());
  }

  async start(): Promise<void> {
    const fleet = this.#o.fleet;
    const clientId = this.#o.clientId ?? `edgeloop-drift-${fleet === '+' ? 'all' : fleet}`;
    try {
      if (this.#o.alertPublisher === undefined) {
        const client = await connectMqtt(this.#o.brokerUrl, { clientId: `${clientId}-alerts`, username: this.#o.mqtt?.username, password: this.#o.mqtt?.password, protocolVersion: this.#o.mqtt?.protocolVersion, ...this.#o.mqtt?.tls });
        this.#client = client;
        this.#alerts.setPublisher({ publish: (topic, payload) => publishAsync(client, topic, payload, { qos: 1 }) });
      }
      await this.#alerts.start();
      this.#subscriber = new DurableSubscriber({
        url: this.#o.brokerUrl,
        clientId,
        filters: ['drift', 'predictions', 'labels'].map((k) => `${TOPIC_ROOT}/${fleet}/+/${k}`),
        protocolVersion: this.#o.mqtt?.protocolVersion,
        username: this.#o.mqtt?.username,
        password: this.#o.mqtt?.password,
        tls: this.#o.mqtt?.tls,
        logger: this.#log.child('mqtt'),
        now: this.#now,
        onBatch: async (messages) => {
          await this.handleMessages(messages);
        },
      });
      await this.#subscriber.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.#subscriber?.stop();
    this.#subscriber = null;
    await this.#alerts.stop();
    if (this.#client) await endAsync(this.#client);
    this.#client = null;
  }

  /**
   * Validates, stores and judges a batch in one transaction, then updates the metrics and delivers
   * the alerts it raised. Rejects only when the transaction fails (the caller retries the batch).
   */
  async handleMessages(messages: readonly ReceivedMessage[]): Promise<BatchOutcome> {
    const items = messages.map((m) => this.#validate(m));
    await this.#loadProfiles(items);
    const effects = await this.#commit(items);
    for (const r of effects.reports) this.#metrics.recordDriftReport(r.fleet, r.device, r.model, r.report, r.verdict);
    for (const s of effects.perf) this.#metrics.recordPerformance(s);
    for (const r of effects.rejects) this.#metrics.recordReject(r.topicKind, r.reason);
    for (const a of effects.alerts) this.#alerts.deliver(a);
    const count = (k: Item['kind']): number => items.filter((i) => i.kind === k).length;
    if (effects.rejects.length > 0) this.#log.warn(() => `quarantined ${effects.rejects.length} of ${messages.length} messages in drift_rejects: ${effects.rejects.map((r) => r.reason).join(', ')}`);
    return { reports: count('drift'), predictions: count('predictions'), labels: count('labels'), rejected: count('reject'), alertsSent: effects.alerts.length };
  }

  readonly #looked = new Set<string>();

  /** Registers, from the manifest source, the profiles of model versions this batch names for the first time. */
  async #loadProfiles(items: readonly Item[]): Promise<void> {
    const source = this.#o.manifests;
    if (!source) return;
    const wanted = new Map<string, { model: string; version: number }>();
    for (const item of items) {
      if (item.kind === 'predictions') for (const p of item.batch) wanted.set(`${p.model}@${p.version}`, { model: p.model, version: p.version });
      if (item.kind === 'drift' && item.report.model !== undefined && item.report.modelVersion !== undefined) {
        wanted.set(`${item.report.model}@${item.report.modelVersion}`, { model: item.report.model, version: item.report.modelVersion });
      }
    }
    for (const [key, ref] of wanted) {
      if (this.#looked.has(key)) continue;
      this.#looked.add(key);
      if (await this.#store.getProfile(ref.model, ref.version)) continue;
      try {
        const manifest = await source(ref.model, ref.version);
        if (manifest?.reference) await this.registerManifest(manifest);
        else this.#log.warn(`no reference profile for ${key}: its drift reports are stored but not judged`);
      } catch (err) {
        this.#log.warn(`cannot load the reference profile of ${key}: ${errorMessage(err)}`);
      }
    }
  }

  #validate(msg: ReceivedMessage): Item {
    let topicKind = 'unknown';
    try {
      const t = parseTopic(msg.topic);
      topicKind = t.kind;
      if (t.kind !== 'drift' && t.kind !== 'predictions' && t.kind !== 'labels') {
        throw new EdgeloopError('BAD_TOPIC', `topic ${JSON.stringify(msg.topic)} is a '${t.kind}' topic, not drift, predictions or labels`);
      }
      const max = this.#o.maxPayloadBytes ?? DRIFT_SERVICE_DEFAULTS.maxPayloadBytes;
      if (msg.payload.byteLength > max) throw new EdgeloopError('PAYLOAD_TOO_LARGE', `payload is ${msg.payload.byteLength} bytes, the limit is ${max}`);
      const doc = decodeJsonPayload(msg.payload);
      switch (t.kind) {
        case 'drift':
          return { kind: 'drift', fleet: t.fleet, device: t.device, report: parseDriftReport(doc), msg };
        case 'predictions':
          return { kind: 'predictions', fleet: t.fleet, device: t.device, batch: parsePredictionBatch(doc), msg };
        case 'labels':
          return { kind: 'labels', fleet: t.fleet, device: t.device, batch: parseLabelBatch(doc), msg };
        default: {
          const never: never = t.kind;
          throw new EdgeloopError('BAD_TOPIC', `unexpected topic kind ${String(never)}`);
        }
      }
    } catch (err) {
      const reason: ErrorCode = isEdgeloopError(err) ? err.code : 'BAD_PAYLOAD';
      return { kind: 'reject', topicKind, reason, detail: errorMessage(err), msg };
    }
  }

  /**
   * Reads what the batch needs, judges it in memory in message order (a report sees the verdict of the
   * device's report before it in the same batch, a label the predictions before it), then writes it all
   * in one SqlDb batch. Resolves after the commit with what to publish.
   */
  async #commit(items: readonly Item[]): Promise<BatchEffects> {
    const fx: BatchEffects = { reports: [], perf: [], rejects: [], alerts: [] };
    const batch = new SqlBatch();
    const ctx: BatchContext = { profiles: new Map(), deviceModels: new Map(), verdicts: new Map(), reports: new Set(), raised: [] };
    const events: PerformanceEvent[] = [];
    for (const item of items) {
      switch (item.kind) {
        case 'reject':
          this.#store.addReject(batch, { receivedAtMs: item.msg.receivedAtMs, topic: item.msg.topic, reason: item.reason, detail: item.detail, payload: item.msg.payload });
          fx.rejects.push({ topicKind: item.topicKind, reason: item.reason });
          break;
        case 'drift':
          await this.#planReport(item, batch, ctx, fx);
          break;
        case 'predictions': {
          // The newest prediction names the model version the device runs now.
          const newest = item.batch.reduce((a, b) => (b.ts > a.ts ? b : a));
          const model = { model: newest.model, version: newest.version };
          const dk = `${item.fleet}/${item.device}`;
          ctx.deviceModels.delete(dk);
          ctx.deviceModels.set(dk, { ...model, fleet: item.fleet, device: item.device, atMs: item.msg.receivedAtMs });
          events.push({ kind: 'predictions', fleet: item.fleet, device: item.device, batch: item.batch, receivedAtMs: item.msg.receivedAtMs });
          break;
        }
        case 'labels':
          events.push({ kind: 'labels', fleet: item.fleet, device: item.device, batch: item.batch, receivedAtMs: item.msg.receivedAtMs });
          break;
        default: {
          const never: never = item;
          throw new EdgeloopError('BAD_ARGUMENT', `unknown item ${JSON.stringify(never)}`);
        }
      }
    }
    this.#store.addDeviceModels(batch, [...ctx.deviceModels.values()]);
    const plan = await this.#perf.prepare(events);
    for (const g of plan.touched) {
      const rec = await this.#profile(ctx, g.model, g.version);
      const { state, previous, newestJoinedTs } = await this.#perf.evaluate(plan, g, { task: rec?.task ?? null, testMetrics: rec?.testMetrics ?? {} }, this.#now());
      fx.perf.push(state);
      if (state.status === 'degraded' && previous !== 'degraded') {
        const absolute = state.reasons.some((r) => r.includes('minAccuracy') || r.includes('maxMse'));
        ctx.raised.push({
          // A prediction is joined once: the newest one this batch joined names the batch.
          key: `performance:${g.fleet}/${g.device}/${g.model}@${g.version}/${newestJoinedTs}`,
          fleet: g.fleet, device: g.device, model: g.model, version: g.version, kind: 'performance', severity: absolute ? 'critical' : 'warning',
          message: `${g.model} v${g.version} performance degraded: ${state.reasons.join('; ')}`,
          details: { task: state.task, samples: state.samples, accuracy: state.accuracy, f1: state.f1, mse: state.mse, baseline: state.baseline, reasons: state.reasons },
        });
      }
    }
    this.#perf.write(plan, batch);
    const alertPlan = await this.#alerts.prepare(ctx.raised);
    this.#alerts.write(alertPlan, batch);
    const counts = await batch.run(this.#sql);
    this.#perf.committed(plan, counts);
    try {
      for (const r of await this.#alerts.committed(alertPlan, counts)) if (r.sent) fx.alerts.push(r.alert);
    } catch (err) {
      // Committed: failing now would only have the batch delivered again, and its alerts are stored already.
      this.#log.error(`alerts of this batch are stored but cannot be read back to deliver them now (they stay pending until the next start): ${errorMessage(err)}`);
    }
    return fx;
  }

  async #profile(ctx: BatchContext, model: string, version: number): Promise<ProfileRecord | null> {
    const key = `${model}@${version}`;
    if (!ctx.profiles.has(key)) ctx.profiles.set(key, await this.#store.getProfile(model, version));
    return ctx.profiles.get(key)!;
  }

  async #planReport(item: Extract<Item, { kind: 'drift' }>, batch: SqlBatch, ctx: BatchContext, fx: BatchEffects): Promise<void> {
    const { fleet, device, report } = item;
    const dk = `${fleet}/${device}`;
    // The report names the model version it was computed for; older devices leave it to the predictions.
    let model: DeviceModel | null;
    if (report.model !== undefined && report.modelVersion !== undefined) model = { model: report.model, version: report.modelVersion };
    else if (ctx.deviceModels.has(dk)) model = { model: ctx.deviceModels.get(dk)!.model, version: ctx.deviceModels.get(dk)!.version };
    else model = await this.#store.getDeviceModel(fleet, device);
    const key = reportKey({ fleet, device, model, generatedAtMs: report.generatedAtMs });
    if (ctx.reports.has(key) || (await this.#store.hasReport({ fleet, device, model, generatedAtMs: report.generatedAtMs }))) {
      this.#log.debug(() => `drift report ${key} is stored already (delivered again): skipped`);
      return;
    }
    ctx.reports.add(key);
    const rec = model ? await this.#profile(ctx, model.model, model.version) : null;
    let evaluation: DriftEvaluation | null = null;
    if (rec) evaluation = evaluateDrift(report, rec.profile, this.#policy);
    const previous = ctx.verdicts.has(dk) ? ctx.verdicts.get(dk)! : await this.#store.lastDecidedVerdict(fleet, device);
    this.#store.addReport(batch, { fleet, device, model, receivedAtMs: item.msg.receivedAtMs, report, evaluation });
    const verdict: StoredVerdict = evaluation?.verdict ?? 'no_profile';
    if (verdict === 'ok' || verdict === 'warn' || verdict === 'alert') ctx.verdicts.set(dk, verdict);
    else ctx.verdicts.set(dk, previous);
    fx.reports.push({ fleet, device, model, report, verdict });
    if ((verdict === 'warn' || verdict === 'alert') && RANK[verdict] > RANK[previous ?? 'ok']) {
      ctx.raised.push({
        key: `drift:${key}`,
        fleet, device, model: model?.model ?? null, version: model?.version ?? null, kind: 'drift', severity: verdict === 'alert' ? 'critical' : 'warning',
        message: `drift ${previous ?? 'ok'} → ${verdict}: ${[...evaluation!.reasons, ...evaluation!.drifted.flatMap((d) => d.reasons)].join('; ')}`,
        details: { verdict, previous, generatedAtMs: report.generatedAtMs, sampleCount: report.sampleCount, drifted: evaluation!.drifted },
      });
    }
  }

  /** GET /metrics, /v1/drift, /v1/drift/<device>, /v1/alerts, /v1/performance. */
  registerRoutes(server: HttpServer): void {
    const query = (req: http.IncomingMessage): URLSearchParams => new URL(req.url ?? '/', 'http://x').searchParams;
    const intParam = (q: URLSearchParams, name: string, def: number, max: number): number => {
      const v = q.get(name);
      if (v === null) return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > max) throw new EdgeloopError('BAD_ARGUMENT', `query parameter ${name} must be an integer in 1..${max}, got ${JSON.stringify(v)}`);
      return n;
    };
    const guard = (handler: (req: http.IncomingMessage, res: http.ServerResponse, params: string[]) => Promise<void> | void) =>
      async (req: http.IncomingMessage, res: http.ServerResponse, params: string[]): Promise<void> => {
        try {
          await handler(req, res, params);
        } catch (err) {
          if (isEdgeloopError(err, 'BAD_ARGUMENT') || isEdgeloopError(err, 'BAD_NAME')) return sendJson(res, 400, { error: err.code, message: err.message });
          if (isEdgeloopError(err, 'NOT_FOUND')) return sendJson(res, 404, { error: err.code, message: err.message });
          throw err;
        }
      };
    const fleetOf = (q: URLSearchParams): string | undefined => {
      const f = q.get('fleet') ?? (this.#o.fleet === '+' ? undefined : this.#o.fleet);
      return f === undefined ? undefined : assertSafeName('fleet', f);
    };

    server.route('GET', /^\/metrics$/, async (_req, res) => {
      const text = await this.#metrics.metrics();
      res.writeHead(200, { 'content-type': this.#metrics.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
    server.route('GET', /^\/v1\/drift$/, guard(async (req, res) => {
      const fleet = fleetOf(query(req));
      sendJson(res, 200, { policy: this.#policy, devices: await this.#store.latestPerDevice(fleet), profiles: await this.#store.listProfiles() });
    }));
    server.route('GET', /^\/v1\/drift\/([^/]+)$/, guard(async (req, res, [device]) => {
      const q = query(req);
      assertSafeName('device', device);
      let fleet = fleetOf(q);
      if (fleet === undefined) {
        const fleets = (await this.#store.latestPerDevice()).filter((r) => r.device === device).map((r) => r.fleet);
        if (fleets.length > 1) throw new EdgeloopError('BAD_ARGUMENT', `device ${device} reports in several fleets (${fleets.join(', ')}): add ?fleet=`);
        fleet = fleets[0];
      }
      const reports = fleet === undefined ? [] : await this.#store.reports(fleet, device!, intParam(q, 'limit', 20, 10_000));
      if (fleet === undefined || reports.length === 0) throw new EdgeloopError('NOT_FOUND', `no drift report from device ${device}${fleet ? ` in fleet ${fleet}` : ''}`);
      const feature = q.get('feature') ?? undefined;
      sendJson(res, 200, {
        fleet, device, model: await this.#store.getDeviceModel(fleet, device!), reports,
        series: await this.#store.series(fleet, device!, { feature, limit: intParam(q, 'points', 100, 10_000) }),
      });
    }));
    server.route('GET', /^\/v1\/alerts$/, guard(async (req, res) => {
      const q = query(req);
      const kind = q.get('kind') ?? undefined;
      if (kind !== undefined && !ALERT_KINDS.includes(kind as AlertKind)) throw new EdgeloopError('BAD_ARGUMENT', `query parameter kind must be one of ${ALERT_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
      const device = q.get('device') ?? undefined;
      if (device !== undefined) assertSafeName('device', device);
      sendJson(res, 200, { alerts: await this.#alerts.list({ fleet: fleetOf(q), device, kind: kind as AlertKind | undefined, limit: intParam(q, 'limit', 100, 10_000) }), stats: this.#alerts.stats });
    }));
    server.route('GET', /^\/v1\/performance$/, guard(async (req, res) => {
      const q = query(req);
      const device = q.get('device') ?? undefined;
      if (device !== undefined) assertSafeName('device', device);
      sendJson(res, 200, { policy: this.#perf.policy, states: await this.#perf.states({ fleet: fleetOf(q), device }), counters: this.#perf.counters, pendingLabels: await this.#perf.pendingLabels() });
    }));
  }
}
