/**
 * The device hashes with node:crypto (device/verify.ts), the gateway with the pure-JS sha256 of
 * src/pipeline/hash.ts (describeArtifact at registration). They must agree byte for byte, or every
 * manifest would be refused: check them on the padding edge cases and on random data, and check an
 * artifact described by the gateway assembles and verifies on the device — a tampered one does not.
 */
import test from 'ava';
import { sha256Hex } from '../src/pipeline/hash.ts';
import { describeArtifact } from '../src/manifest-validate.ts';
import { createRandom } from '../src/random.ts';
import { isEdgeloopError } from '../src/errors.ts';
import type { ModelManifest } from '../src/manifest.ts';
import { ArtifactAssembler, sha256HexNode, verifyArtifact, verifyChunk } from '../device/verify.ts';

test('node:crypto and the pure-JS sha256 give the same digest (padding edges, random data, known vector)', (t) => {
  t.is(sha256HexNode(new TextEncoder().encode('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const rnd = createRandom(7);
  const sizes = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 16 * 1024, 100_001];
  for (let i = 0; i < 20; i++) sizes.push(rnd.int(5000));
  for (const n of sizes) {
    const bytes = Uint8Array.from({ length: n }, () => rnd.int(256));
    t.is(sha256HexNode(bytes), sha256Hex(bytes), `${n} bytes`);
  }
});

test('an artifact described by the gateway assembles on the device in any order; a flipped byte is refused', (t) => {
  const rnd = createRandom(11);
  const bytes = Uint8Array.from({ length: 50_000 }, () => rnd.int(256));
  const artifact = describeArtifact(bytes, 'onnx', 'float32', 4096);
  const manifest = { model: 'm', version: 1, artifact } as unknown as ModelManifest;
  const asm = new ArtifactAssembler(manifest);
  const order = Array.from({ length: artifact.chunkSha256.length }, (_, i) => i).reverse();
  for (const i of order) t.true(asm.add(i, bytes.subarray(i * 4096, (i + 1) * 4096)));
  t.false(asm.add(0, bytes.subarray(0, 4096)), 'a retransmission is not new');
  t.deepEqual(Buffer.from(asm.finish()), Buffer.from(bytes));
  verifyArtifact(manifest, bytes);

  const bad = Buffer.from(bytes.subarray(4096, 8192));
  bad[10] ^= 1;
  const e1 = t.throws(() => verifyChunk(manifest, 1, bad));
  t.true(isEdgeloopError(e1, 'MODEL_CHECKSUM'));
  t.regex(e1!.message, /chunk 1 of 13: sha256 [0-9a-f]{16}… does not match/);
  const fresh = new ArtifactAssembler(manifest);
  const e2 = t.throws(() => fresh.add(1, bad));
  t.true(isEdgeloopError(e2, 'MODEL_CHECKSUM'));
  t.is(fresh.receivedChunks, 0);
  const tampered = Uint8Array.from(bytes);
  tampered[30_000] ^= 0x80;
  const e3 = t.throws(() => verifyArtifact(manifest, tampered));
  t.true(isEdgeloopError(e3, 'MODEL_CHECKSUM'));
  t.regex(e3!.message, /first bad chunk 7 of 13/);
});
