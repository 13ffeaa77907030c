/**
 * Leader election over PostgreSQL session advisory locks, for duties that must run on one gateway
 * at a time (retraining, drift sweeps, retention) while every gateway ingests.
 *
 * Each instance keeps one dedicated session and tries `pg_try_advisory_lock(hashtextextended(key, 0))`
 * every `retryMs`. The lock lives exactly as long as the session: when the leader process dies its
 * connection closes, PostgreSQL releases the lock, and another instance acquires it on its next try.
 * The leader checks every `retryMs` that its session still holds the lock and demotes itself as soon
 * as the session breaks or a check times out — it never assumes leadership it cannot confirm. Between
 * two checks a partitioned leader may still be working while the server already released its lock
 * (bounded by retryMs plus TCP keepalive), so duties should be idempotent; see docs/scaling.md.
 */
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { openPostgresSession, redactPostgresUrl, type PgPool, type PgSession } from './store-postgres.ts';

export type DemotionReason = 'stopped' | 'connection-lost' | 'lock-lost';

export interface LeaderElectorOptions {
  /** A postgres:// URL (a session of its own is opened) … */
  url?: string;
  /** … or a pool to take one dedicated connection from (held until stop). */
  pool?: PgPool;
  /** Names the duty: instances with the same key compete for one lock. */
  key: string;
  /** Called once each time this instance becomes leader; a rejection gives the lock back. */
  onElected: () => void | Promise<void>;
  /** Called once each time this instance stops being leader, with why. */
  onDemoted: (reason: DemotionReason) => void | Promise<void>;
  /** Period of lock attempts (followers) and lock checks (leader); also the timeout of each query. */
  retryMs?: number;
  logger?: Logger;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export const LEADER_DEFAULTS = { retryMs: 2000 };

interface Session {
  client: PgSession;
  close(): void;
}

export class LeaderElector {
  readonly #o: LeaderElectorOptions & { retryMs: number };
  readonly #log: Logger;
  readonly #setTimer: (fn: () => void, ms: number) => unknown;
  readonly #clearTimer: (handle: unknown) => void;
  #session: Session | null = null;
  #leader = false;
  #running = false;
  #timer: unknown = null;
  #tick: Promise<void> = Promise.resolve();

  private constructor(o: LeaderElectorOptions & { retryMs: number }) {
    this.#o = o;
    this.#log = (o.logger ?? silentLogger).child('leader');
    this.#setTimer = o.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clearTimer = o.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
  }

  /** Validates the options; no connection is made before `start()`. */
  static async create(options: LeaderElectorOptions): Promise<LeaderElector> {
    const retryMs = options.retryMs ?? LEADER_DEFAULTS.retryMs;
    if ((options.url === undefined) === (options.pool === undefined)) throw new EdgeloopError('BAD_ARGUMENT', 'exactly one of url or pool must be given');
    if (options.url !== undefined && !/^postgres(ql)?:\/\//.test(options.url)) throw new EdgeloopError('BAD_ARGUMENT', `url ${JSON.stringify(redactPostgresUrl(options.url))} must start with postgres:// or postgresql://`);
    if (typeof options.key !== 'string' || options.key.length === 0 || options.key.length > 256) throw new EdgeloopError('BAD_ARGUMENT', `key must be a string of 1-256 characters, got ${JSON.stringify(options.key)}`);
    if (!Number.isInteger(retryMs) || retryMs < 10 || retryMs > 600_000) throw new EdgeloopError('BAD_ARGUMENT', `retryMs ${retryMs} must be an integer in 10..600000`);
    return new LeaderElector({ ...options, retryMs });
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Starts campaigning; resolves after the first attempt (so a lone instance is leader when it resolves). */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#tick = this.#attempt();
    await this.#tick;
  }

  /** Demotes (onDemoted('stopped')) if leader, gives the lock back and closes the session. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#timer !== null) this.#clearTimer(this.#timer);
    this.#timer = null;
    await this.#tick;
    const session = this.#session;
    if (this.#leader) {
      await this.#demote('stopped');
      if (session) await this.#query(session, 'SELECT pg_advisory_unlock(hashtextextended($1, 0))', [this.#o.key]).catch(() => undefined);
    }
    this.#dropSession();
  }

  async #attempt(): Promise<void> {
    try {
      if (!this.#session) this.#session = await this.#open();
      const session = this.#session;
      if (this.#leader) {
        const res = await this.#query(session, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted) AS held");
        if (res.rows[0]?.held !== true) {
          this.#log.warn(`lock '${this.#o.key}' is no longer held by this session`);
          await this.#demote('lock-lost');
        }
      } else {
        const res = await this.#query(session, 'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS held', [this.#o.key]);
        if (res.rows[0]?.held === true && this.#running) {
          this.#leader = true;
          this.#log.info(`elected leader for '${this.#o.key}'`);
          try {
            await this.#o.onElected();
          } catch (err) {
            // Duties that cannot start must not keep others from taking them over.
            this.#log.error(`onElected failed, giving up leadership of '${this.#o.key}': ${errorMessage(err)}`);
            this.#leader = false;
            await this.#query(session, 'SELECT pg_advisory_unlock(hashtextextended($1, 0))', [this.#o.key]).catch(() => this.#dropSession());
          }
        }
      }
    } catch (err) {
      this.#log.warn(`leader election session for '${this.#o.key}' failed: ${errorMessage(err)}`);
      this.#dropSession();
      if (this.#leader) await this.#demote('connection-lost');
    }
    if (this.#running) this.#timer = this.#setTimer(() => { this.#timer = null; this.#tick = this.#attempt(); }, this.#o.retryMs);
  }

  async #open(): Promise<Session> {
    const onBroken = (err?: Error) => {
      this.#log.warn(`leader election session for '${this.#o.key}' ended${err ? `: ${err.message}` : ''}`);
      if (this.#session?.client !== client) return;
      this.#dropSession();
      // Demote now rather than at the next tick: the server has released (or will release) the lock.
      if (this.#leader) this.#tick = this.#tick.then(() => (this.#leader ? this.#demote('connection-lost') : undefined));
    };
    let client: PgSession;
    let close: () => void;
    if (this.#o.pool) {
      const pending = this.#o.pool.connect();
      const pooled = await withTimeout(pending, this.#o.retryMs, 'pool connect', () => void pending.then((c) => c.release(true), () => undefined));
      client = pooled;
      // release(true) destroys the connection: a session-level lock must not travel back into the pool.
      close = () => pooled.release(true);
    } else {
      const pending = openPostgresSession(this.#o.url!, 'edgeloop-leader');
      const own = await withTimeout(pending, this.#o.retryMs, 'connect', () => void pending.then((c) => c.end(), () => undefined));
      client = own;
      close = () => void own.end().catch(() => undefined);
    }
    client.on('error', onBroken);
    client.on('end', () => onBroken());
    return { client, close };
  }

  #dropSession(): void {
    const s = this.#session;
    this.#session = null;
    if (!s) return;
    s.client.removeAllListeners('end');
    // Keep an error listener: a late socket error on a closed session must not crash the process.
    s.client.removeAllListeners('error');
    s.client.on('error', () => undefined);
    s.close();
  }

  async #demote(reason: DemotionReason): Promise<void> {
    if (!this.#leader) return;
    this.#leader = false;
    this.#log.info(`demoted from leader of '${this.#o.key}': ${reason}`);
    try {
      await this.#o.onDemoted(reason);
    } catch (err) {
      this.#log.error(`onDemoted failed: ${errorMessage(err)}`);
    }
  }

  /** A query that fails after retryMs: a silent network must not leave a leader believing it still is. */
  #query(session: Session, text: string, params: unknown[] = []): Promise<{ rows: { held?: boolean }[] }> {
    return withTimeout(session.client.query<{ held?: boolean }>(text, params), this.#o.retryMs, text.slice(0, 40));
  }
}

/** `p`, or a TIMEOUT error after `ms`; `onLate` cleans up whatever `p` still produces after that. */
async function withTimeout<T>(p: Promise<T>, ms: number, what: string, onLate?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onLate?.();
      reject(new EdgeloopError('TIMEOUT', `${what} took longer than ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
