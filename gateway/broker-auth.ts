/**
 * Broker credentials and the per-identity ACL enforcement of the embedded broker.
 *
 * Credentials file (JSON, written 0600): one entry per identity (`<fleet>/<device>` or `_gateway/<id>`,
 * see src/acl.ts) with an scrypt hash of its password, or no hash for an identity that only
 * authenticates with a client certificate. Passwords are generated (24 random bytes, base64url) and
 * shown once; only the hash is stored.
 *
 * Authentication, in order:
 *   1. a TLS client certificate the broker's CA verified: identity = its subject CN, which must be
 *      listed in the credentials (removing the entry revokes the certificate without a CRL). A username,
 *      if also sent, must equal the CN.
 *   2. username + password, checked against the scrypt hash in constant time.
 * Everything else is refused (CONNACK 4 / 5). Denied publishes and subscribes are logged and counted.
 * A denied publish is logged and counted once per (identity, topic) — repeats only bump
 * `publishesDeniedRepeats` — so a client that keeps resending cannot flood the log (the broker
 * acknowledges and drops it, see gateway/broker.ts).
 */
import crypto from 'node:crypto';
import { readFileSync, writeFileSync, renameSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type tls from 'node:tls';
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import { silentLogger, type Logger } from '../src/log.ts';
import { checkPublish, checkSubscribe, identityName, parseIdentity, type Identity } from '../src/acl.ts';
import { describeValue } from '../src/names.ts';

export interface CredentialEntry {
  /** `<fleet>/<device>` or `_gateway/<id>`. */
  identity: string;
  /** `scrypt$N$r$p$<salt b64>$<key b64>`; absent: certificate-only identity. */
  passwordHash?: string;
  createdAtMs: number;
}

export interface CredentialsFile {
  version: 1;
  users: CredentialEntry[];
}

export const SCRYPT_PARAMS = { N: 16_384, r: 8, p: 1, keyBytes: 32, saltBytes: 16 };
/** Generated passwords: 24 random bytes = 192 bits, 32 base64url characters. */
export const GENERATED_PASSWORD_BYTES = 24;
/** Longest password accepted at CONNECT: bounds the scrypt input an attacker controls. */
export const MAX_PASSWORD_BYTES = 1024;

function scryptAsync(password: Buffer, salt: Buffer, N: number, r: number, p: number, keyBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    crypto.scrypt(password, salt, keyBytes, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export function generatePassword(randomBytes: (n: number) => Buffer = crypto.randomBytes): string {
  return randomBytes(GENERATED_PASSWORD_BYTES).toString('base64url');
}

export async function hashPassword(password: string, randomBytes: (n: number) => Buffer = crypto.randomBytes): Promise<string> {
  const { N, r, p, keyBytes, saltBytes } = SCRYPT_PARAMS;
  const salt = randomBytes(saltBytes);
  const key = await scryptAsync(Buffer.from(password, 'utf8'), salt, N, r, p, keyBytes);
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const HASH_PATTERN = /^scrypt\$(\d{1,7})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/=]{16,88})\$([A-Za-z0-9+/=]{16,88})$/;

export async function verifyPassword(password: Buffer | string, hash: string): Promise<boolean> {
  const m = HASH_PATTERN.exec(hash);
  if (!m) throw new EdgeloopError('BAD_CONFIG', `password hash ${describeValue(hash)} is not scrypt$N$r$p$salt$key`);
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const expected = Buffer.from(m[5]!, 'base64');
  const key = await scryptAsync(Buffer.isBuffer(password) ? password : Buffer.from(password, 'utf8'), Buffer.from(m[4]!, 'base64'), N, r, p, expected.length);
  return crypto.timingSafeEqual(key, expected);
}

/**
 * A mosquitto password_file line (mosquitto 2.x `$7$`: PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte key),
 * so the same generated password works on mosquitto. Made when the password is known (add-device);
 * edgeloop's own file keeps only the scrypt hash.
 */
export function mosquittoPasswordLine(identity: string, password: string, iterations = 10_000, randomBytes: (n: number) => Buffer = crypto.randomBytes): string {
  parseIdentity(identity);
  const salt = randomBytes(12);
  const key = crypto.pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 64, 'sha512');
  return `${identity}:$7$${iterations}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Validates a parsed credentials document; lists every problem. */
export function parseCredentials(doc: unknown, where = 'credentials'): CredentialsFile {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new EdgeloopError('BAD_CONFIG', `${where}: must be a JSON object {"version": 1, "users": [...]}`);
  const d = doc as Record<string, unknown>;
  if (d.version !== 1) throw new EdgeloopError('BAD_CONFIG', `${where}: version must be 1, got ${JSON.stringify(d.version)}`);
  if (!Array.isArray(d.users)) throw new EdgeloopError('BAD_CONFIG', `${where}: users must be an array`);
  const problems: string[] = [];
  const seen = new Set<string>();
  const users: CredentialEntry[] = [];
  d.users.forEach((u: unknown, i) => {
    if (u === null || typeof u !== 'object') { problems.push(`users[${i}] must be an object`); return; }
    const e = u as Record<string, unknown>;
    try {
      parseIdentity(e.identity);
    } catch (err) {
      problems.push(`users[${i}]: ${errorMessage(err)}`);
      return;
    }
    const identity = e.identity as string;
    if (seen.has(identity)) problems.push(`users[${i}]: identity ${identity} is listed twice`);
    seen.add(identity);
    if (e.passwordHash !== undefined && (typeof e.passwordHash !== 'string' || !HASH_PATTERN.test(e.passwordHash))) problems.push(`users[${i}] (${identity}): passwordHash must be scrypt$N$r$p$salt$key`);
    if (typeof e.createdAtMs !== 'number' || !Number.isFinite(e.createdAtMs)) problems.push(`users[${i}] (${identity}): createdAtMs must be a number`);
    users.push({ identity, ...(typeof e.passwordHash === 'string' ? { passwordHash: e.passwordHash } : {}), createdAtMs: Number(e.createdAtMs) });
  });
  if (problems.length > 0) throw new EdgeloopError('BAD_CONFIG', `${where}: ${problems.join('; ')}`);
  return { version: 1, users };
}

export function readCredentialsFile(path: string): CredentialsFile {
  if (!existsSync(path)) return { version: 1, users: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new EdgeloopError('BAD_CONFIG', `credentials file ${path} is not readable JSON: ${errorMessage(err)}`, { cause: err });
  }
  return parseCredentials(doc, path);
}

/** Atomic replace (write + rename), readable by the owner only: it holds password hashes. */
export function writeCredentialsFile(path: string, file: CredentialsFile): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

/** Adds or replaces (rotates) an identity's entry; pure. */
export function upsertUser(file: CredentialsFile, entry: CredentialEntry, options: { replace: boolean }): CredentialsFile {
  parseIdentity(entry.identity);
  const exists = file.users.some((u) => u.identity === entry.identity);
  if (exists && !options.replace) throw new EdgeloopError('BAD_ARGUMENT', `identity ${entry.identity} already has credentials; use --rotate to replace its password`);
  return { version: 1, users: [...file.users.filter((u) => u.identity !== entry.identity), entry].sort((a, b) => a.identity.localeCompare(b.identity)) };
}

export function removeUser(file: CredentialsFile, identity: string): CredentialsFile {
  if (!file.users.some((u) => u.identity === identity)) throw new EdgeloopError('NOT_FOUND', `identity ${describeValue(identity)} is not in the credentials file`);
  return { version: 1, users: file.users.filter((u) => u.identity !== identity) };
}

// ---------------------------------------------------------------------------------------------
// Enforcement in the embedded broker. Types are structural so this module does not import aedes.

export interface AuthClient {
  readonly id: string;
  readonly conn: unknown;
}

export interface SecurityCounters {
  connectsAccepted: number;
  connectsRefused: number;
  /** Distinct (identity, topic) pairs denied a publish (each logged once). */
  publishesDenied: number;
  /** Further denied publishes of a pair already counted (not logged again). */
  publishesDeniedRepeats: number;
  subscribesDenied: number;
}

/** A denied publish: why, who, and whether this (identity, topic) pair was new (logged, counted). */
export interface PublishDenial {
  reason: string;
  identity: Identity | undefined;
  first: boolean;
}

/** Most (identity, topic) pairs remembered for de-duplication; the oldest is forgotten beyond it. */
export const MAX_REMEMBERED_DENIALS = 10_000;

export interface BrokerSecurityOptions {
  /** Credentials entries (from the credentials file); undefined = no password authentication. */
  users?: readonly CredentialEntry[];
  /** Trust verified client certificates (TLS with requestCert). */
  certificates: boolean;
  logger?: Logger;
}

type AuthError = Error & { returnCode: number };

function authError(returnCode: 4 | 5, message: string): AuthError {
  return Object.assign(new Error(message), { returnCode });
}

/** The peer's certificate CN when the TLS layer verified it against the broker's CA, else null. */
function verifiedCertificateName(conn: unknown): string | null | undefined {
  const socket = conn as Partial<tls.TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  if (!socket.authorized) return null;
  const cn = cert.subject?.CN;
  return typeof cn === 'string' ? cn : null;
}

export class BrokerSecurity {
  readonly #users: Map<string, CredentialEntry> | null;
  readonly #certificates: boolean;
  readonly #log: Logger;
  readonly #identities = new WeakMap<object, Identity>();
  readonly #counters: SecurityCounters = { connectsAccepted: 0, connectsRefused: 0, publishesDenied: 0, publishesDeniedRepeats: 0, subscribesDenied: 0 };
  /** (identity, topic) pairs already denied, oldest first (Map keeps insertion order). */
  readonly #denied = new Map<string, true>();

  constructor(options: BrokerSecurityOptions) {
    this.#users = options.users ? new Map(options.users.map((u) => [u.identity, u])) : null;
    this.#certificates = options.certificates;
    this.#log = options.logger ?? silentLogger;
  }

  get counters(): SecurityCounters {
    return { ...this.#counters };
  }

  identityOf(client: object): Identity | undefined {
    return this.#identities.get(client);
  }

  #refuse(client: AuthClient, code: 4 | 5, why: string): AuthError {
    this.#counters.connectsRefused++;
    this.#log.warn(`refused connection of client ${describeValue(client.id)}: ${why}`);
    return authError(code, why);
  }

  async authenticate(client: AuthClient, username: string | undefined, password: Buffer | undefined): Promise<AuthError | null> {
    const certName = this.#certificates ? verifiedCertificateName(client.conn) : undefined;
    if (certName === null) return this.#refuse(client, 5, 'client certificate not verified by the broker CA or has no CN');
    if (certName !== undefined) {
      let identity: Identity;
      try {
        identity = parseIdentity(certName);
      } catch (err) {
        return this.#refuse(client, 5, `client certificate: ${errorMessage(err)}`);
      }
      if (this.#users && !this.#users.has(certName)) return this.#refuse(client, 5, `certificate identity ${certName} is not in the credentials (revoked or never added)`);
      if (username !== undefined && username !== certName) return this.#refuse(client, 5, `username ${describeValue(username)} does not match the certificate identity ${certName}`);
      return this.#accept(client, identity);
    }
    if (!this.#users) return this.#refuse(client, 5, 'a client certificate is required');
    if (username === undefined || password === undefined) return this.#refuse(client, 4, 'username and password are required');
    const entry = this.#users.get(username);
    if (password.length > MAX_PASSWORD_BYTES) return this.#refuse(client, 4, `password longer than ${MAX_PASSWORD_BYTES} bytes`);
    if (!entry || entry.passwordHash === undefined) {
      // Same cost for an unknown user as for a wrong password: no user enumeration by timing.
      await verifyPassword(password, DUMMY_HASH).catch(() => false);
      return this.#refuse(client, 4, `unknown identity ${describeValue(username)} or no password set`);
    }
    if (!(await verifyPassword(password, entry.passwordHash))) return this.#refuse(client, 4, `wrong password for ${username}`);
    return this.#accept(client, parseIdentity(username));
  }

  #accept(client: AuthClient, identity: Identity): null {
    this.#identities.set(client, identity);
    this.#counters.connectsAccepted++;
    this.#log.info(() => `client ${describeValue(client.id)} authenticated as ${identityName(identity)}`);
    return null;
  }

  /** null = allowed; else why it was denied (logged and counted once per identity and topic). */
  authorizePublish(client: object | null, topic: string): PublishDenial | null {
    // client null: aedes publishing the will of a session that is gone; it was checked when set.
    if (client === null) return null;
    const identity = this.#identities.get(client);
    const decision = identity ? checkPublish(identity, topic) : { allow: false as const, reason: 'not authenticated' };
    if (decision.allow) return null;
    const who = identity ? identityName(identity) : `?${(client as { id?: unknown }).id ?? ''}`;
    const key = `${who}\u0000${topic}`;
    if (this.#denied.has(key)) {
      this.#counters.publishesDeniedRepeats++;
      return { reason: decision.reason, identity, first: false };
    }
    this.#denied.set(key, true);
    if (this.#denied.size > MAX_REMEMBERED_DENIALS) this.#denied.delete(this.#denied.keys().next().value!);
    this.#counters.publishesDenied++;
    this.#log.warn(`denied publish by ${identity ? identityName(identity) : '?'} on ${describeValue(topic)}: ${decision.reason} (acknowledged and dropped; repeats are counted, not logged)`);
    return { reason: decision.reason, identity, first: true };
  }

  authorizeSubscribe(client: object, filter: string): string | null {
    const identity = this.#identities.get(client);
    const decision = identity ? checkSubscribe(identity, filter) : { allow: false as const, reason: 'not authenticated' };
    if (decision.allow) return null;
    this.#counters.subscribesDenied++;
    this.#log.warn(`denied subscribe by ${identity ? identityName(identity) : '?'} to ${describeValue(filter)}: ${decision.reason}`);
    return decision.reason;
  }
}

// A valid hash of a random password, verified against when the user is unknown.
const DUMMY_HASH = `scrypt$${SCRYPT_PARAMS.N}$${SCRYPT_PARAMS.r}$${SCRYPT_PARAMS.p}$${Buffer.alloc(16, 1).toString('base64')}$${Buffer.alloc(32, 2).toString('base64')}`;
