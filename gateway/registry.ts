/**
 * The model registry: models, numbered versions, artifacts (bytes in SQLite BLOBs), one signed
 * manifest per artifact, aliases (`staging`, `production`, …) with their history, and the trainer's
 * native model document. It shares the gateway's database: the SQLite file (SqliteStore.database), or
 * on scale-out the PostgreSQL schema every gateway uses (gateway/sql.ts), so that the leader elected
 * after a fail-over retrains from the same versions and aliases.
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
import { createTables, isUniqueViolation, sqliteSql, type SqlDb, type SqlStatement } from './sql.ts';
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
  /** The gateway's SQLite file … */
  database?: SqliteDatabase;
  /** … or a shared database (gateway/sql.ts; PostgreSQL for several gateways). Exactly one of the two. */
  sql?: SqlDb;
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

/** Both dialects (gateway/sql.ts schemaFor). */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS registry_models (name TEXT PRIMARY KEY, task TEXT NOT NULL, created_at {time} NOT NULL);
CREATE TABLE IF NOT EXISTS registry_versions (
  model TEXT NOT NULL REFERENCES registry_models (name), version INTEGER NOT NULL, created_at {time} NOT NULL,
  created_by TEXT NOT NULL, classes TEXT, pipeline TEXT NOT NULL, spec_hash TEXT NOT NULL, lineage TEXT NOT NULL,
  run_id TEXT, dataset TEXT, smoke_test TEXT NOT NULL, reference TEXT, native_model TEXT,
  PRIMARY KEY (model, version)
);
CREATE INDEX IF NOT EXISTS registry_versions_by_run ON registry_versions (run_id);
CREATE TABLE IF NOT EXISTS registry_artifacts (
  model TEXT NOT NULL, version INTEGER NOT NULL, format TEXT NOT NULL, variant TEXT NOT NULL, bytes {bytes} NOT NULL,
  size INTEGER NOT NULL, sha256 TEXT NOT NULL, metrics TEXT NOT NULL, manifest TEXT NOT NULL,
  PRIMARY KEY (model, version, format, variant), FOREIGN KEY (model, version) REFERENCES registry_versions (model, version)
);
CREATE TABLE IF NOT EXISTS registry_aliases (
  model TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, updated_at {time} NOT NULL, updated_by TEXT NOT NULL,
  PRIMARY KEY (model, alias), FOREIGN KEY (model, version) REFERENCES registry_versions (model, version)
);
CREATE TABLE IF NOT EXISTS registry_alias_history (
  id {serial}, model TEXT NOT NULL, alias TEXT NOT NULL, from_version INTEGER,
  to_version INTEGER NOT NULL, at {time} NOT NULL, by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS registry_alias_history_by_model ON registry_alias_history (model, id);
`;

interface VersionRow {
  model: string; version: number; task: Task; created_at: number; created_by: string; classes: string | null; pipeline: string;
  lineage: string; smoke_test: string; reference: string | null; has_native: number | boolean;
}

interface ArtifactRow { format: ModelFormat; variant: ModelVariant; bytes: Buffer; size: number; sha256: string; metrics: string; manifest: string }

function toBlob(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Concurrent registrations of one model (another gateway, the CLI) may pick the same number: retried this often. */
const REGISTER_ATTEMPTS = 5;

export class Registry {
  readonly #db: SqlDb;
  readonly #keys: KeyPair;
  readonly #trusted: Map<string, PublicKey>;
  readonly #now: () => number;
  readonly #log: Logger;

  private constructor(db: SqlDb, keys: KeyPair, options: RegistryOptions) {
    this.#db = db;
    this.#keys = keys;
    this.#trusted = new Map([...(options.trustedKeys ?? []), keys.publicKey].map((k) => [k.keyId, k]));
    this.#now = options.now ?? Date.now;
    this.#log = (options.logger ?? silentLogger).child('registry');
  }

  static async create(options: RegistryOptions): Promise<Registry> {
    if ((options.database === undefined) === (options.sql === undefined)) throw new EdgeloopError('BAD_ARGUMENT', 'registry: exactly one of database (SQLite) or sql must be given');
    const db = options.sql ?? sqliteSql(options.database!);
    await createTables(db, 'registry', SCHEMA);
    const { pair, created } = loadOrCreateKeyPair(options.keyDir);
    const registry = new Registry(db, pair, options);
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
  async signRollback(claim: { fleet: string; device: string; ref: string; issuedAtMs?: number }): Promise<{ model: string; version: number; rollback: SignedRollback }> {
    const fleet = assertSafeName('fleet', claim.fleet);
    const device = assertSafeName('device', claim.device);
    const { model, version } = await this.#locate(claim.ref);
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

    let result: RegisterResult | null = null;
    // No transaction spans the reads: the version number is read, then the rows are inserted in one
    // batch; a concurrent writer that took the number makes the batch fail on the primary key, and the
    // registration is signed again with the next number.
    for (let attempt = 1; result === null; attempt++) {
      const existing = (await this.#db.get<{ task: Task }>('SELECT task FROM registry_models WHERE name = ?', [model]))?.task;
      if (existing !== undefined && existing !== input.task) {
        throw new EdgeloopError('BAD_ARGUMENT', `register: model ${model} is a ${existing} model; cannot add a ${input.task} version (use another model name)`);
      }
      const createdAtMs = this.#now();
      const version = ((await this.#db.get<{ v: number | null }>('SELECT max(version) AS v FROM registry_versions WHERE model = ?', [model]))?.v ?? 0) + 1;
      const manifests = input.artifacts.map((a, i) => {
        const unsigned: ModelManifest = {
          schema: MANIFEST_SCHEMA, model, version, createdAtMs, createdBy: input.createdBy, task: input.task, artifact: specs[i]!,
          io: a.io, classes: input.classes, pipeline, lineage: input.lineage, metrics: a.metrics, reference: input.reference,
          smokeTest: a.smokeTest ?? input.smokeTest,
        };
        if (unsigned.classes === undefined) delete unsigned.classes;
        return this.#sign(unsigned);
      });
      const statements: SqlStatement[] = [
        { sql: 'INSERT INTO registry_models (name, task, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING', params: [model, input.task, createdAtMs] },
        {
          sql: `INSERT INTO registry_versions (model, version, created_at, created_by, classes, pipeline, spec_hash, lineage, run_id, dataset, smoke_test, reference, native_model)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          params: [
            model, version, createdAtMs, input.createdBy, input.classes === undefined ? null : JSON.stringify(input.classes), JSON.stringify(pipeline), computedHash,
            JSON.stringify(input.lineage), input.lineage.runId ?? null, input.lineage.dataset ?? null, JSON.stringify(input.smokeTest),
            input.reference === null ? null : JSON.stringify(input.reference), nativeJson,
          ],
        },
        ...input.artifacts.map((a, i): SqlStatement => ({
          sql: 'INSERT INTO registry_artifacts (model, version, format, variant, bytes, size, sha256, metrics, manifest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
          params: [model, version, a.format, a.variant, toBlob(a.bytes), specs[i]!.bytes, specs[i]!.sha256, JSON.stringify(a.metrics), JSON.stringify(manifests[i])],
        })),
      ];
      try {
        await this.#db.batch(statements);
        result = { model, version, manifests };
      } catch (err) {
        if (!isUniqueViolation(err) || attempt >= REGISTER_ATTEMPTS) throw err;
        this.#log.info(`${model}@${version} was taken by a concurrent registration; signing as the next version`);
      }
    }
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
  async #locate(ref: string): Promise<{ model: string; version: number }> {
    const r = parseRef(ref);
    const db = this.#db;
    const maxVersion = async (): Promise<number | null> => (await db.get<{ v: number | null }>('SELECT max(version) AS v FROM registry_versions WHERE model = ?', [r.model]))?.v ?? null;
    const task = await db.get<{ task: string }>('SELECT task FROM registry_models WHERE name = ?', [r.model]);
    if (task === undefined) {
      const names = (await db.all<{ name: string }>('SELECT name FROM registry_models ORDER BY name LIMIT 20')).map((n) => n.name);
      throw new EdgeloopError('NOT_FOUND', `model ${r.model} is not registered (models: ${names.length ? names.join(', ') : 'none'})`);
    }
    switch (r.kind) {
      case 'latest': {
        const v = await maxVersion();
        if (v === null) throw new EdgeloopError('NOT_FOUND', `model ${r.model} has no versions`);
        return { model: r.model, version: v };
      }
      case 'version': {
        const found = await db.get('SELECT 1 AS found FROM registry_versions WHERE model = ? AND version = ?', [r.model, r.version]);
        if (found === undefined) throw new EdgeloopError('NOT_FOUND', `model ${r.model} has no version ${r.version} (versions 1..${(await maxVersion()) ?? 0})`);
        return { model: r.model, version: r.version };
      }
      case 'alias': {
        const v = await db.get<{ version: number }>('SELECT version FROM registry_aliases WHERE model = ? AND alias = ?', [r.model, r.alias]);
        if (v === undefined) {
          const aliases = (await db.all<{ alias: string }>('SELECT alias FROM registry_aliases WHERE model = ? ORDER BY alias', [r.model])).map((a) => a.alias);
          throw new EdgeloopError('NOT_FOUND', `model ${r.model} has no alias ${r.alias} (aliases: ${aliases.length ? aliases.join(', ') : 'none'})`);
        }
        return { model: r.model, version: v.version };
      }
    }
  }

  async #record(model: string, version: number): Promise<VersionRecord> {
    const row = (await this.#db.get<VersionRow>(
      `SELECT v.model, v.version, m.task, v.created_at, v.created_by, v.classes, v.pipeline, v.lineage, v.smoke_test, v.reference,
              v.native_model IS NOT NULL AS has_native
       FROM registry_versions v JOIN registry_models m ON m.name = v.model WHERE v.model = ? AND v.version = ?`,
      [model, version],
    ))!;
    const aliases = (await this.#db.all<{ alias: string }>('SELECT alias FROM registry_aliases WHERE model = ? AND version = ? ORDER BY alias', [model, version])).map((a) => a.alias);
    const artifacts = (await this.#db.all<Omit<ArtifactRow, 'bytes' | 'manifest'>>('SELECT format, variant, size, sha256, metrics FROM registry_artifacts WHERE model = ? AND version = ? ORDER BY format, variant', [model, version]))
      .map((a): ArtifactSummary => ({ format: a.format, variant: a.variant, bytes: a.size, sha256: a.sha256, metrics: JSON.parse(a.metrics) as Record<string, number> }));
    const rec: VersionRecord = {
      model: row.model, version: row.version, task: row.task, createdAtMs: row.created_at, createdBy: row.created_by,
      pipeline: JSON.parse(row.pipeline) as VersionRecord['pipeline'], lineage: JSON.parse(row.lineage) as VersionRecord['lineage'],
      smokeTest: JSON.parse(row.smoke_test) as VersionRecord['smokeTest'], reference: row.reference === null ? null : (JSON.parse(row.reference) as VersionRecord['reference']),
      aliases, artifacts, hasNativeModel: row.has_native === 1 || row.has_native === true,
    };
    if (row.classes !== null) rec.classes = JSON.parse(row.classes) as string[];
    return rec;
  }

  /** The version a reference (`name`, `name@3`, `name@production`, `name@latest`) points at. */
  async resolve(ref: string): Promise<VersionRecord> {
    const { model, version } = await this.#locate(ref);
    return this.#record(model, version);
  }

  /** Same as resolve (the CLI's `models show`). */
  async show(ref: string): Promise<VersionRecord> {
    return this.resolve(ref);
  }

  async list(): Promise<ModelSummary[]> {
    const rows = await this.#db.all<Omit<ModelSummary, 'aliases'>>(
      `SELECT m.name AS model, m.task AS task, CAST(count(v.version) AS INTEGER) AS versions, max(v.version) AS latest, max(v.created_at) AS "latestAtMs"
       FROM registry_models m JOIN registry_versions v ON v.model = m.name GROUP BY m.name, m.task ORDER BY m.name`,
    );
    const aliases = await this.#db.all<{ model: string; alias: string; version: number }>('SELECT model, alias, version FROM registry_aliases ORDER BY model, alias');
    return rows.map((r) => ({ ...r, aliases: Object.fromEntries(aliases.filter((a) => a.model === r.model).map((a) => [a.alias, a.version])) }));
  }

  /** Every version of a model, newest first. */
  async versions(model: string): Promise<VersionRecord[]> {
    await this.#locate(assertSafeName('model', model));
    const versions = await this.#db.all<{ version: number }>('SELECT version FROM registry_versions WHERE model = ? ORDER BY version DESC', [model]);
    const out: VersionRecord[] = [];
    for (const v of versions) out.push(await this.#record(model, v.version));
    return out;
  }

  /** Points `alias` at the referenced version (one version per alias per model) and records the move. */
  async promote(ref: string, alias: string, options: { by?: string } = {}): Promise<AliasChange> {
    assertAlias(alias);
    if ((RESERVED_ALIASES as readonly string[]).includes(alias)) throw new EdgeloopError('BAD_NAME', `alias ${alias} is reserved (it always means the highest version)`);
    const by = options.by ?? 'edgeloop';
    const { model, version } = await this.#locate(ref);
    const from = (await this.#db.get<{ version: number }>('SELECT version FROM registry_aliases WHERE model = ? AND alias = ?', [model, alias]))?.version ?? null;
    const atMs = this.#now();
    const change: AliasChange = { model, alias, fromVersion: from, toVersion: version, atMs, by };
    if (from === version) return change;
    // The alias row and its history entry together; the alias moves only from the version read above,
    // so a concurrent promotion is not recorded with a wrong "from".
    const [moved] = await this.#db.batch([
      from === null
        ? { sql: 'INSERT INTO registry_aliases (model, alias, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT (model, alias) DO NOTHING', params: [model, alias, version, atMs, by] }
        : { sql: 'UPDATE registry_aliases SET version = ?, updated_at = ?, updated_by = ? WHERE model = ? AND alias = ? AND version = ?', params: [version, atMs, by, model, alias, from] },
      {
        sql: `INSERT INTO registry_alias_history (model, alias, from_version, to_version, at, by)
              SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM registry_aliases WHERE model = ? AND alias = ? AND version = ? AND updated_at = ? AND updated_by = ?)`,
        params: [model, alias, from, version, atMs, by, model, alias, version, atMs, by],
      },
    ]);
    if (moved === 0) throw new EdgeloopError('BAD_ARGUMENT', `${model}@${alias} was moved by someone else meanwhile; promote again`);
    this.#log.info(`${model}@${alias}: ${from ?? '(new)'} → ${version}`, { by });
    return change;
  }

  /** Alias moves of a model, oldest first. */
  async history(model: string): Promise<AliasChange[]> {
    await this.#locate(assertSafeName('model', model));
    const rows = await this.#db.all<{ model: string; alias: string; from_version: number | null; to_version: number; at: number; by: string }>(
      'SELECT model, alias, from_version, to_version, at, by FROM registry_alias_history WHERE model = ? ORDER BY id', [model],
    );
    return rows.map((r) => ({ model: r.model, alias: r.alias, fromVersion: r.from_version, toVersion: r.to_version, atMs: r.at, by: r.by }));
  }

  async #artifactRow(ref: string, format: ModelFormat, variant: ModelVariant, columns: string): Promise<{ model: string; version: number; row: Partial<ArtifactRow> }> {
    const { model, version } = await this.#locate(ref);
    const row = await this.#db.get<Partial<ArtifactRow>>(`SELECT ${columns} FROM registry_artifacts WHERE model = ? AND version = ? AND format = ? AND variant = ?`, [model, version, format, variant]);
    if (row === undefined) {
      const have = await this.#db.all<{ format: string; variant: string }>('SELECT format, variant FROM registry_artifacts WHERE model = ? AND version = ? ORDER BY format, variant', [model, version]);
      throw new EdgeloopError('NOT_FOUND', `${model}@${version} has no ${format}/${variant} artifact (artifacts: ${have.map((h) => `${h.format}/${h.variant}`).join(', ')})`);
    }
    return { model, version, row };
  }

  /** The signed manifest of one artifact, as stored (validated on the way out). */
  async manifest(ref: string, format: ModelFormat, variant: ModelVariant): Promise<ModelManifest> {
    const { row } = await this.#artifactRow(ref, format, variant, 'manifest');
    return parseManifest(JSON.parse(row.manifest!) as unknown);
  }

  /** The artifact bytes, as stored (use `verify` or a device-side check before trusting them). */
  async artifact(ref: string, format: ModelFormat, variant: ModelVariant): Promise<Uint8Array> {
    const { row } = await this.#artifactRow(ref, format, variant, 'bytes');
    return new Uint8Array(row.bytes!);
  }

  /** The trainer's toJSON() document stored with the version; NOT_FOUND when none was stored. */
  async nativeModel(ref: string): Promise<unknown> {
    const { model, version } = await this.#locate(ref);
    const text = (await this.#db.get<{ native_model: string | null }>('SELECT native_model FROM registry_versions WHERE model = ? AND version = ?', [model, version]))?.native_model ?? null;
    if (text === null) throw new EdgeloopError('NOT_FOUND', `${model}@${version} was registered without a native model document`);
    return JSON.parse(text) as unknown;
  }

  /** Re-checks every artifact of a version: manifest well-formed and signed by a trusted key, bytes matching it. */
  async verify(ref: string): Promise<VerifyReport> {
    const { model, version } = await this.#locate(ref);
    const rows = await this.#db.all<ArtifactRow>('SELECT format, variant, bytes, size, sha256, manifest FROM registry_artifacts WHERE model = ? AND version = ? ORDER BY format, variant', [model, version]);
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
