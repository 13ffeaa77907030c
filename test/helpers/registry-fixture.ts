/** Shared inputs for the registry, manifest and device-verification tests. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRandom } from '../../src/random.ts';
import { specHash } from '../../src/pipeline/hash.ts';
import { MANIFEST_SCHEMA, type ModelManifest } from '../../src/manifest.ts';
import { describeArtifact } from '../../src/manifest-validate.ts';
import type { RegisterInput } from '../../gateway/registry.ts';

/** A real file (the UCI occupancy test split, ~200 KB): bytes that were not made up for the test. */
export function realBytes(): Uint8Array {
  return new Uint8Array(readFileSync(fileURLToPath(new URL('../../datasets/occupancy/datatest.txt', import.meta.url))));
}

export function randomBytes(n: number, seed: number): Uint8Array {
  const r = createRandom(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = r.int(256);
  return out;
}

export const PIPELINE_SPEC = { features: ['CO2', 'Light'], window: { sizeS: 60 } };

export function registerInput(overrides: Partial<RegisterInput> = {}): RegisterInput {
  return {
    model: 'occupancy',
    task: 'classification',
    classes: ['empty', 'occupied'],
    artifacts: [
      {
        format: 'onnx', variant: 'float32', bytes: realBytes(),
        io: { inputs: [{ name: 'x', shape: [-1, 2], dtype: 'float32' }], outputs: [{ name: 'p', shape: [-1, 2], dtype: 'float32' }] },
        metrics: { test_accuracy: 0.978 },
      },
      {
        format: 'tflite', variant: 'int8', bytes: randomBytes(40_000, 7),
        io: { inputs: [{ name: 'x', shape: [1, 2], dtype: 'int8' }], outputs: [{ name: 'p', shape: [1, 2], dtype: 'float32' }] },
        metrics: { test_accuracy: 0.97 },
        smokeTest: { inputs: [[0.1, 0.2]], expected: [[0.9, 0.1]], tolerance: { abs: 0.05, rel: 0 } },
      },
    ],
    pipeline: { spec: PIPELINE_SPEC, fitted: { mean: [600, 120], std: [200, 190] } },
    lineage: { runId: 'run-1', dataset: 'occ-v1', datasetHash: 'a'.repeat(64) },
    smokeTest: { inputs: [[0.1, 0.2], [1, 2]], expected: [[0.9, 0.1], [0.2, 0.8]], tolerance: { abs: 1e-5, rel: 1e-4 } },
    reference: { profile: { CO2: { bins: [0, 500, 1000], counts: [3, 4] } } },
    createdBy: 'test',
    ...overrides,
  };
}

/** A well-formed, unsigned manifest for `bytes`. */
export function unsignedManifest(bytes: Uint8Array = randomBytes(5000, 1), chunkBytes = 1024): ModelManifest {
  return {
    schema: MANIFEST_SCHEMA,
    model: 'occupancy',
    version: 1,
    createdAtMs: 1_700_000_000_000,
    createdBy: 'test',
    task: 'classification',
    artifact: describeArtifact(bytes, 'onnx', 'float32', chunkBytes),
    io: { inputs: [{ name: 'x', shape: [-1, 2], dtype: 'float32' }], outputs: [{ name: 'p', shape: [-1, 2], dtype: 'float32' }] },
    classes: ['empty', 'occupied'],
    pipeline: { spec: PIPELINE_SPEC, fitted: { mean: [1, 2] }, specHash: specHash(PIPELINE_SPEC) },
    lineage: { runId: 'run-1' },
    metrics: { test_accuracy: 0.9 },
    reference: null,
    smokeTest: { inputs: [[1, 2]], expected: [[0.5, 0.5]], tolerance: { abs: 1e-5, rel: 0 } },
  };
}
