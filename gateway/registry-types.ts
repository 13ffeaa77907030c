/**
 * Types of the model registry and the parsing of model references:
 * `name` (latest version), `name@3` (version 3), `name@production` (the version an alias points at).
 */
import { EdgeloopError } from '../src/errors.ts';
import { assertSafeName } from '../src/names.ts';
import type { ModelFormat, ModelManifest, ModelVariant, SmokeTest, TensorSpec } from '../src/manifest.ts';

export type Task = ModelManifest['task'];

/** Alias names: like other names but starting with a letter, so `name@3` can only mean a version. */
export const ALIAS_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** `name@latest` always means the highest version; it cannot be assigned. */
export const RESERVED_ALIASES = ['latest'] as const;

export type ModelRef =
  | { model: string; kind: 'latest' }
  | { model: string; kind: 'version'; version: number }
  | { model: string; kind: 'alias'; alias: string };

export function assertAlias(alias: unknown): string {
  if (typeof alias !== 'string' || !ALIAS_PATTERN.test(alias)) {
    throw new EdgeloopError('BAD_NAME', `alias ${JSON.stringify(alias)} is not allowed: use 1-64 characters of A-Z a-z 0-9 _ - starting with a letter`);
  }
  return alias;
}

export function parseRef(ref: string): ModelRef {
  if (typeof ref !== 'string') throw new EdgeloopError('BAD_ARGUMENT', `model reference must be a string like name, name@3 or name@production, got ${typeof ref}`);
  const at = ref.indexOf('@');
  if (at < 0) return { model: assertSafeName('model', ref), kind: 'latest' };
  const model = assertSafeName('model', ref.slice(0, at));
  const tail = ref.slice(at + 1);
  if (/^[0-9]+$/.test(tail)) {
    const version = Number(tail);
    if (!Number.isSafeInteger(version) || version < 1) throw new EdgeloopError('BAD_ARGUMENT', `model reference ${JSON.stringify(ref)}: version must be an integer >= 1`);
    return { model, kind: 'version', version };
  }
  if (tail === 'latest') return { model, kind: 'latest' };
  return { model, kind: 'alias', alias: assertAlias(tail) };
}

export function formatRef(r: ModelRef): string {
  switch (r.kind) {
    case 'latest':
      return r.model;
    case 'version':
      return `${r.model}@${r.version}`;
    case 'alias':
      return `${r.model}@${r.alias}`;
  }
}

export interface ArtifactInput {
  format: ModelFormat;
  variant: ModelVariant;
  bytes: Uint8Array;
  io: { inputs: TensorSpec[]; outputs: TensorSpec[] };
  metrics: Record<string, number>;
  /** Overrides the version's smoke test for this artifact (a quantized variant needs a wider tolerance). */
  smokeTest?: SmokeTest;
}

export interface RegisterInput {
  model: string;
  task: Task;
  artifacts: ArtifactInput[];
  classes?: string[];
  /** specHash is computed from spec when absent; when given it must match. */
  pipeline: { spec: unknown; fitted: unknown; specHash?: string };
  lineage: ModelManifest['lineage'];
  smokeTest: SmokeTest;
  reference: ModelManifest['reference'];
  createdBy: string;
  /** Transfer chunk size for the manifests (default 16 KiB). */
  chunkBytes?: number;
  /** The trainer's toJSON() document, kept so the version can be reloaded for re-export or retraining. */
  nativeModel?: unknown;
}

export interface ArtifactSummary {
  format: ModelFormat;
  variant: ModelVariant;
  bytes: number;
  sha256: string;
  metrics: Record<string, number>;
}

export interface VersionRecord {
  model: string;
  version: number;
  task: Task;
  createdAtMs: number;
  createdBy: string;
  classes?: string[];
  pipeline: { spec: unknown; fitted: unknown; specHash: string };
  lineage: ModelManifest['lineage'];
  smokeTest: SmokeTest;
  reference: ModelManifest['reference'];
  /** Aliases currently pointing at this version, sorted. */
  aliases: string[];
  artifacts: ArtifactSummary[];
  hasNativeModel: boolean;
}

export interface ModelSummary {
  model: string;
  task: Task;
  versions: number;
  latest: number;
  latestAtMs: number;
  aliases: Record<string, number>;
}

export interface AliasChange {
  model: string;
  alias: string;
  /** null when the alias is new. */
  fromVersion: number | null;
  toVersion: number;
  atMs: number;
  by: string;
}

export type VerifyCode = 'MODEL_CHECKSUM' | 'MODEL_SIGNATURE' | 'MODEL_CORRUPT' | 'BAD_PAYLOAD';

export interface ArtifactVerdict {
  format: ModelFormat;
  variant: ModelVariant;
  ok: boolean;
  /** Present when !ok. */
  code?: VerifyCode;
  message?: string;
}

export interface VerifyReport {
  model: string;
  version: number;
  ok: boolean;
  artifacts: ArtifactVerdict[];
}
