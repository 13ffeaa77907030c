/**
 * Live updates for dashboard panels whose data changes outside the HTTP server (drift reports and
 * alerts arriving over MQTT, a model published by the CLI in another process, a dataset prepared):
 * every `intervalMs` each probe computes a cheap fingerprint of its panel's data, and when it changes
 * the dashboard broadcasts an SSE event named after the panel, so open pages refetch that panel.
 * Polling the database (not hooking the writers) also catches writes made by other processes.
 */
import { errorMessage } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import type { Dashboard } from './dashboard.ts';

export interface ChangeProbe {
  /** SSE event name: the id of the panel to refresh. */
  event: string;
  /** A fingerprint of the panel's data (compared as JSON). */
  probe: () => unknown | Promise<unknown>;
}

export interface ChangeFeedTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface ChangeFeedOptions {
  /** Where events go; with `clientCount`, rounds are skipped while no page is connected. */
  dashboard: Pick<Dashboard, 'broadcast'> & Partial<Pick<Dashboard, 'clientCount'>>;
  probes?: ChangeProbe[];
  intervalMs?: number;
  logger?: Logger;
  now?: () => number;
  timers?: ChangeFeedTimers;
}

export const CHANGE_FEED_DEFAULTS = { intervalMs: 1000 };

const NODE_TIMERS: ChangeFeedTimers = {
  setInterval: (fn, ms) => {
    const t = setInterval(fn, ms);
    t.unref();
    return t;
  },
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

export class ChangeFeed {
  readonly #o: Required<Omit<ChangeFeedOptions, 'probes'>>;
  readonly #probes: ChangeProbe[] = [];
  readonly #last = new Map<string, string>();
  #timer: unknown = null;
  #running: Promise<string[]> | null = null;

  constructor(options: ChangeFeedOptions) {
    this.#o = {
      dashboard: options.dashboard,
      intervalMs: options.intervalMs ?? CHANGE_FEED_DEFAULTS.intervalMs,
      logger: options.logger ?? silentLogger,
      now: options.now ?? Date.now,
      timers: options.timers ?? NODE_TIMERS,
    };
    for (const p of options.probes ?? []) this.add(p);
  }

  add(probe: ChangeProbe): void {
    this.#probes.push(probe);
  }

  get events(): string[] {
    return this.#probes.map((p) => p.event);
  }

  /** Takes the first fingerprints, then probes every intervalMs. */
  async start(): Promise<void> {
    if (this.#timer !== null) return;
    this.#timer = this.#o.timers.setInterval(() => void this.tick(), this.#o.intervalMs);
    await this.tick();
  }

  /** Stops the timer and waits for a probe round in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== null) this.#o.timers.clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /**
   * Runs every probe once and broadcasts the events whose fingerprint changed; returns those events.
   * A round still running (slow database) is joined rather than overlapped.
   */
  tick(): Promise<string[]> {
    this.#running ??= this.#round().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #round(): Promise<string[]> {
    const changed: string[] = [];
    // Nobody listening: no database work. A page connecting later fetches every panel anyway.
    if (this.#o.dashboard.clientCount === 0) return changed;
    for (const p of this.#probes) {
      let fingerprint: string;
      try {
        fingerprint = JSON.stringify(await p.probe()) ?? 'undefined';
      } catch (err) {
        this.#o.logger.warn(() => `dashboard probe ${p.event} failed: ${errorMessage(err)}`);
        continue;
      }
      const before = this.#last.get(p.event);
      this.#last.set(p.event, fingerprint);
      if (before !== undefined && before !== fingerprint) {
        changed.push(p.event);
        this.#o.dashboard.broadcast(p.event, { changedAtMs: this.#o.now() });
      }
    }
    return changed;
  }
}
