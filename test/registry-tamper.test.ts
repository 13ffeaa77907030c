/** Tampering with the registry's SQLite file is reported by `verify`, per artifact, with the right code. */
import test from 'ava';
import { join } from 'node:path';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { Registry } from '../gateway/registry.ts';
import { generateKeyPair, sign } from '../io/ed25519.ts';
import { describeArtifact, manifestSigningBytes } from '../src/manifest-validate.ts';
import type { ModelManifest } from '../src/manifest.ts';
import { registerInput } from './helpers/registry-fixture.ts';
import { tempDir } from './helpers/tmp.ts';

async function setup() {
  const dir = tempDir();
  const store = await SqliteStore.create({ path: join(dir, 'edgeloop.db') });
  const registry = await Registry.create({ database: store.database, keyDir: join(dir, 'keys') });
  await registry.register(registerInput());
  await registry.register(registerInput());
  const db = store.database;
  const row = (format: string, version = 1) =>
    db.prepare('SELECT bytes, manifest FROM registry_artifacts WHERE model = ? AND version = ? AND format = ?').get('occupancy', version, format) as { bytes: Buffer; manifest: string };
  const setBytes = (format: string, bytes: Uint8Array) =>
    db.prepare('UPDATE registry_artifacts SET bytes = ? WHERE model = ? AND version = 1 AND format = ?').run(Buffer.from(bytes), 'occupancy', format);
  const setManifest = (format: string, manifest: unknown, version = 1) =>
    db.prepare('UPDATE registry_artifacts SET manifest = ? WHERE model = ? AND version = ? AND format = ?').run(typeof manifest === 'string' ? manifest : JSON.stringify(manifest), 'occupancy', version, format);
  return { dir, store, registry, row, setBytes, setManifest };
}

function verdict(report: Awaited<ReturnType<Registry['verify']>>, format: string) {
  return report.artifacts.find((a) => a.format === format)!;
}

test('a flipped artifact byte is MODEL_CHECKSUM naming the chunk; the other artifact stays ok', async (t) => {
  const { store, registry, row, setBytes } = await setup();
  t.true((await registry.verify('occupancy@1')).ok);
  const bytes = new Uint8Array(row('onnx').bytes);
  bytes[40_000]! ^= 0x80;
  setBytes('onnx', bytes);
  const report = await registry.verify('occupancy@1');
  t.false(report.ok);
  const bad = verdict(report, 'onnx');
  t.is(bad.code, 'MODEL_CHECKSUM');
  t.regex(bad.message!, /first bad chunk 2 of 13, bytes 32768\.\.49151/);
  t.deepEqual(verdict(report, 'tflite'), { format: 'tflite', variant: 'int8', ok: true });
  t.true((await registry.verify('occupancy@2')).ok, 'other versions unaffected');
  await store.close();
});

test('a truncated artifact is MODEL_CORRUPT', async (t) => {
  const { store, registry, row, setBytes } = await setup();
  const bytes = new Uint8Array(row('tflite').bytes);
  setBytes('tflite', bytes.subarray(0, bytes.length - 100));
  const bad = verdict(await registry.verify('occupancy@1'), 'tflite');
  t.is(bad.code, 'MODEL_CORRUPT');
  t.is(bad.message, 'artifact tflite/int8 is 39900 bytes, expected 40000 (truncated)');
  await store.close();
});

test('a manifest edited after signing is MODEL_SIGNATURE', async (t) => {
  const { store, registry, row, setManifest } = await setup();
  const m = JSON.parse(row('onnx').manifest) as ModelManifest;
  m.metrics.test_accuracy = 0.999;
  setManifest('onnx', m);
  const bad = verdict(await registry.verify('occupancy@1'), 'onnx');
  t.is(bad.code, 'MODEL_SIGNATURE');
  t.regex(bad.message!, /manifest signature by key [0-9a-f]{16} is invalid: the manifest was changed after signing/);
  await store.close();
});

test('bytes and hashes replaced together still fail: the signature covers the hashes', async (t) => {
  const { store, registry, row, setBytes, setManifest } = await setup();
  const evil = new Uint8Array(row('tflite').bytes);
  evil[0]! ^= 1;
  const m = JSON.parse(row('tflite').manifest) as ModelManifest;
  m.artifact = describeArtifact(evil, 'tflite', 'int8', m.artifact.chunkBytes);
  setBytes('tflite', evil);
  setManifest('tflite', m);
  t.is(verdict(await registry.verify('occupancy@1'), 'tflite').code, 'MODEL_SIGNATURE');
  await store.close();
});

test('a manifest signed by another key is MODEL_SIGNATURE naming the unknown keyId; trusting that key accepts it', async (t) => {
  const { dir, store, registry, row, setManifest } = await setup();
  const other = generateKeyPair();
  const m = JSON.parse(row('onnx').manifest) as ModelManifest;
  delete m.signature;
  m.signature = { alg: 'ed25519', keyId: other.publicKey.keyId, value: Buffer.from(sign(other.privateKey, manifestSigningBytes(m))).toString('base64') };
  setManifest('onnx', m);
  const bad = verdict(await registry.verify('occupancy@1'), 'onnx');
  t.is(bad.code, 'MODEL_SIGNATURE');
  t.is(bad.message, `manifest is signed by unknown key ${other.publicKey.keyId} (trusted: ${registry.publicKey().keyId})`);
  const rotated = await Registry.create({ database: store.database, keyDir: join(dir, 'keys'), trustedKeys: [other.publicKey] });
  t.true((await rotated.verify('occupancy@1')).ok);
  await store.close();
});

test('a missing signature, a non-JSON or malformed manifest, and a manifest moved to another version are reported', async (t) => {
  const { store, registry, row, setManifest } = await setup();
  const m = JSON.parse(row('onnx').manifest) as ModelManifest;
  const { signature: _sig, ...unsigned } = m;
  setManifest('onnx', unsigned);
  t.deepEqual(verdict(await registry.verify('occupancy@1'), 'onnx'), { format: 'onnx', variant: 'float32', ok: false, code: 'MODEL_SIGNATURE', message: 'stored manifest is not signed' });
  setManifest('onnx', '{"schema":');
  t.is(verdict(await registry.verify('occupancy@1'), 'onnx').code, 'BAD_PAYLOAD');
  setManifest('onnx', { ...m, version: 'one' });
  const malformed = verdict(await registry.verify('occupancy@1'), 'onnx');
  t.is(malformed.code, 'BAD_PAYLOAD');
  t.regex(malformed.message!, /version: must be an integer/);
  // Version 1's genuine, validly signed manifest stored as version 2's: the identity check catches it.
  setManifest('onnx', m);
  setManifest('onnx', row('onnx', 1).manifest, 2);
  const moved = verdict(await registry.verify('occupancy@2'), 'onnx');
  t.is(moved.code, 'MODEL_CORRUPT');
  t.is(moved.message, 'manifest describes occupancy@1 onnx/float32 but is stored as occupancy@2 onnx/float32');
  await store.close();
});
