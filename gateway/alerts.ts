/**
 * Alerts: recorded in the `alerts` table inside the caller's transaction (so an alert exists exactly
 * when the report or label batch that raised it committed), then delivered to the fleet's MQTT alert
 * topic (QoS 1), an optional HTTP webhook and the log.
 *
 * De-duplication: an alert with the same (fleet, device, model, kind) as one sent less than
 * `cooldownMs` ago is not sent again; the sent row's `suppressed` count goes up instead.
 *
 * Webhook: a bounded in-memory queue (the oldest undelivered alert is evicted when full, and marked
 * 'dropped'), POSTed in order, retried with exponential backoff up to `maxAttempts`. Undelivered
 * rows stay 'pending' in the table and are queued again at the next start().
 */
import type { SqliteDatabase, SqliteStatement } from '../io/sqlite.ts';
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

export interface AlertRow extends Alert {
  /** Alerts of the same key within the cooldown, counted instead of sent. */
  suppressed: number;
  lastSuppressedAtMs: number | null;
  mqtt: DeliveryStatus;
  webhook: DeliveryStatus;
  webhookAttempts: number;
}

export type RecordOutcome = { sent: true; alert: Alert } | { sent: false; suppressedInto: number };

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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, fleet TEXT NOT NULL, device TEXT NOT NULL, model TEXT, version INTEGER,
  kind TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL, details TEXT NOT NULL, raised_at INTEGER NOT NULL,
  suppressed INTEGER NOT NULL DEFAULT 0, last_suppressed_at INTEGER,
  mqtt TEXT NOT NULL, webhook TEXT NOT NULL, webhook_attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS alerts_by_key ON alerts (fleet, device, kind, id);
`;

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

export class AlertManager {
  readonly #db: SqliteDatabase;
  readonly #o: AlertManagerOptions & { cooldownMs: number; webhook: WebhookOptions };
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #post: WebhookPost;
  readonly #s: Record<string, SqliteStatement>;
  readonly #queue: Alert[] = [];
  #publisher: AlertPublisher | null;
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  #attempts = 0;
  #running = false;
  readonly #inFlightPublishes = new Set<Promise<void>>();
  readonly #listeners = new Set<(alert: Alert) => void>();
  readonly #stats: AlertStats = { raised: 0, suppressed: 0, mqttPublished: 0, mqttFailed: 0, webhookDelivered: 0, webhookRetries: 0, webhookFailed: 0, webhookDropped: 0, webhookQueue: 0 };

  private constructor(db: SqliteDatabase, options: AlertManagerOptions) {
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
    this.#db = db;
    this.#o = { ...options, cooldownMs, webhook };
    this.#log = (options.logger ?? silentLogger).child('alerts');
    this.#now = options.now ?? Date.now;
    this.#post = options.post ?? fetchPost;
    this.#publisher = options.publisher ?? null;
    this.#s = {
      lastSent: db.prepare('SELECT id, raised_at FROM alerts WHERE fleet = ? AND device = ? AND model IS ? AND kind = ? ORDER BY id DESC LIMIT 1'),
      suppress: db.prepare('UPDATE alerts SET suppressed = suppressed + 1, last_suppressed_at = ? WHERE id = ?'),
      insert: db.prepare(`INSERT INTO alerts (fleet, device, model, version, kind, severity, message, details, raised_at, mqtt, webhook)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      setMqtt: db.prepare('UPDATE alerts SET mqtt = ? WHERE id = ?'),
      setWebhook: db.prepare('UPDATE alerts SET webhook = ?, webhook_attempts = ? WHERE id = ?'),
      pendingWebhook: db.prepare("SELECT * FROM alerts WHERE webhook = 'pending' ORDER BY id"),
      pendingMqtt: db.prepare("SELECT * FROM alerts WHERE mqtt = 'pending' ORDER BY id"),
    };
  }

  /** Creates the table when missing; validates the options (BAD_CONFIG listing every problem). */
  static open(db: SqliteDatabase, options: AlertManagerOptions): AlertManager {
    db.exec(SCHEMA);
    return new AlertManager(db, options);
  }

  get stats(): AlertStats {
    return { ...this.#stats, webhookQueue: this.#queue.length };
  }

  /** Sets the MQTT publisher (connected at start). */
  setPublisher(publisher: AlertPublisher | null): void {
    this.#publisher = publisher;
  }

  /**
   * Records an alert, or counts it on the last one of its key when that was sent within the cooldown.
   * Synchronous: call it inside the transaction of the data that raised it, then deliver() after commit.
   */
  record(input: AlertInput): RecordOutcome {
    const now = this.#now();
    const last = this.#s.lastSent!.get(input.fleet, input.device, input.model, input.kind) as { id: number; raised_at: number } | undefined;
    if (last && now - last.raised_at < this.#o.cooldownMs) {
      this.#s.suppress!.run(now, last.id);
      this.#stats.suppressed++;
      return { sent: false, suppressedInto: last.id };
    }
    const id = Number(this.#s.insert!.run(
      input.fleet, input.device, input.model, input.version, input.kind, input.severity, input.message, JSON.stringify(input.details), now,
      this.#publisher ? 'pending' : 'disabled', this.#o.webhookUrl ? 'pending' : 'disabled',
    ).lastInsertRowid);
    this.#stats.raised++;
    return { sent: true, alert: { ...input, id, raisedAtMs: now } };
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
  start(): void {
    this.#running = true;
    for (const r of this.#s.pendingMqtt!.all() as AlertDbRow[]) this.#publish(alertOf(toRow(r)));
    if (this.#o.webhookUrl) for (const r of this.#s.pendingWebhook!.all() as AlertDbRow[]) this.#enqueue(alertOf(toRow(r)));
  }

  /** Stops retrying (undelivered alerts stay 'pending' for the next start) and waits for in-flight sends. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#inFlight;
    await Promise.all([...this.#inFlightPublishes]);
    this.#queue.length = 0;
  }

  list(options: { fleet?: string; device?: string; kind?: AlertKind; limit?: number } = {}): AlertRow[] {
    const clauses: string[] = [];
    const params: (string | number)[] = [];
    if (options.fleet !== undefined) { clauses.push('fleet = ?'); params.push(options.fleet); }
    if (options.device !== undefined) { clauses.push('device = ?'); params.push(options.device); }
    if (options.kind !== undefined) { clauses.push('kind = ?'); params.push(options.kind); }
    params.push(options.limit ?? 100);
    const rows = this.#db.prepare(`SELECT * FROM alerts ${clauses.length ? 'WHERE ' + clauses.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`).all(...params) as AlertDbRow[];
    return rows.map(toRow);
  }

  /** Alerts sent and suppressed per (kind, severity), for /metrics. */
  countsByKind(): { kind: AlertKind; severity: AlertSeverity; sent: number; suppressed: number }[] {
    return this.#db.prepare('SELECT kind, severity, count(*) AS sent, sum(suppressed) AS suppressed FROM alerts GROUP BY kind, severity').all() as {
      kind: AlertKind; severity: AlertSeverity; sent: number; suppressed: number;
    }[];
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
    try {
      this.#s[stmt]!.run(...args);
    } catch (err) {
      // The database may be closed during shutdown; the status stays 'pending' and is retried next start.
      this.#log.warn(`cannot record alert delivery status: ${errorMessage(err)}`);
    }
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
