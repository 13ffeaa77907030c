/**
 * The one configuration schema. Sources, later winning: defaults < config file (--config,
 * $EDGELOOP_CONFIG, or ./edgeloop.json when present) < EDGELOOP_* environment variables < CLI flags.
 * Validated once at start-up; every problem is listed; the process refuses to start on bad config.
 * The TypeScript type is derived from the schema (z.infer), never written twice.
 *
 * Environment names are the config path in UPPER_SNAKE_CASE: gateway.httpPort → EDGELOOP_GATEWAY_HTTP_PORT.
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from '../src/schema.ts';
import { EdgeloopError } from '../src/errors.ts';
import { NAME_PATTERN } from '../src/names.ts';

const name = z.string().regex(NAME_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit');
const brokerUrl = z.string().regex(/^(mqtt|mqtts|tcp):\/\/[^/\s]+$/, 'must look like mqtt://host:port or mqtts://host:port');
const port = z.number().int().min(0).max(65535);

export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('data'),
    logLevel: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
    logJson: z.boolean().default(false),
    gateway: z
      .object({
        id: name.default('gw1'),
        broker: brokerUrl.optional(),
        db: z.string().min(1).optional(),
        fleet: z.union([name, z.literal('+')]).default('+'),
        sharedGroup: name.optional(),
        protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
        username: z.string().optional(),
        password: z.string().optional(),
        maxBatch: z.number().int().min(1).max(100_000).default(2000),
        synchronous: z.enum(['full', 'normal']).default('full'),
        mqttHost: z.string().min(1).default('127.0.0.1'),
        mqttPort: port.default(1883),
        httpHost: z.string().min(1).default('127.0.0.1'),
        /** 0 picks a free port. */
        httpPort: port.default(8080),
        httpEnabled: z.boolean().default(true),
        /** File holding the HTTP API token: every write request (POST) must carry it as a Bearer token; reads stay open unless httpProtectReads. */
        httpTokenFile: z.string().min(1).optional(),
        /** Reads need the token too (all but /healthz): Bearer header, or a browser opens the dashboard once with ?token=… (needs httpTokenFile). */
        httpProtectReads: z.boolean().default(false),
        /** Model registry + rollouts (the `edgeloop rollout` / `edgeloop fleet` API). */
        rollouts: z.boolean().default(true),
        /**
         * PostgreSQL --db only: period of the singleton-duties election (followers' lock attempts, the
         * leader's checks); the fail-over time after a leader dies is at most about this.
         */
        leaderRetryMs: z.number().int().min(10).max(600_000).default(2000),
        /** The registry's signing key folder; default keys/ next to the database (keyDirOf). */
        keyDir: z.string().min(1).optional(),
        /** TLS of the gateway's own MQTT clients: CA of the broker certificate, client certificate (mTLS). PEM file paths. */
        tls: z
          .object({ ca: z.string().min(1).optional(), cert: z.string().min(1).optional(), key: z.string().min(1).optional() })
          .strict()
          .refine((t) => (t.cert === undefined) === (t.key === undefined), 'cert and key go together')
          .optional(),
      })
      .strict()
      .prefault({}),
    /** The embedded broker's security (docs/security.md); ignored with gateway.broker (an external broker). */
    broker: z
      .object({
        /** Logins required (credentials file of `edgeloop acl`) and per-identity ACLs enforced. */
        auth: z.boolean().default(false),
        /** Default <dataDir>/broker-credentials.json, the file `edgeloop acl` writes. */
        credentialsFile: z.string().min(1).optional(),
        /** Listen with TLS (mqtts://). PEM file paths; requestCert asks clients for a certificate signed by ca. */
        tls: z
          .object({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1).optional(), requestCert: z.boolean().default(false) })
          .strict()
          .refine((t) => !t.requestCert || t.ca !== undefined, 'requestCert needs ca, the CA that signs client certificates')
          .optional(),
        maxPacketBytes: z.number().int().min(1024).max(256 * 1024 * 1024).optional(),
      })
      .strict()
      .prefault({}),
    telemetry: z
      .object({
        maxPayloadBytes: z.number().int().min(64).max(16 * 1024 * 1024).default(256 * 1024),
        maxReadingsPerMessage: z.number().int().min(1).max(1_000_000).default(10_000),
        maxFutureSkewMs: z.number().int().min(0).default(24 * 3600_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function toEnvName(path: string[]): string {
  return 'EDGELOOP_' + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

/** Every leaf path of the schema with its kind, for the environment mapping. */
function leafPaths(shape: Record<string, z.ZodType>, prefix: string[] = []): { path: string[]; kind: 'number' | 'boolean' | 'string' }[] {
  const out: { path: string[]; kind: 'number' | 'boolean' | 'string' }[] = [];
  for (const [key, schema] of Object.entries(shape)) {
    const path = [...prefix, key];
    const inner = unwrap(schema);
    if (inner instanceof z.ZodObject) out.push(...leafPaths(inner.shape as Record<string, z.ZodType>, path));
    else out.push({ path, kind: leafKind(inner) });
  }
  return out;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (;;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodPrefault) s = s.unwrap() as z.ZodType;
    else return s;
  }
}

function leafKind(schema: z.ZodType): 'number' | 'boolean' | 'string' {
  if (schema instanceof z.ZodNumber) return 'number';
  if (schema instanceof z.ZodBoolean) return 'boolean';
  if (schema instanceof z.ZodUnion) {
    const opts = schema.options as z.ZodType[];
    if (opts.every((o) => o instanceof z.ZodLiteral && typeof o.value === 'number')) return 'number';
  }
  return 'string';
}

function setPath(target: Record<string, Json>, path: string[], value: Json): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null || Array.isArray(node[key])) node[key] = {};
    node = node[key] as Record<string, Json>;
  }
  node[path[path.length - 1]!] = value;
}

export interface ConfigSources {
  /** Explicit config file path (--config). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Overrides from CLI flags, as config paths. */
  overrides?: { path: string[]; value: Json }[];
  cwd?: string;
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const problems: string[] = [];
  const raw: Record<string, Json> = {};
  const file = sources.file ?? env.EDGELOOP_CONFIG ?? (existsSync(`${sources.cwd ?? '.'}/edgeloop.json`) ? `${sources.cwd ?? '.'}/edgeloop.json` : undefined);
  if (file !== undefined) {
    try {
      const doc = JSON.parse(readFileSync(file, 'utf8')) as Json;
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) problems.push(`${file}: the config file must hold a JSON object`);
      else Object.assign(raw, doc);
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`);
    }
  }
  const known = new Set<string>();
  for (const { path, kind } of leafPaths(configSchema.shape as unknown as Record<string, z.ZodType>)) {
    const envName = toEnvName(path);
    known.add(envName);
    const text = env[envName];
    if (text === undefined) continue;
    if (kind === 'number') {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) problems.push(`${envName}=${JSON.stringify(text)}: expected a number`);
      else setPath(raw, path, n);
    } else if (kind === 'boolean') {
      if (!['true', 'false', '1', '0'].includes(text)) problems.push(`${envName}=${JSON.stringify(text)}: expected true or false`);
      else setPath(raw, path, text === 'true' || text === '1');
    } else setPath(raw, path, text);
  }
  for (const key of Object.keys(env)) {
    if (key.startsWith('EDGELOOP_') && key !== 'EDGELOOP_CONFIG' && !known.has(key)) problems.push(`${key}: unknown setting (known: ${[...known].sort().join(', ')})`);
  }
  for (const { path, value } of sources.overrides ?? []) setPath(raw, path, value);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const where = issue.path.join('.') || '(root)';
      problems.push(`${where}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) {
    throw new EdgeloopError('BAD_CONFIG', `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
  }
  return parsed.data;
}

/** The embedded broker's credentials file: the one `edgeloop acl` writes. */
export function credentialsFileOf(config: Config): string {
  return config.broker.credentialsFile ?? `${config.dataDir}/broker-credentials.json`;
}

export function dbPathOf(config: Config): string {
  return config.gateway.db ?? `${config.dataDir}/edgeloop.db`;
}

/** The gateway's signing keys live next to its database, so a database and its keys travel together. */
export function keyDirOf(config: Config): string {
  if (config.gateway.keyDir !== undefined) return config.gateway.keyDir;
  const db = dbPathOf(config);
  // A postgres:// URL has no folder: the key lives under dataDir (every instance needs the same key pair).
  if (/^postgres(ql)?:\/\//i.test(db)) return `${config.dataDir}/keys`;
  const slash = db.lastIndexOf('/');
  return `${slash >= 0 ? db.slice(0, slash) : '.'}/keys`;
}
