/** `edgeloop gateway`: runs the gateway until SIGINT/SIGTERM. */
import { readFileSync } from 'node:fs';
import { EdgeloopError, errorMessage } from '../src/errors.ts';
import { createLogger, type Logger, type LogLevel } from '../src/log.ts';
import { Gateway, type GatewayOptions } from '../gateway/gateway.ts';
import { readCredentialsFile } from '../gateway/broker-auth.ts';
// scale-out: --db postgres://… selects the PostgreSQL store
import { openStore, isPostgresUrl } from '../gateway/store-factory.ts';
import { redactPostgresUrl } from '../gateway/store-postgres.ts';
import type { Store } from '../gateway/store.ts';
import { parse, intFlag } from './args.ts';
import { loadConfig, dbPathOf, keyDirOf, credentialsFileOf, type Config } from './config.ts';
import { readTokenFile } from './gateway-api.ts';

const USAGE = `edgeloop gateway [--broker mqtt://host:port] [--db path|postgres://…] [--fleet F|+] [--shared-group G] [--mqtt-port N] [--http-port N] [--no-http]
       [--no-rollouts] [--key-dir DIR] [--http-token-file F [--http-protect-reads]] [--broker-auth] [--credentials file] [--broker-tls-cert f --broker-tls-key f [--broker-tls-ca f] [--broker-request-cert]]
       [--tls-ca f] [--tls-cert f --tls-key f] [--config file]
  The gateway's own broker password: gateway.password or EDGELOOP_GATEWAY_PASSWORD (never a flag).`;

function readPem(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new EdgeloopError('BAD_CONFIG', `${setting}: cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

/** The embedded broker's and the gateway clients' security from the config: files read here, once. */
export function securityFromConfig(config: Config, logger?: Logger): Pick<GatewayOptions, 'embeddedBroker' | 'tls'> {
  const g = config.gateway;
  const b = config.broker;
  if (g.broker !== undefined && (b.auth || b.tls)) logger?.warn(`broker.auth and broker.tls configure the embedded broker; they are ignored with gateway.broker ${g.broker}`);
  const embedded = g.broker === undefined;
  let auth: NonNullable<GatewayOptions['embeddedBroker']>['auth'];
  if (b.auth && embedded) {
    const path = credentialsFileOf(config);
    const users = readCredentialsFile(path).users;
    if (users.length === 0) logger?.warn(`broker.auth is on but ${path} lists no identities: only the gateway itself can log in (add devices with 'edgeloop acl add-device')`);
    auth = { users };
  }
  const tls = b.tls && embedded
    ? { cert: readPem(b.tls.cert, 'broker.tls.cert'), key: readPem(b.tls.key, 'broker.tls.key'), ca: b.tls.ca === undefined ? undefined : readPem(b.tls.ca, 'broker.tls.ca'), requestCert: b.tls.requestCert }
    : undefined;
  const client = g.tls
    ? {
        ca: g.tls.ca === undefined ? undefined : readPem(g.tls.ca, 'gateway.tls.ca'),
        cert: g.tls.cert === undefined ? undefined : readPem(g.tls.cert, 'gateway.tls.cert'),
        key: g.tls.key === undefined ? undefined : readPem(g.tls.key, 'gateway.tls.key'),
      }
    : undefined;
  return {
    embeddedBroker: { host: g.mqttHost, port: g.mqttPort, auth, tls, maxPacketBytes: b.maxPacketBytes },
    // The gateway's own clients trust the embedded broker's CA by default (the usual single-CA set-up).
    tls: client ?? (tls ? { ca: tls.ca } : undefined),
  };
}

export function gatewayFromConfig(config: Config, logger = createLogger({ level: config.logLevel as LogLevel, json: config.logJson, sink: (l) => process.stderr.write(l + '\n') }), store?: Store): Gateway {
  const g = config.gateway;
  return new Gateway({
    ...securityFromConfig(config, logger),
    id: g.id,
    brokerUrl: g.broker,
    dbPath: dbPathOf(config),
    synchronous: g.synchronous,
    fleet: g.fleet,
    sharedGroup: g.sharedGroup,
    protocolVersion: g.protocolVersion,
    username: g.username,
    password: g.password,
    maxBatch: g.maxBatch,
    http: g.httpEnabled ? { host: g.httpHost, port: g.httpPort, token: g.httpTokenFile === undefined ? null : readTokenFile(g.httpTokenFile), protectReads: g.httpProtectReads } : null,
    limits: config.telemetry,
    logger,
    store,
    keyDir: keyDirOf(config),
    rollouts: g.rollouts ? {} : false,
    leader: { retryMs: g.leaderRetryMs },
  });
}

export async function gatewayCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    broker: { type: 'string' }, fleet: { type: 'string' }, 'shared-group': { type: 'string' }, 'mqtt-port': { type: 'string' },
    'http-port': { type: 'string' }, 'no-http': { type: 'boolean' }, id: { type: 'string' }, 'protocol-version': { type: 'string' },
    'no-rollouts': { type: 'boolean' }, 'key-dir': { type: 'string' }, 'http-token-file': { type: 'string' }, 'http-protect-reads': { type: 'boolean' }, 'broker-auth': { type: 'boolean' }, credentials: { type: 'string' },
    'broker-tls-cert': { type: 'string' }, 'broker-tls-key': { type: 'string' }, 'broker-tls-ca': { type: 'string' }, 'broker-request-cert': { type: 'boolean' },
    'tls-ca': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' },
  }, USAGE);
  const overrides: { path: string[]; value: string | number | boolean }[] = [];
  if (values.broker !== undefined) overrides.push({ path: ['gateway', 'broker'], value: values.broker });
  if (values.db !== undefined) overrides.push({ path: ['gateway', 'db'], value: values.db });
  if (values.fleet !== undefined) overrides.push({ path: ['gateway', 'fleet'], value: values.fleet });
  if (values.id !== undefined) overrides.push({ path: ['gateway', 'id'], value: values.id });
  if (values['shared-group'] !== undefined) overrides.push({ path: ['gateway', 'sharedGroup'], value: values['shared-group'] });
  if (values['mqtt-port'] !== undefined) overrides.push({ path: ['gateway', 'mqttPort'], value: intFlag(values['mqtt-port'], 'mqtt-port', 0, 65535)! });
  if (values['http-port'] !== undefined) overrides.push({ path: ['gateway', 'httpPort'], value: intFlag(values['http-port'], 'http-port', 0, 65535)! });
  if (values['protocol-version'] !== undefined) overrides.push({ path: ['gateway', 'protocolVersion'], value: intFlag(values['protocol-version'], 'protocol-version', 4, 5)! });
  if (values['no-http']) overrides.push({ path: ['gateway', 'httpEnabled'], value: false });
  if (values['log-level'] !== undefined) overrides.push({ path: ['logLevel'], value: values['log-level'] });
  if (values['no-rollouts']) overrides.push({ path: ['gateway', 'rollouts'], value: false });
  if (values['key-dir'] !== undefined) overrides.push({ path: ['gateway', 'keyDir'], value: values['key-dir'] });
  if (values['http-token-file'] !== undefined) overrides.push({ path: ['gateway', 'httpTokenFile'], value: values['http-token-file'] });
  if (values['http-protect-reads']) overrides.push({ path: ['gateway', 'httpProtectReads'], value: true });
  if (values['broker-auth']) overrides.push({ path: ['broker', 'auth'], value: true });
  if (values.credentials !== undefined) overrides.push({ path: ['broker', 'credentialsFile'], value: values.credentials });
  const flagPaths: [keyof typeof values, string[]][] = [
    ['broker-tls-cert', ['broker', 'tls', 'cert']], ['broker-tls-key', ['broker', 'tls', 'key']], ['broker-tls-ca', ['broker', 'tls', 'ca']],
    ['tls-ca', ['gateway', 'tls', 'ca']], ['tls-cert', ['gateway', 'tls', 'cert']], ['tls-key', ['gateway', 'tls', 'key']],
  ];
  for (const [flag, path] of flagPaths) if (typeof values[flag] === 'string') overrides.push({ path, value: values[flag] });
  if (values['broker-request-cert']) overrides.push({ path: ['broker', 'tls', 'requestCert'], value: true });
  const config = loadConfig({ file: values.config, overrides });
  // scale-out: a postgres:// --db opens the PostgreSQL store here (the Gateway itself opens SQLite paths).
  const store = isPostgresUrl(dbPathOf(config)) ? await openStore(dbPathOf(config)) : undefined;
  const gateway = gatewayFromConfig(config, undefined, store);
  try {
    await gateway.start();
  } catch (err) {
    await store?.close();
    throw err;
  }
  // One machine-readable line so scripts and tests can find the endpoints.
  const keyId = gateway.registry?.publicKey().keyId ?? null;
  // Devices verify every model against this key: it has to be pinned on them (edgeloop device --public-key).
  if (gateway.publicKeyPath) process.stderr.write(`model signing key ${keyId}: ${gateway.publicKeyPath} — pin it on devices with 'edgeloop device --public-key ${gateway.publicKeyPath}'\n`);
  console.log(JSON.stringify({
    event: 'gateway-ready', broker: gateway.brokerUrl, http: gateway.httpUrl, db: redactPostgresUrl(dbPathOf(config)), pid: process.pid,
    rollouts: gateway.rollouts !== null, publicKey: gateway.publicKeyPath, keyId, leader: gateway.isLeader,
  }));
  await new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await gateway.stop();
  await store?.close();
}
