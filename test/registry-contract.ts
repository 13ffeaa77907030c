/**
 * The contract the model registry passes on every database it runs on (SQLite file, PostgreSQL schema
 * shared by several gateways): round trip, numbering, aliases and their history, NOT_FOUND naming what
 * exists, a failed registration leaving nothing, and two instances registering and promoting at once.
 * Call `registryContract(name, factory)` from a *.test.ts file; the factory opens two registries on the
 * same tables with the same key folder (two gateway instances).
 */
import test from 'ava';
import type { Registry } from '../gateway/registry.ts';
import { parsePublicKey } from '../io/ed25519.ts';
import { verifyArtifact, verifyManifest } from '../device/verify.ts';
import { randomBytes, realBytes, registerInput } from './helpers/registry-fixture.ts';

export type RegistryPair = { a: Registry; b: Registry; close(): Promise<void> };

export function registryContract(name: string, create: (now: () => number) => Promise<RegistryPair>): void {
  test(`${name}: register, promote, resolve, fetch and verify; what one instance registers the other serves`, async (t) => {
    let clock = 1_700_000_000_000;
    const { a, b, close } = await create(() => clock);
    t.teardown(close);
    t.is(a.publicKey().keyId, b.publicKey().keyId, 'one signing key for every instance');
    const r1 = await a.register(registerInput({ nativeModel: { kind: 'logistic', coef: [[1, 2]] } }));
    t.is(r1.version, 1);
    clock += 60_000;
    const v2bytes = randomBytes(70_000, 99);
    const r2 = await b.register(registerInput({ artifacts: [{ ...registerInput().artifacts[0]!, bytes: v2bytes }], lineage: { runId: 'run-2', parentVersion: 1 } }));
    t.is(r2.version, 2);
    t.deepEqual(await b.promote('occupancy@1', 'production', { by: 'alice' }), { model: 'occupancy', alias: 'production', fromVersion: null, toVersion: 1, atMs: clock, by: 'alice' });
    clock += 1000;
    t.is((await a.promote('occupancy@2', 'production', { by: 'bob' })).fromVersion, 1);
    t.is((await a.promote('occupancy@2', 'production')).fromVersion, 2, 'no move: nothing recorded');
    t.deepEqual((await b.history('occupancy')).map((h) => [h.alias, h.fromVersion, h.toVersion, h.by]), [['production', null, 1, 'alice'], ['production', 1, 2, 'bob']]);
    const v1 = await b.show('occupancy@1');
    t.true(v1.hasNativeModel);
    t.deepEqual(v1.classes, ['empty', 'occupied']);
    t.deepEqual(v1.artifacts.map((x) => `${x.format}/${x.variant}`), ['onnx/float32', 'tflite/int8']);
    t.deepEqual(await b.nativeModel('occupancy@1'), { kind: 'logistic', coef: [[1, 2]] });
    const v2 = await a.resolve('occupancy@production');
    t.is(v2.version, 2);
    t.false(v2.hasNativeModel);
    t.deepEqual(v2.aliases, ['production']);
    t.deepEqual(v2.lineage, { runId: 'run-2', parentVersion: 1 });
    t.deepEqual(await b.list(), [{ model: 'occupancy', task: 'classification', versions: 2, latest: 2, latestAtMs: clock - 1000, aliases: { production: 2 } }]);
    t.deepEqual((await a.versions('occupancy')).map((v) => v.version), [2, 1]);
    const m = await b.manifest('occupancy@production', 'onnx', 'float32');
    t.deepEqual(m, r2.manifests[0]);
    const art = await b.artifact('occupancy@production', 'onnx', 'float32');
    t.deepEqual(art, v2bytes);
    t.notThrows(() => verifyArtifact(verifyManifest(JSON.parse(JSON.stringify(m)), parsePublicKey(a.publicKey().rawBase64)), art));
    t.deepEqual(await a.artifact('occupancy@1', 'onnx', 'float32'), realBytes());
    for (const ref of ['occupancy@1', 'occupancy@2']) t.true((await b.verify(ref)).ok);
  });

  test(`${name}: a model keeps its task; a failed registration stores nothing; missing things are NOT_FOUND naming what exists`, async (t) => {
    const { a, b, close } = await create(Date.now);
    t.teardown(close);
    await t.throwsAsync(a.resolve('occupancy'), { code: 'NOT_FOUND', message: 'model occupancy is not registered (models: none)' });
    const bad = registerInput();
    bad.artifacts[1] = { ...bad.artifacts[1]!, io: { inputs: [], outputs: [] } };
    await t.throwsAsync(a.register(bad), { code: 'BAD_ARGUMENT', message: /register: the tflite\/int8 manifest would be invalid/ });
    t.deepEqual(await b.list(), []);
    await a.register(registerInput());
    await t.throwsAsync(b.register(registerInput({ task: 'regression', classes: undefined })), {
      code: 'BAD_ARGUMENT', message: 'register: model occupancy is a classification model; cannot add a regression version (use another model name)',
    });
    await t.throwsAsync(b.resolve('hvac@1'), { code: 'NOT_FOUND', message: 'model hvac is not registered (models: occupancy)' });
    await t.throwsAsync(b.resolve('occupancy@5'), { code: 'NOT_FOUND', message: 'model occupancy has no version 5 (versions 1..1)' });
    await t.throwsAsync(b.resolve('occupancy@production'), { code: 'NOT_FOUND', message: 'model occupancy has no alias production (aliases: none)' });
    await t.throwsAsync(b.manifest('occupancy@1', 'tflite', 'float16'), { code: 'NOT_FOUND', message: 'occupancy@1 has no tflite/float16 artifact (artifacts: onnx/float32, tflite/int8)' });
    await t.throwsAsync(b.nativeModel('occupancy@1'), { code: 'NOT_FOUND', message: 'occupancy@1 was registered without a native model document' });
    await t.throwsAsync(b.promote('occupancy@1', 'latest'), { code: 'BAD_NAME', message: 'alias latest is reserved (it always means the highest version)' });
    await t.throwsAsync(b.history('nope'), { code: 'NOT_FOUND' });
  });

  test(`${name}: two instances registering at once never hand out the same version; concurrent promotions leave one consistent history`, async (t) => {
    const { a, b, close } = await create(Date.now);
    t.teardown(close);
    const input = registerInput({ artifacts: [{ ...registerInput().artifacts[1]! }] });
    const versions = await Promise.all([1, 2, 3, 4].map((i) => (i % 2 ? a : b).register(input).then((r) => r.version)));
    t.deepEqual([...versions].sort(), [1, 2, 3, 4]);
    const moves = await Promise.allSettled([a.promote('occupancy@2', 'production'), b.promote('occupancy@3', 'production')]);
    t.true(moves.some((m) => m.status === 'fulfilled'));
    const history = await a.history('occupancy');
    const now = (await b.resolve('occupancy@production')).version;
    t.is(history.at(-1)!.toVersion, now, 'the last recorded move is where the alias points');
    for (let i = 1; i < history.length; i++) t.is(history[i]!.fromVersion, history[i - 1]!.toVersion, 'each move starts where the previous one ended');
  });
}
