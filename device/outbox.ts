/**
 * The device's durable outbox: predictions, telemetry and drift reports wait here, in a bounded
 * SQLite queue that survives power loss, until the broker has acknowledged them.
 *
 * Durability: enqueue() returns only after its transaction is committed with synchronous=FULL (the
 * WAL is fsynced), so anything enqueue() returned for survives SIGKILL and power loss.
 *
 * Order: messages leave strictly in enqueue order (ascending id; AUTOINCREMENT ids are never reused,
 * even across restarts). flush() acks only the contiguous prefix of publishes that resolved and stops
 * at the first failure, so a later flush resumes where delivery stopped: no loss, at most duplicates
 * (at-least-once; receivers deduplicate by content or id).
 *
 * Bounds and eviction (a message's size is its payload bytes plus its topic's UTF-8 bytes):
 *   - A message larger than maxBytes alone is refused with PAYLOAD_TOO_LARGE (and counted as rejected).
 *   - 'drop-oldest': to make room, the oldest non-priority messages are deleted first; priority
 *     messages (topic matches a priorityTopics filter, MQTT + and # allowed) are deleted only by a
 *     new priority message, oldest first. A normal message that would need a priority message
 *     deleted is rejected instead.
 *   - 'reject-new': a message that does not fit is rejected — except a priority message, which may
 *     delete the oldest non-priority messages to make room.
 * Every deletion for room counts in `evicted`, every refusal in `rejected`; both, and `delivered`,
 * are persisted in the same transaction as the change, so they survive restarts too.
 */
import { EdgeloopError } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { openDatabase, type SqliteDatabase, type SqliteStatement } from '../io/sqlite.ts';

export type OutboxEvictPolicy = 'drop-oldest' | 'reject-new';
export type Qos = 0 | 1 | 2;

export interface OutboxOptions {
  path: string;
  maxMessages: number;
  maxBytes: number;
  evict: OutboxEvictPolicy;
  /** MQTT topic filters whose messages are evicted last. */
  priorityTopics?: readonly string[];
  now?: () => number;
  logger?: Logger;
}

export interface OutboxMessage {
  id: number;
  topic: string;
  payload: Uint8Array;
  qos: Qos;
  priority: boolean;
  enqueuedMs: number;
}

export type EnqueueResult = { status: 'queued'; id: number; evicted: number } | { status: 'rejected'; reason: 'full' };

export interface OutboxCounters {
  /** Messages in the queue now. */
  queued: number;
  /** Their total size. */
  bytes: number;
  /** Lifetime counts (persisted). */
  evicted: number;
  rejected: number;
  delivered: number;
}

export type PublishFn = (topic: string, payload: Uint8Array, qos: Qos) => Promise<void>;

export interface FlushOptions {
  /** Publishes awaiting acknowledgement at once. */
  maxInFlight?: number;
  /** A publish not settled by then counts as failed (a dead connection may never answer). */
  publishTimeoutMs?: number;
}

export interface FlushResult {
  delivered: number;
  remaining: number;
  /** Why the flush stopped early; absent when the queue drained. */
  error?: Error;
}

export const DEFAULT_FLUSH_OPTIONS = { maxInFlight: 8, publishTimeoutMs: 30_000 } as const;

const MAX_TOPIC_BYTES = 65_535;

/** MQTT filter matching: '+' is one level, a trailing '#' any number of levels (including none). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

interface Row {
  id: number;
  topic: string;
  payload: Buffer;
  qos: number;
  priority: number;
  enqueued_ms: number;
}

const encoder = new TextEncoder();

export class Outbox {
  readonly #db: SqliteDatabase;
  readonly #opts: Required<Pick<OutboxOptions, 'maxMessages' | 'maxBytes' | 'evict'>> & { priorityTopics: readonly string[] };
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #counters: OutboxCounters;
  readonly #stmt: Record<'insert' | 'oldest' | 'oldestPriority' | 'deleteReturning' | 'peekAfter' | 'bumpCounter', SqliteStatement>;
  #closed = false;
  #flushing = false;

  private constructor(db: SqliteDatabase, options: OutboxOptions, counters: OutboxCounters) {
    this.#db = db;
    this.#opts = { maxMessages: options.maxMessages, maxBytes: options.maxBytes, evict: options.evict, priorityTopics: options.priorityTopics ?? [] };
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? silentLogger;
    this.#counters = counters;
    this.#stmt = {
      insert: db.prepare('INSERT INTO outbox (topic, payload, qos, priority, bytes, enqueued_ms) VALUES (?, ?, ?, ?, ?, ?)'),
      oldest: db.prepare('SELECT id, bytes FROM outbox WHERE priority = 0 ORDER BY id LIMIT 1'),
      oldestPriority: db.prepare('SELECT id, bytes FROM outbox WHERE priority = 1 ORDER BY id LIMIT 1'),
      deleteReturning: db.prepare('DELETE FROM outbox WHERE id = ? RETURNING bytes'),
      peekAfter: db.prepare('SELECT id, topic, payload, qos, priority, enqueued_ms FROM outbox WHERE id > ? ORDER BY id LIMIT ?'),
      bumpCounter: db.prepare('UPDATE outbox_counters SET value = value + ? WHERE name = ?'),
    };
  }

  /** Opens (creating if needed) the queue at `path`; validates options first. */
  static async create(options: OutboxOptions): Promise<Outbox> {
    const problems: string[] = [];
    if (typeof options.path !== 'string' || options.path === '') problems.push(`path must be a non-empty string, got ${JSON.stringify(options.path)}`);
    if (!(Number.isInteger(options.maxMessages) && options.maxMessages >= 1)) problems.push(`maxMessages must be an integer ≥ 1, got ${options.maxMessages}`);
    if (!(Number.isInteger(options.maxBytes) && options.maxBytes >= 1)) problems.push(`maxBytes must be an integer ≥ 1, got ${options.maxBytes}`);
    if (options.evict !== 'drop-oldest' && options.evict !== 'reject-new') problems.push(`evict must be 'drop-oldest' or 'reject-new', got ${JSON.stringify(options.evict)}`);
    for (const f of options.priorityTopics ?? []) {
      if (typeof f !== 'string' || f === '' || /#./.test(f) || f.split('/').some((l) => l !== '+' && l !== '#' && /[+#]/.test(l))) {
        problems.push(`priorityTopics entry ${JSON.stringify(f)} is not a valid MQTT topic filter`);
      }
    }
    if (problems.length > 0) throw new EdgeloopError('BAD_CONFIG', `outbox options are invalid: ${problems.join('; ')}`);
    await Promise.resolve(); // keep the factory async: a future backend may open asynchronously
    const db = openDatabase(options.path, { synchronous: 'full' });
    try {
      db.exec(`
        CREATE TABLE IF NOT EXISTS outbox (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          topic TEXT NOT NULL,
          payload BLOB NOT NULL,
          qos INTEGER NOT NULL,
          priority INTEGER NOT NULL,
          bytes INTEGER NOT NULL,
          enqueued_ms INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS outbox_priority_id ON outbox (priority, id);
        CREATE TABLE IF NOT EXISTS outbox_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT OR IGNORE INTO outbox_counters (name, value) VALUES ('evicted', 0), ('rejected', 0), ('delivered', 0);
      `);
      const agg = db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM outbox').get() as { n: number; b: number };
      const stored = new Map((db.prepare('SELECT name, value FROM outbox_counters').all() as { name: string; value: number }[]).map((r) => [r.name, r.value]));
      return new Outbox(db, options, {
        queued: agg.n,
        bytes: agg.b,
        evicted: stored.get('evicted') ?? 0,
        rejected: stored.get('rejected') ?? 0,
        delivered: stored.get('delivered') ?? 0,
      });
    } catch (err) {
      db.close();
      throw new EdgeloopError('STORE', `cannot initialize outbox at '${options.path}': ${(err as Error).message}`, { cause: err });
    }
  }

  get counters(): OutboxCounters {
    return { ...this.#counters };
  }

  #checkOpen(): void {
    if (this.#closed) throw new EdgeloopError('STORE', 'outbox is closed');
  }

  #isPriority(topic: string): boolean {
    return this.#opts.priorityTopics.some((f) => topicMatches(f, topic));
  }

  /** Queues one message; returns after the commit. A full queue evicts or rejects (see the file comment). */
  enqueue(topic: string, payload: Uint8Array | string, options: { qos?: Qos } = {}): EnqueueResult {
    this.#checkOpen();
    const qos = options.qos ?? 1;
    if (typeof topic !== 'string' || topic === '' || /[+#\u0000]/.test(topic)) {
      throw new EdgeloopError('BAD_ARGUMENT', `topic must be a non-empty MQTT topic without +, # or NUL, got ${JSON.stringify(topic)}`);
    }
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new EdgeloopError('BAD_ARGUMENT', `qos must be 0, 1 or 2, got ${String(qos)}`);
    if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
      throw new EdgeloopError('BAD_ARGUMENT', `payload must be a Uint8Array or a string, got ${typeof payload}`);
    }
    const topicBytes = encoder.encode(topic).byteLength;
    if (topicBytes > MAX_TOPIC_BYTES) throw new EdgeloopError('BAD_ARGUMENT', `topic must be at most ${MAX_TOPIC_BYTES} bytes, got ${topicBytes}`);
    const body = typeof payload === 'string' ? encoder.encode(payload) : payload;
    const size = body.byteLength + topicBytes;
    const priority = this.#isPriority(topic);
    if (size > this.#opts.maxBytes) {
      this.#db.transaction(() => this.#stmt.bumpCounter.run(1, 'rejected'))();
      this.#counters.rejected++;
      throw new EdgeloopError('PAYLOAD_TOO_LARGE', `message on '${topic}' is ${size} bytes, more than the outbox maxBytes ${this.#opts.maxBytes}`);
    }
    const c = this.#counters;
    const result = this.#db.transaction((): { id: number; evicted: number; freed: number } => {
      let queued = c.queued;
      let bytes = c.bytes;
      let evicted = 0;
      let freed = 0;
      const fits = (): boolean => queued + 1 <= this.#opts.maxMessages && bytes + size <= this.#opts.maxBytes;
      const mayEvictNormal = this.#opts.evict === 'drop-oldest' || priority;
      const mayEvictPriority = this.#opts.evict === 'drop-oldest' && priority;
      while (!fits()) {
        let victim = mayEvictNormal ? (this.#stmt.oldest.get() as { id: number; bytes: number } | undefined) : undefined;
        if (!victim && mayEvictPriority) victim = this.#stmt.oldestPriority.get() as { id: number; bytes: number } | undefined;
        if (!victim) {
          // Nothing we may delete: undo any eviction of this attempt and refuse.
          throw new RejectSignal();
        }
        this.#stmt.deleteReturning.get(victim.id);
        queued--;
        bytes -= victim.bytes;
        freed += victim.bytes;
        evicted++;
      }
      const info = this.#stmt.insert.run(topic, Buffer.from(body.buffer, body.byteOffset, body.byteLength), qos, priority ? 1 : 0, size, Math.round(this.#now()));
      if (evicted > 0) this.#stmt.bumpCounter.run(evicted, 'evicted');
      return { id: Number(info.lastInsertRowid), evicted, freed };
    });
    let done: { id: number; evicted: number; freed: number };
    try {
      done = result();
    } catch (err) {
      if (err instanceof RejectSignal) {
        this.#db.transaction(() => this.#stmt.bumpCounter.run(1, 'rejected'))();
        c.rejected++;
        this.#logger.debug(() => `outbox full (${c.queued} messages, ${c.bytes} bytes): rejected a message on '${topic}'`);
        return { status: 'rejected', reason: 'full' };
      }
      throw new EdgeloopError('STORE', `outbox enqueue failed: ${(err as Error).message}`, { cause: err });
    }
    c.queued += 1 - done.evicted;
    c.bytes += size - done.freed;
    c.evicted += done.evicted;
    if (done.evicted > 0) this.#logger.debug(() => `outbox full: evicted ${done.evicted} oldest message(s) for one on '${topic}'`);
    return { status: 'queued', id: done.id, evicted: done.evicted };
  }

  /** The oldest `n` messages (after id `afterId`, when given), in order. */
  peek(n: number, options: { afterId?: number } = {}): OutboxMessage[] {
    this.#checkOpen();
    if (!(Number.isInteger(n) && n >= 1)) throw new EdgeloopError('BAD_ARGUMENT', `n must be an integer ≥ 1, got ${n}`);
    const rows = this.#stmt.peekAfter.all(options.afterId ?? 0, n) as Row[];
    return rows.map((r) => ({
      id: r.id,
      topic: r.topic,
      payload: new Uint8Array(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength),
      qos: r.qos as Qos,
      priority: r.priority === 1,
      enqueuedMs: r.enqueued_ms,
    }));
  }

  /** Deletes delivered messages in one transaction; ids no longer queued (evicted, acked) are ignored. */
  ack(ids: readonly number[]): number {
    this.#checkOpen();
    ids.forEach((id, i) => {
      if (!(Number.isInteger(id) && id >= 1)) throw new EdgeloopError('BAD_ARGUMENT', `ids[${i}] must be an integer ≥ 1, got ${id}`);
    });
    if (ids.length === 0) return 0;
    let removed = 0;
    let freed = 0;
    try {
      this.#db.transaction(() => {
        for (const id of ids) {
          const row = this.#stmt.deleteReturning.get(id) as { bytes: number } | undefined;
          if (row) {
            removed++;
            freed += row.bytes;
          }
        }
        if (removed > 0) this.#stmt.bumpCounter.run(removed, 'delivered');
      })();
    } catch (err) {
      throw new EdgeloopError('STORE', `outbox ack failed: ${(err as Error).message}`, { cause: err });
    }
    this.#counters.queued -= removed;
    this.#counters.bytes -= freed;
    this.#counters.delivered += removed;
    return removed;
  }

  /**
   * Sends queued messages in order through `publish`, at most `maxInFlight` unacknowledged at once.
   * A message is acked (deleted) only after its publish resolved and every earlier one did; the
   * first failure (or timeout) stops the flush and leaves it and everything after it queued.
   * Messages enqueued during the flush are sent too. One flush at a time.
   */
  async flush(publish: PublishFn, options: FlushOptions = {}): Promise<FlushResult> {
    this.#checkOpen();
    const maxInFlight = options.maxInFlight ?? DEFAULT_FLUSH_OPTIONS.maxInFlight;
    const timeoutMs = options.publishTimeoutMs ?? DEFAULT_FLUSH_OPTIONS.publishTimeoutMs;
    if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1 && maxInFlight <= 65_535)) {
      throw new EdgeloopError('BAD_ARGUMENT', `maxInFlight must be an integer in [1, 65535], got ${maxInFlight}`);
    }
    if (!(timeoutMs > 0)) throw new EdgeloopError('BAD_ARGUMENT', `publishTimeoutMs must be > 0, got ${timeoutMs}`);
    if (this.#flushing) throw new EdgeloopError('BAD_ARGUMENT', 'flush() is already running on this outbox; await it before starting another');
    this.#flushing = true;
    interface Entry { id: number; state: 'pending' | 'ok' | 'failed'; error?: Error; done: Promise<void> }
    const inFlight: Entry[] = [];
    let cursor = 0;
    let delivered = 0;
    let failure: Error | undefined;
    const send = (m: OutboxMessage): Entry => {
      const e: Entry = { id: m.id, state: 'pending', done: Promise.resolve() };
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new EdgeloopError('TIMEOUT', `publish of outbox message ${m.id} on '${m.topic}' not acknowledged within ${timeoutMs} ms`)), timeoutMs);
      });
      const attempt = new Promise<void>((resolve) => resolve(publish(m.topic, m.payload, m.qos)));
      e.done = Promise.race([attempt, timeout]).then(
        () => { e.state = 'ok'; },
        (err: unknown) => { e.state = 'failed'; e.error = err instanceof Error ? err : new Error(String(err)); },
      ).finally(() => clearTimeout(timer));
      return e;
    };
    try {
      for (;;) {
        if (!failure && !this.#closed && inFlight.length < maxInFlight) {
          for (const m of this.peek(maxInFlight - inFlight.length, { afterId: cursor })) {
            cursor = m.id;
            inFlight.push(send(m));
          }
        }
        if (inFlight.length === 0) break;
        await inFlight[0]!.done;
        let n = 0;
        while (n < inFlight.length && inFlight[n]!.state === 'ok') n++;
        if (n > 0 && !this.#closed) delivered += this.ack(inFlight.splice(0, n).map((e) => e.id));
        const failed = inFlight.find((e) => e.state === 'failed');
        if (failed && !failure) failure = failed.error;
        if (failure && inFlight.length > 0 && inFlight[0]!.state === 'failed') {
          // Let the rest settle so no publish outlives the flush; none of them is acked.
          await Promise.all(inFlight.map((e) => e.done));
          break;
        }
        if (this.#closed) break;
      }
    } finally {
      this.#flushing = false;
    }
    if (failure) this.#logger.warn(() => `outbox flush stopped after ${delivered} message(s): ${failure!.message}`);
    return { delivered, remaining: this.#counters.queued, ...(failure ? { error: failure } : {}) };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

/** Thrown inside the enqueue transaction to roll back evictions when the message must be refused. */
class RejectSignal extends Error {}
