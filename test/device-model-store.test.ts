/** On-disk model slots: staging, verified loads, atomic pointer switches, rollback, pruning, path safety. */
import test from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelStore } from '../device/model-store.ts';
import { ArtifactAssembler, verifiedSha256, verifyManifest } from '../device/verify.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { buildManifest, keyPair, mlpFixture } from './helpers/device-model.ts';
import { tempDir } from './helpers/tmp.ts';

const pair = keyPair();
const fixture = mlpFixture();
const manifest = (version: number, model = 'occ') => buildManifest({ model, version, bytes: fixture.bytes, chunkBytes: 512, smoke: fixture.smoke, pair });

test('stage → activate → upgrade → rollback, with previous versions kept up to keepPrevious', async (t) => {
  const dir = tempDir();
  let clock = 1000;
  const store = await ModelStore.open({ dir, keepPrevious: 2, now: () => clock });
  for (const v of [1, 2, 3, 4]) await store.stage(manifest(v), fixture.bytes);
  t.deepEqual(await store.versions('occ'), [1, 2, 3, 4]);
  t.deepEqual(await store.pointer('occ'), { active: null, shadow: null, previous: [], activatedAtMs: null });
  await store.activate('occ', 1);
  clock = 2000;
  await store.activate('occ', 2);
  await store.activate('occ', 3);
  t.deepEqual(await store.pointer('occ'), { active: 3, shadow: null, previous: [2, 1], activatedAtMs: 2000 });
  t.deepEqual(await store.versions('occ'), [1, 2, 3, 4], 'v4 is staged, waiting for its activation');
  await store.activate('occ', 4);
  t.deepEqual((await store.pointer('occ')).previous, [3, 2]);
  t.deepEqual(await store.versions('occ'), [2, 3, 4], 'v1 pruned: only 2 previous versions are kept');
  const back = await store.rollback('occ');
  t.deepEqual([back.active, back.previous], [3, [2]]);
  t.deepEqual(await store.versions('occ'), [2, 3], 'the version rolled back from is deleted');
  const back2 = await store.rollback('occ', 2);
  t.deepEqual([back2.active, back2.previous], [2, []]);
  t.deepEqual(await store.status(), [{ model: 'occ', active: 2, shadow: null, previous: [] }]);
  // The pointer file is whole JSON, no temp file left behind.
  t.deepEqual(JSON.parse(readFileSync(join(dir, 'models', 'occ', 'current.json'), 'utf8')).active, 2);
  t.false(existsSync(join(dir, 'models', 'occ', 'current.json.tmp')));
  const loaded = await store.load('occ', 2);
  t.deepEqual(Buffer.from(loaded.bytes), Buffer.from(fixture.bytes));
});

test('a slot damaged on disk is refused on load and replaced by a new stage', async (t) => {
  const dir = tempDir();
  const store = await ModelStore.open({ dir });
  await store.stage(manifest(1), fixture.bytes);
  const file = join(dir, 'models', 'occ', '1', 'model.onnx');
  const bytes = readFileSync(file);
  bytes[10] ^= 0xff;
  writeFileSync(file, bytes);
  const e = await t.throwsAsync(store.load('occ', 1));
  t.true(isEdgeloopError(e, 'MODEL_CHECKSUM'));
  t.regex(e!.message, /^slot occ\/1: artifact sha256 [0-9a-f]{16}… differs from the manifest's/);
  writeFileSync(file, bytes.subarray(0, 100));
  const e2 = await t.throwsAsync(store.load('occ', 1));
  t.is(e2?.message, `slot occ/1: artifact is 100 bytes, the manifest says ${fixture.bytes.length}`);
  await store.stage(manifest(1), fixture.bytes);
  t.deepEqual(Buffer.from((await store.load('occ', 1)).bytes), Buffer.from(fixture.bytes));
});

test('bad calls: unsafe names, bad versions, wrong bytes, nothing to roll back, missing slots', async (t) => {
  const dir = tempDir();
  const store = await ModelStore.open({ dir });
  const wrong = fixture.bytes.slice();
  wrong[0] ^= 1;
  const e1 = await t.throwsAsync(store.stage(manifest(1), wrong));
  t.true(isEdgeloopError(e1, 'MODEL_CHECKSUM'));
  t.deepEqual(readdirSync(join(dir, 'models')), [], 'nothing written for refused bytes');
  const e2 = await t.throwsAsync(store.load('..', 1));
  t.true(isEdgeloopError(e2, 'BAD_NAME'));
  const e3 = await t.throwsAsync(store.activate('occ', 0));
  t.is(e3?.message, 'model version must be an integer in 1..999999999, got 0');
  const e4 = await t.throwsAsync(store.activate('occ', 7));
  t.true(isEdgeloopError(e4, 'NOT_FOUND'));
  t.is(e4?.message, 'model occ version 7 is not installed on this device');
  const e5 = await t.throwsAsync(store.rollback('occ'));
  t.is(e5?.message, 'model occ has no previous version to roll back to (active: none)');
  await store.stage(manifest(1), fixture.bytes);
  await store.activate('occ', 1);
  const e6 = await t.throwsAsync(store.rollback('occ', 5));
  t.is(e6?.message, 'model occ version 5 is not kept on this device (kept: 1)');
  const e7 = await t.throwsAsync(store.load('occ', 2));
  t.true(isEdgeloopError(e7, 'NOT_FOUND'));
  writeFileSync(join(dir, 'models', 'occ', 'current.json'), '{"active": "x"}');
  const e8 = await t.throwsAsync(store.pointer('occ'));
  t.true(isEdgeloopError(e8, 'BAD_FILE'));
  const e9 = await t.throwsAsync(ModelStore.open({ dir, keepPrevious: 1.5 }));
  t.is(e9?.message, 'keepPrevious must be an integer in 0..100, got 1.5');
});

test('bytes the transfer verified are staged without a second hash; other bytes, and any mismatch, are still checked', async (t) => {
  const dir = tempDir();
  const store = await ModelStore.open({ dir });
  const m = manifest(1);
  const asm = new ArtifactAssembler(verifyManifest(m, pair.publicKey));
  for (let i = 0; i < m.artifact.chunkSha256.length; i++) asm.add(i, fixture.bytes.subarray(i * 512, (i + 1) * 512));
  const bytes = asm.finish();
  t.is(verifiedSha256(bytes), m.artifact.sha256);
  t.is(verifiedSha256(bytes.slice()), undefined, 'a copy is not the verified buffer');
  await store.stage(m, bytes);
  t.deepEqual(Buffer.from((await store.load('occ', 1)).bytes), Buffer.from(fixture.bytes), 'the slot holds the verified bytes, and load() re-verifies them from disk');
  // A verified buffer offered under a manifest with another sha256 is hashed, and refused.
  const other = { ...manifest(2), artifact: { ...manifest(2).artifact, sha256: 'f'.repeat(64) } };
  const err = await t.throwsAsync(store.stage(other, bytes));
  t.true(isEdgeloopError(err, 'MODEL_CHECKSUM'));
  t.regex(err!.message, /^staging occ v2: artifact sha256 [0-9a-f]{16}… differs from the manifest's ffffffffffffffff…$/);
  // A slot damaged on disk after staging a verified buffer is still refused on load.
  const file = join(dir, 'models', 'occ', '1', 'model.onnx');
  const onDisk = readFileSync(file);
  onDisk[0] ^= 1;
  writeFileSync(file, onDisk);
  t.true(isEdgeloopError(await t.throwsAsync(store.load('occ', 1)), 'MODEL_CHECKSUM'));
});
