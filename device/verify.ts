/**
 * Device-side model verification. A device pins the gateway's public key(s) at provisioning time and
 * trusts a model only when (1) its manifest is well formed and signed by a pinned key and (2) every
 * byte it received matches the hashes in that manifest. Since the signature covers the hashes, (1)+(2)
 * means the bytes are the ones the gateway registered.
 *
 * Hashing uses node:crypto (OpenSSL, also on linux/arm64), not the pure-JS sha256 of src/: the device
 * hashes every byte it receives and the pure-JS one runs at ~19 MiB/s. Both give the same digest
 * (test/device-verify-hash.test.ts), so gateway and device agree on every manifest.
 *
 * Error codes: MODEL_SIGNATURE (missing, malformed, unknown-key or invalid signature), MODEL_CHECKSUM
 * (hash mismatch), MODEL_CORRUPT (size mismatch, truncation, missing chunks), BAD_PAYLOAD (malformed manifest).
 */
import * as crypto from 'node:crypto';
import { EdgeloopError } from '../src/errors.ts';
import type { ModelManifest } from '../src/manifest.ts';
import { checkArtifact, checkChunk, chunkLength, parseManifestForSignature } from '../src/manifest-validate.ts';
import { parsePublicKey, verify, type PublicKey } from '../io/ed25519.ts';
import { rollbackSigningBytes, type RollbackClaim, type SignedRollback } from '../src/contracts/device.ts';
import type { DowngradeGuard } from './model-store.ts';

export type PinnedKeys = PublicKey | readonly PublicKey[];

/** node:crypto's one-shot hash (Node >= 20.12): no Hash object per call. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'hex') => string }).hash;

/** sha256 (lowercase hex) through node:crypto; the device's hash for chunks and artifacts. */
export function sha256HexNode(data: Uint8Array): string {
  return oneShotHash ? oneShotHash('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');
}

/** Pins keys from their text form (SPKI PEM or raw base64), as stored in device configuration. */
export function pinKeys(texts: readonly string[]): PublicKey[] {
  if (texts.length === 0) throw new EdgeloopError('BAD_ARGUMENT', 'pinKeys: at least one public key is required');
  return texts.map((t) => parsePublicKey(t));
}

/**
 * Parses an untrusted manifest and checks its signature against the pinned key(s).
 * Returns the manifest; throws BAD_PAYLOAD or MODEL_SIGNATURE.
 */
export function verifyManifest(json: unknown, pinned: PinnedKeys): ModelManifest {
  const keys: readonly PublicKey[] = Array.isArray(pinned) ? pinned : [pinned as PublicKey];
  if (keys.length === 0) throw new EdgeloopError('BAD_ARGUMENT', 'verifyManifest: at least one pinned public key is required');
  // One canonical-JSON pass gives both the validation of the free-form parts and the signed bytes.
  const { manifest: m, signingBytes } = parseManifestForSignature(json);
  const what = `manifest ${m.model}@${m.version} ${m.artifact.format}/${m.artifact.variant}`;
  if (m.signature === undefined) throw new EdgeloopError('MODEL_SIGNATURE', `${what} is not signed`);
  const key = keys.find((k) => k.keyId === m.signature!.keyId);
  if (key === undefined) {
    throw new EdgeloopError('MODEL_SIGNATURE', `${what} is signed by unknown key ${m.signature.keyId}; pinned keys: ${keys.map((k) => k.keyId).join(', ')}`);
  }
  if (!verify(key, signingBytes, Buffer.from(m.signature.value, 'base64'))) {
    throw new EdgeloopError('MODEL_SIGNATURE', `${what}: signature by key ${key.keyId} is invalid (the manifest was changed after signing or the signature is forged)`);
  }
  return m;
}

/**
 * Artifacts ArtifactAssembler.finish() checked, by identity, with the sha256 they matched: the install
 * stages and smoke-tests exactly these bytes, so the model store need not hash them a second time
 * (device/model-store.ts checkArtifact). Bytes read back from disk are never in here: load() hashes them.
 */
const verifiedArtifacts = new WeakMap<Uint8Array, string>();

/** The sha256 finish() verified `bytes` against, or undefined for any other buffer. */
export function verifiedSha256(bytes: Uint8Array): string | undefined {
  return verifiedArtifacts.get(bytes);
}

/** Checks a complete artifact against a verified manifest (MODEL_CORRUPT / MODEL_CHECKSUM). */
export function verifyArtifact(manifest: ModelManifest, bytes: Uint8Array): void {
  checkArtifact(manifest.artifact, bytes, sha256HexNode);
}

/** Checks one transfer chunk against a verified manifest (BAD_ARGUMENT / MODEL_CORRUPT / MODEL_CHECKSUM). */
export function verifyChunk(manifest: ModelManifest, index: number, chunk: Uint8Array): void {
  checkChunk(manifest.artifact, index, chunk, sha256HexNode);
}

/**
 * Reassembles an artifact from chunks received in any order, verifying each chunk as it arrives so a
 * bad chunk is re-requested at once instead of after the whole download. Repeated good chunks are
 * accepted (retransmissions, not hashed again); a bad chunk is rejected and not kept. Each byte is
 * hashed once as its chunk arrives and once in the whole-file check of finish(), and not again when the
 * install stages the artifact (verifiedSha256).
 */
export class ArtifactAssembler {
  readonly #manifest: ModelManifest;
  readonly #buffer: Uint8Array;
  readonly #have: Uint8Array;
  #received = 0;

  constructor(manifest: ModelManifest) {
    this.#manifest = manifest;
    // Not zero-filled: finish() returns it only once every chunk, which together cover every byte
    // (checkChunk enforces each length), has been written into it.
    const memory = Buffer.allocUnsafeSlow(manifest.artifact.bytes); // its own ArrayBuffer, never the shared pool
    this.#buffer = new Uint8Array(memory.buffer, memory.byteOffset, memory.length);
    this.#have = new Uint8Array(manifest.artifact.chunkSha256.length);
  }

  get chunkCount(): number {
    return this.#have.length;
  }

  get receivedChunks(): number {
    return this.#received;
  }

  /** Verifies and stores chunk `index`; returns true when it was new. */
  add(index: number, chunk: Uint8Array): boolean {
    const n = this.#have.length;
    if (Number.isInteger(index) && index >= 0 && index < n && this.#have[index]) return false;
    checkChunk(this.#manifest.artifact, index, chunk, sha256HexNode);
    this.#buffer.set(chunk, index * this.#manifest.artifact.chunkBytes);
    this.#have[index] = 1;
    this.#received++;
    return true;
  }

  /** Indices still missing, in order. */
  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.#have.length; i++) if (!this.#have[i]) out.push(i);
    return out;
  }

  /** The verified artifact; MODEL_CORRUPT while chunks are missing. */
  finish(): Uint8Array {
    const missing = this.missing();
    if (missing.length > 0) {
      const bytesMissing = missing.reduce((s, i) => s + chunkLength(this.#manifest.artifact, i), 0);
      throw new EdgeloopError('MODEL_CORRUPT', `artifact incomplete: ${missing.length} of ${this.#have.length} chunks missing (${bytesMissing} bytes), first missing chunk ${missing[0]}`);
    }
    // Every chunk matched; the whole-file hash is checked too so a manifest whose chunk list and
    // sha256 disagree cannot slip through.
    const got = sha256HexNode(this.#buffer);
    if (got !== this.#manifest.artifact.sha256) throw new EdgeloopError('MODEL_CHECKSUM', `assembled artifact sha256 ${got.slice(0, 16)}… does not match the manifest's ${this.#manifest.artifact.sha256.slice(0, 16)}…`);
    verifiedArtifacts.set(this.#buffer, got);
    return this.#buffer;
  }
}

/**
 * Checks a signed rollback (install command.rollback) against the pinned key(s): the signature must be
 * by a pinned key over rollbackSigningBytes of exactly this fleet, device, model, version and issue
 * time. Freshness (replay, clock) is the caller's: it needs the device's persisted state.
 * Throws MODEL_SIGNATURE.
 */
export function verifyRollback(claim: Omit<RollbackClaim, 'issuedAtMs'>, rollback: SignedRollback, pinned: PinnedKeys): PublicKey {
  const keys: readonly PublicKey[] = Array.isArray(pinned) ? pinned : [pinned as PublicKey];
  const what = `signed rollback of ${claim.model} to v${claim.version} for ${claim.fleet}/${claim.device}`;
  const key = keys.find((k) => k.keyId === rollback.keyId);
  if (key === undefined) throw new EdgeloopError('MODEL_SIGNATURE', `${what} is signed by unknown key ${rollback.keyId}; pinned keys: ${keys.map((k) => k.keyId).join(', ')}`);
  if (!verify(key, rollbackSigningBytes({ ...claim, issuedAtMs: rollback.issuedAtMs }), Buffer.from(rollback.signature, 'base64'))) {
    throw new EdgeloopError('MODEL_SIGNATURE', `${what}: signature by key ${key.keyId} is invalid (it was made for another device, model, version or time, or is forged)`);
  }
  return key;
}

export const ROLLBACK_DEFAULTS = {
  /** A signed rollback issued further in the future than this (device clock vs gateway clock) is refused. */
  maxFutureMs: 5 * 60_000,
};

export interface DowngradeCheck {
  fleet: string;
  device: string;
  model: string;
  version: number;
  rollback?: SignedRollback;
  /** The model's persisted guard on this device. */
  guard: DowngradeGuard;
  /** Versions this device still keeps as active or previous (what the local `rollback` command may reach). */
  kept: readonly number[];
  nowMs: number;
  pinned: PinnedKeys;
  maxFutureMs?: number;
}

/**
 * May this install proceed? 'upgrade' (not below the high-water mark), 'kept' (below it, but a version
 * this device keeps for rollback: the unsigned `rollback` command may switch to it anyway), or
 * 'signed-rollback' (a valid, fresh signed rollback). Throws MODEL_DOWNGRADE (below the mark without
 * authorisation, or a replayed rollback), MODEL_SIGNATURE (rollback not signed by a pinned key for
 * exactly this device and version) or BAD_TIMESTAMP (rollback issued too far in the future).
 * A rollback field is always checked, even when the install would not need one: a forged one is refused.
 */
export function checkDowngrade(c: DowngradeCheck): 'upgrade' | 'kept' | 'signed-rollback' {
  const { model, version, guard } = c;
  if (c.rollback !== undefined) {
    verifyRollback({ fleet: c.fleet, device: c.device, model, version }, c.rollback, c.pinned);
    const issued = c.rollback.issuedAtMs;
    if (guard.rollbackIssuedAtMs !== null && issued <= guard.rollbackIssuedAtMs) {
      throw new EdgeloopError('MODEL_DOWNGRADE', `signed rollback of ${model} to v${version} issued at ${issued} is a replay: this device already accepted a rollback of ${model} issued at ${guard.rollbackIssuedAtMs}; sign a new one`);
    }
    const maxFutureMs = c.maxFutureMs ?? ROLLBACK_DEFAULTS.maxFutureMs;
    if (issued > c.nowMs + maxFutureMs) {
      throw new EdgeloopError('BAD_TIMESTAMP', `signed rollback of ${model} to v${version} is issued at ${issued}, ${Math.round((issued - c.nowMs) / 1000)} s ahead of this device's clock (at most ${maxFutureMs / 1000} s allowed)`);
    }
    return 'signed-rollback';
  }
  if (guard.highWater === null || version >= guard.highWater) return 'upgrade';
  if (c.kept.includes(version)) return 'kept';
  throw new EdgeloopError('MODEL_DOWNGRADE', `install ${model} v${version} refused: v${guard.highWater} was already activated on this device and v${version} is older; a downgrade needs a signed rollback (install command.rollback)`);
}
