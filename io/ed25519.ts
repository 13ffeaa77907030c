/**
 * The one module that uses node:crypto's ed25519: the gateway's signing key pair (generated once,
 * kept under a folder readable by the owner only) and signature verification for pinned public keys.
 *
 * Files in the key folder: `ed25519.key` (PKCS#8 PEM, the private key) and `ed25519.pub` (SPKI PEM).
 * Both are written with mode 0600 in a 0700 folder; a private key file readable by group or others is
 * refused at load time, as ssh does, because whoever can read it can sign models for the whole fleet.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeloopError } from '../src/errors.ts';
import { sha256Hex } from '../src/pipeline/hash.ts';

export const PRIVATE_KEY_FILE = 'ed25519.key';
export const PUBLIC_KEY_FILE = 'ed25519.pub';
const RAW_PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** A public key a device pins: enough to verify signatures and to match a manifest's keyId. */
export interface PublicKey {
  /** First 16 hex chars of sha256 of the raw 32-byte key. */
  keyId: string;
  /** The raw 32-byte key, base64. */
  rawBase64: string;
  /** SPKI PEM. */
  pem: string;
  readonly key: KeyObject;
}

export interface KeyPair {
  publicKey: PublicKey;
  readonly privateKey: KeyObject;
}

/** keyId of a raw 32-byte ed25519 public key: first 16 hex chars of its sha256. */
export function keyIdOf(raw: Uint8Array): string {
  return sha256Hex(raw).slice(0, 16);
}

function publicFromKeyObject(key: KeyObject): PublicKey {
  if (key.asymmetricKeyType !== 'ed25519') throw new EdgeloopError('BAD_ARGUMENT', `public key must be ed25519, got ${String(key.asymmetricKeyType)}`);
  const jwk = key.export({ format: 'jwk' });
  const raw = Buffer.from(jwk.x ?? '', 'base64url');
  return { keyId: keyIdOf(raw), rawBase64: raw.toString('base64'), pem: key.export({ format: 'pem', type: 'spki' }).toString(), key };
}

/**
 * A public key from what an operator pins on a device: a SPKI PEM ("-----BEGIN PUBLIC KEY-----")
 * or the raw 32-byte key in base64 (what `edgeloop models key` prints).
 */
export function parsePublicKey(text: string): PublicKey {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) {
    let key: KeyObject;
    try {
      key = createPublicKey({ key: trimmed, format: 'pem' });
    } catch (err) {
      throw new EdgeloopError('BAD_ARGUMENT', `public key: not a valid PEM public key (${(err as Error).message})`, { cause: err });
    }
    return publicFromKeyObject(key);
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
    throw new EdgeloopError('BAD_ARGUMENT', 'public key: expected a SPKI PEM or the raw 32-byte ed25519 key in base64');
  }
  const raw = Buffer.from(trimmed, 'base64');
  if (raw.length !== RAW_PUBLIC_KEY_BYTES) {
    throw new EdgeloopError('BAD_ARGUMENT', `public key: raw ed25519 keys are ${RAW_PUBLIC_KEY_BYTES} bytes, got ${raw.length}`);
  }
  return publicFromKeyObject(createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' }));
}

export function generateKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey: publicFromKeyObject(publicKey), privateKey };
}

/** Writes the pair into `dir` (created 0700) with mode 0600; refuses to overwrite an existing key. */
export function saveKeyPair(dir: string, pair: KeyPair): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  try {
    // 'wx': never replace a key that devices may already pin.
    writeFileSync(privatePath, pem, { mode: 0o600, flag: 'wx' });
    writeFileSync(join(dir, PUBLIC_KEY_FILE), pair.publicKey.pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new EdgeloopError('BAD_FILE', code === 'EEXIST' ? `key file already exists in ${dir}; refusing to overwrite a key devices may pin` : `cannot write key files in ${dir}: ${(err as Error).message}`, { cause: err });
  }
  // The process umask can only remove bits, but be explicit in case the file system ignores the mode.
  chmodSync(privatePath, 0o600);
  chmodSync(join(dir, PUBLIC_KEY_FILE), 0o600);
}

/** Loads the pair from `dir`; BAD_FILE if it is missing, unreadable, too open or inconsistent. */
export function loadKeyPair(dir: string): KeyPair {
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  let mode: number;
  let pem: string;
  try {
    mode = statSync(privatePath).mode & 0o777;
    pem = readFileSync(privatePath, 'utf8');
  } catch (err) {
    throw new EdgeloopError('BAD_FILE', `cannot read private key ${privatePath}: ${(err as Error).message}`, { cause: err });
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new EdgeloopError('BAD_FILE', `private key ${privatePath} has mode ${mode.toString(8).padStart(4, '0')}; it must not be readable by group or others (chmod 600 ${privatePath})`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new EdgeloopError('BAD_FILE', `private key ${privatePath} is not a valid PEM key: ${(err as Error).message}`, { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new EdgeloopError('BAD_FILE', `private key ${privatePath} is ${String(privateKey.asymmetricKeyType)}, expected ed25519`);
  const publicKey = publicFromKeyObject(createPublicKey(privateKey));
  const publicPath = join(dir, PUBLIC_KEY_FILE);
  if (existsSync(publicPath)) {
    const stored = parsePublicKey(readFileSync(publicPath, 'utf8'));
    if (stored.keyId !== publicKey.keyId) {
      throw new EdgeloopError('BAD_FILE', `public key ${publicPath} (keyId ${stored.keyId}) does not belong to private key ${privatePath} (keyId ${publicKey.keyId})`);
    }
  }
  return { publicKey, privateKey };
}

/** The pair in `dir`, generating and saving one on first use. */
export function loadOrCreateKeyPair(dir: string): { pair: KeyPair; created: boolean } {
  if (existsSync(join(dir, PRIVATE_KEY_FILE))) return { pair: loadKeyPair(dir), created: false };
  const pair = generateKeyPair();
  saveKeyPair(dir, pair);
  return { pair, created: true };
}

export function sign(privateKey: KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(cryptoSign(null, data, privateKey));
}

/** True when `signature` is a valid ed25519 signature of `data` by `publicKey`; never throws on bad input. */
export function verify(publicKey: PublicKey, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  try {
    return cryptoVerify(null, data, publicKey.key, signature);
  } catch {
    return false;
  }
}
