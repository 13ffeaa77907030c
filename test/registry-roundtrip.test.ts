/** The registry against a real SQLite file shared with the gateway store: register, promote, resolve, fetch, verify. */
import test from 'ava';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { Registry } from '../gateway/registry.ts';
import { parsePublicKey } from '../io/ed25519.ts';
import { verifyArtifact, verifyManifest } from '../device/verify.ts';
import { specHash } from '../src/pipeline/hash.ts';
import { randomBytes, realBytes, registerInput, PIPELINE_SPEC } from './helpers/registry-fixture.ts';
import { tempDir } from './helpers/tmp.ts';

async function open(dir = tempDir(), now = () => 1_700_000_000_000) {
  const store = await SqliteStore.create({ path: join(dir, 'edgeloop.db') });
  const registry = await Registry.create({ database: store.database, keyDir: join(dir, 'keys'), now });
  return { dir, store, registry };
}

test('round trip: two versions with real bytes, promote, resolve aliases, fetch, verify', async (t) => {
  let clock = 1_700_000_000_000;
  const { store, registry } = await open(tempDir(), () => clock);
  const r1 = await registry.register(registerInput({ nativeModel: { kind: 'logistic', coef: [[1, 2]] } }));
  t.is(r1.version, 1);
  t.is(r1.manifests.length, 2);
  const onnx1 = r1.manifests[0]!;
  const bytes1 = realBytes();
  t.is(onnx1.artifact.sha256, createHash('sha256').update(bytes1).digest('hex'));
  t.is(onnx1.artifact.bytes, bytes1.length);
  t.is(onnx1.artifact.chunkBytes, 16 * 1024);
  t.is(onnx1.artifact.chunkSha256.length, Math.ceil(bytes1.length / 16384));
  t.is(onnx1.pipeline.specHash, specHash(PIPELINE_SPEC));
  t.is(onnx1.createdAtMs, clock);
  t.deepEqual(onnx1.metrics, { test_accuracy: 0.978 });
  t.is(onnx1.signature?.keyId, registry.publicKey().keyId);
  // The int8 artifact carries its own smoke test; the float one the version's.
  t.deepEqual(r1.manifests[1]!.smokeTest.tolerance, { abs: 0.05, rel: 0 });
  t.deepEqual(onnx1.smokeTest.tolerance, { abs: 1e-5, rel: 1e-4 });

  clock += 60_000;
  const v2bytes = randomBytes(70_000, 99);
  const r2 = await registry.register(registerInput({
    artifacts: [{ ...registerInput().artifacts[0]!, bytes: v2bytes, metrics: { test_accuracy: 0.99 } }],
    lineage: { runId: 'run-2', dataset: 'occ-v2', parentVersion: 1 },
    chunkBytes: 10_000,
  }));
  t.is(r2.version, 2);
  t.is(r2.manifests[0]!.artifact.chunkSha256.length, 7);

  t.is((await registry.resolve('occupancy')).version, 2);
  t.is((await registry.resolve('occupancy@latest')).version, 2);
  t.is((await registry.resolve('occupancy@1')).version, 1);

  const p1 = await registry.promote('occupancy@1', 'production', { by: 'alice' });
  t.deepEqual(p1, { model: 'occupancy', alias: 'production', fromVersion: null, toVersion: 1, atMs: clock, by: 'alice' });
  await registry.promote('occupancy', 'staging');
  t.is((await registry.resolve('occupancy@production')).version, 1);
  t.is((await registry.resolve('occupancy@staging')).version, 2);
  clock += 1000;
  const p2 = await registry.promote('occupancy@staging', 'production', { by: 'bob' });
  t.is(p2.fromVersion, 1);
  t.is(p2.toVersion, 2);
  t.is((await registry.resolve('occupancy@production')).version, 2);
  // Promoting to where the alias already points changes nothing and records nothing.
  const same = await registry.promote('occupancy@2', 'production');
  t.is(same.fromVersion, 2);
  const history = await registry.history('occupancy');
  t.deepEqual(history.map((h) => [h.alias, h.fromVersion, h.toVersion, h.by]), [['production', null, 1, 'alice'], ['staging', null, 2, 'edgeloop'], ['production', 1, 2, 'bob']]);

  const v2 = await registry.show('occupancy@production');
  t.deepEqual(v2.aliases, ['production', 'staging']);
  t.deepEqual(v2.lineage, { runId: 'run-2', dataset: 'occ-v2', parentVersion: 1 });
  t.deepEqual(v2.artifacts.map((a) => [a.format, a.variant, a.bytes]), [['onnx', 'float32', 70_000]]);
  t.false(v2.hasNativeModel);
  const v1 = await registry.show('occupancy@1');
  t.deepEqual(v1.aliases, []);
  t.deepEqual(v1.classes, ['empty', 'occupied']);
  t.true(v1.hasNativeModel);
  t.deepEqual(await registry.nativeModel('occupancy@1'), { kind: 'logistic', coef: [[1, 2]] });
  t.deepEqual(v1.artifacts.map((a) => `${a.format}/${a.variant}`), ['onnx/float32', 'tflite/int8']);

  const list = await registry.list();
  t.deepEqual(list, [{ model: 'occupancy', task: 'classification', versions: 2, latest: 2, latestAtMs: clock - 1000, aliases: { production: 2, staging: 2 } }]);
  t.deepEqual((await registry.versions('occupancy')).map((v) => v.version), [2, 1]);

  // What a device receives: the manifest verifies against the pinned key, the bytes against the manifest.
  const m = await registry.manifest('occupancy@production', 'onnx', 'float32');
  t.deepEqual(m, r2.manifests[0]);
  const pinned = parsePublicKey(registry.publicKey().rawBase64);
  const verified = verifyManifest(JSON.parse(JSON.stringify(m)), pinned);
  const art = await registry.artifact('occupancy@production', 'onnx', 'float32');
  t.deepEqual(art, v2bytes);
  t.notThrows(() => verifyArtifact(verified, art));
  t.deepEqual(await registry.artifact('occupancy@1', 'onnx', 'float32'), bytes1);

  for (const ref of ['occupancy@1', 'occupancy@2']) {
    const report = await registry.verify(ref);
    t.true(report.ok, JSON.stringify(report));
  }
  await store.close();
});

test('versions are numbered per model; a model keeps its task', async (t) => {
  const { store, registry } = await open();
  t.is((await registry.register(registerInput())).version, 1);
  t.is((await registry.register(registerInput({ model: 'hvac' }))).version, 1);
  t.is((await registry.register(registerInput())).version, 2);
  await t.throwsAsync(registry.register(registerInput({ task: 'regression', classes: undefined })), {
    code: 'BAD_ARGUMENT', message: 'register: model occupancy is a classification model; cannot add a regression version (use another model name)',
  });
  t.deepEqual((await registry.list()).map((m) => [m.model, m.versions]), [['hvac', 1], ['occupancy', 2]]);
  await store.close();
});

test('the registry survives a restart: same key, same versions, still verifying', async (t) => {
  const a = await open();
  await a.registry.register(registerInput());
  await a.registry.promote('occupancy@1', 'production');
  const keyId = a.registry.publicKey().keyId;
  await a.store.close();
  const b = await open(a.dir);
  t.is(b.registry.publicKey().keyId, keyId);
  t.is((await b.registry.resolve('occupancy@production')).version, 1);
  t.true((await b.registry.verify('occupancy@1')).ok);
  t.is((await b.registry.register(registerInput())).version, 2);
  await b.store.close();
});

test('a failed registration stores nothing (one transaction)', async (t) => {
  const { store, registry } = await open();
  const bad = registerInput();
  bad.artifacts[1] = { ...bad.artifacts[1]!, io: { inputs: [], outputs: [] } };
  await t.throwsAsync(registry.register(bad), { code: 'BAD_ARGUMENT', message: /register: the tflite\/int8 manifest would be invalid: invalid manifest \(2 problems\):\n {2}- io\.inputs: must be a non-empty array/ });
  t.deepEqual(await registry.list(), []);
  t.is(store.database.prepare('SELECT count(*) FROM registry_artifacts').pluck().get(), 0);
  t.is((await registry.register(registerInput())).version, 1);
  await store.close();
});

test('bad register calls fail with BAD_ARGUMENT or BAD_NAME naming the argument', async (t) => {
  const { store, registry } = await open();
  const base = registerInput();
  const cases: [Partial<typeof base>, string, RegExp | string][] = [
    [{ model: '../x' }, 'BAD_NAME', /model name "\.\.\/x" is not allowed/],
    [{ task: 'ranking' as 'regression' }, 'BAD_ARGUMENT', 'register: task must be one of classification, regression, got "ranking"'],
    [{ createdBy: '' }, 'BAD_ARGUMENT', /createdBy must be a non-empty string/],
    [{ chunkBytes: 0 }, 'BAD_ARGUMENT', 'register: chunkBytes must be an integer in 1..16777216, got 0'],
    [{ chunkBytes: 1.5 }, 'BAD_ARGUMENT', /chunkBytes must be an integer/],
    [{ artifacts: [] }, 'BAD_ARGUMENT', 'register: artifacts must hold at least one artifact'],
    [{ artifacts: [base.artifacts[0]!, base.artifacts[0]!] }, 'BAD_ARGUMENT', 'register: artifact onnx/float32 is listed twice; one artifact per format and variant'],
    [{ artifacts: [{ ...base.artifacts[0]!, format: 'pt' as 'onnx' }] }, 'BAD_ARGUMENT', 'register: artifact format must be one of onnx, tflite, got "pt"'],
    [{ artifacts: [{ ...base.artifacts[0]!, variant: 'int4' as 'int8' }] }, 'BAD_ARGUMENT', /artifact variant must be one of float32, float16, dynamic-int8, int8, got "int4"/],
    [{ artifacts: [{ ...base.artifacts[0]!, bytes: [1, 2] as unknown as Uint8Array }] }, 'BAD_ARGUMENT', 'register: artifact onnx/float32 bytes must be a Uint8Array'],
    [{ artifacts: [{ ...base.artifacts[0]!, bytes: new Uint8Array(0) }] }, 'BAD_ARGUMENT', /artifact onnx\/float32 is empty/],
    [{ artifacts: [{ ...base.artifacts[0]!, metrics: { acc: Number.NaN } }] }, 'BAD_ARGUMENT', /metrics\.acc: must be a finite number, got NaN/],
    [{ pipeline: { spec: PIPELINE_SPEC, fitted: {}, specHash: 'f'.repeat(64) } }, 'BAD_ARGUMENT', /pipeline\.specHash ffffffffffff… does not match the spec's hash/],
    [{ lineage: { datasetHash: 'xyz' } }, 'BAD_ARGUMENT', /lineage\.datasetHash: must be 64 lowercase hex/],
    [{ smokeTest: { inputs: [[1]], expected: [], tolerance: { abs: 0, rel: 0 } } }, 'BAD_ARGUMENT', /smokeTest\.expected: must be a non-empty array/],
  ];
  for (const [override, code, message] of cases) {
    await t.throwsAsync(registry.register({ ...base, ...override }), { code, message }, JSON.stringify(Object.keys(override)));
  }
  t.deepEqual(await registry.list(), []);
  await store.close();
});

test('bad references and missing things are NOT_FOUND / BAD_NAME naming what exists', async (t) => {
  const { store, registry } = await open();
  await t.throwsAsync(registry.resolve('occupancy'), { code: 'NOT_FOUND', message: 'model occupancy is not registered (models: none)' });
  await registry.register(registerInput());
  await t.throwsAsync(registry.resolve('hvac@1'), { code: 'NOT_FOUND', message: 'model hvac is not registered (models: occupancy)' });
  await t.throwsAsync(registry.resolve('occupancy@5'), { code: 'NOT_FOUND', message: 'model occupancy has no version 5 (versions 1..1)' });
  await t.throwsAsync(registry.resolve('occupancy@production'), { code: 'NOT_FOUND', message: 'model occupancy has no alias production (aliases: none)' });
  await t.throwsAsync(registry.resolve('occupancy@0'), { code: 'BAD_ARGUMENT', message: /version must be an integer >= 1/ });
  await t.throwsAsync(registry.resolve('occupancy@pro duction'), { code: 'BAD_NAME', message: /alias "pro duction" is not allowed/ });
  await t.throwsAsync(registry.resolve('occ/upancy'), { code: 'BAD_NAME', message: /model name "occ\/upancy" is not allowed/ });
  await t.throwsAsync(registry.manifest('occupancy@1', 'tflite', 'float16'), { code: 'NOT_FOUND', message: 'occupancy@1 has no tflite/float16 artifact (artifacts: onnx/float32, tflite/int8)' });
  await t.throwsAsync(registry.artifact('occupancy@1', 'onnx', 'int8'), { code: 'NOT_FOUND' });
  await t.throwsAsync(registry.nativeModel('occupancy@1'), { code: 'NOT_FOUND', message: 'occupancy@1 was registered without a native model document' });
  await t.throwsAsync(registry.promote('occupancy@1', 'latest'), { code: 'BAD_NAME', message: 'alias latest is reserved (it always means the highest version)' });
  await t.throwsAsync(registry.promote('occupancy@1', '1st'), { code: 'BAD_NAME', message: /alias "1st" is not allowed: .* starting with a letter/ });
  await t.throwsAsync(registry.promote('occupancy@9', 'production'), { code: 'NOT_FOUND' });
  await t.throwsAsync(registry.history('nope'), { code: 'NOT_FOUND' });
  await store.close();
});

test('two registries on one file never hand out the same version', async (t) => {
  const dir = tempDir();
  const a = await open(dir);
  const b = await open(dir);
  const input = registerInput({ artifacts: [{ ...registerInput().artifacts[1]! }] });
  const versions = await Promise.all([1, 2, 3, 4].map((i) => (i % 2 ? a : b).registry.register(input).then((r) => r.version)));
  t.deepEqual([...versions].sort(), [1, 2, 3, 4]);
  await a.store.close();
  await b.store.close();
});
