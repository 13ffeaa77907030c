/**
 * Prometheus metrics of the gateway's drift, performance and alert parts, plus ingest and rollout
 * figures read through callbacks (so this module needs no handle on the ingest store or the
 * rollout controller). The only module that imports prom-client. Uses its own Registry: two
 * gateways in one process (tests) never share series, and nothing leaks into the global one.
 *
 * Series whose source of truth is a table or another component (ingest counters, alerts, rollout)
 * are read at scrape time; drift and performance gauges are set when a report or label batch is
 * processed. Drift statistics are labelled by (fleet, device, feature) only; the model a device
 * runs is the separate info series edgeloop_device_model_info, so a model upgrade leaves no stale
 * per-version statistic series behind.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { IngestCounters } from './store.ts';
import type { DriftReport, FeatureDrift } from '../src/drift/report.ts';
import type { StoredVerdict } from './drift-store.ts';
import type { AlertKind, AlertSeverity, AlertStats } from './alerts.ts';
import type { PerformanceCounters, PerformanceState } from './performance.ts';

/** What the ingest side reports at scrape time (Gateway: store counters and subscriber stats). */
export interface IngestSnapshot {
  counters: IngestCounters;
  /** Messages received but not yet committed (the subscriber's backlog). */
  pendingMessages?: number;
  /** Arrival time of the newest committed message, for the ingest lag. */
  lastReceivedAtMs?: number | null;
}

/** Devices per (model, version, rollout state), read at scrape time. */
export interface RolloutSample {
  model: string;
  version: number;
  state: string;
  devices: number;
}

/** Retraining jobs by state and the latest holdout comparison per model (gateway/retrain.ts). */
export interface RetrainSnapshot {
  jobsByState: Record<string, number>;
  lastEvaluation: readonly { model: string; metric: string; candidate: number; current: number }[];
}

export interface MetricsSources {
  ingest?: () => IngestSnapshot | Promise<IngestSnapshot>;
  rollout?: () => readonly RolloutSample[] | Promise<readonly RolloutSample[]>;
  retrain?: () => RetrainSnapshot | Promise<RetrainSnapshot>;
  /** Whether this gateway instance runs the singleton duties (docs/scaling.md). */
  leader?: () => { gateway: string; leader: boolean };
}

/** Sources the drift service itself supplies. */
export interface InternalSources {
  alerts: () => Promise<{ byKind: { kind: AlertKind; severity: AlertSeverity; sent: number; suppressed: number }[]; stats: AlertStats }>;
  performance: () => Promise<{ counters: PerformanceCounters; pendingLabels: number }>;
}

const VERDICT_LEVEL: Record<StoredVerdict, number> = { ok: 0, warn: 1, alert: 2, insufficient: -1, no_profile: -2 };

type FeatureLabels = 'fleet' | 'device' | 'feature';
type DeviceLabels = 'fleet' | 'device';
type ModelLabels = 'fleet' | 'device' | 'model' | 'version';

export class GatewayMetrics {
  readonly registry = new Registry();
  #sources: MetricsSources = {};
  readonly #now: () => number;
  readonly #deviceModel = new Map<string, { model: string; version: string }>();
  readonly #drift: Record<'psi' | 'js' | 'ksStat' | 'testP' | 'wasserstein' | 'missing' | 'outRate' | 'mean', Gauge<FeatureLabels>>;
  readonly #samples: Gauge<DeviceLabels>;
  readonly #verdictLevel: Gauge<DeviceLabels>;
  readonly #reportTime: Gauge<DeviceLabels>;
  readonly #modelInfo: Gauge<ModelLabels>;
  readonly #reports: Counter<'verdict'>;
  readonly #rejects: Counter<'topic' | 'reason'>;
  readonly #perf: Record<'accuracy' | 'f1' | 'mse' | 'samples' | 'degraded', Gauge<ModelLabels>>;

  constructor(internal: InternalSources, options: { now?: () => number; sources?: MetricsSources } = {}) {
    this.#now = options.now ?? Date.now;
    this.#sources = options.sources ?? {};
    const reg = [this.registry];
    // The process's own health beside the gateway's: event-loop delay (nodejs_eventloop_lag_p99_seconds,
    // _max_seconds: a stalled loop holds every MQTT ack and HTTP answer), CPU, memory, GC pauses.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    const fl = ['fleet', 'device', 'feature'] as const;
    const dl = ['fleet', 'device'] as const;
    const ml = ['fleet', 'device', 'model', 'version'] as const;
    const g = <L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> => new Gauge({ name, help, labelNames, registers: reg });
    this.#drift = {
      psi: g('edgeloop_drift_psi', 'Population stability index of the latest drift window against the reference profile', fl),
      js: g('edgeloop_drift_js_distance', 'Jensen-Shannon distance (base 2) of the latest drift window', fl),
      ksStat: g('edgeloop_drift_test_statistic', 'KS statistic (numeric) or chi-square statistic (categorical) of the latest drift window', fl),
      testP: g('edgeloop_drift_test_pvalue', 'Unadjusted p-value of the KS (numeric) or chi-square (categorical) test', fl),
      wasserstein: g('edgeloop_drift_wasserstein', 'Wasserstein-1 distance in the feature unit', fl),
      missing: g('edgeloop_drift_missing_rate', 'Share of missing values in the latest drift window', fl),
      outRate: g('edgeloop_drift_out_of_range_rate', 'Share of out-of-range (numeric) or unseen-category (categorical) values', fl),
      mean: g('edgeloop_drift_window_mean', 'Mean of the latest drift window (numeric features)', fl),
    };
    this.#samples = g('edgeloop_drift_window_samples', 'Samples in the latest drift window', dl);
    this.#verdictLevel = g('edgeloop_drift_verdict_level', 'Latest drift verdict: 0 ok, 1 warn, 2 alert, -1 insufficient samples, -2 no reference profile', dl);
    this.#reportTime = g('edgeloop_drift_report_timestamp_seconds', 'Generation time of the latest drift report', dl);
    this.#modelInfo = g('edgeloop_device_model_info', 'The model version a device runs (value 1)', ml);
    this.#reports = new Counter({ name: 'edgeloop_drift_reports_total', help: 'Drift reports stored, by verdict', labelNames: ['verdict'] as const, registers: reg });
    this.#rejects = new Counter({ name: 'edgeloop_drift_rejects_total', help: 'Drift, prediction and label messages quarantined in drift_rejects, by topic kind and reason', labelNames: ['topic', 'reason'] as const, registers: reg });
    this.#perf = {
      accuracy: g('edgeloop_model_accuracy', 'Rolling accuracy over the last joined samples (classification)', ml),
      f1: g('edgeloop_model_f1', 'Rolling F1 over the last joined samples (classification; binary for 0/1 labels, else macro)', ml),
      mse: g('edgeloop_model_mse', 'Rolling mean squared error over the last joined samples (regression)', ml),
      samples: g('edgeloop_model_joined_samples', 'Joined (prediction, label) samples in the rolling window', ml),
      degraded: g('edgeloop_model_degraded', '1 when the rolling performance is below its threshold or test score', ml),
    };

    const sources = (): MetricsSources => this.#sources;
    const now = this.#now;
    // Counters kept elsewhere are re-read at scrape time: reset, then set to the current total.
    new Counter({
      name: 'edgeloop_ingest_readings_total', help: 'Telemetry readings by outcome (inserted, duplicate, conflict)', labelNames: ['outcome'] as const, registers: reg,
      async collect() {
        const src = sources().ingest;
        if (!src) return;
        const c = (await src()).counters;
        this.reset();
        this.inc({ outcome: 'inserted' }, c.inserted);
        this.inc({ outcome: 'duplicate' }, c.duplicates);
        this.inc({ outcome: 'conflict' }, c.conflicts);
      },
    });
    new Counter({
      name: 'edgeloop_ingest_rejected_total', help: 'Telemetry messages quarantined, by reason', labelNames: ['reason'] as const, registers: reg,
      async collect() {
        const src = sources().ingest;
        if (!src) return;
        const c = (await src()).counters;
        this.reset();
        for (const [reason, n] of Object.entries(c.rejected)) this.inc({ reason }, n ?? 0);
      },
    });
    new Counter({
      name: 'edgeloop_ingest_quarantine_evicted_total', help: 'Quarantine rows evicted beyond the table limit', registers: reg,
      async collect() {
        const src = sources().ingest;
        if (!src) return;
        const c = (await src()).counters;
        this.reset();
        this.inc(c.quarantineEvicted);
      },
    });
    new Gauge({
      name: 'edgeloop_ingest_pending_messages', help: 'Messages received but not yet committed', registers: reg,
      async collect() {
        const src = sources().ingest;
        if (!src) return;
        this.set((await src()).pendingMessages ?? 0);
      },
    });
    new Gauge({
      name: 'edgeloop_ingest_lag_seconds', help: 'Seconds since the newest committed message arrived', registers: reg,
      async collect() {
        const src = sources().ingest;
        if (!src) return;
        const last = (await src()).lastReceivedAtMs;
        if (last === null || last === undefined) this.reset();
        else this.set(Math.max(0, (now() - last) / 1000));
      },
    });
    new Gauge({
      name: 'edgeloop_rollout_devices', help: 'Devices per model version and rollout state', labelNames: ['model', 'version', 'state'] as const, registers: reg,
      async collect() {
        const src = sources().rollout;
        if (!src) return;
        const rows = await src();
        this.reset();
        for (const r of rows) this.set({ model: r.model, version: String(r.version), state: r.state }, r.devices);
      },
    });
    new Gauge({
      name: 'edgeloop_leader', help: '1 while this gateway instance runs the singleton duties (elected leader, or the only instance on SQLite), else 0', labelNames: ['gateway'] as const, registers: reg,
      collect() {
        const src = sources().leader;
        if (!src) return;
        const { gateway, leader } = src();
        this.reset();
        this.set({ gateway }, leader ? 1 : 0);
      },
    });
    new Gauge({
      name: 'edgeloop_retrain_jobs', help: 'Retraining jobs by state', labelNames: ['state'] as const, registers: reg,
      async collect() {
        const src = sources().retrain;
        if (!src) return;
        const snap = await src();
        this.reset();
        for (const [state, n] of Object.entries(snap.jobsByState)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'edgeloop_retrain_holdout_score', help: 'Latest retraining comparison on the recent holdout: candidate vs current model (accuracy or rmse)', labelNames: ['model', 'metric', 'role'] as const, registers: reg,
      async collect() {
        const src = sources().retrain;
        if (!src) return;
        const snap = await src();
        this.reset();
        for (const e of snap.lastEvaluation) {
          this.set({ model: e.model, metric: e.metric, role: 'candidate' }, e.candidate);
          this.set({ model: e.model, metric: e.metric, role: 'current' }, e.current);
        }
      },
    });
    new Counter({
      name: 'edgeloop_alerts_total', help: 'Alerts sent, by kind and severity', labelNames: ['kind', 'severity'] as const, registers: reg,
      async collect() {
        const { byKind } = await internal.alerts();
        this.reset();
        for (const r of byKind) this.inc({ kind: r.kind, severity: r.severity }, r.sent);
      },
    });
    new Counter({
      name: 'edgeloop_alerts_suppressed_total', help: 'Alerts not re-sent because one of the same device, model and kind was sent within the cooldown', labelNames: ['kind'] as const, registers: reg,
      async collect() {
        const { byKind } = await internal.alerts();
        this.reset();
        for (const r of byKind) this.inc({ kind: r.kind }, r.suppressed);
      },
    });
    new Counter({
      name: 'edgeloop_alert_deliveries_total', help: 'Alert deliveries by channel and outcome since start', labelNames: ['channel', 'outcome'] as const, registers: reg,
      async collect() {
        const s = (await internal.alerts()).stats;
        this.reset();
        this.inc({ channel: 'mqtt', outcome: 'delivered' }, s.mqttPublished);
        this.inc({ channel: 'mqtt', outcome: 'failed' }, s.mqttFailed);
        this.inc({ channel: 'webhook', outcome: 'delivered' }, s.webhookDelivered);
        this.inc({ channel: 'webhook', outcome: 'retried' }, s.webhookRetries);
        this.inc({ channel: 'webhook', outcome: 'failed' }, s.webhookFailed);
        this.inc({ channel: 'webhook', outcome: 'dropped' }, s.webhookDropped);
      },
    });
    new Gauge({
      name: 'edgeloop_alert_webhook_queue', help: 'Alerts waiting for webhook delivery', registers: reg,
      async collect() {
        this.set((await internal.alerts()).stats.webhookQueue);
      },
    });
    new Counter({
      name: 'edgeloop_performance_events_total', help: 'Prediction/label events since start (predictions, labels, joined, duplicates, conflicts, expired labels)', labelNames: ['event'] as const, registers: reg,
      async collect() {
        const c = (await internal.performance()).counters;
        this.reset();
        this.inc({ event: 'prediction' }, c.predictions);
        this.inc({ event: 'duplicate_prediction' }, c.duplicatePredictions);
        this.inc({ event: 'label' }, c.labels);
        this.inc({ event: 'joined' }, c.joined);
        this.inc({ event: 'duplicate_label' }, c.duplicateLabels);
        this.inc({ event: 'label_conflict' }, c.labelConflicts);
        this.inc({ event: 'expired_label' }, c.expiredLabels);
      },
    });
    new Gauge({
      name: 'edgeloop_performance_pending_labels', help: 'Labels waiting for their prediction', registers: reg,
      async collect() {
        this.set((await internal.performance()).pendingLabels);
      },
    });
  }

  /** Ingest and rollout callbacks (the Gateway and the rollout controller supply them). */
  setSources(sources: MetricsSources): void {
    this.#sources = { ...this.#sources, ...sources };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  recordDriftReport(fleet: string, device: string, model: { model: string; version: number } | null, report: DriftReport, verdict: StoredVerdict): void {
    const d = { fleet, device };
    this.#reports.inc({ verdict });
    this.#samples.set(d, report.sampleCount);
    this.#verdictLevel.set(d, VERDICT_LEVEL[verdict]);
    this.#reportTime.set(d, report.generatedAtMs / 1000);
    const key = `${fleet}/${device}`;
    const prev = this.#deviceModel.get(key);
    if (model && (prev?.model !== model.model || prev.version !== String(model.version))) {
      if (prev) this.#modelInfo.remove({ fleet, device, ...prev });
      const next = { model: model.model, version: String(model.version) };
      this.#deviceModel.set(key, next);
      this.#modelInfo.set({ fleet, device, ...next }, 1);
    }
    const put = (f: FeatureDrift): void => {
      const l = { fleet, device, feature: f.name };
      const setOrClear = (gauge: Gauge<FeatureLabels>, v: number | null): void => {
        if (v === null) gauge.remove(l);
        else gauge.set(l, v);
      };
      setOrClear(this.#drift.psi, f.psi);
      setOrClear(this.#drift.js, f.js);
      this.#drift.missing.set(l, f.missingRate);
      switch (f.kind) {
        case 'numeric':
          setOrClear(this.#drift.ksStat, f.ks?.statistic ?? null);
          setOrClear(this.#drift.testP, f.ks?.pValue ?? null);
          setOrClear(this.#drift.wasserstein, f.wasserstein);
          setOrClear(this.#drift.mean, f.mean);
          this.#drift.outRate.set(l, f.outOfRangeRate);
          return;
        case 'categorical':
          setOrClear(this.#drift.ksStat, f.chi2?.statistic ?? null);
          setOrClear(this.#drift.testP, f.chi2?.pValue ?? null);
          this.#drift.outRate.set(l, f.unseenRate);
          return;
        default: {
          const never: never = f;
          throw new Error(`unknown feature kind ${JSON.stringify(never)}`);
        }
      }
    };
    for (const f of report.features) put(f);
    if (report.output) put(report.output);
  }

  recordReject(topic: string, reason: string): void {
    this.#rejects.inc({ topic, reason });
  }

  recordPerformance(s: PerformanceState): void {
    const l = { fleet: s.fleet, device: s.device, model: s.model, version: String(s.version) };
    const setOrClear = (gauge: Gauge<ModelLabels>, v: number | null): void => {
      if (v === null) gauge.remove(l);
      else gauge.set(l, v);
    };
    setOrClear(this.#perf.accuracy, s.accuracy);
    setOrClear(this.#perf.f1, s.f1);
    setOrClear(this.#perf.mse, s.mse);
    this.#perf.samples.set(l, s.samples);
    this.#perf.degraded.set(l, s.status === 'degraded' ? 1 : 0);
  }
}
