/**
 * Data-quality views: what was rejected (ingest quarantine and drift/predictions/labels rejects, by
 * reason) and what cleaning did to each prepared dataset (the fit report DatasetStore keeps).
 *
 *   GET /v1/dashboard/data-quality   [{source, reason, count, last}] rejected messages by reason
 *   GET /v1/dashboard/cleaning       one row per dataset × split × cleaning step, newest dataset first
 */
import type { SqliteDatabase } from '../io/sqlite.ts';
import type { FitReport } from '../src/pipeline/fit.ts';
import { sendJson, type HttpServer } from './http.ts';
import type { Dashboard, Panel } from './dashboard.ts';
import { guarded, intParam, isoTime, queryOf } from './dashboard-http.ts';
import type { ChangeProbe } from './dashboard-live.ts';
import { DatasetStore } from './datasets.ts';
import type { Store } from './store.ts';

export function qualityPanels(): Panel[] {
  return [
    { id: 'data-quality', title: 'Data quality: rejected messages by reason', endpoint: '/v1/dashboard/data-quality', kind: 'table' },
    { id: 'cleaning', title: 'Cleaning report of the prepared datasets', endpoint: '/v1/dashboard/cleaning', kind: 'table', wide: true },
  ];
}

export interface QualityOptions {
  store: Store;
  /** The SQLite file holding prepared datasets and drift rejects; without it only ingest counters are shown. */
  database?: SqliteDatabase;
  /** Datasets listed by /v1/dashboard/cleaning. */
  maxDatasets?: number;
}

interface Counts {
  source: string;
  reason: string;
  count: number;
  last: string;
}

/** drift_rejects belongs to DriftStore; it exists only once a drift service opened this file. */
function driftRejectCounts(db: SqliteDatabase): Counts[] {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'drift_rejects'").pluck().get();
  if (exists === undefined) return [];
  const rows = db.prepare('SELECT reason, count(*) AS n, max(received_at) AS last FROM drift_rejects GROUP BY reason ORDER BY n DESC').all() as { reason: string; n: number; last: number }[];
  return rows.map((r) => ({ source: 'drift/predictions/labels', reason: r.reason, count: r.n, last: isoTime(r.last) }));
}

function changesText(changes: Record<string, Partial<Record<string, number>>>): string {
  return Object.entries(changes)
    .map(([col, c]) => [col, Object.entries(c).filter(([, n]) => (n ?? 0) > 0).map(([k, n]) => `${k}=${n}`).join(' ')] as const)
    .filter(([, text]) => text.length > 0)
    .map(([col, text]) => `${col}: ${text}`)
    .join('; ');
}

export function cleaningRows(dataset: string, report: FitReport) {
  const rows: { dataset: string; split: string; step: string; rowsIn: number; rowsOut: number; dropped: number; changes: string }[] = [];
  for (const [split, clean] of Object.entries(report.clean ?? {})) {
    for (const s of clean.steps) rows.push({ dataset, split, step: `${s.index} ${s.op}`, rowsIn: s.rowsIn, rowsOut: s.rowsOut, dropped: s.rowsDropped, changes: changesText(s.changes) });
  }
  const featureRows = Object.entries(report.featureRows ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
  rows.push({
    dataset, split: '(all)', step: 'features', rowsIn: report.rowsIn, rowsOut: Object.values(report.featureRows ?? {}).reduce((a, b) => a + b, 0),
    dropped: report.droppedUnlabeled, changes: `feature rows ${featureRows}; unassigned ${report.rowsUnassigned}; columns ${report.columns?.length ?? 0}`,
  });
  return rows;
}

export function registerQualityRoutes(http: HttpServer, options: QualityOptions): { probes: ChangeProbe[] } {
  const datasets = options.database ? DatasetStore.create(options.database) : null;
  // Loading a dataset decodes its whole matrix: keep the report rows per (name, createdAt).
  const cache = new Map<string, ReturnType<typeof cleaningRows>>();

  http.route('GET', /^\/v1\/dashboard\/data-quality$/, guarded(async (_req, res) => {
    const c = await options.store.counters();
    // The ingest counters outlive evicted quarantine rows; the Store API gives no per-reason time.
    const rows: Counts[] = Object.entries(c.rejected).map(([reason, n]) => ({ source: 'telemetry', reason, count: n ?? 0, last: '' }));
    rows.sort((a, b) => b.count - a.count);
    if (c.quarantineEvicted > 0) rows.push({ source: 'telemetry', reason: '(quarantine rows evicted, counted above)', count: c.quarantineEvicted, last: '' });
    if (options.database) rows.push(...driftRejectCounts(options.database));
    sendJson(res, 200, rows);
  }));

  http.route('GET', /^\/v1\/dashboard\/cleaning$/, guarded(async (req, res) => {
    if (!datasets) return sendJson(res, 200, []);
    const store = await datasets;
    const max = intParam(queryOf(req), 'datasets', options.maxDatasets ?? 3, 1, 50);
    const list = store.list().sort((a, b) => b.createdAtMs - a.createdAtMs).slice(0, max);
    const out: ReturnType<typeof cleaningRows> = [];
    for (const d of list) {
      const key = `${d.name}\u0000${d.createdAtMs}`;
      let rows = cache.get(key);
      if (!rows) {
        rows = cleaningRows(`${d.name} (${isoTime(d.createdAtMs)})`, store.load(d.name).report as FitReport);
        cache.set(key, rows);
      }
      out.push(...rows);
    }
    sendJson(res, 200, out);
  }));

  const probes: ChangeProbe[] = [
    { event: 'data-quality', probe: async () => { const c = await options.store.counters(); return [c.rejected, options.database ? driftRejectCounts(options.database).map((r) => [r.reason, r.count]) : null]; } },
  ];
  if (datasets) probes.push({ event: 'cleaning', probe: async () => (await datasets).list().map((d) => [d.name, d.createdAtMs]) });
  return { probes };
}

/** Routes, panels and live probes of the data-quality panels on one dashboard. */
export function attachQualityPanels(http: HttpServer, dashboard: Pick<Dashboard, 'addPanel'>, options: QualityOptions): ChangeProbe[] {
  const { probes } = registerQualityRoutes(http, options);
  for (const p of qualityPanels()) dashboard.addPanel(p);
  return probes;
}
