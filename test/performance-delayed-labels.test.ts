/** Performance tracking from delayed labels through the drift service's batch path (real SQLite file). */
import test from 'ava';
import { join } from 'node:path';
import { tempDir } from './helpers/tmp.ts';
import { openDatabase } from '../io/sqlite.ts';
import { DriftService, type DriftServiceOptions } from '../gateway/drift-monitor.ts';
import type { ReceivedMessage } from '../gateway/mqtt-session.ts';
import type { ReferenceProfile } from '../src/drift/profile.ts';
import { deviceTopic } from '../src/topics.ts';
import { resolvePerformancePolicy } from '../gateway/performance.ts';
import { EdgeloopError } from '../src/errors.ts';

const T0 = Date.UTC(2024, 0, 1);
const PROFILE: ReferenceProfile = {
  version: 1, rows: 2, features: [{ kind: 'categorical', name: 'mode', count: 2, missingRate: 0, categories: ['0', '1'], counts: [1, 1] }],
};

function msg(kind: 'predictions' | 'labels', device: string, body: unknown, receivedAtMs: number): ReceivedMessage {
  return { topic: deviceTopic(kind, 'f', device), payload: Buffer.from(JSON.stringify(body)), qos: 1, dup: false, receivedAtMs };
}

async function service(options: Partial<DriftServiceOptions> = {}) {
  const published: { topic: string; payload: string }[] = [];
  let nowMs = T0 + 3600_000;
  const svc = await DriftService.create({
    database: openDatabase(join(tempDir(), 'perf.db')), brokerUrl: 'mqtt://127.0.0.1:1', fleet: 'f', now: () => nowMs,
    alertPublisher: { publish: async (topic, payload) => { published.push({ topic, payload }); } },
    performance: { windowSize: 100, minSamples: 50 },
    ...options,
  });
  return { svc, published, advance: (ms: number) => { nowMs += ms; }, now: () => nowMs };
}

const preds = (from: number, n: number, output: (i: number) => number, version = 1) =>
  Array.from({ length: n }, (_, k) => ({ ts: T0 + (from + k) * 1000, model: 'occ', version, output: output(from + k), proba: [0.5, 0.5] }));
const labels = (from: number, n: number, label: (i: number) => number) => Array.from({ length: n }, (_, k) => ({ ts: T0 + (from + k) * 1000, label: label(from + k) }));

test('predictions first, then labels: joined; labels first, then predictions: joined', async (t) => {
  const { svc, now } = await service();
  svc.registerProfile('occ', 1, PROFILE, { testMetrics: { test_accuracy: 0.9 } });
  const truth = (i: number) => (i % 3 === 0 ? 1 : 0);
  // d1: predictions first (all correct), labels an hour later.
  await svc.handleMessages([msg('predictions', 'd1', preds(0, 60, truth), now())]);
  t.deepEqual(svc.performance.states(), [], 'nothing joined yet');
  await svc.handleMessages([msg('labels', 'd1', labels(0, 60, truth), now())]);
  // d2: labels first; predictions arrive in two batches, the second half wrong.
  await svc.handleMessages([msg('labels', 'd2', labels(0, 60, truth), now())]);
  t.is(svc.performance.pendingLabels(), 60);
  await svc.handleMessages([msg('predictions', 'd2', preds(0, 30, truth), now()), msg('predictions', 'd2', preds(30, 30, (i) => 1 - truth(i)), now())]);
  t.is(svc.performance.pendingLabels(), 0);
  const [d1, d2] = svc.performance.states();
  t.like(d1, { device: 'd1', model: 'occ', version: 1, task: 'classification', samples: 60, accuracy: 1, f1: 1, status: 'ok', baseline: 0.9 });
  t.like(d2, { device: 'd2', samples: 60, accuracy: 0.5, status: 'degraded' });
  t.like(svc.performance.counters, { predictions: 120, labels: 120, joined: 120, duplicateLabels: 0 });
  // The device's model is learned from its predictions.
  t.deepEqual(svc.store.getDeviceModel('f', 'd2'), { model: 'occ', version: 1 });
});

test('an accuracy drop below the test score raises one performance alert; staying degraded raises no more', async (t) => {
  const { svc, published, now, advance } = await service();
  svc.registerProfile('occ', 2, PROFILE, { testMetrics: { test_accuracy: 0.97 } });
  const truth = (i: number) => (i % 2);
  await svc.handleMessages([msg('predictions', 'd1', preds(0, 100, truth, 2), now()), msg('labels', 'd1', labels(0, 100, truth), now())]);
  t.is(svc.performance.states()[0]!.status, 'ok');
  // Next 100: every 4th prediction wrong → accuracy over the last 100 = 0.75 < 0.97 − 0.05.
  advance(60_000);
  await svc.handleMessages([msg('predictions', 'd1', preds(100, 100, (i) => (i % 4 === 0 ? 1 - truth(i) : truth(i)), 2), now())]);
  const out = await svc.handleMessages([msg('labels', 'd1', labels(100, 100, truth), now())]);
  t.is(out.alertsSent, 1);
  const s = svc.performance.states()[0]!;
  t.like(s, { status: 'degraded', samples: 100, accuracy: 0.75 });
  t.deepEqual(s.reasons, ['accuracy 0.7500 < test accuracy 0.9700 − 0.05 over 100 samples']);
  t.is(published.length, 1);
  t.is(published[0]!.topic, 'edgeloop/f/alerts');
  t.like(JSON.parse(published[0]!.payload), { device: 'd1', model: 'occ', version: 2, kind: 'performance', severity: 'warning', details: { accuracy: 0.75, baseline: 0.97 } });
  // Still degraded → no new alert.
  advance(60_000);
  await svc.handleMessages([msg('predictions', 'd1', preds(200, 20, (i) => 1 - truth(i), 2), now()), msg('labels', 'd1', labels(200, 20, truth), now())]);
  t.is(published.length, 1);
  t.is(svc.alerts.list().length, 1);
});

test('absolute accuracy floor gives a critical alert; regression MSE against the test MSE', async (t) => {
  const { svc, published, now } = await service({ performance: { windowSize: 50, minSamples: 50, minAccuracy: 0.8 } });
  svc.registerProfile('occ', 1, PROFILE);
  await svc.handleMessages([msg('predictions', 'd1', preds(0, 50, () => 1), now()), msg('labels', 'd1', labels(0, 50, (i) => (i < 30 ? 1 : 0)), now())]);
  t.like(JSON.parse(published[0]!.payload), { kind: 'performance', severity: 'critical', details: { accuracy: 0.6, baseline: null } });

  const regressionProfile: ReferenceProfile = {
    ...PROFILE,
    output: { kind: 'numeric', name: 'prediction', count: 2, missingRate: 0, mean: 0, std: 1, min: -1, max: 1, edges: [0], counts: [1, 1], validLow: -2, validHigh: 2, sample: [-1, 1] },
  };
  svc.registerProfile('temp', 1, regressionProfile, { testMetrics: { test_mse: 1 } });
  const rp = Array.from({ length: 50 }, (_, k) => ({ ts: T0 + k * 1000, model: 'temp', version: 1, output: 20 + (k % 2 === 0 ? 1.5 : -1.5) }));
  await svc.handleMessages([msg('predictions', 'r1', rp, now()), msg('labels', 'r1', rp.map((p) => ({ ts: p.ts, label: 20 })), now())]);
  const r1 = svc.performance.states({ device: 'r1' })[0]!;
  t.like(r1, { task: 'regression', mse: 2.25, accuracy: null, status: 'degraded', baseline: 1 });
  t.deepEqual(r1.reasons, ['MSE 2.2500 > test MSE 1.0000 × 1.5 over 50 samples']);
});

test('redelivered predictions and labels are counted once; a conflicting label keeps the first; unjoined labels expire', async (t) => {
  const { svc, now, advance } = await service({ performance: { windowSize: 10, minSamples: 1, pendingLabelTtlMs: 3600_000 } });
  const batch = msg('predictions', 'd1', preds(0, 5, () => 1), now());
  await svc.handleMessages([batch]);
  await svc.handleMessages([batch]);
  await svc.handleMessages([msg('labels', 'd1', labels(0, 5, () => 1), now())]);
  await svc.handleMessages([msg('labels', 'd1', labels(0, 1, () => 0), now())]);
  t.like(svc.performance.counters, { predictions: 5, duplicatePredictions: 5, joined: 5, duplicateLabels: 1, labelConflicts: 1 });
  t.is(svc.performance.states()[0]!.accuracy, 1);
  // A label whose prediction never comes is deleted after the TTL.
  await svc.handleMessages([msg('labels', 'd9', labels(500, 3, () => 1), now())]);
  t.is(svc.performance.pendingLabels(), 3);
  advance(3600_000 + 60_001);
  await svc.handleMessages([msg('labels', 'd9', labels(600, 1, () => 1), now())]);
  t.is(svc.performance.pendingLabels(), 1);
  t.is(svc.performance.counters.expiredLabels, 3);
});

test('bad performance policy fails with BAD_CONFIG naming each field', (t) => {
  const err = t.throws(() => resolvePerformancePolicy({ windowSize: 0, minSamples: 5, minAccuracy: 2, maxAccuracyDrop: -1, maxMse: -1, maxMseIncreaseFrac: Number.NaN, pendingLabelTtlMs: 0 }), { instanceOf: EdgeloopError });
  t.is(err.code, 'BAD_CONFIG');
  t.is(err.message, 'performance policy is invalid: windowSize must be an integer in [1, 100000], got 0; minSamples must be an integer in [1, windowSize], got 5; '
    + 'minAccuracy must be null or in [0, 1], got 2; maxAccuracyDrop must be in [0, 1], got -1; maxMse must be null or a finite number ≥ 0, got -1; '
    + 'maxMseIncreaseFrac must be a finite number ≥ 0, got NaN; pendingLabelTtlMs must be > 0, got 0');
});

test('the baseline comes from every held-out split of the manifest metrics (test1/test2, a retrained version\'s holdout, regression RMSE), never the training split', async (t) => {
  const { svc, now } = await service({ performance: { windowSize: 50, minSamples: 50 } });
  const truth = (i: number) => (i % 2);
  const judge = async (version: number, testMetrics: Record<string, number>) => {
    svc.registerProfile('occ', version, PROFILE, { testMetrics });
    await svc.handleMessages([msg('predictions', `v${version}`, preds(0, 50, truth, version), now()), msg('labels', `v${version}`, labels(0, 50, truth), now())]);
    return svc.performance.states({ device: `v${version}` })[0]!.baseline;
  };
  t.is(await judge(3, { train_accuracy: 0.99, test1_accuracy: 0.97, test2_accuracy: 0.99, test1_agreement: 1 }), 0.97);
  t.is(await judge(4, { train_accuracy: 0.99, holdout_accuracy: 0.95, holdout_agreement: 1 }), 0.95);
  t.is(await judge(5, { train_accuracy: 0.99 }), null);
  const regressionProfile: ReferenceProfile = {
    ...PROFILE,
    output: { kind: 'numeric', name: 'prediction', count: 2, missingRate: 0, mean: 0, std: 1, min: -1, max: 1, edges: [0], counts: [1, 1], validLow: -2, validHigh: 2, sample: [-1, 1] },
  };
  svc.registerProfile('temp', 2, regressionProfile, { testMetrics: { train_rmse: 0.1, test1_rmse: 0.5, test2_rmse: 2 } });
  const rp = Array.from({ length: 50 }, (_, k) => ({ ts: T0 + k * 1000, model: 'temp', version: 2, output: 20 + (k % 2 === 0 ? 1.5 : -1.5) }));
  await svc.handleMessages([msg('predictions', 'r2', rp, now()), msg('labels', 'r2', rp.map((p) => ({ ts: p.ts, label: 20 })), now())]);
  const r2 = svc.performance.states({ device: 'r2' })[0]!;
  t.like(r2, { task: 'regression', mse: 2.25, baseline: 4, status: 'ok' }, 'MSE 2.25 against test2 RMSE 2² = 4');
});

test('shadow pairs: one label scores the active and the shadow version, whichever arrives first; a file keyed the old way is migrated with its rows', async (t) => {
  const { svc, now } = await service({ performance: { windowSize: 60, minSamples: 50 } });
  svc.registerProfile('occ', 1, PROFILE, { testMetrics: { test_accuracy: 0.95 } });
  svc.registerProfile('occ', 2, PROFILE, { testMetrics: { test_accuracy: 0.95 } });
  const truth = (i: number) => (i % 2);
  // 0–29: prediction pairs first, then labels. 30–59: label first, then the active, then the shadow.
  await svc.handleMessages([msg('predictions', 'd1', [...preds(0, 30, truth, 1), ...preds(0, 30, (i) => (i % 3 === 0 ? 1 - truth(i) : truth(i)), 2)], now())]);
  await svc.handleMessages([msg('labels', 'd1', labels(0, 60, truth), now())]);
  await svc.handleMessages([msg('predictions', 'd1', preds(30, 30, truth, 1), now())]);
  await svc.handleMessages([msg('predictions', 'd1', preds(30, 30, (i) => (i % 3 === 0 ? 1 - truth(i) : truth(i)), 2), now())]);
  const [v1, v2] = svc.performance.states({ device: 'd1' }).sort((a, b) => a.version - b.version);
  t.like(v1, { version: 1, samples: 60, accuracy: 1 });
  t.like(v2, { version: 2, samples: 60, accuracy: 40 / 60 });
  t.like(svc.performance.counters, { predictions: 120, joined: 120, duplicatePredictions: 0, duplicateLabels: 0 });

  // A gateway file from before: PRIMARY KEY (fleet, device, ts). Opening it keeps the rows and the pairs work.
  const db = openDatabase(join(tempDir(), 'old.db'));
  db.exec(`CREATE TABLE perf_predictions (
    fleet TEXT NOT NULL, device TEXT NOT NULL, ts INTEGER NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL,
    output REAL NOT NULL, proba TEXT, label REAL, received_at INTEGER NOT NULL, joined_at INTEGER,
    PRIMARY KEY (fleet, device, ts)) WITHOUT ROWID;
    CREATE INDEX perf_joined ON perf_predictions (fleet, device, model, version, ts) WHERE label IS NOT NULL;`);
  db.prepare('INSERT INTO perf_predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run('f', 'old', T0, 'occ', 1, 1, null, 1, now(), now());
  const { svc: reopened } = await service({ database: db });
  t.regex(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'perf_predictions'").pluck().get() as string, /PRIMARY KEY \(fleet, device, ts, model, version\)/);
  t.is(db.prepare('SELECT count(*) FROM perf_predictions').pluck().get(), 1, 'the old row is kept');
  await reopened.handleMessages([msg('predictions', 'old', [{ ts: T0, model: 'occ', version: 2, output: 0 }], now())]);
  t.deepEqual(db.prepare('SELECT version, label FROM perf_predictions ORDER BY version').all(), [{ version: 1, label: 1 }, { version: 2, label: 1 }], 'the shadow prediction takes the label already joined');
});
