/** Device-side verification against a pinned key: manifest signature, whole artifact, chunk by chunk. */
import test from 'ava';
import fc from 'fast-check';
import { generateKeyPair, sign, type KeyPair } from '../io/ed25519.ts';
import { manifestSigningBytes } from '../src/manifest-validate.ts';
import type { ModelManifest } from '../src/manifest.ts';
import { ArtifactAssembler, pinKeys, verifyArtifact, verifyChunk, verifyManifest } from '../device/verify.ts';
import { randomBytes, unsignedManifest } from './helpers/registry-fixture.ts';

const gateway = generateKeyPair();
const BYTES = randomBytes(5000, 11); // 5 chunks of 1024, the last 904 bytes

function signed(m: ModelManifest = unsignedManifest(BYTES), pair: KeyPair = gateway): ModelManifest {
  const { signature: _s, ...rest } = m;
  const value = Buffer.from(sign(pair.privateKey, manifestSigningBytes(rest))).toString('base64');
  // What arrives over the wire is JSON text.
  return JSON.parse(JSON.stringify({ ...rest, signature: { alg: 'ed25519', keyId: pair.publicKey.keyId, value } })) as ModelManifest;
}

test('a signed manifest verifies against the pinned key (PEM or raw base64), and its bytes against it', (t) => {
  const m = signed();
  for (const pinned of [pinKeys([gateway.publicKey.pem]), pinKeys([gateway.publicKey.rawBase64]), gateway.publicKey]) {
    const ok = verifyManifest(m, pinned);
    t.is(ok.artifact.sha256, m.artifact.sha256);
  }
  // Several pinned keys (a rotation window): any of them may have signed it.
  t.notThrows(() => verifyManifest(m, [generateKeyPair().publicKey, gateway.publicKey]));
  t.notThrows(() => verifyArtifact(m, BYTES));
});

test('a manifest changed after signing is MODEL_SIGNATURE', (t) => {
  const edits: ((m: ModelManifest) => void)[] = [
    (m) => { m.metrics.test_accuracy = 1; },
    (m) => { m.version = 2; },
    (m) => { m.artifact.sha256 = '0'.repeat(64); },
    (m) => { m.smokeTest.tolerance.abs = 10; },
    (m) => { m.classes = ['occupied', 'empty']; },
  ];
  for (const edit of edits) {
    const m = signed();
    edit(m);
    t.throws(() => verifyManifest(m, gateway.publicKey), { code: 'MODEL_SIGNATURE', message: /^manifest occupancy@\d+ onnx\/float32: signature by key [0-9a-f]{16} is invalid/ });
  }
});

test('a manifest signed by another key is MODEL_SIGNATURE naming the unknown keyId and the pinned ones', (t) => {
  const intruder = generateKeyPair();
  const m = signed(unsignedManifest(BYTES), intruder);
  t.throws(() => verifyManifest(m, gateway.publicKey), {
    code: 'MODEL_SIGNATURE', message: `manifest occupancy@1 onnx/float32 is signed by unknown key ${intruder.publicKey.keyId}; pinned keys: ${gateway.publicKey.keyId}`,
  });
  // Claiming the pinned keyId does not help: the signature does not verify under the pinned key.
  const forged = { ...m, signature: { ...m.signature!, keyId: gateway.publicKey.keyId } };
  t.throws(() => verifyManifest(forged, gateway.publicKey), { code: 'MODEL_SIGNATURE', message: /is invalid/ });
});

test('unsigned, malformed-signature and malformed manifests', (t) => {
  const { signature: _s, ...unsigned } = signed();
  t.throws(() => verifyManifest(unsigned, gateway.publicKey), { code: 'MODEL_SIGNATURE', message: 'manifest occupancy@1 onnx/float32 is not signed' });
  t.throws(() => verifyManifest({ ...signed(), signature: { alg: 'ed25519', keyId: 'x', value: 'y' } }, gateway.publicKey), { code: 'MODEL_SIGNATURE', message: /signature\.keyId: must be 16 lowercase hex/ });
  t.throws(() => verifyManifest({ ...signed(), task: 'ranking' }, gateway.publicKey), { code: 'BAD_PAYLOAD', message: /task: must be one of classification, regression/ });
  t.throws(() => verifyManifest('{}', gateway.publicKey), { code: 'BAD_PAYLOAD' });
  t.throws(() => verifyManifest(signed(), []), { code: 'BAD_ARGUMENT', message: 'verifyManifest: at least one pinned public key is required' });
  t.throws(() => pinKeys([]), { code: 'BAD_ARGUMENT', message: 'pinKeys: at least one public key is required' });
});

test('artifact bytes: flipped byte MODEL_CHECKSUM, truncated MODEL_CORRUPT', (t) => {
  const m = verifyManifest(signed(), gateway.publicKey);
  const flipped = BYTES.slice();
  flipped[4999]! ^= 0xff;
  t.throws(() => verifyArtifact(m, flipped), { code: 'MODEL_CHECKSUM', message: /first bad chunk 4 of 5, bytes 4096\.\.4999/ });
  t.throws(() => verifyArtifact(m, BYTES.subarray(0, 4096)), { code: 'MODEL_CORRUPT', message: 'artifact onnx/float32 is 4096 bytes, expected 5000 (truncated)' });
});

test('chunk by chunk: any order, retransmissions accepted, bad chunks rejected and re-requested', (t) => {
  const m = verifyManifest(signed(), gateway.publicKey);
  const chunk = (i: number) => BYTES.subarray(i * 1024, Math.min(5000, (i + 1) * 1024));
  const asm = new ArtifactAssembler(m);
  t.is(asm.chunkCount, 5);
  t.true(asm.add(3, chunk(3)));
  t.true(asm.add(0, chunk(0)));
  t.false(asm.add(3, chunk(3)), 'a retransmitted chunk is not new');
  const corrupted = chunk(1).slice();
  corrupted[10]! ^= 1;
  t.throws(() => asm.add(1, corrupted), { code: 'MODEL_CHECKSUM', message: /^chunk 1 of 5: sha256/ });
  t.throws(() => asm.add(4, chunk(4).subarray(0, 900)), { code: 'MODEL_CORRUPT', message: 'chunk 4 of 5 is 900 bytes, expected 904 (truncated)' });
  t.throws(() => asm.add(5, chunk(4)), { code: 'BAD_ARGUMENT', message: 'chunk index 5 is outside 0..4' });
  t.throws(() => verifyChunk(m, 2, chunk(1)), { code: 'MODEL_CHECKSUM' });
  t.deepEqual(asm.missing(), [1, 2, 4]);
  t.throws(() => asm.finish(), { code: 'MODEL_CORRUPT', message: 'artifact incomplete: 3 of 5 chunks missing (2952 bytes), first missing chunk 1' });
  for (const i of [4, 2, 1]) asm.add(i, chunk(i));
  t.is(asm.receivedChunks, 5);
  t.deepEqual(asm.finish(), BYTES);
});

test('a manifest whose chunk hashes and whole-file hash disagree cannot pass the assembler', (t) => {
  const other = randomBytes(5000, 12);
  const base = unsignedManifest(BYTES);
  // Chunk hashes of BYTES but the sha256 of other bytes, signed by the gateway (a buggy or malicious build).
  const m = signed({ ...base, artifact: { ...base.artifact, sha256: unsignedManifest(other).artifact.sha256 } });
  const asm = new ArtifactAssembler(verifyManifest(m, gateway.publicKey));
  for (let i = 0; i < 5; i++) asm.add(i, BYTES.subarray(i * 1024, Math.min(5000, (i + 1) * 1024)));
  t.throws(() => asm.finish(), { code: 'MODEL_CHECKSUM', message: /^assembled artifact sha256/ });
});

test('property: any single flipped byte is caught with the right chunk; any chunking reassembles exactly', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 1100 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (size, chunkBytes, where, mask) => {
      const bytes = randomBytes(size, size ^ chunkBytes);
      const m = signed(unsignedManifest(bytes, chunkBytes));
      const pinnedOk = verifyManifest(m, gateway.publicKey);
      const asm = new ArtifactAssembler(pinnedOk);
      for (let i = asm.chunkCount - 1; i >= 0; i--) asm.add(i, bytes.subarray(i * chunkBytes, (i + 1) * chunkBytes));
      if (!bytesEqual(asm.finish(), bytes)) return false;
      const pos = where % size;
      const bad = bytes.slice();
      bad[pos]! ^= mask;
      try {
        verifyArtifact(pinnedOk, bad);
        return false;
      } catch (err) {
        const e = err as { code: string; message: string };
        return e.code === 'MODEL_CHECKSUM' && e.message.includes(`first bad chunk ${Math.floor(pos / chunkBytes)} of ${asm.chunkCount}`);
      }
    }),
    { numRuns: 60, seed: 42 },
  );
  t.pass();
});

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
