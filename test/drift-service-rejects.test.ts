/** Bad input never silently dropped: drift_rejects with reason; contract validators and every bad service call with code and message. */
import test from 'ava';
import { openDatabase } from '../io/sqlite.ts';
import { DriftService } from '../gateway/drift-monitor.ts';
import type { ReceivedMessage } from '../gateway/mqtt-session.ts';
import { parseLabelBatch, parsePredictionBatch, decodeJsonPayload } from '../src/contracts/predictions.ts';
import { EdgeloopError, type ErrorCode } from '../src/errors.ts';
import type { ReferenceProfile } from '../src/drift/profile.ts';

const T = Date.UTC(2024, 0, 1);
const raw = (topic: string, payload: string): ReceivedMessage => ({ topic, payload: Buffer.from(payload), qos: 1, dup: false, receivedAtMs: T });
const create = () => DriftService.create({ database: openDatabase(':memory:'), brokerUrl: 'mqtt://127.0.0.1:1', fleet: 'f', alertPublisher: null });

function throwsPayload(t: import('ava').ExecutionContext, f: () => unknown, code: ErrorCode, message: string): void {
  const err = t.throws(f, { instanceOf: EdgeloopError });
  t.is(err?.code, code);
  t.is(err?.message, message);
}

test('prediction and label validators name the field', (t) => {
  t.deepEqual(parsePredictionBatch([{ ts: T, model: 'm', version: 2, output: 1, proba: [0.2, 0.8] }]), [{ ts: T, model: 'm', version: 2, output: 1, proba: [0.2, 0.8] }]);
  t.deepEqual(parseLabelBatch([{ ts: T, label: 0 }]), [{ ts: T, label: 0 }]);
  throwsPayload(t, () => parsePredictionBatch({ ts: T }), 'BAD_PAYLOAD', 'predictions must be a JSON array of objects, got object');
  throwsPayload(t, () => parsePredictionBatch([]), 'BAD_PAYLOAD', 'predictions is an empty array');
  throwsPayload(t, () => parsePredictionBatch([5]), 'BAD_PAYLOAD', 'predictions[0] must be an object, got number');
  throwsPayload(t, () => parsePredictionBatch([{ ts: T, model: 'm', version: 1, output: 1, extra: 1 }]), 'BAD_PAYLOAD', 'predictions[0] has unknown field "extra" (allowed: ts, model, version, output, proba)');
  throwsPayload(t, () => parsePredictionBatch([{ ts: 1.5, model: 'm', version: 1, output: 1 }]), 'BAD_PAYLOAD', 'predictions[0].ts must be an integer of epoch milliseconds, got number 1.5');
  throwsPayload(t, () => parsePredictionBatch([{ ts: 1_700_000_000, model: 'm', version: 1, output: 1 }]), 'BAD_PAYLOAD', 'predictions[0].ts 1700000000 is before 2000-01-01T00:00:00.000Z (epoch seconds sent as milliseconds?)');
  throwsPayload(t, () => parsePredictionBatch([{ ts: T, model: 'a/b', version: 1, output: 1 }]), 'BAD_PAYLOAD', 'predictions[0].model "a/b" is not a model name: use 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit');
  throwsPayload(t, () => parsePredictionBatch([{ ts: T, model: 'm', version: 1, output: 1 }, { ts: T, model: 'm', version: 0, output: 1 }]), 'BAD_PAYLOAD', 'predictions[1].version must be an integer ≥ 1, got number 0');
  throwsPayload(t, () => parsePredictionBatch([{ ts: T, model: 'm', version: 1, output: 'x' }]), 'BAD_PAYLOAD', 'predictions[0].output must be a finite number, got string "x"');
  throwsPayload(t, () => parsePredictionBatch([{ ts: T, model: 'm', version: 1, output: 1, proba: [0.5, 1.5] }]), 'BAD_PAYLOAD', 'predictions[0].proba[1] must be a probability in [0, 1], got 1.5');
  throwsPayload(t, () => parsePredictionBatch([{ ts: T, model: 'm', version: 1, output: 1, proba: [] }]), 'BAD_PAYLOAD', 'predictions[0].proba must be an array of 1-1000 probabilities, got array');
  throwsPayload(t, () => parsePredictionBatch(new Array(3).fill({ ts: T, model: 'm', version: 1, output: 1 }), { maxItems: 2, minTsMs: 0, maxClasses: 10 }), 'BAD_PAYLOAD', 'predictions has 3 items, the limit is 2');
  throwsPayload(t, () => parseLabelBatch([{ ts: T, label: null }]), 'BAD_PAYLOAD', 'labels[0].label must be a finite number, got null');
  throwsPayload(t, () => parseLabelBatch([{ label: 1 }]), 'BAD_PAYLOAD', 'labels[0].ts must be an integer of epoch milliseconds, got undefined');
  throwsPayload(t, () => decodeJsonPayload(Buffer.from([0xff, 0xfe])), 'NOT_JSON', 'payload is not UTF-8 JSON: The encoded data was not valid for encoding utf-8');
});

test('bad drift, prediction and label messages are quarantined in drift_rejects with their reason', async (t) => {
  const svc = await create();
  const out = await svc.handleMessages([
    raw('edgeloop/f/d1/drift', '{"version":1,"generatedAtMs":5}'),
    raw('edgeloop/f/d1/predictions', '[{"ts":1704067200000,"model":"m","version":"1","output":1}]'),
    raw('edgeloop/f/d1/labels', 'not json'),
    raw('edgeloop/f/d1/telemetry', '{}'),
    raw('edgeloop/f/bad name/drift', '{}'),
    raw('edgeloop/f/d1/labels', '[{"ts":1704067200000,"label":1}]'),
  ]);
  t.deepEqual(out, { reports: 0, predictions: 0, labels: 1, rejected: 5, alertsSent: 0 });
  const rows = (await svc.store.rejects()).reverse();
  t.deepEqual(rows.map((r) => r.reason), ['BAD_PAYLOAD', 'BAD_PAYLOAD', 'NOT_JSON', 'BAD_TOPIC', 'BAD_NAME']);
  t.regex(rows[0]!.detail, /^drift report is invalid: window: .*sampleCount: .*features: /);
  t.is(rows[1]!.detail, 'predictions[0].version must be an integer ≥ 1, got string "1"');
  t.is(rows[3]!.detail, 'topic "edgeloop/f/d1/telemetry" is a \'telemetry\' topic, not drift, predictions or labels');
  t.is(Buffer.from(rows[2]!.payload).toString(), 'not json');
  const metrics = await svc.metrics.metrics();
  t.regex(metrics, /^edgeloop_drift_rejects_total\{topic="drift",reason="BAD_PAYLOAD"\} 1$/m);
  t.regex(metrics, /^edgeloop_drift_rejects_total\{topic="unknown",reason="BAD_NAME"\} 1$/m);
});

test('a report from a device without a known model is stored as no_profile and raises nothing', async (t) => {
  const svc = await create();
  const report = { version: 1, generatedAtMs: T, window: { kind: 'count', size: 10 }, sampleCount: 10, windowStartMs: T, windowEndMs: T, features: [] };
  const out = await svc.handleMessages([raw('edgeloop/f/d1/drift', JSON.stringify(report))]);
  t.is(out.reports, 1);
  t.like((await svc.store.latestPerDevice('f'))[0], { device: 'd1', verdict: 'no_profile', model: null });
  t.is((await svc.alerts.list()).length, 0);
});

test('bad service calls fail with their code and message', async (t) => {
  const err = await t.throwsAsync(DriftService.create({ database: openDatabase(':memory:'), brokerUrl: 'http://x', fleet: 'a/b', policy: { psiWarn: 0.5, psiAlert: 0.2 }, alertCooldownMs: -5 }), { instanceOf: EdgeloopError });
  t.is(err?.code, 'BAD_CONFIG');
  t.is(err?.message, 'drift service options are invalid: fleet name "a/b" is not allowed: use 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit; '
    + 'brokerUrl "http://x" must look like mqtt://host:port; drift policy is invalid: psiWarn and psiAlert must satisfy 0 < psiWarn < psiAlert, got 0.5 and 0.2; '
    + 'alert options are invalid: cooldownMs must be a finite number ≥ 0, got -5');
  const svc = await create();
  const profile = { version: 1, rows: 1, features: [{ kind: 'categorical', name: 'x', count: 1, missingRate: 0, categories: ['a'], counts: [1] }] } as ReferenceProfile;
  const bad = async (p: Promise<void>, code: ErrorCode, message: string) => {
    const e = await t.throwsAsync(p, { instanceOf: EdgeloopError });
    t.is(e?.code, code);
    t.is(e?.message, message);
  };
  await bad(svc.registerProfile('m/1', 1, profile), 'BAD_NAME', 'model name "m/1" is not allowed: use 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit');
  await bad(svc.registerProfile('m', 0, profile), 'BAD_ARGUMENT', 'version must be an integer ≥ 1, got 0');
  await bad(svc.registerProfile('m', 1, { version: 2 } as unknown as ReferenceProfile), 'BAD_ARGUMENT', 'profile of m v1 is not a reference profile: version must be 1, got 2');
  await bad(svc.registerProfile('m', 1, { version: 1, rows: 0, features: [{ name: 'x' }] } as unknown as ReferenceProfile), 'BAD_ARGUMENT', 'profile of m v1 is not a reference profile: features[0] must be a numeric or categorical feature profile with a name');
  await bad(svc.registerProfile('m', 1, profile, { testMetrics: { test_accuracy: Number.NaN } }), 'BAD_ARGUMENT', 'testMetrics.test_accuracy must be a finite number, got NaN');
  await bad(svc.setDeviceModel('f', 'd1', 'm', 1.5), 'BAD_ARGUMENT', 'version must be an integer ≥ 1, got 1.5');
  await bad(svc.setDeviceModel('f', '', 'm', 1), 'BAD_NAME', 'device name "" is not allowed: use 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit');
  await svc.registerProfile('m', 1, profile);
  t.is((await svc.store.getProfile('m', 1))?.task, 'classification');
});
