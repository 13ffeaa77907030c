/**
 * The dashboard's retraining panel: every job with its trigger, state, the holdout comparison and the
 * live decision, newest first (the service's own API, /v1/retrain, stays the reference):
 *
 *   GET /v1/dashboard/retrain[?model=M&limit=N]
 */
import type { Dashboard, Panel } from './dashboard.ts';
import { guarded, intParam, isoTime, nameParam, queryOf, round } from './dashboard-http.ts';
import type { ChangeProbe } from './dashboard-live.ts';
import type { HttpServer } from './http.ts';
import { sendJson } from './http.ts';
import type { RetrainJob } from './retrain-jobs.ts';

/** What the panel reads: the jobs (RetrainService#jobStore on the leader, the shared job store elsewhere). */
export interface RetrainJobSource {
  list(filter?: { model?: string; limit?: number }): Promise<RetrainJob[]>;
}

export const RETRAIN_PANEL: Panel = { id: 'retrain', title: 'Retraining jobs (newest first)', endpoint: '/v1/dashboard/retrain', kind: 'table', wide: true };

const triggerText = (j: RetrainJob): string =>
  j.trigger.kind === 'alert' ? `alert #${j.trigger.alertId} ${j.trigger.alertKind} on ${j.trigger.device}` : j.trigger.kind === 'manual' ? `manual (${j.trigger.by})` : 'schedule';

/** One flat row per job, as the page's table renders it. */
export function retrainRow(j: RetrainJob): Record<string, string | number | null> {
  const e = j.evaluation;
  const live = j.live;
  return {
    job: j.id, model: j.model, fleet: j.fleet, trigger: triggerText(j), state: j.state,
    current: j.currentVersion, candidate: j.candidateVersion,
    'holdout candidate': round(e?.candidate), 'holdout current': round(e?.current), 'holdout rows': e?.holdoutRows ?? null,
    'live candidate': round(live?.candidate.accuracy), 'live current': round(live?.current.accuracy),
    rollout: j.rolloutId, reason: (j.reason ?? '').slice(0, 300), created: isoTime(j.createdAtMs), updated: isoTime(j.updatedAtMs),
  };
}

export function registerRetrainDashboardRoute(http: HttpServer, jobs: RetrainJobSource): void {
  http.route('GET', /^\/v1\/dashboard\/retrain$/, guarded(async (req, res) => {
    const q = queryOf(req);
    const rows = await jobs.list({ model: nameParam(q, 'model'), limit: intParam(q, 'limit', 50, 1, 1000) });
    sendJson(res, 200, rows.map(retrainRow));
  }));
}

/** Route, panel and live probe (state and update time of the newest jobs). */
export function attachRetrainPanel(http: HttpServer, dashboard: Pick<Dashboard, 'addPanel'>, jobs: RetrainJobSource): ChangeProbe {
  registerRetrainDashboardRoute(http, jobs);
  dashboard.addPanel(RETRAIN_PANEL);
  return { event: 'retrain', probe: async () => (await jobs.list({ limit: 20 })).map((j) => [j.id, j.state, j.updatedAtMs]) };
}
