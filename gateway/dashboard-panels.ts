/**
 * One call that adds the dashboard's data-quality, models and drift panels (routes, panels, live
 * updates) to a gateway's HTTP server and dashboard. Each part is optional: without a registry there
 * is no models panel, without a drift service no drift/alerts/performance panels.
 *
 *   const feed = attachDashboardPanels({ http, dashboard, store, database, registry, runs, evaluations, drift });
 *   await feed.start();   // after the HTTP server started
 *   await feed.stop();    // before the database closes
 */
import type { SqliteDatabase } from '../io/sqlite.ts';
import type { Logger } from '../src/log.ts';
import type { Dashboard } from './dashboard.ts';
import { attachDriftPanels, type DriftDashboardOptions } from './dashboard-drift.ts';
import { ChangeFeed } from './dashboard-live.ts';
import { attachModelPanel, type ModelEvaluationStore } from './dashboard-models.ts';
import { attachQualityPanels } from './dashboard-quality.ts';
import type { DriftService } from './drift-monitor.ts';
import type { HttpServer } from './http.ts';
import type { Registry } from './registry.ts';
import type { RunStore } from './runs.ts';
import type { Store } from './store.ts';

export interface DashboardPanelsOptions {
  http: HttpServer;
  dashboard: Dashboard;
  store: Store;
  /** The gateway's SQLite file (SqliteStore#database): prepared datasets, drift rejects. */
  database?: SqliteDatabase;
  registry?: Registry | null;
  runs?: RunStore;
  evaluations?: ModelEvaluationStore;
  drift?: DriftService | null;
  driftPolicy?: DriftDashboardOptions['policy'];
  /** How often the live feed looks for changes. */
  pollMs?: number;
  logger?: Logger;
  now?: () => number;
}

/** Registers routes and panels; returns the live feed (not started). */
export function attachDashboardPanels(o: DashboardPanelsOptions): ChangeFeed {
  const feed = new ChangeFeed({ dashboard: o.dashboard, intervalMs: o.pollMs, logger: o.logger, now: o.now });
  for (const p of attachQualityPanels(o.http, o.dashboard, { store: o.store, database: o.database })) feed.add(p);
  if (o.registry) feed.add(attachModelPanel(o.http, o.dashboard, { registry: o.registry, runs: o.runs, evaluations: o.evaluations }));
  if (o.drift) for (const p of attachDriftPanels(o.http, o.dashboard, o.drift, { policy: o.driftPolicy })) feed.add(p);
  return feed;
}
