/** The gateway's ed25519 key files: created 0600 in a 0700 folder, reused across restarts, refused when unsafe. */
import test from 'ava';
import { chmodSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { generateKeyPair, keyIdOf, loadKeyPair, loadOrCreateKeyPair, parsePublicKey, saveKeyPair, sign, verify, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from '../io/ed25519.ts';
import { Registry } from '../gateway/registry.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { tempDir } from './helpers/tmp.ts';

const mode = (path: string) => statSync(path).mode & 0o777;

test('key files are created with mode 0600 (folder 0700) and reused across restarts', async (t) => {
  const dir = tempDir();
  const keyDir = join(dir, 'keys');
  const store = await SqliteStore.create({ path: join(dir, 'edgeloop.db') });
  const a = await Registry.create({ database: store.database, keyDir });
  t.is(mode(join(keyDir, PRIVATE_KEY_FILE)), 0o600);
  t.is(mode(join(keyDir, PUBLIC_KEY_FILE)), 0o600);
  t.is(mode(keyDir), 0o700);
  const pem = readFileSync(join(keyDir, PRIVATE_KEY_FILE), 'utf8');
  t.regex(pem, /^-----BEGIN PRIVATE KEY-----/);
  const b = await Registry.create({ database: store.database, keyDir });
  t.deepEqual(b.publicKey(), a.publicKey());
  t.is(readFileSync(join(keyDir, PRIVATE_KEY_FILE), 'utf8'), pem, 'the key file is not rewritten');
  await store.close();
});

test('keyId is the first 16 hex chars of sha256 of the raw 32-byte public key; PEM and raw forms agree', (t) => {
  const pair = generateKeyPair();
  const raw = Buffer.from(pair.publicKey.rawBase64, 'base64');
  t.is(raw.length, 32);
  t.is(pair.publicKey.keyId, createHash('sha256').update(raw).digest('hex').slice(0, 16));
  t.is(keyIdOf(raw), pair.publicKey.keyId);
  // The raw key is the last 32 bytes of the SPKI DER (an independent way to get it).
  const der = createPublicKey(pair.publicKey.pem).export({ format: 'der', type: 'spki' });
  t.deepEqual(der.subarray(der.length - 32), raw);
  const fromPem = parsePublicKey(pair.publicKey.pem);
  const fromRaw = parsePublicKey(`  ${pair.publicKey.rawBase64}\n`);
  t.is(fromPem.keyId, pair.publicKey.keyId);
  t.is(fromRaw.keyId, pair.publicKey.keyId);
  const msg = new TextEncoder().encode('hello');
  const sig = sign(pair.privateKey, msg);
  t.is(sig.length, 64);
  t.true(verify(fromRaw, msg, sig));
  t.false(verify(fromRaw, new TextEncoder().encode('hellO'), sig));
  t.false(verify(fromRaw, msg, sig.subarray(0, 63)));
  t.false(verify(generateKeyPair().publicKey, msg, sig));
});

test('a private key readable by group or others is refused', (t) => {
  const dir = tempDir();
  loadOrCreateKeyPair(dir);
  chmodSync(join(dir, PRIVATE_KEY_FILE), 0o644);
  const err = t.throws(() => loadOrCreateKeyPair(dir), { code: 'BAD_FILE' });
  t.regex(err.message, /has mode 0644; it must not be readable by group or others \(chmod 600 .*ed25519\.key\)/);
});

test('mismatched, corrupt or missing key files are BAD_FILE; an existing key is never overwritten', (t) => {
  const dir = tempDir();
  const { pair } = loadOrCreateKeyPair(dir);
  t.throws(() => saveKeyPair(dir, generateKeyPair()), { code: 'BAD_FILE', message: /key file already exists in .*; refusing to overwrite a key devices may pin/ });
  t.is(loadKeyPair(dir).publicKey.keyId, pair.publicKey.keyId);
  writeFileSync(join(dir, PUBLIC_KEY_FILE), generateKeyPair().publicKey.pem);
  t.throws(() => loadKeyPair(dir), { code: 'BAD_FILE', message: /public key .*ed25519\.pub \(keyId [0-9a-f]{16}\) does not belong to private key/ });
  const other = tempDir();
  t.throws(() => loadKeyPair(other), { code: 'BAD_FILE', message: /cannot read private key .*ed25519\.key/ });
  mkdirSync(join(other, 'k'));
  writeFileSync(join(other, 'k', PRIVATE_KEY_FILE), 'not a key', { mode: 0o600 });
  t.throws(() => loadKeyPair(join(other, 'k')), { code: 'BAD_FILE', message: /is not a valid PEM key/ });
});

test('parsePublicKey rejects what is not an ed25519 public key', (t) => {
  t.throws(() => parsePublicKey('not base64!'), { code: 'BAD_ARGUMENT', message: 'public key: expected a SPKI PEM or the raw 32-byte ed25519 key in base64' });
  t.throws(() => parsePublicKey(Buffer.alloc(31).toString('base64')), { code: 'BAD_ARGUMENT', message: 'public key: raw ed25519 keys are 32 bytes, got 31' });
  t.throws(() => parsePublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'), { code: 'BAD_ARGUMENT', message: /public key: not a valid PEM public key/ });
});
