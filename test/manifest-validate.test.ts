/** parseManifest rejects every malformed field naming it; signing bytes; pure artifact/chunk checks. */
import test from 'ava';
import { createHash } from 'node:crypto';
import { EdgeloopError } from '../src/errors.ts';
import type { ModelManifest } from '../src/manifest.ts';
import { checkArtifact, checkChunk, describeArtifact, manifestSigningBytes, parseManifest, parseManifestForSignature } from '../src/manifest-validate.ts';
import { randomBytes, unsignedManifest } from './helpers/registry-fixture.ts';

type Json = Record<string, unknown>;
const clone = (m: ModelManifest): Json => JSON.parse(JSON.stringify(m)) as Json;
const SIG = { alg: 'ed25519', keyId: '0123456789abcdef', value: Buffer.alloc(64, 1).toString('base64') };

test('a well-formed manifest passes and is returned as is (signed or not)', (t) => {
  const m = clone(unsignedManifest());
  t.is(parseManifest(m), m as unknown as ModelManifest);
  const signed = { ...m, signature: SIG };
  t.is(parseManifest(signed).signature?.keyId, SIG.keyId);
  const minimal = clone(unsignedManifest());
  delete minimal.classes;
  minimal.lineage = {};
  minimal.task = 'regression';
  t.notThrows(() => parseManifest(minimal));
});

/** [field path named in the message, mutation] */
const CASES: [string, (m: Json) => void][] = [
  ['schema', (m) => { m.schema = 'edgeloop.manifest/2'; }],
  ['model', (m) => { m.model = 'bad/name'; }],
  ['model', (m) => { m.model = ''; }],
  ['version', (m) => { m.version = 0; }],
  ['version', (m) => { m.version = 1.5; }],
  ['createdAtMs', (m) => { m.createdAtMs = -1; }],
  ['createdBy', (m) => { m.createdBy = ''; }],
  ['task', (m) => { m.task = 'ranking'; }],
  ['artifact', (m) => { m.artifact = 'x'; }],
  ['artifact.format', (m) => { (m.artifact as Json).format = 'tensorrt'; }],
  ['artifact.variant', (m) => { (m.artifact as Json).variant = 'int4'; }],
  ['artifact.bytes', (m) => { (m.artifact as Json).bytes = 0; }],
  ['artifact.sha256', (m) => { (m.artifact as Json).sha256 = 'ABC'; }],
  ['artifact.chunkBytes', (m) => { (m.artifact as Json).chunkBytes = 0; }],
  ['artifact.chunkSha256', (m) => { (m.artifact as Json).chunkSha256 = 'x'; }],
  ['artifact.chunkSha256[1]', (m) => { ((m.artifact as Json).chunkSha256 as string[])[1] = 'z'.repeat(64); }],
  ['artifact.chunkSha256: must hold 5 hashes', (m) => { ((m.artifact as Json).chunkSha256 as string[]).pop(); }],
  ['artifact.extra', (m) => { (m.artifact as Json).extra = 1; }],
  ['io.inputs', (m) => { (m.io as Json).inputs = []; }],
  ['io.outputs[0].dtype', (m) => { ((m.io as Json).outputs as Json[])[0]!.dtype = 'float64'; }],
  ['io.inputs[0].shape[1]', (m) => { ((m.io as Json).inputs as Json[])[0]!.shape = [-1, 0]; }],
  ['io.inputs[0].shape', (m) => { ((m.io as Json).inputs as Json[])[0]!.shape = []; }],
  ['io.inputs[0].name', (m) => { ((m.io as Json).inputs as Json[])[0]!.name = 3; }],
  ['io.outputs', (m) => { delete (m.io as Json).outputs; }],
  ['classes', (m) => { m.classes = []; }],
  ['classes[1]', (m) => { m.classes = ['a', 7]; }],
  ['classes: must not repeat', (m) => { m.classes = ['a', 'a']; }],
  ['pipeline.specHash', (m) => { (m.pipeline as Json).specHash = 'nope'; }],
  ['pipeline.fitted', (m) => { delete (m.pipeline as Json).fitted; }],
  ['lineage.runId', (m) => { (m.lineage as Json).runId = ''; }],
  ['lineage.datasetHash', (m) => { (m.lineage as Json).datasetHash = 'abc'; }],
  ['lineage.parentVersion', (m) => { (m.lineage as Json).parentVersion = 0; }],
  ['lineage.owner', (m) => { (m.lineage as Json).owner = 'x'; }],
  ['metrics.test_accuracy', (m) => { (m.metrics as Json).test_accuracy = 'high'; }],
  ['metrics', (m) => { m.metrics = [1]; }],
  ['reference.extra', (m) => { m.reference = { profile: 1, extra: 2 }; }],
  ['reference', (m) => { m.reference = 'none'; }],
  ['reference.profile', (m) => { m.reference = {}; }],
  ['smokeTest.inputs', (m) => { (m.smokeTest as Json).inputs = []; }],
  ['smokeTest.inputs[0][1]', (m) => { (m.smokeTest as Json).inputs = [[1, 'x']]; }],
  ['smokeTest.expected: must have one row per input row', (m) => { (m.smokeTest as Json).expected = [[1], [2]]; }],
  ['smokeTest.tolerance.abs', (m) => { ((m.smokeTest as Json).tolerance as Json).abs = -1; }],
  ['smokeTest.tolerance.rel', (m) => { delete ((m.smokeTest as Json).tolerance as Json).rel; }],
  ['manifest.drift', (m) => { m.drift = {}; }],
  ['manifest.lineage: is required', (m) => { delete m.lineage; }],
  // Not plain JSON (only from code: JSON.parse makes none of these), caught by the canonical encoding.
  ['pipeline.spec: must be plain JSON', (m) => { (m.pipeline as Json).spec = undefined; }],
  ['pipeline.fitted: must be plain JSON', (m) => { (m.pipeline as Json).fitted = { mean: [1, Number.NaN] }; }],
  ['reference.profile: must be plain JSON', (m) => { m.reference = { profile: { f: () => 1 } }; }],
];

CASES.forEach(([field, mutate], i) => {
  test(`parseManifest rejects a bad ${field} (case ${i})`, (t) => {
    const m = clone(unsignedManifest());
    mutate(m);
    const err = t.throws(() => parseManifest(m), { instanceOf: EdgeloopError });
    t.is(err.code, 'BAD_PAYLOAD');
    t.true(err.message.includes(field.includes(':') ? field : `${field}:`), err.message);
    // The device's one-pass variant refuses it with the same words.
    const same = t.throws(() => parseManifestForSignature(m), { instanceOf: EdgeloopError });
    t.is(same.code, err.code);
    t.is(same.message, err.message);
  });
});

test('every problem is listed at once', (t) => {
  const m = clone(unsignedManifest());
  m.version = -3;
  m.task = 'x';
  (m.artifact as Json).sha256 = 'bad';
  const err = t.throws(() => parseManifest(m), { instanceOf: EdgeloopError });
  t.is(err.code, 'BAD_PAYLOAD');
  t.regex(err.message, /invalid manifest \(3 problems\)/);
  for (const f of ['version:', 'task:', 'artifact.sha256:']) t.true(err.message.includes(f), f);
});

test('non-objects are rejected', (t) => {
  for (const v of [null, 'x', 3, [], undefined]) {
    const err = t.throws(() => parseManifest(v), { instanceOf: EdgeloopError });
    t.is(err.code, 'BAD_PAYLOAD');
    t.regex(err.message, /manifest: must be an object/);
  }
});

test('a malformed signature alone is MODEL_SIGNATURE; with other problems BAD_PAYLOAD listing both', (t) => {
  const bads: [Json, string][] = [
    [{ ...SIG, alg: 'rsa' }, 'signature.alg'],
    [{ ...SIG, keyId: 'XYZ' }, 'signature.keyId'],
    [{ ...SIG, value: 'short' }, 'signature.value'],
    [{ ...SIG, value: Buffer.alloc(65).toString('base64') }, 'signature.value'],
    [{ alg: 'ed25519', keyId: SIG.keyId }, 'signature.value'],
  ];
  for (const [sig, field] of bads) {
    const err = t.throws(() => parseManifest({ ...clone(unsignedManifest()), signature: sig }), { instanceOf: EdgeloopError });
    t.is(err.code, 'MODEL_SIGNATURE');
    t.true(err.message.includes(`${field}:`), err.message);
  }
  const err = t.throws(() => parseManifest({ ...clone(unsignedManifest()), version: 0, signature: { ...SIG, alg: 'x' } }), { instanceOf: EdgeloopError });
  t.is(err.code, 'BAD_PAYLOAD');
  t.true(err.message.includes('version:') && err.message.includes('signature.alg:'));
});

test('signing bytes are canonical JSON without the signature, independent of key order', (t) => {
  const m = unsignedManifest();
  const bytes = manifestSigningBytes(m);
  t.deepEqual(manifestSigningBytes({ ...m, signature: SIG as ModelManifest['signature'] }), bytes);
  const reordered = Object.fromEntries(Object.entries(clone(m)).reverse()) as unknown as ModelManifest;
  t.deepEqual(manifestSigningBytes(reordered), bytes);
  const text = new TextDecoder().decode(bytes);
  t.true(text.startsWith('{"artifact":{"bytes":5000,'));
  t.false(text.includes('signature'));
  t.notDeepEqual(manifestSigningBytes({ ...m, version: 2 }), bytes);
});

test('parseManifestForSignature returns the manifest and the same signing bytes as manifestSigningBytes, from one encoding', (t) => {
  const m = clone(unsignedManifest());
  m.reference = { profile: { features: { Light: { mean: 120.5, hist: [0, 3, 1e-7, -0] } }, 'é': 'x' } };
  const signed = { ...m, signature: SIG };
  for (const json of [m, signed, Object.fromEntries(Object.entries(signed).reverse())]) {
    const { manifest, signingBytes } = parseManifestForSignature(json);
    t.is(manifest, json as unknown as ModelManifest);
    t.deepEqual(signingBytes, manifestSigningBytes(m as unknown as ModelManifest));
  }
});

test('describeArtifact hashes the whole file and each chunk (checked against node:crypto)', (t) => {
  const bytes = randomBytes(2500, 3);
  const spec = describeArtifact(bytes, 'tflite', 'int8', 1000);
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  t.is(spec.sha256, sha(bytes));
  t.deepEqual(spec.chunkSha256, [sha(bytes.subarray(0, 1000)), sha(bytes.subarray(1000, 2000)), sha(bytes.subarray(2000))]);
  t.is(spec.bytes, 2500);
  t.is(describeArtifact(bytes, 'onnx', 'float32', 2500).chunkSha256.length, 1);
  t.throws(() => describeArtifact(new Uint8Array(0), 'onnx', 'float32', 10), { code: 'BAD_ARGUMENT', message: /artifact onnx\/float32 is empty/ });
  t.throws(() => describeArtifact(bytes, 'onnx', 'float32', 0), { code: 'BAD_ARGUMENT', message: /chunkBytes must be a positive integer, got 0/ });
});

test('checkArtifact: size mismatch is MODEL_CORRUPT, a changed byte MODEL_CHECKSUM naming the chunk', (t) => {
  const bytes = randomBytes(2500, 4);
  const spec = describeArtifact(bytes, 'onnx', 'float32', 1000);
  t.notThrows(() => checkArtifact(spec, bytes));
  t.throws(() => checkArtifact(spec, bytes.subarray(0, 2499)), { code: 'MODEL_CORRUPT', message: /is 2499 bytes, expected 2500 \(truncated\)/ });
  const longer = new Uint8Array(2501);
  longer.set(bytes);
  t.throws(() => checkArtifact(spec, longer), { code: 'MODEL_CORRUPT', message: /is 2501 bytes, expected 2500$/ });
  const flipped = bytes.slice();
  flipped[1500]! ^= 0x01;
  t.throws(() => checkArtifact(spec, flipped), { code: 'MODEL_CHECKSUM', message: /first bad chunk 1 of 3, bytes 1000\.\.1999/ });
});

test('checkChunk: bad index, wrong length, wrong hash', (t) => {
  const bytes = randomBytes(2500, 5);
  const spec = describeArtifact(bytes, 'onnx', 'float32', 1000);
  t.notThrows(() => checkChunk(spec, 2, bytes.subarray(2000)));
  t.throws(() => checkChunk(spec, 3, bytes.subarray(0, 10)), { code: 'BAD_ARGUMENT', message: 'chunk index 3 is outside 0..2' });
  t.throws(() => checkChunk(spec, -1, bytes.subarray(0, 10)), { code: 'BAD_ARGUMENT' });
  t.throws(() => checkChunk(spec, 0, bytes.subarray(0, 999)), { code: 'MODEL_CORRUPT', message: 'chunk 0 of 3 is 999 bytes, expected 1000 (truncated)' });
  t.throws(() => checkChunk(spec, 2, bytes.subarray(1000, 2000)), { code: 'MODEL_CORRUPT', message: 'chunk 2 of 3 is 1000 bytes, expected 500' });
  t.throws(() => checkChunk(spec, 1, bytes.subarray(0, 1000)), { code: 'MODEL_CHECKSUM', message: /^chunk 1 of 3: sha256 / });
});
