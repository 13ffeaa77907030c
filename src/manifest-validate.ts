/**
 * Runtime validation of model manifests (they arrive over MQTT and HTTP, so they are untrusted input),
 * the bytes a signature covers, and the pure artifact checks shared by the gateway registry and devices.
 *
 * parseManifest is strict: an unknown field is an error, because a device must not act on a field it
 * does not understand and a new field comes with a new `schema` version. Every problem is listed.
 */
import { EdgeloopError } from './errors.ts';
import { isSafeName } from './names.ts';
import { canonicalJson, sha256Hex } from './pipeline/hash.ts';
import { MANIFEST_SCHEMA, type ArtifactSpec, type ModelManifest } from './manifest.ts';

export const MODEL_FORMATS = ['onnx', 'tflite'] as const;
export const MODEL_VARIANTS = ['float32', 'float16', 'dynamic-int8', 'int8'] as const;
export const TENSOR_DTYPES = ['float32', 'float16', 'int8', 'uint8', 'int32', 'int64'] as const;
export const MANIFEST_TASKS = ['classification', 'regression'] as const;

const HEX64 = /^[0-9a-f]{64}$/;
const KEY_ID = /^[0-9a-f]{16}$/;
/** ed25519 signatures are 64 bytes: 86 base64 characters and '==' padding. */
const SIGNATURE_BASE64 = /^[A-Za-z0-9+/]{86}==$/;
const MAX_TEXT = 256;
const UTF8 = new TextEncoder();

type Obj = Record<string, unknown>;

class Problems {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`);
  }
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'object') return 'an object';
  return typeof v === 'number' ? String(v) : typeof v;
}

/** Checks `v` is an object with exactly the allowed keys (required ones present). */
function object(p: Problems, path: string, v: unknown, required: readonly string[], optional: readonly string[] = []): v is Obj {
  if (!isObject(v)) {
    p.add(path, `must be an object, got ${describe(v)}`);
    return false;
  }
  for (const k of required) if (!(k in v)) p.add(`${path}.${k}`, 'is required');
  const allowed = new Set([...required, ...optional]);
  for (const k of Object.keys(v)) if (!allowed.has(k)) p.add(`${path}.${k}`, `unknown field (allowed: ${[...allowed].join(', ')})`);
  return true;
}

function text(p: Problems, path: string, v: unknown, maxLength = MAX_TEXT): void {
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) p.add(path, `must be a string of 1-${maxLength} characters, got ${describe(v)}`);
}

function oneOf(p: Problems, path: string, v: unknown, allowed: readonly string[]): void {
  if (typeof v !== 'string' || !allowed.includes(v)) p.add(path, `must be one of ${allowed.join(', ')}, got ${describe(v)}`);
}

function integer(p: Problems, path: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) p.add(path, `must be an integer in ${min}..${max}, got ${describe(v)}`);
}

function hex64(p: Problems, path: string, v: unknown): void {
  if (typeof v !== 'string' || !HEX64.test(v)) p.add(path, `must be 64 lowercase hex characters (sha256), got ${describe(v)}`);
}

function finite(p: Problems, path: string, v: unknown, min = -Infinity): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) p.add(path, `must be a finite number${min > -Infinity ? ` >= ${min}` : ''}, got ${describe(v)}`);
}

/**
 * `v` must be plain JSON. `checked`: the caller has already encoded the whole manifest with
 * canonicalJson (which throws on anything else), so only an undefined part — which canonicalJson
 * leaves out of its object instead of refusing — is left to reject here.
 */
function jsonEncodable(p: Problems, path: string, v: unknown, checked: boolean): void {
  if (checked) {
    if (v === undefined) p.add(path, 'must be plain JSON (canonicalJson: cannot encode a value of type undefined)');
    return;
  }
  try {
    canonicalJson(v);
  } catch (err) {
    p.add(path, `must be plain JSON (${(err as Error).message})`);
  }
}

function matrix(p: Problems, path: string, v: unknown): number[][] | undefined {
  if (!Array.isArray(v) || v.length === 0) {
    p.add(path, `must be a non-empty array of number rows, got ${describe(v)}`);
    return undefined;
  }
  const before = p.list.length;
  v.forEach((row, i) => {
    if (!Array.isArray(row) || row.length === 0) p.add(`${path}[${i}]`, `must be a non-empty array of numbers, got ${describe(row)}`);
    else {
      const bad = row.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x));
      if (bad >= 0) p.add(`${path}[${i}][${bad}]`, `must be a finite number, got ${describe(row[bad])}`);
    }
  });
  return p.list.length === before ? (v as number[][]) : undefined;
}

function tensors(p: Problems, path: string, v: unknown): void {
  if (!Array.isArray(v) || v.length === 0) {
    p.add(path, `must be a non-empty array of tensor specs, got ${describe(v)}`);
    return;
  }
  v.forEach((t, i) => {
    const at = `${path}[${i}]`;
    if (!object(p, at, t, ['name', 'shape', 'dtype'])) return;
    text(p, `${at}.name`, t.name);
    oneOf(p, `${at}.dtype`, t.dtype, TENSOR_DTYPES);
    if (!Array.isArray(t.shape) || t.shape.length === 0) p.add(`${at}.shape`, `must be a non-empty array of dimensions, got ${describe(t.shape)}`);
    else t.shape.forEach((d, j) => {
      if (typeof d !== 'number' || !Number.isInteger(d) || (d < 1 && d !== -1)) p.add(`${at}.shape[${j}]`, `must be a positive integer or -1 (free dimension), got ${describe(d)}`);
    });
  });
}

function artifact(p: Problems, v: unknown): void {
  if (!object(p, 'artifact', v, ['format', 'variant', 'bytes', 'sha256', 'chunkBytes', 'chunkSha256'])) return;
  oneOf(p, 'artifact.format', v.format, MODEL_FORMATS);
  oneOf(p, 'artifact.variant', v.variant, MODEL_VARIANTS);
  integer(p, 'artifact.bytes', v.bytes, 1);
  hex64(p, 'artifact.sha256', v.sha256);
  integer(p, 'artifact.chunkBytes', v.chunkBytes, 1);
  if (!Array.isArray(v.chunkSha256)) {
    p.add('artifact.chunkSha256', `must be an array of sha256 hex strings, got ${describe(v.chunkSha256)}`);
    return;
  }
  v.chunkSha256.forEach((h, i) => hex64(p, `artifact.chunkSha256[${i}]`, h));
  if (Number.isInteger(v.bytes) && Number.isInteger(v.chunkBytes) && (v.bytes as number) > 0 && (v.chunkBytes as number) > 0) {
    const expected = Math.ceil((v.bytes as number) / (v.chunkBytes as number));
    if (v.chunkSha256.length !== expected) p.add('artifact.chunkSha256', `must hold ${expected} hashes (ceil(bytes / chunkBytes)), got ${v.chunkSha256.length}`);
  }
}

function smokeTest(p: Problems, v: unknown): void {
  if (!object(p, 'smokeTest', v, ['inputs', 'expected', 'tolerance'])) return;
  const inputs = matrix(p, 'smokeTest.inputs', v.inputs);
  const expected = matrix(p, 'smokeTest.expected', v.expected);
  if (inputs && expected && inputs.length !== expected.length) p.add('smokeTest.expected', `must have one row per input row (${inputs.length}), got ${expected.length}`);
  if (object(p, 'smokeTest.tolerance', v.tolerance, ['abs', 'rel'])) {
    finite(p, 'smokeTest.tolerance.abs', v.tolerance.abs, 0);
    finite(p, 'smokeTest.tolerance.rel', v.tolerance.rel, 0);
  }
}

/** Problems in the `signature` field only (the caller decides whether a missing signature is one). */
function signature(p: Problems, v: unknown): void {
  if (!object(p, 'signature', v, ['alg', 'keyId', 'value'])) return;
  if (v.alg !== 'ed25519') p.add('signature.alg', `must be "ed25519", got ${describe(v.alg)}`);
  if (typeof v.keyId !== 'string' || !KEY_ID.test(v.keyId)) p.add('signature.keyId', `must be 16 lowercase hex characters, got ${describe(v.keyId)}`);
  if (typeof v.value !== 'string' || !SIGNATURE_BASE64.test(v.value)) {
    p.add('signature.value', `must be a base64 ed25519 signature (64 bytes: 86 characters and '=='), got ${describe(v.value)}`);
  }
}

const TOP_REQUIRED = ['schema', 'model', 'version', 'createdAtMs', 'createdBy', 'task', 'artifact', 'io', 'pipeline', 'lineage', 'metrics', 'reference', 'smokeTest'] as const;
const TOP_OPTIONAL = ['classes', 'signature'] as const;

/**
 * Validates an untrusted manifest. Throws BAD_PAYLOAD listing every problem, or MODEL_SIGNATURE when
 * the only problems are in a present-but-malformed `signature`. Returns the same object, typed.
 */
export function parseManifest(json: unknown): ModelManifest {
  return validateManifest(json, false);
}

/**
 * parseManifest and the bytes the manifest's signature covers (manifestSigningBytes), in one
 * canonical-JSON pass over the manifest instead of two: encoding the whole manifest already proves that
 * its free-form parts (pipeline spec and fitted state, the drift reference profile: most of a real
 * manifest's size) are plain JSON, so they are not encoded once more just to check that. Devices call
 * this on every manifest they receive. Same errors as parseManifest.
 */
export function parseManifestForSignature(json: unknown): { manifest: ModelManifest; signingBytes: Uint8Array } {
  let canonical: string | null = null;
  if (isObject(json)) {
    try {
      canonical = canonicalJson(withoutSignature(json));
    } catch {
      canonical = null; // not plain JSON somewhere: validateManifest lists where
    }
  }
  const manifest = validateManifest(json, canonical !== null);
  return { manifest, signingBytes: canonical === null ? manifestSigningBytes(manifest) : UTF8.encode(canonical) };
}

/** jsonChecked: the whole manifest (without `signature`) went through canonicalJson without an error. */
function validateManifest(json: unknown, jsonChecked: boolean): ModelManifest {
  const p = new Problems();
  if (!object(p, 'manifest', json, TOP_REQUIRED, TOP_OPTIONAL)) throw new EdgeloopError('BAD_PAYLOAD', `invalid manifest: ${p.list[0]}`);
  const m = json;
  if (m.schema !== MANIFEST_SCHEMA) p.add('schema', `must be ${JSON.stringify(MANIFEST_SCHEMA)}, got ${describe(m.schema)}`);
  if (!isSafeName(m.model)) p.add('model', `must be 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit, got ${describe(m.model)}`);
  integer(p, 'version', m.version, 1);
  integer(p, 'createdAtMs', m.createdAtMs, 0);
  text(p, 'createdBy', m.createdBy);
  oneOf(p, 'task', m.task, MANIFEST_TASKS);
  if ('artifact' in m) artifact(p, m.artifact);
  if ('io' in m && object(p, 'io', m.io, ['inputs', 'outputs'])) {
    tensors(p, 'io.inputs', m.io.inputs);
    tensors(p, 'io.outputs', m.io.outputs);
  }
  if (m.classes !== undefined) {
    if (!Array.isArray(m.classes) || m.classes.length < 1) p.add('classes', `must be a non-empty array of strings, got ${describe(m.classes)}`);
    else {
      m.classes.forEach((c, i) => text(p, `classes[${i}]`, c));
      if (new Set(m.classes).size !== m.classes.length) p.add('classes', 'must not repeat a label');
    }
  }
  if ('pipeline' in m && object(p, 'pipeline', m.pipeline, ['spec', 'fitted', 'specHash'])) {
    jsonEncodable(p, 'pipeline.spec', m.pipeline.spec, jsonChecked);
    jsonEncodable(p, 'pipeline.fitted', m.pipeline.fitted, jsonChecked);
    hex64(p, 'pipeline.specHash', m.pipeline.specHash);
  }
  if ('lineage' in m && object(p, 'lineage', m.lineage, [], ['runId', 'dataset', 'datasetHash', 'parentVersion'])) {
    const l = m.lineage;
    if (l.runId !== undefined) text(p, 'lineage.runId', l.runId);
    if (l.dataset !== undefined) text(p, 'lineage.dataset', l.dataset);
    if (l.datasetHash !== undefined) hex64(p, 'lineage.datasetHash', l.datasetHash);
    if (l.parentVersion !== undefined) integer(p, 'lineage.parentVersion', l.parentVersion, 1);
  }
  if ('metrics' in m) {
    if (!isObject(m.metrics)) p.add('metrics', `must be an object of finite numbers, got ${describe(m.metrics)}`);
    else for (const [k, v] of Object.entries(m.metrics)) finite(p, `metrics.${k}`, v);
  }
  if ('reference' in m && m.reference !== null && object(p, 'reference', m.reference, ['profile'])) jsonEncodable(p, 'reference.profile', m.reference.profile, jsonChecked);
  if ('smokeTest' in m) smokeTest(p, m.smokeTest);
  const structural = p.list.length;
  if (m.signature !== undefined) signature(p, m.signature);
  if (p.list.length > 0) {
    const code = structural === 0 ? 'MODEL_SIGNATURE' : 'BAD_PAYLOAD';
    throw new EdgeloopError(code, `invalid manifest (${p.list.length} problem${p.list.length === 1 ? '' : 's'}):\n  - ${p.list.join('\n  - ')}`);
  }
  return m as unknown as ModelManifest;
}

/** The bytes a manifest signature covers: UTF-8 of canonicalJson(manifest without `signature`). */
export function manifestSigningBytes(m: ModelManifest): Uint8Array {
  return UTF8.encode(canonicalJson(withoutSignature(m)));
}

/**
 * The manifest's members but `signature`, in their order: a manifest parsed from canonical text (as the
 * gateway publishes it) stays in canonical order, so canonicalJson takes its fast path.
 */
function withoutSignature(m: object): Record<string, unknown> {
  const { signature: _, ...rest } = m as Record<string, unknown>;
  return rest;
}

/** The artifact spec (sizes and hashes) of `bytes` cut into `chunkBytes` chunks. */
export function describeArtifact(bytes: Uint8Array, format: ArtifactSpec['format'], variant: ArtifactSpec['variant'], chunkBytes: number): ArtifactSpec {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw new EdgeloopError('BAD_ARGUMENT', `chunkBytes must be a positive integer, got ${chunkBytes}`);
  if (bytes.length === 0) throw new EdgeloopError('BAD_ARGUMENT', `artifact ${format}/${variant} is empty; an artifact must hold at least 1 byte`);
  const chunkSha256: string[] = [];
  for (let off = 0; off < bytes.length; off += chunkBytes) chunkSha256.push(sha256Hex(bytes.subarray(off, off + chunkBytes)));
  return { format, variant, bytes: bytes.length, sha256: sha256Hex(bytes), chunkBytes, chunkSha256 };
}

/** Expected length of chunk `index` of an artifact (every chunk is chunkBytes long except the last). */
export function chunkLength(spec: ArtifactSpec, index: number): number {
  return index === spec.chunkSha256.length - 1 ? spec.bytes - spec.chunkBytes * index : spec.chunkBytes;
}

/** A sha256 returning lowercase hex. Devices pass node:crypto's (≈50x faster than the pure-JS default). */
export type Sha256Hex = (data: Uint8Array) => string;

/**
 * Checks one transfer chunk against the manifest: MODEL_CORRUPT when its length is wrong,
 * MODEL_CHECKSUM when its hash differs, BAD_ARGUMENT for an index outside the artifact.
 */
export function checkChunk(spec: ArtifactSpec, index: number, chunk: Uint8Array, sha256: Sha256Hex = sha256Hex): void {
  const n = spec.chunkSha256.length;
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new EdgeloopError('BAD_ARGUMENT', `chunk index ${index} is outside 0..${n - 1}`);
  const expected = chunkLength(spec, index);
  if (chunk.length !== expected) {
    throw new EdgeloopError('MODEL_CORRUPT', `chunk ${index} of ${n} is ${chunk.length} bytes, expected ${expected}${chunk.length < expected ? ' (truncated)' : ''}`);
  }
  const got = sha256(chunk);
  if (got !== spec.chunkSha256[index]) throw new EdgeloopError('MODEL_CHECKSUM', `chunk ${index} of ${n}: sha256 ${got.slice(0, 16)}… does not match the manifest's ${spec.chunkSha256[index]!.slice(0, 16)}…`);
}

/**
 * Checks a whole artifact against the manifest: MODEL_CORRUPT for a size mismatch (truncated or too
 * long), MODEL_CHECKSUM for a hash mismatch (naming the first bad chunk).
 */
export function checkArtifact(spec: ArtifactSpec, bytes: Uint8Array, sha256: Sha256Hex = sha256Hex): void {
  if (bytes.length !== spec.bytes) {
    throw new EdgeloopError('MODEL_CORRUPT', `artifact ${spec.format}/${spec.variant} is ${bytes.length} bytes, expected ${spec.bytes}${bytes.length < spec.bytes ? ' (truncated)' : ''}`);
  }
  const got = sha256(bytes);
  if (got === spec.sha256) return;
  const n = spec.chunkSha256.length;
  let firstBad = -1;
  for (let i = 0; i < n && firstBad < 0; i++) {
    const off = i * spec.chunkBytes;
    if (sha256(bytes.subarray(off, off + spec.chunkBytes)) !== spec.chunkSha256[i]) firstBad = i;
  }
  const where = firstBad >= 0 ? ` (first bad chunk ${firstBad} of ${n}, bytes ${firstBad * spec.chunkBytes}..${Math.min(spec.bytes, (firstBad + 1) * spec.chunkBytes) - 1})` : '';
  throw new EdgeloopError('MODEL_CHECKSUM', `artifact ${spec.format}/${spec.variant}: sha256 ${got.slice(0, 16)}… does not match the manifest's ${spec.sha256.slice(0, 16)}…${where}`);
}
