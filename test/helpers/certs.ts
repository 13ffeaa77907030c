/**
 * Test PKI made with the openssl CLI in a temp folder: a CA, a server certificate for 127.0.0.1 /
 * localhost, and client certificates whose subject CN is an edgeloop identity (`lab/node7`,
 * `_gateway/gw1`). EC P-256 keys: fast to generate on a loaded machine.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.ts';

export interface KeyPair {
  keyPath: string;
  certPath: string;
  key: Buffer;
  cert: Buffer;
}

export interface TestPki {
  dir: string;
  ca: KeyPair;
  server: KeyPair;
  /** A client certificate signed by the CA, subject CN = `cn`. */
  client(cn: string): KeyPair;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function pair(dir: string, name: string): KeyPair {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  return { keyPath, certPath, key: readFileSync(keyPath), cert: readFileSync(certPath) };
}

/** '/' separates RDNs in -subj; a CN containing it must escape it. */
const subject = (cn: string) => `/CN=${cn.replace(/\//g, '\\/')}`;

function selfSignedCa(dir: string, name: string): KeyPair {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', subject(`edgeloop test ${name}`),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return pair(dir, name);
}

function signed(dir: string, ca: KeyPair, name: string, cn: string, ext: string[]): KeyPair {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject(cn)], dir);
  writeFileSync(join(dir, `${name}.ext`), ext.join('\n') + '\n');
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-CAcreateserial', '-days', '2',
    '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir);
  return pair(dir, name);
}

export function makePki(): TestPki {
  const dir = tempDir('edgeloop-pki-');
  const ca = selfSignedCa(dir, 'ca');
  const server = signed(dir, ca, 'server', 'localhost', ['subjectAltName=DNS:localhost,IP:127.0.0.1', 'extendedKeyUsage=serverAuth']);
  let n = 0;
  return {
    dir,
    ca,
    server,
    client: (cn) => signed(dir, ca, `client${n++}`, cn, ['extendedKeyUsage=clientAuth']),
  };
}

/** A second, unrelated CA and a client certificate from it: must not be trusted by the first. */
export function makeRogueClient(cn: string): KeyPair {
  const dir = tempDir('edgeloop-rogue-pki-');
  const ca = selfSignedCa(dir, 'rogue-ca');
  return signed(dir, ca, 'rogue', cn, ['extendedKeyUsage=clientAuth']);
}
