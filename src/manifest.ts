/**
 * The model manifest: everything a device needs to fetch, verify, run and monitor a model. It is signed
 * by the gateway (ed25519 over the canonical JSON of the manifest without `signature`); since it carries
 * the artifact's sha256 and per-chunk hashes, the signature covers the artifact too.
 * Published retained on edgeloop/<fleet>/models/<model>/<version>/manifest.
 */

export const MANIFEST_SCHEMA = 'edgeloop.manifest/1' as const;

export type ModelFormat = 'onnx' | 'tflite';
export type ModelVariant = 'float32' | 'float16' | 'dynamic-int8' | 'int8';
export type TensorDtype = 'float32' | 'float16' | 'int8' | 'uint8' | 'int32' | 'int64';

export interface TensorSpec {
  name: string;
  /** -1 marks the batch (or another free) dimension. */
  shape: number[];
  dtype: TensorDtype;
}

export interface ArtifactSpec {
  format: ModelFormat;
  variant: ModelVariant;
  /** Size of the artifact file. */
  bytes: number;
  /** Lowercase hex sha256 of the whole artifact. */
  sha256: string;
  /** Transfer chunking: every chunk is chunkBytes long except the last. */
  chunkBytes: number;
  /** Lowercase hex sha256 of each chunk, in order. */
  chunkSha256: string[];
}

export interface SmokeTest {
  /** Input rows (already through the pipeline: what the model's input tensor receives). */
  inputs: number[][];
  /** Expected first-output rows for those inputs. */
  expected: number[][];
  /** Accept |got - expected| <= abs + rel * |expected|. */
  tolerance: { abs: number; rel: number };
}

export interface ManifestSignature {
  alg: 'ed25519';
  /** sha256 (hex, first 16 chars) of the public key's raw bytes: which pinned key verifies it. */
  keyId: string;
  /** base64 signature over canonicalJson(manifest without `signature`). */
  value: string;
}

export interface ModelManifest {
  schema: typeof MANIFEST_SCHEMA;
  model: string;
  version: number;
  createdAtMs: number;
  createdBy: string;
  task: 'classification' | 'regression';
  artifact: ArtifactSpec;
  io: { inputs: TensorSpec[]; outputs: TensorSpec[] };
  /** Class labels in output order (classification). */
  classes?: string[];
  /** The data pipeline spec and its fitted state: the device computes features with the same src/ code. */
  pipeline: { spec: unknown; fitted: unknown; specHash: string };
  lineage: { runId?: string; dataset?: string; datasetHash?: string; parentVersion?: number };
  /** Metrics of this variant on the evaluation splits (e.g. test_accuracy). */
  metrics: Record<string, number>;
  /** Reference profile for drift monitoring (filled by the drift monitoring at export time). */
  reference: { profile: unknown } | null;
  smokeTest: SmokeTest;
  signature?: ManifestSignature;
}
