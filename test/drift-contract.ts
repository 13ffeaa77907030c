/**
 * The contract of the drift service's tables (gateway/drift-store.ts, performance.ts, alerts.ts on
 * gateway/sql.ts), on SQLite and PostgreSQL, driven through DriftService#handleMessages (the MQTT batch
 * path, one SqlDb batch per call) and the stores' own reads: drift rows and verdicts, rejects, alerts
 * with cooldown and delivery state, performance from delayed labels (joins in both orders, shadow pairs,
 * duplicates and conflicts, expiry, alerts on degradation), and idempotence: a batch handled again, or
 * by two instances at once, is stored and alerted once.
 * Call `driftContract(name, factory)` from a *.test.ts file; the factory gives two SqlDb handles on the
 * same tables (a gateway restarted, or the old and the new leader).
 */
import test from 'ava';
import { DriftService, type DriftServiceOptions } from '../gateway/drift-monitor.ts';
import { AlertManager, type AlertInput, type AlertPublisher } from '../gateway/alerts.ts';
import type { SqlDb } from '../gateway/sql.ts';
import type { ReceivedMessage } from '../gateway/mqtt-session.ts';
import { buildReferenceProfile, type ReferenceProfile } from '../src/drift/profile.ts';
import { createDriftMonitor } from '../src/drift/monitor.ts';
import { createRandom } from '../src/random.ts';
import { alertsTopic, deviceTopic } from '../src/topics.ts';
import { waitFor } from './helpers/tmp.ts';

export type SqlPair = { a: SqlDb; b: SqlDb; close(): Promise<void> };

const T0 = Date.UTC(2024, 0, 1);
const PROFILE: ReferenceProfile = {
  version: 1, rows: 2, features: [{ kind: 'categorical', name: 'mode', count: 2, missingRate: 0, categories: ['0', '1'], counts: [1, 1] }],
};
const REGRESSION_PROFILE: ReferenceProfile = {
  ...PROFILE,
  output: { kind: 'numeric', name: 'prediction', count: 2, missingRate: 0, mean: 0, std: 1, min: -1, max: 1, edges: [0], counts: [1, 1], validLow: -2, validHigh: 2, sample: [-1, 1] },
};

function msg(kind: 'predictions' | 'labels' | 'drift', device: string, body: unknown, receivedAtMs: number): ReceivedMessage {
  return { topic: deviceTopic(kind, 'f', device), payload: Buffer.from(JSON.stringify(body)), qos: 1, dup: false, receivedAtMs };
}

const preds = (from: number, n: number, output: (i: number) => number, version = 1) =>
  Array.from({ length: n }, (_, k) => ({ ts: T0 + (from + k) * 1000, model: 'occ', version, output: output(from + k), proba: [0.5, 0.5] }));
const labels = (from: number, n: number, label: (i: number) => number) => Array.from({ length: n }, (_, k) => ({ ts: T0 + (from + k) * 1000, label: label(from + k) }));

/** A profile of one numeric feature and drift reports from a monitor fed with it shifted by `shift` (3: far out). */
function driftFixture() {
  const r = createRandom(1);
  const X = Array.from({ length: 500 }, () => [20 + r.next()]);
  const profile = buildReferenceProfile(['temp'], { columns: ['temp'], X, ts: X.map((_, i) => i), device: X.map(() => 'd') });
  const reports = (shift: number, count: number, startMs: number) => {
    const mon = createDriftMonitor(profile, { windowSize: 300, now: () => startMs });
    const out: unknown[] = [];
    for (let i = 0; i < 300 * count; i++) {
      mon.update([20 + shift + r.next()], { tsMs: startMs + i * 1000 });
      if ((i + 1) % 300 === 0) out.push(mon.report({ nowMs: startMs + i * 1000 }));
    }
    return out;
  };
  return { profile, reports };
}

export function driftContract(name: string, create: () => Promise<SqlPair>): void {
  async function service(t: import('ava').ExecutionContext, options: Partial<DriftServiceOptions> = {}, which: 'a' | 'b' = 'a', pair?: SqlPair) {
    const dbs = pair ?? await create();
    if (!pair) t.teardown(() => dbs.close());
    const published: { topic: string; payload: string }[] = [];
    let nowMs = T0 + 3600_000;
    const svc = await DriftService.create({
      sql: dbs[which], brokerUrl: 'mqtt://127.0.0.1:1', fleet: 'f', now: () => nowMs,
      alertPublisher: { publish: async (topic, payload) => { published.push({ topic, payload }); } },
      performance: { windowSize: 100, minSamples: 50 },
      ...options,
    });
    return { svc, dbs, published, advance: (ms: number) => { nowMs += ms; }, now: () => nowMs };
  }

  test(`${name}: predictions first, then labels: joined; labels first, then predictions: joined`, async (t) => {
    const { svc, now } = await service(t);
    await svc.registerProfile('occ', 1, PROFILE, { testMetrics: { test_accuracy: 0.9 } });
    const truth = (i: number) => (i % 3 === 0 ? 1 : 0);
    await svc.handleMessages([msg('predictions', 'd1', preds(0, 60, truth), now())]);
    t.deepEqual(await svc.performance.states(), [], 'nothing joined yet');
    await svc.handleMessages([msg('labels', 'd1', labels(0, 60, truth), now())]);
    await svc.handleMessages([msg('labels', 'd2', labels(0, 60, truth), now())]);
    t.is(await svc.performance.pendingLabels(), 60);
    await svc.handleMessages([msg('predictions', 'd2', preds(0, 30, truth), now()), msg('predictions', 'd2', preds(30, 30, (i) => 1 - truth(i)), now())]);
    t.is(await svc.performance.pendingLabels(), 0);
    const [d1, d2] = await svc.performance.states();
    t.like(d1, { device: 'd1', model: 'occ', version: 1, task: 'classification', samples: 60, accuracy: 1, f1: 1, status: 'ok', baseline: 0.9 });
    t.like(d2, { device: 'd2', samples: 60, accuracy: 0.5, status: 'degraded' });
    t.like(svc.performance.counters, { predictions: 120, labels: 120, joined: 120, duplicateLabels: 0 });
    t.deepEqual(await svc.store.getDeviceModel('f', 'd2'), { model: 'occ', version: 1 }, 'the device model is learned from its predictions');
    t.deepEqual(await svc.performance.labelled('f', 'occ', 1, 0), { samples: 120, correct: 90 });
  });

  test(`${name}: an accuracy drop below the test score raises one performance alert; staying degraded raises no more`, async (t) => {
    const { svc, published, now, advance } = await service(t);
    await svc.registerProfile('occ', 2, PROFILE, { testMetrics: { test_accuracy: 0.97 } });
    const truth = (i: number) => (i % 2);
    await svc.handleMessages([msg('predictions', 'd1', preds(0, 100, truth, 2), now()), msg('labels', 'd1', labels(0, 100, truth), now())]);
    t.is((await svc.performance.states())[0]!.status, 'ok');
    advance(60_000);
    await svc.handleMessages([msg('predictions', 'd1', preds(100, 100, (i) => (i % 4 === 0 ? 1 - truth(i) : truth(i)), 2), now())]);
    const out = await svc.handleMessages([msg('labels', 'd1', labels(100, 100, truth), now())]);
    t.is(out.alertsSent, 1);
    const s = (await svc.performance.states())[0]!;
    t.like(s, { status: 'degraded', samples: 100, accuracy: 0.75 });
    t.deepEqual(s.reasons, ['accuracy 0.7500 < test accuracy 0.9700 − 0.05 over 100 samples']);
    t.is(published.length, 1);
    t.is(published[0]!.topic, 'edgeloop/f/alerts');
    t.like(JSON.parse(published[0]!.payload), { device: 'd1', model: 'occ', version: 2, kind: 'performance', severity: 'warning', details: { accuracy: 0.75, baseline: 0.97 } });
    advance(60_000);
    await svc.handleMessages([msg('predictions', 'd1', preds(200, 20, (i) => 1 - truth(i), 2), now()), msg('labels', 'd1', labels(200, 20, truth), now())]);
    t.is(published.length, 1);
    t.is((await svc.alerts.list()).length, 1);
    await svc.alerts.settled();
    t.like((await svc.alerts.list())[0], { kind: 'performance', mqtt: 'delivered', webhook: 'disabled', suppressed: 0 });
  });

  test(`${name}: absolute accuracy floor gives a critical alert; regression MSE against the test MSE (RMSE of every held-out split, never train)`, async (t) => {
    const { svc, published, now } = await service(t, { performance: { windowSize: 50, minSamples: 50, minAccuracy: 0.8 } });
    await svc.registerProfile('occ', 1, PROFILE);
    await svc.handleMessages([msg('predictions', 'd1', preds(0, 50, () => 1), now()), msg('labels', 'd1', labels(0, 50, (i) => (i < 30 ? 1 : 0)), now())]);
    t.like(JSON.parse(published[0]!.payload), { kind: 'performance', severity: 'critical', details: { accuracy: 0.6, baseline: null } });
    await svc.registerProfile('temp', 1, REGRESSION_PROFILE, { testMetrics: { train_rmse: 0.1, test1_rmse: 0.5, test2_rmse: 2 } });
    const rp = Array.from({ length: 50 }, (_, k) => ({ ts: T0 + k * 1000, model: 'temp', version: 1, output: 20 + (k % 2 === 0 ? 1.5 : -1.5) }));
    await svc.handleMessages([msg('predictions', 'r1', rp, now()), msg('labels', 'r1', rp.map((p) => ({ ts: p.ts, label: 20 })), now())]);
    t.like((await svc.performance.states({ device: 'r1' }))[0], { task: 'regression', mse: 2.25, baseline: 4, status: 'ok' }, 'MSE 2.25 against test2 RMSE 2² = 4');
  });

  test(`${name}: the classification baseline is the least favourable held-out split of the manifest metrics, never the training split`, async (t) => {
    const { svc, now } = await service(t, { performance: { windowSize: 50, minSamples: 50 } });
    const truth = (i: number) => (i % 2);
    const judge = async (version: number, testMetrics: Record<string, number>) => {
      await svc.registerProfile('occ', version, PROFILE, { testMetrics });
      await svc.handleMessages([msg('predictions', `v${version}`, preds(0, 50, truth, version), now()), msg('labels', `v${version}`, labels(0, 50, truth), now())]);
      return (await svc.performance.states({ device: `v${version}` }))[0]!.baseline;
    };
    t.is(await judge(3, { train_accuracy: 0.99, test1_accuracy: 0.97, test2_accuracy: 0.99, test1_agreement: 1 }), 0.97);
    t.is(await judge(4, { train_accuracy: 0.99, holdout_accuracy: 0.95, holdout_agreement: 1 }), 0.95);
    t.is(await judge(5, { train_accuracy: 0.99 }), null);
  });

  test(`${name}: duplicate predictions and labels are counted, a conflicting label keeps the first; pending labels expire`, async (t) => {
    const { svc, now, advance } = await service(t, { performance: { windowSize: 10, minSamples: 1, pendingLabelTtlMs: 3600_000 } });
    const batch = msg('predictions', 'd1', preds(0, 5, () => 1), now());
    await svc.handleMessages([batch]);
    await svc.handleMessages([batch]);
    await svc.handleMessages([msg('labels', 'd1', labels(0, 5, () => 1), now())]);
    await svc.handleMessages([msg('labels', 'd1', labels(0, 1, () => 0), now())]);
    t.like(svc.performance.counters, { predictions: 5, duplicatePredictions: 5, joined: 5, duplicateLabels: 1, labelConflicts: 1 });
    t.is((await svc.performance.states())[0]!.accuracy, 1);
    await svc.handleMessages([msg('labels', 'd9', labels(500, 3, () => 1), now())]);
    t.is(await svc.performance.pendingLabels(), 3);
    advance(3600_000 + 60_001);
    await svc.handleMessages([msg('labels', 'd9', labels(600, 1, () => 1), now())]);
    t.is(await svc.performance.pendingLabels(), 1);
    t.is(svc.performance.counters.expiredLabels, 3);
  });

  test(`${name}: messages of 1,200 predictions and labels are written in chunks, all joined`, async (t) => {
    const { svc, now } = await service(t);
    const truth = (i: number) => (i % 2);
    await svc.handleMessages([msg('labels', 'big', labels(0, 600, truth), now())]);
    await svc.handleMessages([msg('predictions', 'big', preds(0, 1200, truth), now())]);
    await svc.handleMessages([msg('labels', 'big', labels(600, 600, (i) => 1 - truth(i)), now())]);
    t.like(svc.performance.counters, { predictions: 1200, labels: 1200, joined: 1200 });
    t.is(await svc.performance.pendingLabels(), 0);
    t.deepEqual(await svc.performance.labelled('f', 'occ', 1, 0), { samples: 1200, correct: 600 });
    t.like((await svc.performance.states({ device: 'big' }))[0], { samples: 100, accuracy: 0 }, 'the window is the newest 100, all wrong');
  });

  test(`${name}: shadow pairs: one label scores the active and the shadow version, whichever arrives first`, async (t) => {
    const { svc, now } = await service(t, { performance: { windowSize: 60, minSamples: 50 } });
    await svc.registerProfile('occ', 1, PROFILE, { testMetrics: { test_accuracy: 0.95 } });
    await svc.registerProfile('occ', 2, PROFILE, { testMetrics: { test_accuracy: 0.95 } });
    const truth = (i: number) => (i % 2);
    const shadow = (i: number) => (i % 3 === 0 ? 1 - truth(i) : truth(i));
    await svc.handleMessages([msg('predictions', 'd1', [...preds(0, 30, truth, 1), ...preds(0, 30, shadow, 2)], now())]);
    await svc.handleMessages([msg('labels', 'd1', labels(0, 60, truth), now())]);
    await svc.handleMessages([msg('predictions', 'd1', preds(30, 30, truth, 1), now())]);
    await svc.handleMessages([msg('predictions', 'd1', preds(30, 30, shadow, 2), now())]);
    const [v1, v2] = (await svc.performance.states({ device: 'd1' })).sort((a, b) => a.version - b.version);
    t.like(v1, { version: 1, samples: 60, accuracy: 1 });
    t.like(v2, { version: 2, samples: 60, accuracy: 40 / 60 });
    t.like(svc.performance.counters, { predictions: 120, joined: 120, duplicatePredictions: 0, duplicateLabels: 0 });
  });

  test(`${name}: drift reports are stored per feature and judged; ok → alert raises one critical alert; rejects keep reason and payload`, async (t) => {
    const { svc, published, now } = await service(t);
    const { profile, reports } = driftFixture();
    await svc.registerProfile('occ', 1, profile);
    await svc.setDeviceModel('f', 'ok1', 'occ', 1);
    await svc.setDeviceModel('f', 'hot', 'occ', 1);
    const ok = reports(0, 2, T0);
    const hot = reports(3, 2, T0);
    const out = await svc.handleMessages([msg('drift', 'ok1', ok[0], now()), msg('drift', 'hot', hot[0], now()), msg('drift', 'hot', hot[1], now()), msg('drift', 'ok1', ok[1], now())]);
    t.deepEqual(out, { reports: 4, predictions: 0, labels: 0, rejected: 0, alertsSent: 1 });
    const latest = await svc.store.latestPerDevice('f');
    t.deepEqual(latest.map((r) => [r.device, r.verdict, r.model, r.version, r.sampleCount]), [['hot', 'alert', 'occ', 1, 300], ['ok1', 'ok', 'occ', 1, 300]]);
    t.deepEqual((await svc.store.reports('f', 'hot')).map((r) => r.verdict), ['alert', 'alert']);
    const series = await svc.store.series('f', 'hot', { feature: 'temp' });
    t.is(series.length, 2);
    t.true(series.every((p) => p.level === 'alert' && p.psi !== null && p.psi > 0.25 && p.kind === 'numeric' && !p.isOutput && p.count === 300));
    t.true((await svc.store.series('f', 'ok1')).every((p) => p.level === 'ok'));
    t.deepEqual(await svc.store.verdictCounts(), { alert: 2, ok: 2 });
    t.is(await svc.store.lastDecidedVerdict('f', 'hot'), 'alert');
    t.is(published.length, 1);
    t.like(JSON.parse(published[0]!.payload), { device: 'hot', kind: 'drift', severity: 'critical', model: 'occ', version: 1, details: { verdict: 'alert', previous: null } });
    t.deepEqual((await svc.store.listProfiles()).map((p) => [p.model, p.version, p.task, p.features]), [['occ', 1, 'classification', 1]]);

    const noModel = { version: 1, generatedAtMs: T0, window: { kind: 'count', size: 10 }, sampleCount: 10, windowStartMs: T0, windowEndMs: T0, features: [] };
    await svc.handleMessages([msg('drift', 'new', noModel, now()), { ...msg('labels', 'd1', 'x', now()), payload: Buffer.from('not json') }]);
    t.like((await svc.store.latestPerDevice('f')).find((r) => r.device === 'new'), { verdict: 'no_profile', model: null });
    const [reject] = await svc.store.rejects();
    t.like(reject, { reason: 'NOT_JSON', topic: 'edgeloop/f/d1/labels', payloadBytes: 8 });
    t.is(Buffer.from(reject!.payload).toString(), 'not json');
    t.is((await svc.alerts.list()).length, 1);
  });

  test(`${name}: alerts within the cooldown are counted on the last one sent, per device, model version and kind (injected clock)`, async (t) => {
    const dbs = await create();
    t.teardown(() => dbs.close());
    let nowMs = 1_000_000;
    const alerts = await AlertManager.create(dbs.a, { topic: alertsTopic, cooldownMs: 15 * 60_000, now: () => nowMs });
    const input = (device: string, kind: AlertInput['kind'] = 'drift'): AlertInput => ({ fleet: 'f', device, model: 'm', version: 1, kind, severity: 'critical', message: `${kind} on ${device}`, details: { x: 1 } });
    const first = await alerts.record(input('d1'));
    if (!first.sent) return t.fail('the first alert is sent');
    nowMs += 60_000;
    t.deepEqual(await alerts.record(input('d1')), { sent: false, reason: 'cooldown', suppressedInto: first.alert.id });
    nowMs += 60_000;
    t.false((await alerts.record(input('d1'))).sent);
    t.true((await alerts.record(input('d2'))).sent, 'another device is another key');
    t.true((await alerts.record(input('d1', 'performance'))).sent, 'another kind is another key');
    t.true((await alerts.record({ ...input('d1'), model: 'other' })).sent, 'another model is another key');
    t.true((await alerts.record({ ...input('d1'), model: null, version: null })).sent, 'no model is another key');
    const v2 = await alerts.record({ ...input('d1'), version: 2 });
    t.true(v2.sent, 'another version of the model is another key (a retrained version that regresses alerts at once)');
    t.like((await alerts.list({ device: 'd1', kind: 'drift' })).find((a) => a.model === 'm' && a.version === 1), { suppressed: 2, lastSuppressedAtMs: nowMs, details: { x: 1 }, raisedAtMs: 1_000_000 });
    nowMs = 1_000_000 + 15 * 60_000;
    t.true((await alerts.record(input('d1'))).sent, 'sent again once the cooldown has passed');
    t.is((await alerts.list({ device: 'd1', kind: 'drift' })).filter((a) => a.model === 'm' && a.version === 1).length, 2);
    t.like(alerts.stats, { raised: 7, suppressed: 2 });
    t.deepEqual(await alerts.countsByKind(), [
      { kind: 'drift', severity: 'critical', sent: 6, suppressed: 2 },
      { kind: 'performance', severity: 'critical', sent: 1, suppressed: 0 },
    ]);
    const again = await alerts.record({ ...input('d3'), key: 'k1' });
    t.true(again.sent);
    nowMs += 16 * 60_000;
    t.like(await alerts.record({ ...input('d3'), key: 'k1' }), { sent: false, reason: 'duplicate' }, 'a key is stored once');
    t.is((await alerts.list({ device: 'd3' })).length, 1);
  });

  test(`${name}: an alert whose MQTT publish failed stays pending; the next start (another instance) publishes it`, async (t) => {
    const dbs = await create();
    t.teardown(() => dbs.close());
    const failing: AlertPublisher = { publish: () => Promise.reject(new Error('broker down')) };
    const a1 = await AlertManager.create(dbs.a, { topic: alertsTopic, publisher: failing });
    await a1.start();
    const r = await a1.record({ fleet: 'f', device: 'd1', model: 'm', version: 1, kind: 'drift', severity: 'warning', message: 'm', details: {} });
    if (r.sent) a1.deliver(r.alert);
    await waitFor(() => a1.stats.mqttFailed === 1, 5000, 'failure');
    await a1.stop();
    t.is((await a1.list())[0]!.mqtt, 'pending');
    const got: string[] = [];
    const a2 = await AlertManager.create(dbs.b, { topic: alertsTopic, publisher: { publish: async (topic) => { got.push(topic); } } });
    await a2.start();
    await waitFor(() => a2.stats.mqttPublished === 1, 5000, 'republish');
    await a2.stop();
    t.deepEqual(got, ['edgeloop/f/alerts']);
    t.is((await a2.list())[0]!.mqtt, 'delivered');
  });

  test(`${name}: a batch handled again, or by two instances at once, is stored once and alerts once`, async (t) => {
    const pair = await create();
    t.teardown(() => pair.close());
    const a = await service(t, { performance: { windowSize: 50, minSamples: 50, minAccuracy: 0.8 } }, 'a', pair);
    const b = await service(t, { performance: { windowSize: 50, minSamples: 50, minAccuracy: 0.8 } }, 'b', pair);
    const { profile, reports } = driftFixture();
    await a.svc.registerProfile('occ', 1, profile);
    await a.svc.setDeviceModel('f', 'hot', 'occ', 1);
    const [r1] = reports(3, 1, T0);
    const batch = [
      msg('drift', 'hot', r1, a.now()),
      msg('predictions', 'p1', preds(0, 50, () => 1), a.now()),
      msg('labels', 'p1', labels(0, 50, (i) => (i < 30 ? 1 : 0)), a.now()),
      msg('labels', 'p2', labels(0, 5, () => 1), a.now()),
    ];
    const first = await a.svc.handleMessages(batch);
    t.is(first.alertsSent, 2, 'a drift and a performance alert');
    const again = await a.svc.handleMessages(batch);
    t.is(again.alertsSent, 0, 'the same instance handles it again (a redelivery after a crash before the PUBACK)');
    const other = await b.svc.handleMessages(batch);
    t.is(other.alertsSent, 0, 'the next leader handles it again');
    t.like(a.svc.performance.counters, { predictions: 50, duplicatePredictions: 50, joined: 50, duplicateLabels: 55 });
    const counts = async () => ({
      reports: (await a.svc.store.reports('f', 'hot')).length,
      features: (await a.svc.store.series('f', 'hot')).length,
      alerts: (await a.svc.alerts.list()).length,
      pending: await a.svc.performance.pendingLabels(),
      states: (await a.svc.performance.states()).map((s) => [s.device, s.samples, s.accuracy]),
      labelled: await a.svc.performance.labelled('f', 'occ', 1, 0),
    });
    const once = { reports: 1, features: 1, alerts: 2, pending: 5, states: [['p1', 50, 0.6]], labelled: { samples: 50, correct: 30 } };
    t.deepEqual(await counts(), once);

    // Two instances at once: each reads before the other writes; the keys keep one copy of everything.
    const [, r2] = reports(3, 2, T0 + 10_000_000);
    const next = [
      msg('drift', 'hot2', { ...(r2 as object), model: 'occ', modelVersion: 1 }, a.now()),
      msg('predictions', 'p3', preds(0, 50, () => 1), a.now()),
      msg('labels', 'p3', labels(0, 50, () => 0), a.now()),
    ];
    const both = await Promise.all([a.svc.handleMessages(next), b.svc.handleMessages(next)]);
    t.is(both[0].alertsSent + both[1].alertsSent, 2, 'each alert sent by one instance');
    t.is((await a.svc.store.reports('f', 'hot2')).length, 1);
    t.is((await a.svc.alerts.list()).length, 4);
    t.like((await a.svc.performance.states({ device: 'p3' }))[0], { samples: 50, accuracy: 0 });
    t.deepEqual(await a.svc.performance.labelled('f', 'occ', 1, 0), { samples: 100, correct: 30 });
    t.is(a.published.length + b.published.length, 4);
  });
}
