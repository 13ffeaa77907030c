/** Signed manifests for the device and transfer tests, around the real ONNX fixture test/fixtures/device-mlp.onnx. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MANIFEST_SCHEMA, type ModelManifest, type SmokeTest } from '../../src/manifest.ts';
import { describeArtifact, manifestSigningBytes } from '../../src/manifest-validate.ts';
import { generateKeyPair, sign, type KeyPair } from '../../io/ed25519.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface MlpFixture {
  bytes: Uint8Array;
  smoke: SmokeTest;
}

export function mlpFixture(): MlpFixture {
  const bytes = new Uint8Array(readFileSync(FIXTURES + 'device-mlp.onnx'));
  const json = JSON.parse(readFileSync(FIXTURES + 'device-mlp.json', 'utf8')) as { inputs: number[][]; expected: number[][] };
  return { bytes, smoke: { inputs: json.inputs, expected: json.expected, tolerance: { abs: 1e-5, rel: 1e-4 } } };
}

export function keyPair(): KeyPair {
  return generateKeyPair();
}

export interface ManifestInput {
  model: string;
  version: number;
  bytes: Uint8Array;
  chunkBytes: number;
  smoke: SmokeTest;
  /** Sign with this pair; null leaves the manifest unsigned. */
  pair: KeyPair | null;
}

export function buildManifest(input: ManifestInput): ModelManifest {
  const m: ModelManifest = {
    schema: MANIFEST_SCHEMA,
    model: input.model,
    version: input.version,
    createdAtMs: 1_700_000_000_000,
    createdBy: 'test',
    task: 'classification',
    artifact: describeArtifact(input.bytes, 'onnx', 'float32', input.chunkBytes),
    io: { inputs: [{ name: 'input', shape: [-1, 4], dtype: 'float32' }], outputs: [{ name: 'probabilities', shape: [-1, 2], dtype: 'float32' }] },
    classes: ['empty', 'occupied'],
    pipeline: { spec: {}, fitted: {}, specHash: '0'.repeat(64) },
    lineage: {},
    metrics: { test_accuracy: 0.9 },
    reference: null,
    smokeTest: input.smoke,
  };
  if (input.pair) {
    const sig = sign(input.pair.privateKey, manifestSigningBytes(m));
    m.signature = { alg: 'ed25519', keyId: input.pair.publicKey.keyId, value: Buffer.from(sig).toString('base64') };
  }
  return m;
}

/** A smoke test the fixture model fails (expected outputs swapped between the two classes). */
export function failingSmoke(smoke: SmokeTest): SmokeTest {
  return { ...smoke, expected: smoke.expected.map((row) => row.slice().reverse()) };
}
