/** /metrics scraped over HTTP: ingest and rollout callbacks, drift, performance and alert series with their values. */
import test from 'ava';
import { openDatabase } from '../io/sqlite.ts';
import { HttpServer } from '../gateway/http.ts';
import { DriftService } from '../gateway/drift-monitor.ts';
import type { ReceivedMessage } from '../gateway/mqtt-session.ts';
import { buildReferenceProfile } from '../src/drift/profile.ts';
import { createDriftMonitor } from '../src/drift/monitor.ts';
import { createRandom } from '../src/random.ts';

const T = Date.UTC(2024, 0, 1);
const raw = (topic: string, body: unknown): ReceivedMessage => ({ topic, payload: Buffer.from(JSON.stringify(body)), qos: 1, dup: false, receivedAtMs: T });

test('the Prometheus text has every series family with the expected values', async (t) => {
  let nowMs = T + 5000;
  const svc = await DriftService.create({ database: openDatabase(':memory:'), brokerUrl: 'mqtt://127.0.0.1:1', fleet: 'f', alertPublisher: null, now: () => nowMs, performance: { windowSize: 10, minSamples: 10 } });
  svc.setMetricsSources({
    ingest: async () => ({ counters: { inserted: 1234, duplicates: 5, conflicts: 1, rejected: { BAD_VALUE: 3, NOT_JSON: 2 }, quarantineEvicted: 0 }, pendingMessages: 7, lastReceivedAtMs: T + 2000 }),
    rollout: () => [{ model: 'occ', version: 2, state: 'canary', devices: 3 }, { model: 'occ', version: 1, state: 'active', devices: 40 }],
  });
  const http = new HttpServer({ port: 0 });
  svc.registerRoutes(http);
  await http.start();
  t.teardown(() => http.stop());

  const r = createRandom(3);
  const X = Array.from({ length: 400 }, () => [20 + r.next(), r.next() < 0.5 ? 0 : 1]);
  const profile = buildReferenceProfile(['temp', { name: 'door', kind: 'categorical' }], { columns: ['temp', 'door'], X, ts: X.map((_, i) => i), device: X.map(() => 'd') });
  await svc.registerProfile('occ', 1, profile, { testMetrics: { test_accuracy: 0.99 } });
  await svc.setDeviceModel('f', 'd1', 'occ', 1);
  const mon = createDriftMonitor(profile, { windowSize: 300, now: () => T });
  for (let i = 0; i < 300; i++) mon.update([25 + r.next(), i % 2], { tsMs: T + i });
  const report = mon.report();
  await svc.handleMessages([raw('edgeloop/f/d1/drift', report)]);
  const preds = Array.from({ length: 10 }, (_, i) => ({ ts: T + i, model: 'occ', version: 1, output: i < 8 ? 1 : 0 }));
  await svc.handleMessages([raw('edgeloop/f/d1/predictions', preds), raw('edgeloop/f/d1/labels', preds.map((p) => ({ ts: p.ts, label: 1 })))]);

  const res = await fetch(`${http.url}/metrics`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const value = (series: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(series + ' '));
    if (!line) throw new Error(`series ${series} missing from:\n${text}`);
    return Number(line.slice(series.length + 1));
  };
  // Ingest and rollout, read through the callbacks.
  t.is(value('edgeloop_ingest_readings_total{outcome="inserted"}'), 1234);
  t.is(value('edgeloop_ingest_rejected_total{reason="BAD_VALUE"}'), 3);
  t.is(value('edgeloop_ingest_pending_messages'), 7);
  t.is(value('edgeloop_ingest_lag_seconds'), 3);
  t.is(value('edgeloop_rollout_devices{model="occ",version="2",state="canary"}'), 3);
  // Drift statistics equal the report's.
  const temp = report.features[0]!;
  if (temp.kind !== 'numeric') throw new Error('numeric expected');
  t.is(value('edgeloop_drift_psi{fleet="f",device="d1",feature="temp"}'), temp.psi!);
  t.is(value('edgeloop_drift_test_statistic{fleet="f",device="d1",feature="temp"}'), temp.ks!.statistic);
  t.is(value('edgeloop_drift_wasserstein{fleet="f",device="d1",feature="temp"}'), temp.wasserstein!);
  t.is(value('edgeloop_drift_out_of_range_rate{fleet="f",device="d1",feature="temp"}'), temp.outOfRangeRate);
  t.true(temp.psi! > 0.25, 'temp shifted by +5: PSI at alert level');
  t.is(value('edgeloop_drift_window_samples{fleet="f",device="d1"}'), 300);
  t.is(value('edgeloop_drift_verdict_level{fleet="f",device="d1"}'), 2);
  t.is(value('edgeloop_drift_reports_total{verdict="alert"}'), 1);
  // Performance: 8 of 10 correct.
  t.is(value('edgeloop_model_accuracy{fleet="f",device="d1",model="occ",version="1"}'), 0.8);
  t.is(value('edgeloop_model_degraded{fleet="f",device="d1",model="occ",version="1"}'), 1);
  t.is(value('edgeloop_performance_events_total{event="joined"}'), 10);
  // Alerts: one drift (critical) and one performance (warning).
  t.is(value('edgeloop_alerts_total{kind="drift",severity="critical"}'), 1);
  t.is(value('edgeloop_alerts_total{kind="performance",severity="warning"}'), 1);
  nowMs += 1000;
  await svc.handleMessages([raw('edgeloop/f/d1/drift', { ...report, generatedAtMs: T + 1 })]);
  const again = await (await fetch(`${http.url}/metrics`)).text();
  t.regex(again, /^edgeloop_drift_reports_total\{verdict="alert"\} 2$/m);
  t.regex(again, /^edgeloop_alerts_total\{kind="drift",severity="critical"\} 1$/m, 'still at alert: no new alert');

  // JSON endpoints answer, and bad query parameters are 400 with the parameter named.
  const perf = (await (await fetch(`${http.url}/v1/performance?device=d1`)).json()) as { states: { accuracy: number }[] };
  t.is(perf.states[0]!.accuracy, 0.8);
  const alerts = (await (await fetch(`${http.url}/v1/alerts?kind=performance`)).json()) as { alerts: { kind: string }[] };
  t.deepEqual(alerts.alerts.map((a) => a.kind), ['performance']);
  const bad = await fetch(`${http.url}/v1/alerts?kind=nope`);
  t.is(bad.status, 400);
  t.is(((await bad.json()) as { message: string }).message, 'query parameter kind must be one of drift, performance, got "nope"');
  const missing = await fetch(`${http.url}/v1/drift/d404`);
  t.is(missing.status, 404);
  t.is(((await missing.json()) as { message: string }).message, 'no drift report from device d404 in fleet f');
});

test('two services keep separate registries (no global prom-client state)', async (t) => {
  const mk = () => DriftService.create({ database: openDatabase(':memory:'), brokerUrl: 'mqtt://127.0.0.1:1', fleet: 'f', alertPublisher: null });
  const a = await mk();
  const b = await mk();
  a.setMetricsSources({ rollout: () => [{ model: 'm', version: 1, state: 'active', devices: 9 }] });
  t.regex(await a.metrics.metrics(), /edgeloop_rollout_devices\{model="m",version="1",state="active"\} 9/);
  t.notRegex(await b.metrics.metrics(), /edgeloop_rollout_devices\{/);
});
