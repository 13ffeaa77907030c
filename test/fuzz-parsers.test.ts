/**
 * Property-based fuzzing (fast-check) of every parser that takes network input: no exception other
 * than EdgeloopError escapes, rejections carry a known code, valid inputs round-trip. Also: no name
 * received over the network can leave its folder (names validator + the device model store).
 */
import test from 'ava';
import fc from 'fast-check';
import { join, resolve, relative, isAbsolute } from 'node:path';
import { parseTelemetryPayload, parseSensorPayload, REJECT_REASONS, DEFAULT_TELEMETRY_LIMITS, type RejectReason } from '../src/contracts/telemetry.ts';
import { parseTopic, deviceTopic, sensorTopic, manifestTopic, chunkTopic, DEVICE_TOPICS, type DeviceTopicKind } from '../src/topics.ts';
import { parseCsvRecords, parseCsv } from '../src/csv.ts';
import { parseManifest } from '../src/manifest-validate.ts';
import { validateCommand, validateChunkRequest, validateDeviceStatus, validateHeartbeat, validateCommandResult, parseJsonPayload } from '../src/contracts/device.ts';
import { parseIdentity, checkPublish, checkSubscribe } from '../src/acl.ts';
import { isSafeName, assertSafeName } from '../src/names.ts';
import { EdgeloopError, type ErrorCode } from '../src/errors.ts';
import { ModelStore } from '../device/model-store.ts';
import { unsignedManifest } from './helpers/registry-fixture.ts';
import { tempDir } from './helpers/tmp.ts';

const RUNS = { numRuns: 400, seed: 20250601 };
const NOW = Date.UTC(2025, 5, 1);
const KNOWN_CODES = new Set<string>(['BAD_ARGUMENT', 'BAD_TOPIC', 'BAD_NAME', 'NOT_JSON', 'BAD_PAYLOAD', 'BAD_TIMESTAMP', 'BAD_VALUE', 'PAYLOAD_TOO_LARGE', 'TOO_MANY_READINGS', 'BAD_DATA', 'BAD_FILE', 'MODEL_UNSUPPORTED', 'MODEL_CORRUPT', 'MODEL_CHECKSUM', 'MODEL_SIGNATURE'] satisfies ErrorCode[]);

/** Calls f; returns normally or with an EdgeloopError of a known code; anything else fails the property. */
function onlyEdgeloopErrors(f: () => unknown, allowed: ReadonlySet<string> = KNOWN_CODES): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof EdgeloopError)) throw new Error(`non-EdgeloopError escaped: ${String(err)}`);
    if (!allowed.has(err.code)) throw new Error(`unexpected code ${err.code}: ${err.message}`);
  }
}

const safeName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,20}$/);
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.constantFrom('..', '.', '/', '+', '#', '$SYS', '', ' a', 'a b', 'ä', '\u202e', 'a/../b', '%2e%2e', 'models', 'alerts', '_gateway', 'x'.repeat(65)),
);
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.json({ maxDepth: 4 }), fc.string({ unit: 'grapheme', maxLength: 100 }));

test('parseTelemetryPayload: any bytes or JSON → result with a known reason, never a throw', (t) => {
  const reasons = new Set<RejectReason>(REJECT_REASONS);
  fc.assert(fc.property(fc.oneof(anyText, fc.uint8Array({ maxLength: 300 }).map((b) => b as Uint8Array | string), fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null')), (payload) => {
    const r = parseTelemetryPayload('lab', 'd1', payload, NOW);
    if (!r.ok && !reasons.has(r.reason)) throw new Error(`unknown reason ${r.reason}`);
    if (!r.ok && typeof r.detail !== 'string') throw new Error('detail missing');
  }), RUNS);
  t.pass();
});

test('parseTelemetryPayload: valid telemetry round-trips exactly', (t) => {
  const reading = fc.record({
    ts: fc.integer({ min: DEFAULT_TELEMETRY_LIMITS.minTsMs, max: NOW + DEFAULT_TELEMETRY_LIMITS.maxFutureSkewMs }),
    values: fc.dictionary(safeName, fc.double({ noNaN: true, noDefaultInfinity: true }), { minKeys: 1, maxKeys: 5 }),
  });
  fc.assert(fc.property(fc.oneof(reading, fc.array(reading, { minLength: 1, maxLength: 20 })), (doc) => {
    const r = parseTelemetryPayload('lab', 'd1', JSON.stringify(doc), NOW);
    if (!r.ok) throw new Error(`rejected ${r.reason}: ${r.detail}`);
    const expected = (Array.isArray(doc) ? doc : [doc]).flatMap((m) => Object.entries(m.values).map(([sensor, value]) => ({ fleet: 'lab', device: 'd1', sensor, ts: m.ts, value: Object.is(value, -0) ? 0 : value })));
    const got = r.readings.map((x) => ({ ...x, value: Object.is(x.value, -0) ? 0 : x.value }));
    if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error('readings differ');
  }), RUNS);
  t.pass();
});

test('parseSensorPayload: any text → known reason or a value; decimal renderings of doubles round-trip', (t) => {
  fc.assert(fc.property(anyText, (text) => {
    const r = parseSensorPayload('lab', 'd1', 'temp', text, NOW);
    if (!r.ok && r.reason !== 'BAD_VALUE' && r.reason !== 'PAYLOAD_TOO_LARGE') throw new Error(`reason ${r.reason}`);
    if (r.ok && !Number.isFinite(r.readings[0]!.value)) throw new Error('non-finite value accepted');
  }), RUNS);
  fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
    const r = parseSensorPayload('lab', 'd1', 'temp', String(x), NOW);
    // String(-0) is '0': compare with ===, which equates the two zeros.
    if (!r.ok || r.readings[0]!.value !== x) throw new Error(`${x} did not round-trip`);
  }), RUNS);
  t.pass();
});

test('parseTopic: any string → parsed or BAD_TOPIC/BAD_NAME; built topics round-trip', (t) => {
  const topicCodes = new Set(['BAD_TOPIC', 'BAD_NAME']);
  const segment = fc.oneof(safeName, hostile, fc.constantFrom('edgeloop', 'telemetry', 'models', 'chunk', 'manifest', 'cmd', 'result', '0', '007', '1e3'));
  fc.assert(fc.property(fc.oneof(anyText, fc.array(segment, { maxLength: 8 }).map((s) => s.join('/')), fc.array(segment, { maxLength: 7 }).map((s) => ['edgeloop', ...s].join('/'))), (topic) => {
    onlyEdgeloopErrors(() => parseTopic(topic), topicCodes);
  }), RUNS);
  const kinds = Object.keys(DEVICE_TOPICS) as DeviceTopicKind[];
  const notReserved = safeName.filter((n) => !['models', 'alerts'].includes(n));
  fc.assert(fc.property(safeName, notReserved, safeName, fc.constantFrom(...kinds), fc.integer({ min: 0, max: 999_999_999 }), fc.integer({ min: 0, max: 999_999_999 }), (fleet, device, name, kind, version, index) => {
    const same = (a: unknown, b: unknown) => { if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${JSON.stringify(a)} != ${JSON.stringify(b)}`); };
    same(parseTopic(deviceTopic(kind, fleet, device)), { kind, fleet, device });
    same(parseTopic(sensorTopic(fleet, device, name)), { kind: 'telemetrySensor', fleet, device, sensor: name });
    same(parseTopic(manifestTopic(fleet, name, version)), { kind: 'modelManifest', fleet, model: name, version });
    same(parseTopic(chunkTopic(fleet, name, version, index)), { kind: 'modelChunk', fleet, model: name, version, index });
  }), RUNS);
  t.pass();
});

test('ACL checks and identities: any input → a decision or BAD_NAME, never a throw', (t) => {
  const identity = fc.oneof(
    fc.record({ role: fc.constant('device' as const), fleet: safeName, device: safeName }),
    fc.record({ role: fc.constant('gateway' as const), id: safeName }),
  );
  fc.assert(fc.property(identity, anyText, (id, topic) => {
    const p = checkPublish(id, topic);
    const s = checkSubscribe(id, topic);
    // A device is never allowed outside its own subtree or its fleet's models.
    if (id.role === 'device' && p.allow && !topic.startsWith(`edgeloop/${id.fleet}/${id.device}/`)) throw new Error(`publish ${topic} allowed`);
    if (id.role === 'device' && s.allow && !topic.startsWith(`edgeloop/${id.fleet}/`)) throw new Error(`subscribe ${topic} allowed`);
  }), RUNS);
  fc.assert(fc.property(fc.oneof(anyText, fc.tuple(hostile, hostile).map(([a, b]) => `${a}/${b}`)), (name) => onlyEdgeloopErrors(() => parseIdentity(name), new Set(['BAD_NAME']))), RUNS);
  t.pass();
});

test('CSV reader: any text → records or an EdgeloopError; quoted records round-trip', (t) => {
  fc.assert(fc.property(fc.oneof(anyText, fc.array(fc.constantFrom('a', ',', '"', '\n', '\r', '1', ' ', '2015-02-04 17:51:00'), { maxLength: 60 }).map((a) => a.join(''))), (text) => {
    onlyEdgeloopErrors(() => parseCsvRecords(text));
    onlyEdgeloopErrors(() => parseCsv(text));
  }), RUNS);
  const field = fc.string({ maxLength: 12 });
  fc.assert(fc.property(fc.array(fc.array(field, { minLength: 2, maxLength: 5 }), { minLength: 1, maxLength: 8 }), (records) => {
    const text = records.map((r) => r.map((f) => `"${f.replace(/"/g, '""')}"`).join(',')).join('\r\n') + '\n';
    const back = parseCsvRecords(text);
    if (JSON.stringify(back) !== JSON.stringify(records)) throw new Error(`round trip: ${JSON.stringify(back)} vs ${JSON.stringify(records)}`);
  }), RUNS);
  t.pass();
});

test('parseManifest: any JSON → manifest or an EdgeloopError; a valid manifest round-trips', (t) => {
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 5 }), (v) => onlyEdgeloopErrors(() => parseManifest(v))), RUNS);
  const m = unsignedManifest();
  // Mutations of a valid manifest: each field replaced by arbitrary JSON.
  fc.assert(fc.property(fc.constantFrom(...Object.keys(m)), fc.jsonValue({ maxDepth: 3 }), (key, value) => {
    onlyEdgeloopErrors(() => parseManifest({ ...JSON.parse(JSON.stringify(m)), [key]: value }));
  }), RUNS);
  t.deepEqual(parseManifest(JSON.parse(JSON.stringify(m))), m);
});

test('device command / chunk / status validators: any JSON or bytes → value or an EdgeloopError', (t) => {
  const validators = [validateCommand, validateChunkRequest, validateDeviceStatus, validateHeartbeat, validateCommandResult];
  const near = fc.record({
    type: fc.constantFrom('install', 'activate', 'rollback', 'status', 'x'), id: fc.oneof(fc.string(), fc.constant('c1')), model: fc.oneof(safeName, hostile),
    version: fc.oneof(fc.integer(), fc.double(), fc.string()), chunks: fc.array(fc.oneof(fc.integer(), fc.string()), { maxLength: 5 }), ok: fc.boolean(),
  }, { requiredKeys: [] });
  fc.assert(fc.property(fc.oneof(fc.jsonValue({ maxDepth: 4 }), near), (v) => {
    for (const validate of validators) onlyEdgeloopErrors(() => validate(v));
  }), RUNS);
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 })), (bytes) => onlyEdgeloopErrors(() => parseJsonPayload(bytes, 'command'))), RUNS);
  t.pass();
});

test('no name received over the network can leave its folder', async (t) => {
  const base = resolve(tempDir(), 'root');
  fc.assert(fc.property(fc.oneof(hostile, safeName, anyText), (name) => {
    if (!isSafeName(name)) {
      onlyEdgeloopErrors(() => assertSafeName('model', name), new Set(['BAD_NAME']));
      return;
    }
    const rel = relative(base, join(base, name));
    if (rel !== name || isAbsolute(rel) || rel.startsWith('..')) throw new Error(`${name} escapes`);
  }), { ...RUNS, numRuns: 2000 });
  // Through the device model store's public API: hostile model names are refused before any I/O.
  const store = await ModelStore.open({ dir: tempDir() });
  for (const name of ['..', '../..', '../../etc', '/etc/passwd', 'a/../../b', '.', '.hidden', 'x\u0000y', '%2e%2e']) {
    for (const call of [() => store.versions(name), () => store.pointer(name), () => store.load(name, 1), () => store.activate(name, 1), () => store.rollback(name)]) {
      const err = await t.throwsAsync(call(), undefined, name);
      t.true(err instanceof EdgeloopError && err.code === 'BAD_NAME', `${name}: ${err?.message}`);
    }
  }
  const err = await t.throwsAsync(store.stage({ ...unsignedManifest(), model: '../../escape' }, new Uint8Array(5000)));
  t.true(err instanceof EdgeloopError, err?.message);
});
