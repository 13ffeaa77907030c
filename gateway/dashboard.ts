/**
 * The gateway's web dashboard: a static page (dashboard/), Chart.js served from node_modules (no CDN),
 * a JSON API behind it, and live updates over server-sent events. Other gateway parts (registry,
 * rollouts, drift, alerts) add panels with `addPanel()` and push events with `broadcast()`.
 * API reference: docs/dashboard.md.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type http from 'node:http';
import { silentLogger, type Logger } from '../src/log.ts';
import { isSafeName } from '../src/names.ts';
import { exportRows } from './data-io.ts';
import { sendJson, type HttpServer } from './http.ts';
import type { Store } from './store.ts';

const require = createRequire(import.meta.url);
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: fileURLToPath(new URL('../dashboard/index.html', import.meta.url)), type: 'text/html; charset=utf-8' },
  '/assets/app.js': { file: fileURLToPath(new URL('../dashboard/app.js', import.meta.url)), type: 'text/javascript; charset=utf-8' },
  '/assets/app.css': { file: fileURLToPath(new URL('../dashboard/app.css', import.meta.url)), type: 'text/css; charset=utf-8' },
  // chart.js's exports map hides dist/; resolve the package root and read the UMD build from it.
  '/vendor/chart.umd.min.js': { file: join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'), type: 'text/javascript; charset=utf-8' },
};

export interface Panel {
  id: string;
  title: string;
  /** JSON endpoint the page polls (and refreshes on SSE events named `id`). */
  endpoint: string;
  /**
   * How the page renders it (dashboard/app.js): 'table' an array of flat rows; 'heatmap' cells
   * `{row, col, value, level?, series?}` (or `{cells, max, metric}`), a cell's `series` endpoint drawn as a
   * line chart when clicked; 'bars' `[{label, value}]`; 'models' the /v1/models rows with the selected
   * version's metrics and confusion matrix.
   */
  kind: PanelKind;
  /** Spans the page's full width. */
  wide?: boolean;
}

export const PANEL_KINDS = ['table', 'heatmap', 'bars', 'models'] as const;
export type PanelKind = (typeof PANEL_KINDS)[number];

export interface DashboardOptions {
  store: Store;
  /** Ingest statistics of the live MQTT session, if any. */
  subscriberStats?: () => unknown;
  intervalMs?: number;
  logger?: Logger;
  now?: () => number;
}

export class Dashboard {
  readonly #o: Required<Omit<DashboardOptions, 'subscriberStats'>> & Pick<DashboardOptions, 'subscriberStats'>;
  readonly #clients = new Set<http.ServerResponse>();
  readonly #panels: Panel[] = [
    { id: 'devices', title: 'Devices and sensors', endpoint: '/v1/overview/devices', kind: 'table' },
    { id: 'quarantine', title: 'Quarantine (rejected input)', endpoint: '/v1/overview/quarantine', kind: 'table' },
  ];
  #timer: NodeJS.Timeout | null = null;
  #lastInserted: number | null = null;
  #lastAtMs = 0;
  readonly #rateHistory: { t: number; rate: number }[] = [];

  constructor(options: DashboardOptions) {
    this.#o = { intervalMs: 1000, logger: silentLogger, now: Date.now, ...options };
  }

  /** Adds a panel; one with the same id replaces it (so registering twice is harmless). */
  addPanel(panel: Panel): void {
    const at = this.#panels.findIndex((p) => p.id === panel.id);
    if (at >= 0) this.#panels[at] = panel;
    else this.#panels.push(panel);
  }

  /** Pages connected to /v1/events. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** Sends an event to every connected page. */
  broadcast(event: string, data: unknown): void {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.#clients) res.write(text);
  }

  registerRoutes(server: HttpServer): void {
    for (const [path, asset] of Object.entries(STATIC)) {
      server.route('GET', new RegExp(`^${path.replace(/[.]/g, '\\.')}$`), (_req, res) => {
        const body = readFileSync(asset.file);
        res.writeHead(200, { 'content-type': asset.type, 'content-length': body.length, 'cache-control': 'no-cache' });
        res.end(body);
      });
    }
    server.route('GET', /^\/v1\/panels$/, (_req, res) => sendJson(res, 200, this.#panels));
    server.route('GET', /^\/v1\/overview$/, async (_req, res) => sendJson(res, 200, await this.#overview()));
    server.route('GET', /^\/v1\/overview\/devices$/, async (_req, res) => {
      const stats = await this.#o.store.stats();
      sendJson(res, 200, stats.map((s) => ({ fleet: s.fleet, device: s.device, sensor: s.sensor, count: s.count, last: new Date(s.lastTsMs).toISOString(), min: round(s.min), max: round(s.max), mean: round(s.mean) })));
    });
    server.route('GET', /^\/v1\/overview\/quarantine$/, async (_req, res) => {
      const rows = await this.#o.store.quarantine({ limit: 1_000_000 });
      sendJson(res, 200, rows.slice(-50).reverse().map((r) => ({ id: r.id, received: new Date(r.receivedAtMs).toISOString(), via: r.transport, reason: r.reason, topic: r.topic, detail: r.detail.slice(0, 120) })));
    });
    server.route('GET', /^\/v1\/series$/, async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const fleet = url.searchParams.get('fleet') ?? '';
      const device = url.searchParams.get('device') ?? '';
      const sensor = url.searchParams.get('sensor') ?? '';
      const points = Math.min(5000, Math.max(10, Number(url.searchParams.get('points') ?? 500)));
      if (![fleet, device, sensor].every(isSafeName)) return sendJson(res, 400, { error: 'BAD_ARGUMENT', message: 'fleet, device and sensor query parameters must be safe names' });
      const all: [number, number][] = [];
      for await (const row of exportRows(this.#o.store, { fleet, device, sensors: [sensor] })) {
        const v = row.values[sensor];
        if (v !== undefined) all.push([row.ts, v]);
      }
      // Bucket means keep the chart's shape at any length.
      const step = Math.max(1, Math.ceil(all.length / points));
      const out: [number, number][] = [];
      for (let i = 0; i < all.length; i += step) {
        const chunk = all.slice(i, i + step);
        out.push([chunk[chunk.length - 1]![0], chunk.reduce((a, p) => a + p[1], 0) / chunk.length]);
      }
      sendJson(res, 200, { fleet, device, sensor, total: all.length, points: out });
    });
    server.route('GET', /^\/v1\/events$/, (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(`event: hello\ndata: ${JSON.stringify({ rateHistory: this.#rateHistory })}\n\n`);
      this.#clients.add(res);
      req.on('close', () => this.#clients.delete(res));
    });
  }

  async #overview() {
    const counters = await this.#o.store.counters();
    const stats = await this.#o.store.stats();
    return {
      counters,
      devices: new Set(stats.map((s) => `${s.fleet}/${s.device}`)).size,
      series: stats.map((s) => ({ fleet: s.fleet, device: s.device, sensor: s.sensor, count: s.count })),
      subscriber: this.#o.subscriberStats?.() ?? null,
      rateHistory: this.#rateHistory,
    };
  }

  start(): void {
    this.#timer = setInterval(() => void this.#tick(), this.#o.intervalMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      const counters = await this.#o.store.counters();
      const now = this.#o.now();
      if (this.#lastInserted !== null) {
        const rate = ((counters.inserted - this.#lastInserted) * 1000) / Math.max(1, now - this.#lastAtMs);
        this.#rateHistory.push({ t: now, rate });
        if (this.#rateHistory.length > 300) this.#rateHistory.shift();
        this.broadcast('ingest', { t: now, rate, counters });
      }
      this.#lastInserted = counters.inserted;
      this.#lastAtMs = now;
    } catch (err) {
      this.#o.logger.warn(`dashboard tick failed: ${(err as Error).message}`);
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }
}

function round(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}
