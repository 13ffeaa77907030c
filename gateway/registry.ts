/**
 * The model registry: models, numbered versions, artifacts (bytes in SQLite BLOBs), one signed
 * manifest per artifact, aliases (`staging`, `production`, …) with their history, and the trainer's
 * native model document. It shares the gateway's SQLite file (SqliteStore.database).
 *
 * Manifests are built, validated and signed at registration and stored as signed; `verify` re-checks
 * stored bytes against them, so tampering with the file is detected rather than shipped to devices.
 */
import { EdgeloopError } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { assertSafeName } from '../src/names.ts';
import { MANIFEST_SCHEMA, type ArtifactSpec, type ModelFormat, type ModelManifest, type ModelVariant } from '../src/manifest.ts';
import { checkArtifact, describeArtifact, manifestSigningBytes, parseManifest, MANIFEST_TASKS, MODEL_FORMATS, MODEL_VARIANTS } from '../src/manifest-validate.ts';
import { specHash } from '../src/pipeline/hash.ts';
import { loadOrCreateKeyPair, sign, verify, type KeyPair, type PublicKey } from '../io/ed25519.ts';
import type { SqliteDatabase } from '../io/sqlite.ts';
import { rollbackSigningBytes, type SignedRollback } from '../src/contracts/device.ts';
import {
  assertAlias, parseRef, RESERVED_ALIASES,
  type AliasChange, type ArtifactSummary, type ArtifactVerdict, type ModelSummary, type RegisterInput, type Task, type VerifyCode, type VerifyReport, type VersionRecord,
} from './registry-types.ts';

export * from './registry-types.ts';

export const REGISTRY_DEFAULTS = {
  /** Transfer chunk size written into manifests: small enough for constrained MQTT brokers and devices. */
  chunkBytes: 16 * 1024,
  /** Largest chunk size accepted (MQTT's default maximum packet size on many brokers is far below). */
  maxChunkBytes: 16 * 1024 * 1024,
};

export interface RegistryOptions {
  database: SqliteDatabase;
  /** Folder holding the gateway's ed25519 key pair (generated on first use, mode 0600). */
  keyDir: string;
  /** Earlier public keys still accepted by `verify` (after a key rotation). */
  trustedKeys?: PublicKey[];
  now?: () => number;
  logger?: Logger;
}

export interface RegisterResult {
  model: string;
  version: number;
  manifests: ModelManifest[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS registry_models (name TEXT PRIMARY KEY, task TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS registry_versions (
  model TEXT NOT NULL REFERENCES registry_models (name), version INTEGER NOT NULL, created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL, classes TEXT, pipeline TEXT NOT NULL, spec_hash TEXT NOT NULL, lineage TEXT NOT NULL,
  run_id TEXT, dataset TEXT, smoke_test TEXT NOT NULL, reference TEXT, native_model TEXT,
  PRIMARY KEY (model, version)
);
CREATE INDEX IF NOT EXISTS registry_versions_by_run ON registry_versions (run_id);
CREATE TABLE IF NOT EXISTS registry_artifacts (
  model TEXT NOT NULL, version INTEGER NOT NULL, format TEXT NOT NULL, variant TEXT NOT NULL, bytes BLOB NOT NULL,
  size INTEGER NOT NULL, sha256 TEXT NOT NULL, metrics TEXT NOT NULL, manifest TEXT NOT NULL,
  PRIMARY KEY (model, version, format, variant), FOREIGN KEY (model, version) REFERENCES registry_versions (model, version)
);
CREATE TABLE IF NOT EXISTS registry_aliases (
  model TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL,
  PRIMARY KEY (model, alias), FOREIGN KEY (model, version) REFERENCES registry_versions (model, version)
);
CREATE TABLE IF NOT EXISTS registry_alias_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, alias TEXT NOT NULL, from_version INTEGER,
  to_version INTEGER NOT NULL, at INTEGER NOT NULL, by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS registry_alias_history_by_model ON registry_alias_history (model, id);
`;

interface VersionRow {
  model: string; version: number; task: Task; created_at: number; created_by: string; classes: string | null; pipeline: string;
  lineage: string; smoke_test: string; reference: string | null; has_native: number;
}

interface ArtifactRow { format: ModelFormat; variant: ModelVariant; bytes: Buffer; size: number; sha256: string; metrics: string; manifest: string }

function toBlob(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class Registry {
  readonly #db: SqliteDatabase;
  readonly #keys: KeyPair;
  readonly #trusted: Map<string, PublicKey>;
  readonly #now: () => number;
  readonly #log: Logger;

  private constructor(db: SqliteDatabase, keys: KeyPair, options: RegistryOptions) {
    this.#db = db;
    this.#keys = keys;
    this.#trusted = new Map([...(options.trustedKeys ?? []), keys.publicKey].map((k) => [k.keyId, k]));
    this.#now = options.now ?? Date.now;
    this.#log = (options.logger ?? silentLogger).child('registry');
  }

  static async create(options: RegistryOptions): Promise<Registry> {
    options.database.exec(SCHEMA);
    const { pair, created } = loadOrCreateKeyPair(options.keyDir);
    const registry = new Registry(options.database, pair, options);
    registry.#log.info(created ? `generated signing key ${pair.publicKey.keyId} in ${options.keyDir}` : `loaded signing key ${pair.publicKey.keyId}`);
    return registry;
  }

  /** The key devices pin to verify manifests. */
  publicKey(): { keyId: string; pem: string; rawBase64: string } {
    const { keyId, pem, rawBase64 } = this.#keys.publicKey;
    return { keyId, pem, rawBase64 };
  }

  /**
   * Signs a rollback: authorises one device to install `model@version` although it is below the
   * highest version the device ever activated (devices refuse such a downgrade otherwise, with
   * MODEL_DOWNGRADE). Put the result in the install command's `rollback` field. The device accepts each
   * issuedAtMs once and only if newer than the last rollback it accepted for that model.
   */
  signRollback(claim: { fleet: string; device: string; ref: string; issuedAtMs?: number }): { model: string; version: number; rollback: SignedRollback } {
    const fleet = assertSafeName('fleet', claim.fleet);
    const device = assertSafeName('device', claim.device);
    const { model, version } = this.#locate(claim.ref);
    const issuedAtMs = claim.issuedAtMs ?? this.#now();
    if (!Number.isSafeInteger(issuedAtMs) || issuedAtMs < 0) throw new EdgeloopError('BAD_ARGUMENT', `signRollback: issuedAtMs must be a non-negative integer (epoch ms), got ${issuedAtMs}`);
    const signature = Buffer.from(sign(this.#keys.privateKey, rollbackSigningBytes({ fleet, device, model, version, issuedAtMs }))).toString('base64');
    this.#log.info(`signed rollback of ${fleet}/${device} to ${model}@${version}`, { issuedAtMs });
    return { model, version, rollback: { issuedAtMs, keyId: this.#keys.publicKey.keyId, signature } };
  }

  async register(input: RegisterInput): Promise<RegisterResult> {
    const model = assertSafeName('model', input.model);
    if (!MANIFEST_TASKS.includes(input.task)) throw new EdgeloopError('BAD_ARGUMENT', `register: task must be one of ${MANIFEST_TASKS.join(', ')}, got ${JSON.stringify(input.task)}`);
    if (typeof input.createdBy !== 'string' || input.createdBy.length === 0) throw new EdgeloopError('BAD_ARGUMENT', 'register: createdBy must be a non-empty string (who or what registered the model)');
    const chunkBytes = input.chunkBytes ?? REGISTRY_DEFAULTS.chunkBytes;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > REGISTRY_DEFAULTS.maxChunkBytes) {
      throw new EdgeloopError('BAD_ARGUMENT', `register: chunkBytes must be an integer in 1..${REGISTRY_DEFAULTS.maxChunkBytes}, got ${input.chunkBytes}`);
    }
    if (!Array.isArray(input.artifacts) || input.artifacts.length === 0) throw new EdgeloopError('BAD_ARGUMENT', 'register: artifacts must hold at least one artifact');
    const seen = new Set<string>();
    for (const a of input.artifacts) {
      if (!MODEL_FORMATS.includes(a.format)) throw new EdgeloopError('BAD_ARGUMENT', `register: artifact format must be one of ${MODEL_FORMATS.join(', ')}, got ${JSON.stringify(a.format)}`);
      if (!MODEL_VARIANTS.includes(a.variant)) throw new EdgeloopError('BAD_ARGUMENT', `register: artifact variant must be one of ${MODEL_VARIANTS.join(', ')}, got ${JSON.stringify(a.variant)}`);
      if (!(a.bytes instanceof Uint8Array)) throw new EdgeloopError('BAD_ARGUMENT', `register: artifact ${a.format}/${a.variant} bytes must be a Uint8Array`);
      const key = `${a.format}/${a.variant}`;
      if (seen.has(key)) throw new EdgeloopError('BAD_ARGUMENT', `register: artifact ${key} is listed twice; one artifact per format and variant`);
      seen.add(key);
    }
    const computedHash = specHash(input.pipeline.spec);
    if (input.pipeline.specHash !== undefined && input.pipeline.specHash !== computedHash) {
      throw new EdgeloopError('BAD_ARGUMENT', `register: pipeline.specHash ${input.pipeline.specHash.slice(0, 12)}… does not match the spec's hash ${computedHash.slice(0, 12)}…`);
    }
    const pipeline = { spec: input.pipeline.spec, fitted: input.pipeline.fitted, specHash: computedHash };
    // Hash outside the write transaction: it is the slow part and needs no lock.
    const specs: ArtifactSpec[] = input.artifacts.map((a) => describeArtifact(a.bytes, a.format, a.variant, chunkBytes));
    const nativeJson = input.nativeModel === undefined ? null : JSON.stringify(input.nativeModel);

    // IMMEDIATE: take the write lock before reading max(version), so two writers cannot pick the same number.
    const result = this.#db.transaction((): RegisterResult => {
      const existing = this.#db.prepare('SELECT task FROM registry_models WHERE name = ?').pluck().get(model) as Task | undefined;
      if (existing !== undefined && existing !== input.task) {
        throw new EdgeloopError('BAD_ARGUMENT', `register: model ${model} is a ${existing} model; cannot add a ${input.task} version (use another model name)`);
      }
      const createdAtMs = this.#now();
      if (existing === undefined) this.#db.prepare('INSERT INTO registry_models (name, task, created_at) VALUES (?, ?, ?)').run(model, input.task, createdAtMs);
      const version = ((this.#db.prepare('SELECT max(version) FROM registry_versions WHERE model = ?').pluck().get(model) as number | null) ?? 0) + 1;
      const manifests = input.artifacts.map((a, i) => {
        const unsigned: ModelManifest = {
          schema: MANIFEST_SCHEMA, model, version, createdAtMs, createdBy: input.createdBy, task: input.task, artifact: specs[i]!,
          io: a.io, classes: input.classes, pipeline, lineage: input.lineage, metrics: a.metrics, reference: input.reference,
          smokeTest: a.smokeTest ?? input.smokeTest,
        };
        if (unsigned.classes === undefined) delete unsigned.classes;
        return this.#sign(unsigned);
      });
      this.#db.prepare(
        `INSERT INTO registry_versions (model, version, created_at, created_by, classes, pipeline, spec_hash, lineage, run_id, dataset, smoke_test, reference, native_model)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        model, version, createdAtMs, input.createdBy, input.classes === undefined ? null : JSON.stringify(input.classes), JSON.stringify(pipeline), computedHash,
        JSON.stringify(input.lineage), input.lineage.runId ?? null, input.lineage.dataset ?? null, JSON.stringify(input.smokeTest),
        input.reference === null ? null : JSON.stringify(input.reference), nativeJson,
      );
      const insertArtifact = this.#db.prepare('INSERT INTO registry_artifacts (model, version, format, variant, bytes, size, sha256, metrics, manifest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      input.artifacts.forEach((a, i) => {
        insertArtifact.run(model, version, a.format, a.variant, toBlob(a.bytes), specs[i]!.bytes, specs[i]!.sha256, JSON.stringify(a.metrics), JSON.stringify(manifests[i]));
      });
      return { model, version, manifests };
    }).immediate();
    this.#log.info(`registered ${model}@${result.version}`, { artifacts: result.manifests.map((m) => `${m.artifact.format}/${m.artifact.variant}`) });
    return result;
  }

  /** Validates (BAD_ARGUMENT naming every problem) and signs a manifest. */
  #sign(unsigned: ModelManifest): ModelManifest {
    try {
      parseManifest(unsigned);
    } catch (err) {
      throw new EdgeloopError('BAD_ARGUMENT', `register: the ${unsigned.artifact.format}/${unsigned.artifact.variant} manifest would be invalid: ${(err as Error).message}`, { cause: err });
    }
    const value = Buffer.from(sign(this.#keys.privateKey, manifestSigningBytes(unsigned))).toString('base64');
    return { ...unsigned, signature: { alg: 'ed25519', keyId: this.#keys.publicKey.keyId, value } };
  }

  /** Model and version a reference points at; NOT_FOUND naming what exists. */
  #locate(ref: string): { model: string; version: number } {
    const r = parseRef(ref);
    const task = this.#db.prepare('SELECT task FROM registry_models WHERE name = ?').pluck().get(r.model) as string | undefined;
    if (task === undefined) {
      const names = this.#db.prepare('SELECT name FROM registry_models ORDER BY name LIMIT 20').pluck().all() as string[];
      throw new EdgeloopError('NOT_FOUND', `model ${r.model} is not registered (models: ${names.length ? names.join(', ') : 'none'})`);
    }
    switch (r.kind) {
      case 'latest': {
        const v = this.#db.prepare('SELECT max(version) FROM registry_versions WHERE model = ?').pluck().get(r.model) as number | null;
        if (v === null) throw new EdgeloopError('NOT_FOUND', `model ${r.model} has no versions`);
        return { model: r.model, version: v };
      }
      case 'version': {
        const found = this.#db.prepare('SELECT 1 FROM registry_versions WHERE model = ? AND version = ?').pluck().get(r.model, r.version);
        if (found === undefined) {
          const max = this.#db.prepare('SELECT max(version) FROM registry_versions WHERE model = ?').pluck().get(r.model) as number | null;
          throw new EdgeloopError('NOT_FOUND', `model ${r.model} has no version ${r.version} (versions 1..${max ?? 0})`);
        }
        return { model: r.model, version: r.version };
      }
      case 'alias': {
        const v = this.#db.prepare('SELECT version FROM registry_aliases WHERE model = ? AND alias = ?').pluck().get(r.model, r.alias) as number | undefined;
        if (v === undefined) {
          const aliases = this.#db.prepare('SELECT alias FROM registry_aliases WHERE model = ? ORDER BY alias').pluck().all(r.model) as string[];
          throw new EdgeloopError('NOT_FOUND', `model ${r.model} has no alias ${r.alias} (aliases: ${aliases.length ? aliases.join(', ') : 'none'})`);
        }
        return { model: r.model, version: v };
      }
    }
  }

  #record(model: string, version: number): VersionRecord {
    const row = this.#db.prepare(
      `SELECT v.model, v.version, m.task, v.created_at, v.created_by, v.classes, v.pipeline, v.lineage, v.smoke_test, v.reference,
              v.native_model IS NOT NULL AS has_native
       FROM registry_versions v JOIN registry_models m ON m.name = v.model WHERE v.model = ? AND v.version = ?`,
    ).get(model, version) as VersionRow;
    const aliases = this.#db.prepare('SELECT alias FROM registry_aliases WHERE model = ? AND version = ? ORDER BY alias').pluck().all(model, version) as string[];
    const artifacts = (this.#db.prepare('SELECT format, variant, size, sha256, metrics FROM registry_artifacts WHERE model = ? AND version = ? ORDER BY format, variant').all(model, version) as Omit<ArtifactRow, 'bytes' | 'manifest'>[])
      .map((a): ArtifactSummary => ({ format: a.format, variant: a.variant, bytes: a.size, sha256: a.sha256, metrics: JSON.parse(a.metrics) as Record<string, number> }));
    const rec: VersionRecord = {
      model: row.model, version: row.version, task: row.task, createdAtMs: row.created_at, createdBy: row.created_by,
      pipeline: JSON.parse(row.pipeline) as VersionRecord['pipeline'], lineage: JSON.parse(row.lineage) as VersionRecord['lineage'],
      smokeTest: JSON.parse(row.smoke_test) as VersionRecord['smokeTest'], reference: row.reference === null ? null : (JSON.parse(row.reference) as VersionRecord['reference']),
      aliases, artifacts, hasNativeModel: row.has_native === 1,
    };
    if (row.classes !== null) rec.classes = JSON.parse(row.classes) as string[];
    return rec;
  }

  /** The version a reference (`name`, `name@3`, `name@production`, `name@latest`) points at. */
  async resolve(ref: string): Promise<VersionRecord> {
    const { model, version } = this.#locate(ref);
    return this.#record(model, version);
  }

  /** Same as resolve (the CLI's `models show`). */
  async show(ref: string): Promise<VersionRecord> {
    return this.resolve(ref);
  }

  async list(): Promise<ModelSummary[]> {
    const rows = this.#db.prepare(
      `SELECT m.name AS model, m.task AS task, count(v.version) AS versions, max(v.version) AS latest, max(v.created_at) AS latestAtMs
       FROM registry_models m JOIN registry_versions v ON v.model = m.name GROUP BY m.name ORDER BY m.name`,
    ).all() as Omit<ModelSummary, 'aliases'>[];
    const aliases = this.#db.prepare('SELECT model, alias, version FROM registry_aliases ORDER BY model, alias').all() as { model: string; alias: string; version: number }[];
    return rows.map((r) => ({ ...r, aliases: Object.fromEntries(aliases.filter((a) => a.model === r.model).map((a) => [a.alias, a.version])) }));
  }

  /** Every version of a model, newest first. */
  async versions(model: string): Promise<VersionRecord[]> {
    this.#locate(assertSafeName('model', model));
    const versions = this.#db.prepare('SELECT version FROM registry_versions WHERE model = ? ORDER BY version DESC').pluck().all(model) as number[];
    return versions.map((v) => this.#record(model, v));
  }

  /** Points `alias` at the referenced version (one version per alias per model) and records the move. */
  async promote(ref: string, alias: string, options: { by?: string } = {}): Promise<AliasChange> {
    assertAlias(alias);
    if ((RESERVED_ALIASES as readonly string[]).includes(alias)) throw new EdgeloopError('BAD_NAME', `alias ${alias} is reserved (it always means the highest version)`);
    const by = options.by ?? 'edgeloop';
    const change = this.#db.transaction((): AliasChange => {
      const { model, version } = this.#locate(ref);
      const from = (this.#db.prepare('SELECT version FROM registry_aliases WHERE model = ? AND alias = ?').pluck().get(model, alias) as number | undefined) ?? null;
      const atMs = this.#now();
      if (from === version) return { model, alias, fromVersion: from, toVersion: version, atMs, by };
      this.#db.prepare(
        `INSERT INTO registry_aliases (model, alias, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      ).run(model, alias, version, atMs, by);
      this.#db.prepare('INSERT INTO registry_alias_history (model, alias, from_version, to_version, at, by) VALUES (?, ?, ?, ?, ?, ?)').run(model, alias, from, version, atMs, by);
      return { model, alias, fromVersion: from, toVersion: version, atMs, by };
    }).immediate();
    if (change.fromVersion !== change.toVersion) this.#log.info(`${change.model}@${alias}: ${change.fromVersion ?? '(new)'} → ${change.toVersion}`, { by });
    return change;
  }

  /** Alias moves of a model, oldest first. */
  async history(model: string): Promise<AliasChange[]> {
    this.#locate(assertSafeName('model', model));
    const rows = this.#db.prepare('SELECT model, alias, from_version, to_version, at, by FROM registry_alias_history WHERE model = ? ORDER BY id').all(model) as
      { model: string; alias: string; from_version: number | null; to_version: number; at: number; by: string }[];
    return rows.map((r) => ({ model: r.model, alias: r.alias, fromVersion: r.from_version, toVersion: r.to_version, atMs: r.at, by: r.by }));
  }

  #artifactRow(ref: string, format: ModelFormat, variant: ModelVariant, columns: string): { model: string; version: number; row: Partial<ArtifactRow> } {
    const { model, version } = this.#locate(ref);
    const row = this.#db.prepare(`SELECT ${columns} FROM registry_artifacts WHERE model = ? AND version = ? AND format = ? AND variant = ?`).get(model, version, format, variant) as Partial<ArtifactRow> | undefined;
    if (row === undefined) {
      const have = this.#db.prepare('SELECT format, variant FROM registry_artifacts WHERE model = ? AND version = ? ORDER BY format, variant').all(model, version) as { format: string; variant: string }[];
      throw new EdgeloopError('NOT_FOUND', `${model}@${version} has no ${format}/${variant} artifact (artifacts: ${have.map((h) => `${h.format}/${h.variant}`).join(', ')})`);
    }
    return { model, version, row };
  }

  /** The signed manifest of one artifact, as stored (validated on the way out). */
  async manifest(ref: string, format: ModelFormat, variant: ModelVariant): Promise<ModelManifest> {
    const { row } = this.#artifactRow(ref, format, variant, 'manifest');
    return parseManifest(JSON.parse(row.manifest!) as unknown);
  }

  /** The artifact bytes, as stored (use `verify` or a device-side check before trusting them). */
  async artifact(ref: string, format: ModelFormat, variant: ModelVariant): Promise<Uint8Array> {
    const { row } = this.#artifactRow(ref, format, variant, 'bytes');
    return new Uint8Array(row.bytes!);
  }

  /** The trainer's toJSON() document stored with the version; NOT_FOUND when none was stored. */
  async nativeModel(ref: string): Promise<unknown> {
    const { model, version } = this.#locate(ref);
    const text = this.#db.prepare('SELECT native_model FROM registry_versions WHERE model = ? AND version = ?').pluck().get(model, version) as string | null;
    if (text === null) throw new EdgeloopError('NOT_FOUND', `${model}@${version} was registered without a native model document`);
    return JSON.parse(text) as unknown;
  }

  /** Re-checks every artifact of a version: manifest well-formed and signed by a trusted key, bytes matching it. */
  async verify(ref: string): Promise<VerifyReport> {
    const { model, version } = this.#locate(ref);
    const rows = this.#db.prepare('SELECT format, variant, bytes, size, sha256, manifest FROM registry_artifacts WHERE model = ? AND version = ? ORDER BY format, variant').all(model, version) as ArtifactRow[];
    const artifacts = rows.map((row): ArtifactVerdict => {
      try {
        this.#verifyArtifact(model, version, row);
        return { format: row.format, variant: row.variant, ok: true };
      } catch (err) {
        if (!(err instanceof EdgeloopError)) throw err;
        const code = err.code as VerifyCode;
        this.#log.warn(`verify ${model}@${version} ${row.format}/${row.variant}: ${code}`, { message: err.message });
        return { format: row.format, variant: row.variant, ok: false, code, message: err.message };
      }
    });
    return { model, version, ok: artifacts.every((a) => a.ok), artifacts };
  }

  #verifyArtifact(model: string, version: number, row: ArtifactRow): void {
    let json: unknown;
    try {
      json = JSON.parse(row.manifest);
    } catch (err) {
      throw new EdgeloopError('BAD_PAYLOAD', `stored manifest is not JSON: ${(err as Error).message}`);
    }
    const m = parseManifest(json);
    if (m.signature === undefined) throw new EdgeloopError('MODEL_SIGNATURE', 'stored manifest is not signed');
    const key = this.#trusted.get(m.signature.keyId);
    if (key === undefined) {
      throw new EdgeloopError('MODEL_SIGNATURE', `manifest is signed by unknown key ${m.signature.keyId} (trusted: ${[...this.#trusted.keys()].join(', ')})`);
    }
    if (!verify(key, manifestSigningBytes(m), Buffer.from(m.signature.value, 'base64'))) {
      throw new EdgeloopError('MODEL_SIGNATURE', `manifest signature by key ${key.keyId} is invalid: the manifest was changed after signing`);
    }
    const stored = `${model}@${version} ${row.format}/${row.variant}`;
    const described = `${m.model}@${m.version} ${m.artifact.format}/${m.artifact.variant}`;
    if (stored !== described) throw new EdgeloopError('MODEL_CORRUPT', `manifest describes ${described} but is stored as ${stored}`);
    checkArtifact(m.artifact, new Uint8Array(row.bytes));
    if (row.size !== m.artifact.bytes || row.sha256 !== m.artifact.sha256) {
      throw new EdgeloopError('MODEL_CORRUPT', `index columns (size ${row.size}, sha256 ${row.sha256.slice(0, 16)}…) disagree with the signed manifest`);
    }
  }
}
