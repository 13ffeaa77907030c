/**
 * Dashboard views of the drift service (gateway/drift-monitor.ts), shaped for the page's panels.
 * The service's own API (/v1/drift, /v1/drift/<device>, /v1/alerts, /v1/performance) stays the
 * reference; these are its table and heatmap views:
 *
 *   GET /v1/dashboard/drift-heatmap[?fleet=F&metric=psi|js]   latest report per device: one cell per feature
 *   GET /v1/dashboard/drift-series?fleet=F&device=D&feature=X[&metric=psi|js&points=N]   one feature over time
 *   GET /v1/dashboard/alerts[?limit=N]                        alerts, newest first
 *   GET /v1/dashboard/performance                             rolling accuracy / error per device and version
 */
import { EdgeloopError } from '../src/errors.ts';
import { resolveDriftPolicy, type DriftPolicy } from '../src/drift/policy.ts';
import { sendJson, type HttpServer } from './http.ts';
import type { Dashboard, Panel } from './dashboard.ts';
import { guarded, intParam, isoTime, nameParam, queryOf, requiredName, round } from './dashboard-http.ts';
import type { ChangeProbe } from './dashboard-live.ts';
import type { DriftService } from './drift-monitor.ts';
import type { DriftPoint } from './drift-store.ts';

export const DRIFT_METRICS = ['psi', 'js'] as const;
export type DriftMetric = (typeof DRIFT_METRICS)[number];

export function driftPanels(): Panel[] {
  return [
    { id: 'drift', title: 'Drift: latest PSI per device × feature (click a cell for its history)', endpoint: '/v1/dashboard/drift-heatmap', kind: 'heatmap', wide: true },
    { id: 'alerts', title: 'Alerts (newest first)', endpoint: '/v1/dashboard/alerts', kind: 'table', wide: true },
    { id: 'performance', title: 'Performance (rolling, from delayed labels)', endpoint: '/v1/dashboard/performance', kind: 'table', wide: true },
  ];
}

export interface DriftDashboardOptions {
  /** The policy the service runs with (GatewayOptions.drift.policy): its PSI thresholds scale the colours. */
  policy?: Partial<DriftPolicy>;
}

function metricOf(q: URLSearchParams): DriftMetric {
  const m = q.get('metric') ?? 'psi';
  if (!(DRIFT_METRICS as readonly string[]).includes(m)) throw new EdgeloopError('BAD_ARGUMENT', `query parameter metric must be one of ${DRIFT_METRICS.join(', ')}, got ${JSON.stringify(m)}`);
  return m as DriftMetric;
}

const valueOf = (p: DriftPoint, metric: DriftMetric): number | null => (metric === 'psi' ? p.psi : p.js);

/** Registers the drift views on the HTTP server. */
export function registerDriftDashboardRoutes(http: HttpServer, drift: DriftService, options: DriftDashboardOptions = {}): void {
  const policy = resolveDriftPolicy(options.policy);
  const store = drift.store;

  http.route('GET', /^\/v1\/dashboard\/drift-heatmap$/, guarded(async (req, res) => {
    const q = queryOf(req);
    const fleet = nameParam(q, 'fleet');
    const metric = metricOf(q);
    const latest = await Promise.all((await store.latestPerDevice(fleet)).map(async (r) => ({ r, points: await store.series(r.fleet, r.device, { limit: 1 }) })));
    const cells = latest.flatMap(({ r, points }) => points.map((p) => ({
      row: `${r.fleet}/${r.device}`,
      col: p.isOutput ? `${p.feature} (output)` : p.feature,
      value: round(valueOf(p, metric)),
      level: p.level,
      verdict: r.verdict,
      model: r.model === null ? null : `${r.model}@${r.version}`,
      atMs: r.generatedAtMs,
      series: `/v1/dashboard/drift-series?fleet=${r.fleet}&device=${r.device}&feature=${encodeURIComponent(p.feature)}&metric=${metric}`,
    })));
    // PSI: the policy's alert threshold is the red end of the scale; JS distance is bounded by 1 (log2).
    sendJson(res, 200, { metric, max: metric === 'psi' ? policy.psiAlert : 0.5, thresholds: metric === 'psi' ? { warn: policy.psiWarn, alert: policy.psiAlert } : null, cells });
  }));

  http.route('GET', /^\/v1\/dashboard\/drift-series$/, guarded(async (req, res) => {
    const q = queryOf(req);
    const fleet = requiredName(q, 'fleet');
    const device = requiredName(q, 'device');
    const feature = q.get('feature');
    if (feature === null || feature.length === 0 || feature.length > 256) throw new EdgeloopError('BAD_ARGUMENT', 'query parameter feature is required (1-256 characters)');
    const metric = metricOf(q);
    const points = await store.series(fleet, device, { feature, limit: intParam(q, 'points', 200, 1, 10_000) });
    if (points.length === 0) throw new EdgeloopError('NOT_FOUND', `no drift statistics for feature ${JSON.stringify(feature)} of device ${fleet}/${device}`);
    // A calibrated profile scales the thresholds per feature (src/drift/policy.ts): the levels say it, fixed lines would not.
    const last = points[points.length - 1]!;
    const calibrated = last.model !== null && last.version !== null && (await store.getProfile(last.model, last.version))?.profile.calibration !== undefined;
    sendJson(res, 200, {
      fleet, device, feature, metric, label: `${fleet}/${device} ${feature} ${metric.toUpperCase()}`,
      thresholds: metric === 'psi' && !calibrated ? { warn: policy.psiWarn, alert: policy.psiAlert } : null,
      calibrated,
      points: points.map((p) => [p.generatedAtMs, round(valueOf(p, metric))]),
      levels: points.map((p) => p.level),
    });
  }));

  http.route('GET', /^\/v1\/dashboard\/alerts$/, guarded(async (req, res) => {
    const q = queryOf(req);
    const rows = await drift.alerts.list({ fleet: nameParam(q, 'fleet'), limit: intParam(q, 'limit', 50, 1, 1000) });
    sendJson(res, 200, rows.map((a) => ({
      id: a.id, raised: isoTime(a.raisedAtMs), severity: a.severity, kind: a.kind, device: `${a.fleet}/${a.device}`,
      model: a.model === null ? '' : `${a.model}@${a.version}`, message: a.message.slice(0, 200), suppressed: a.suppressed, mqtt: a.mqtt, webhook: a.webhook,
    })));
  }));

  http.route('GET', /^\/v1\/dashboard\/performance$/, guarded(async (req, res) => {
    const q = queryOf(req);
    sendJson(res, 200, (await drift.performance.states({ fleet: nameParam(q, 'fleet') })).map((s) => ({
      device: `${s.fleet}/${s.device}`, model: `${s.model}@${s.version}`, task: s.task, samples: s.samples,
      accuracy: round(s.accuracy), f1: round(s.f1), mse: round(s.mse), baseline: round(s.baseline), status: s.status,
      reasons: s.reasons.join('; '), updated: isoTime(s.updatedAtMs),
    })));
  }));
}

/** Live-feed fingerprints: reports stored (per verdict), alerts raised, performance states. */
export function driftProbes(drift: DriftService): ChangeProbe[] {
  return [
    // The newest report id: O(1) on the primary key, where DriftStore#verdictCounts scans every report.
    { event: 'drift', probe: () => drift.store.lastReportId() },
    { event: 'alerts', probe: () => drift.alerts.countsByKind() },
    { event: 'performance', probe: async () => (await drift.performance.states()).map((s) => [s.fleet, s.device, s.model, s.version, s.samples, s.updatedAtMs]) },
  ];
}

/** Routes, panels and live probes of the drift panels on one dashboard. */
export function attachDriftPanels(http: HttpServer, dashboard: Pick<Dashboard, 'addPanel'>, drift: DriftService, options: DriftDashboardOptions = {}): ChangeProbe[] {
  registerDriftDashboardRoutes(http, drift, options);
  for (const p of driftPanels()) dashboard.addPanel(p);
  return driftProbes(drift);
}
