/**
 * Alerts: recorded in the `alerts` table by statements in the caller's batch (so an alert exists
 * exactly when the report or label batch that raised it committed), then delivered to the fleet's MQTT
 * alert topic (QoS 1), an optional HTTP webhook and the log. On gateway/sql.ts: the same class on
 * SQLite and PostgreSQL (test/drift-contract.ts).
 *
 * De-duplication: an alert with the same (fleet, device, model, version, kind) as one sent less than
 * `cooldownMs` ago is not sent again; the sent row's `suppressed` count goes up instead.
 * Idempotence: every alert has a key naming what raised it (the drift report, the joined labels), and
 * the key is unique: a batch written twice (redelivered after a crash, or to the next elected
 * gateway) stores and delivers its alerts once.
 *
 * Webhook: a bounded in-memory queue (the oldest undelivered alert is evicted when full, and marked
 * 'dropped'), POSTed in order, retried with exponential backoff up to `maxAttempts`. Undelivered
 * rows stay 'pending' in the table and are queued again at the next start().
 */
import { randomUUID } from 'node:crypto';
import { createTables, type SqlDb, type SqlValue } from './sql.ts';
import { placeholders, SqlBatch } from './sql-batch.ts';
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';

export type AlertKind = 'drift' | 'performance';
export type AlertSeverity = 'warning' | 'critical';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'dropped' | 'disabled';

export const ALERT_KINDS: readonly AlertKind[] = ['drift', 'performance'];

/** The payload published on edgeloop/<fleet>/alerts and POSTed to the webhook. */
export interface Alert {
  id: number;
  fleet: string;
  device: string;
  model: string | null;
  version: number | null;
  kind: AlertKind;
  severity: AlertSeverity;
  message: string;
  details: Record<string, unknown>;
  raisedAtMs: number;
}

export type AlertInput = Omit<Alert, 'id' | 'raisedAtMs'>;

/** An alert raised by a batch: `key` names what raised it; an alert with a key already stored is not stored again. */
export type KeyedAlertInput = AlertInput & { key: string };

export interface AlertRow extends Alert {
  /** Alerts of the same key within the cooldown, counted instead of sent. */
  suppressed: number;
  lastSuppressedAtMs: number | null;
  mqtt: DeliveryStatus;
  webhook: DeliveryStatus;
  webhookAttempts: number;
}

/**
 * Not sent: counted on the last alert of its (fleet, device, model, version, kind) within the cooldown, or a
 * `duplicate` of the stored alert with the same key (then nothing changed).
 */
export type RecordOutcome = { sent: true; alert: Alert } | { sent: false; reason: 'cooldown' | 'duplicate'; suppressedInto: number };

/** Alerts of one batch, decided by AlertManager#prepare, written by #write, read back by #committed. */
export interface AlertPlan {
  readonly nowMs: number;
  readonly entries: AlertPlanEntry[];
}

interface AlertPlanEntry {
  input: KeyedAlertInput;
  /** Counted on a stored alert (its id) instead of being sent. */
  suppressInto: number | null;
  /** Repeats within this batch counted on this new alert. */
  suppressed: number;
  /** The statement's index in the caller's batch. */
  index: number;
}

export interface AlertPublisher {
  /** Publishes with QoS 1; resolves at PUBACK. */
  publish(topic: string, payload: string): Promise<void>;
}

/** POSTs `body` as JSON; resolves with the HTTP status, rejects on network errors and timeouts. */
export type WebhookPost = (url: string, body: string, timeoutMs: number) => Promise<number>;

export interface WebhookOptions {
  /** Undelivered alerts held in memory; the oldest is evicted beyond this. */
  maxQueue: number;
  /** POST attempts per alert before it is marked failed. */
  maxAttempts: number;
  /** Delay after the first failure; doubled after each further failure. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  timeoutMs: number;
}

export interface AlertManagerOptions {
  /** MQTT topic of alerts (alertsTopic(fleet)); a function for gateways serving several fleets. */
  topic: (fleet: string) => string;
  cooldownMs?: number;
  webhookUrl?: string;
  webhook?: Partial<WebhookOptions>;
  publisher?: AlertPublisher | null;
  post?: WebhookPost;
  logger?: Logger;
  now?: () => number;
}

export const ALERT_DEFAULTS = {
  cooldownMs: 15 * 60_000,
  webhook: { maxQueue: 1000, maxAttempts: 6, backoffBaseMs: 500, backoffMaxMs: 60_000, timeoutMs: 5000 } satisfies WebhookOptions,
};

export interface AlertStats {
  raised: number;
  suppressed: number;
  mqttPublished: number;
  mqttFailed: number;
  webhookDelivered: number;
  /** Failed POST attempts that were retried. */
  webhookRetries: number;
  /** Alerts given up after maxAttempts. */
  webhookFailed: number;
  /** Alerts evicted from a full queue. */
  webhookDropped: number;
  webhookQueue: number;
}

// Both dialects (sql-batch.ts createTables); dedupe_key is added to SQLite files from before it.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerts (
  id {serial}, fleet TEXT NOT NULL, device TEXT NOT NULL, model TEXT, version INTEGER,
  kind TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL, details TEXT NOT NULL, raised_at {time} NOT NULL,
  suppressed INTEGER NOT NULL DEFAULT 0, last_suppressed_at {time},
  mqtt TEXT NOT NULL, webhook TEXT NOT NULL, webhook_attempts INTEGER NOT NULL DEFAULT 0, dedupe_key TEXT
);
CREATE INDEX IF NOT EXISTS alerts_by_key ON alerts (fleet, device, kind, id);
`;
const ONCE_INDEX = 'CREATE UNIQUE INDEX IF NOT EXISTS alerts_once ON alerts (dedupe_key)';

interface AlertDbRow {
  id: number; fleet: string; device: string; model: string | null; version: number | null; kind: AlertKind; severity: AlertSeverity; message: string;
  details: string; raised_at: number; suppressed: number; last_suppressed_at: number | null; mqtt: DeliveryStatus; webhook: DeliveryStatus; webhook_attempts: number;
}

const toRow = (r: AlertDbRow): AlertRow => ({
  id: r.id, fleet: r.fleet, device: r.device, model: r.model, version: r.version, kind: r.kind, severity: r.severity, message: r.message,
  details: JSON.parse(r.details) as Record<string, unknown>, raisedAtMs: r.raised_at, suppressed: r.suppressed, lastSuppressedAtMs: r.last_suppressed_at,
  mqtt: r.mqtt, webhook: r.webhook, webhookAttempts: r.webhook_attempts,
});

const alertOf = (r: AlertRow): Alert => ({
  id: r.id, fleet: r.fleet, device: r.device, model: r.model, version: r.version, kind: r.kind, severity: r.severity, message: r.message, details: r.details, raisedAtMs: r.raisedAtMs,
});

export const fetchPost: WebhookPost = async (url, body, timeoutMs) => {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer();
  return res.status;
};

/** Merges the defaults; BAD_CONFIG lists every problem. */
export function resolveAlertOptions(options: AlertManagerOptions): AlertManagerOptions & { cooldownMs: number; webhook: WebhookOptions } {
  const webhook = { ...ALERT_DEFAULTS.webhook, ...options.webhook };
  const cooldownMs = options.cooldownMs ?? ALERT_DEFAULTS.cooldownMs;
  const problems: string[] = [];
  if (!(Number.isFinite(cooldownMs) && cooldownMs >= 0)) problems.push(`cooldownMs must be a finite number ≥ 0, got ${cooldownMs}`);
  if (!(Number.isInteger(webhook.maxQueue) && webhook.maxQueue >= 1)) problems.push(`webhook.maxQueue must be an integer ≥ 1, got ${webhook.maxQueue}`);
  if (!(Number.isInteger(webhook.maxAttempts) && webhook.maxAttempts >= 1 && webhook.maxAttempts <= 100)) problems.push(`webhook.maxAttempts must be an integer in [1, 100], got ${webhook.maxAttempts}`);
  if (!(webhook.backoffBaseMs > 0 && webhook.backoffMaxMs >= webhook.backoffBaseMs)) problems.push(`webhook backoff must satisfy 0 < backoffBaseMs ≤ backoffMaxMs, got ${webhook.backoffBaseMs} and ${webhook.backoffMaxMs}`);
  if (!(webhook.timeoutMs > 0)) problems.push(`webhook.timeoutMs must be > 0, got ${webhook.timeoutMs}`);
  if (options.webhookUrl !== undefined) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(options.webhookUrl).protocol);
    } catch { /* reported below */ }
    if (!ok) problems.push(`webhookUrl ${JSON.stringify(options.webhookUrl)} must be an http:// or https:// URL`);
  }
  if (problems.length > 0) throw new EdgeloopError('BAD_CONFIG', `alert options are invalid: ${problems.join('; ')}`);
  return { ...options, cooldownMs, webhook };
}

export class AlertManager {
  readonly #db: SqlDb;
  readonly #o: AlertManagerOptions & { cooldownMs: number; webhook: WebhookOptions };
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #post: WebhookPost;
  readonly #queue: Alert[] = [];
  #publisher: AlertPublisher | null;
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  #attempts = 0;
  #running = false;
  readonly #inFlightPublishes = new Set<Promise<void>>();
  readonly #statusWrites = new Set<Promise<void>>();
  readonly #listeners = new Set<(alert: Alert) => void>();
  readonly #stats: AlertStats = { raised: 0, suppressed: 0, mqttPublished: 0, mqttFailed: 0, webhookDelivered: 0, webhookRetries: 0, webhookFailed: 0, webhookDropped: 0, webhookQueue: 0 };

  private constructor(db: SqlDb, options: AlertManagerOptions & { cooldownMs: number; webhook: WebhookOptions }) {
    this.#db = db;
    this.#o = options;
    this.#log = (options.logger ?? silentLogger).child('alerts');
    this.#now = options.now ?? Date.now;
    this.#post = options.post ?? fetchPost;
    this.#publisher = options.publisher ?? null;
  }

  /** Validates the options (BAD_CONFIG listing every problem), then creates the table when missing (SQLite: adds dedupe_key to an old one). */
  static async create(db: SqlDb, options: AlertManagerOptions): Promise<AlertManager> {
    const resolved = resolveAlertOptions(options);
    if (db.dialect === 'postgres') {
      await createTables(db, 'alerts', `${SCHEMA}\n${ONCE_INDEX};`);
    } else {
      await createTables(db, 'alerts', SCHEMA);
      const columns = await db.all<{ name: string }>("SELECT name FROM pragma_table_info('alerts')");
      if (!columns.some((c) => c.name === 'dedupe_key')) await db.exec('ALTER TABLE alerts ADD COLUMN dedupe_key TEXT');
      await db.exec(ONCE_INDEX);
    }
    return new AlertManager(db, resolved);
  }

  get stats(): AlertStats {
    return { ...this.#stats, webhookQueue: this.#queue.length };
  }

  /** Sets the MQTT publisher (connected at start). */
  setPublisher(publisher: AlertPublisher | null): void {
    this.#publisher = publisher;
  }

  /**
   * Decides a batch's alerts: each is sent, or counted on the last alert of its (fleet, device, model,
   * version, kind) when that was sent within the cooldown (also one sent earlier in this batch). A new
   * model version is a new situation: a retrained version that does badly on a device alerts at once,
   * even minutes after the version before it alerted there. Reads only;
   * write() appends the statements to the batch of the data that raised them, committed() reads the
   * stored alerts back for deliver().
   */
  async prepare(inputs: readonly KeyedAlertInput[]): Promise<AlertPlan> {
    const nowMs = this.#now();
    const entries: AlertPlanEntry[] = [];
    const fresh = new Map<string, AlertPlanEntry>();
    for (const input of inputs) {
      const group = `${input.fleet}\u0000${input.device}\u0000${input.model ?? ''}\u0000${input.version ?? ''}\u0000${input.kind}`;
      const sameBatch = fresh.get(group);
      if (sameBatch && this.#o.cooldownMs > 0) {
        sameBatch.suppressed++;
        continue;
      }
      const last = sameBatch ? undefined : await this.#db.get<{ id: number; raised_at: number }>(
        "SELECT id, raised_at FROM alerts WHERE fleet = ? AND device = ? AND COALESCE(model, '') = ? AND COALESCE(version, 0) = ? AND kind = ? ORDER BY id DESC LIMIT 1",
        [input.fleet, input.device, input.model ?? '', input.version ?? 0, input.kind],
      );
      const entry: AlertPlanEntry = { input, suppressInto: last && nowMs - last.raised_at < this.#o.cooldownMs ? last.id : null, suppressed: 0, index: -1 };
      entries.push(entry);
      if (entry.suppressInto === null) fresh.set(group, entry);
    }
    return { nowMs, entries };
  }

  /** Appends the plan's alert rows and suppression counts to the caller's batch. */
  write(plan: AlertPlan, batch: Pick<SqlBatch, 'add'>): void {
    for (const e of plan.entries) {
      const i = e.input;
      e.index = e.suppressInto !== null
        ? batch.add('UPDATE alerts SET suppressed = suppressed + 1, last_suppressed_at = ? WHERE id = ?', [plan.nowMs, e.suppressInto])
        : batch.add(
          `INSERT INTO alerts (fleet, device, model, version, kind, severity, message, details, raised_at, suppressed, last_suppressed_at, mqtt, webhook, dedupe_key)
           VALUES ${placeholders(14)} ON CONFLICT DO NOTHING`,
          [i.fleet, i.device, i.model, i.version, i.kind, i.severity, i.message, JSON.stringify(i.details), plan.nowMs, e.suppressed, e.suppressed > 0 ? plan.nowMs : null,
            this.#publisher ? 'pending' : 'disabled', this.#o.webhookUrl ? 'pending' : 'disabled', i.key],
        );
    }
  }

  /**
   * After the caller's batch committed: counts the plan and resolves to the outcome of each of its
   * alerts (a sent alert as stored, for deliver()); a repeat folded into an alert of the same batch
   * has no outcome of its own.
   */
  async committed(plan: AlertPlan, counts: readonly number[]): Promise<RecordOutcome[]> {
    const keys = plan.entries.filter((e) => e.suppressInto === null).map((e) => e.input.key);
    const stored = new Map<string, AlertDbRow>();
    for (let i = 0; i < keys.length; i += 500) {
      const part = keys.slice(i, i + 500);
      for (const r of await this.#db.all<AlertDbRow & { dedupe_key: string }>(`SELECT * FROM alerts WHERE dedupe_key IN ${placeholders(part.length)}`, part)) stored.set(r.dedupe_key, r);
    }
    const out: RecordOutcome[] = [];
    for (const e of plan.entries) {
      if (e.suppressInto !== null) {
        this.#stats.suppressed++;
        out.push({ sent: false, reason: 'cooldown', suppressedInto: e.suppressInto });
        continue;
      }
      const row = stored.get(e.input.key)!;
      if (counts[e.index] === 1) {
        this.#stats.raised++;
        this.#stats.suppressed += e.suppressed;
        out.push({ sent: true, alert: alertOf(toRow(row)) });
      } else {
        out.push({ sent: false, reason: 'duplicate', suppressedInto: row.id });
      }
    }
    return out;
  }

  /**
   * Records one alert in its own transaction (prepare, write, committed): sent, or counted on the last
   * one of its (fleet, device, model, version, kind) when that was sent within the cooldown. Without a key the
   * alert gets a random one. Call deliver() with a sent alert.
   */
  async record(input: AlertInput & { key?: string }): Promise<RecordOutcome> {
    const plan = await this.prepare([{ ...input, key: input.key ?? randomUUID() }]);
    const batch = new SqlBatch();
    this.write(plan, batch);
    return (await this.committed(plan, await batch.run(this.#db)))[0]!;
  }

  /** Logs, publishes and queues for the webhook an alert returned by record(). Never throws. */
  deliver(alert: Alert): void {
    const text = `${alert.kind} alert for ${alert.fleet}/${alert.device}: ${alert.message}`;
    const fields = { alertId: alert.id, model: alert.model, version: alert.version };
    if (alert.severity === 'critical') this.#log.error(text, fields);
    else this.#log.warn(text, fields);
    this.#publish(alert);
    if (this.#o.webhookUrl) this.#enqueue(alert);
    for (const listener of this.#listeners) {
      try {
        listener(alert);
      } catch (err) {
        this.#log.warn(`alert listener failed on alert ${alert.id}: ${errorMessage(err)}`);
      }
    }
  }

  /** Calls `listener` with every delivered (sent, not suppressed) alert after its commit; returns the unsubscribe. */
  onAlert(listener: (alert: Alert) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Queues again whatever a previous run left undelivered. */
  async start(): Promise<void> {
    this.#running = true;
    for (const r of await this.#db.all<AlertDbRow>("SELECT * FROM alerts WHERE mqtt = 'pending' ORDER BY id")) this.#publish(alertOf(toRow(r)));
    if (this.#o.webhookUrl) for (const r of await this.#db.all<AlertDbRow>("SELECT * FROM alerts WHERE webhook = 'pending' ORDER BY id")) this.#enqueue(alertOf(toRow(r)));
  }

  /** Stops retrying (undelivered alerts stay 'pending' for the next start) and waits for in-flight sends and their status writes. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#inFlight;
    await Promise.all([...this.#inFlightPublishes]);
    await Promise.all([...this.#statusWrites]);
    this.#queue.length = 0;
  }

  /** Resolves when the delivery statuses written so far are stored. */
  async settled(): Promise<void> {
    await Promise.all([...this.#statusWrites]);
  }

  async list(options: { fleet?: string; device?: string; kind?: AlertKind; limit?: number } = {}): Promise<AlertRow[]> {
    const clauses: string[] = [];
    const params: SqlValue[] = [];
    if (options.fleet !== undefined) { clauses.push('fleet = ?'); params.push(options.fleet); }
    if (options.device !== undefined) { clauses.push('device = ?'); params.push(options.device); }
    if (options.kind !== undefined) { clauses.push('kind = ?'); params.push(options.kind); }
    params.push(options.limit ?? 100);
    const rows = await this.#db.all<AlertDbRow>(`SELECT * FROM alerts ${clauses.length ? 'WHERE ' + clauses.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`, params);
    return rows.map(toRow);
  }

  /** Alerts sent and suppressed per (kind, severity), for /metrics. */
  async countsByKind(): Promise<{ kind: AlertKind; severity: AlertSeverity; sent: number; suppressed: number }[]> {
    return this.#db.all<{ kind: AlertKind; severity: AlertSeverity; sent: number; suppressed: number }>(
      'SELECT kind, severity, CAST(count(*) AS INTEGER) AS sent, CAST(COALESCE(sum(suppressed), 0) AS INTEGER) AS suppressed FROM alerts GROUP BY kind, severity ORDER BY kind, severity',
    );
  }

  #publish(alert: Alert): void {
    const publisher = this.#publisher;
    if (!publisher) return;
    const p = publisher.publish(this.#o.topic(alert.fleet), JSON.stringify(alert)).then(
      () => {
        this.#stats.mqttPublished++;
        this.#update('setMqtt', 'delivered', alert.id);
      },
      (err: unknown) => {
        // Stays 'pending' in the table: published again at the next start.
        this.#stats.mqttFailed++;
        this.#log.error(`alert ${alert.id}: MQTT publish failed: ${errorMessage(err)}`);
      },
    ).finally(() => this.#inFlightPublishes.delete(p));
    this.#inFlightPublishes.add(p);
  }

  #update(stmt: 'setMqtt' | 'setWebhook', ...args: (string | number)[]): void {
    const sql = stmt === 'setMqtt' ? 'UPDATE alerts SET mqtt = ? WHERE id = ?' : 'UPDATE alerts SET webhook = ?, webhook_attempts = ? WHERE id = ?';
    const write = this.#db.run(sql, args).then(
      () => undefined,
      // The database may be closed during shutdown; the status stays 'pending' and is retried next start.
      (err: unknown) => this.#log.warn(`cannot record alert delivery status: ${errorMessage(err)}`),
    ).finally(() => this.#statusWrites.delete(write));
    this.#statusWrites.add(write);
  }

  #enqueue(alert: Alert): void {
    if (this.#queue.some((a) => a.id === alert.id)) return;
    if (this.#queue.length >= this.#o.webhook.maxQueue) {
      // Evict the oldest alert not being sent right now (index 0 is in flight while a POST runs).
      const victimIndex = this.#inFlight && this.#queue.length > 1 ? 1 : 0;
      const [victim] = this.#queue.splice(victimIndex, 1);
      if (victimIndex === 0) this.#attempts = 0;
      this.#stats.webhookDropped++;
      this.#update('setWebhook', 'dropped', 0, victim!.id);
      this.#log.warn(`webhook queue full (${this.#o.webhook.maxQueue}): dropped alert ${victim!.id}`);
    }
    this.#queue.push(alert);
    this.#kick();
  }

  #kick(): void {
    if (!this.#running || this.#inFlight || this.#timer || this.#queue.length === 0) return;
    this.#inFlight = this.#sendHead().finally(() => {
      this.#inFlight = null;
      this.#kick();
    });
  }

  async #sendHead(): Promise<void> {
    const alert = this.#queue[0]!;
    const url = this.#o.webhookUrl!;
    const { maxAttempts, backoffBaseMs, backoffMaxMs, timeoutMs } = this.#o.webhook;
    this.#attempts++;
    let failure: string | null = null;
    try {
      const status = await this.#post(url, JSON.stringify(alert), timeoutMs);
      if (status < 200 || status >= 300) failure = `HTTP ${status}`;
    } catch (err) {
      failure = errorMessage(err);
    }
    if (this.#queue[0] !== alert) return; // evicted while in flight
    if (failure === null) {
      this.#queue.shift();
      this.#stats.webhookDelivered++;
      this.#update('setWebhook', 'delivered', this.#attempts, alert.id);
      this.#attempts = 0;
      return;
    }
    if (this.#attempts >= maxAttempts) {
      this.#queue.shift();
      this.#stats.webhookFailed++;
      this.#update('setWebhook', 'failed', this.#attempts, alert.id);
      this.#log.error(`alert ${alert.id}: webhook gave up after ${this.#attempts} attempts: ${failure}`);
      this.#attempts = 0;
      return;
    }
    this.#stats.webhookRetries++;
    this.#update('setWebhook', 'pending', this.#attempts, alert.id);
    const delayMs = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (this.#attempts - 1));
    this.#log.warn(`alert ${alert.id}: webhook attempt ${this.#attempts} failed (${failure}); retrying in ${delayMs} ms`);
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#kick();
    }, delayMs);
  }
}
