/** `edgeloop gateway`: runs the gateway until SIGINT/SIGTERM. */
import { createLogger, type LogLevel } from '../src/log.ts';
import { Gateway } from '../gateway/gateway.ts';
// scale-out: --db postgres://… selects the PostgreSQL store
import { openStore, isPostgresUrl } from '../gateway/store-factory.ts';
import { redactPostgresUrl } from '../gateway/store-postgres.ts';
import type { Store } from '../gateway/store.ts';
import { parse, intFlag } from './args.ts';
import { loadConfig, dbPathOf, type Config } from './config.ts';

const USAGE = 'edgeloop gateway [--broker mqtt://host:port] [--db path|postgres://…] [--fleet F|+] [--shared-group G] [--mqtt-port N] [--http-port N] [--no-http] [--config file]';

export function gatewayFromConfig(config: Config, logger = createLogger({ level: config.logLevel as LogLevel, json: config.logJson, sink: (l) => process.stderr.write(l + '\n') }), store?: Store): Gateway {
  const g = config.gateway;
  return new Gateway({
    id: g.id,
    brokerUrl: g.broker,
    embeddedBroker: { host: g.mqttHost, port: g.mqttPort },
    dbPath: dbPathOf(config),
    synchronous: g.synchronous,
    fleet: g.fleet,
    sharedGroup: g.sharedGroup,
    protocolVersion: g.protocolVersion,
    username: g.username,
    password: g.password,
    maxBatch: g.maxBatch,
    http: g.httpEnabled ? { host: g.httpHost, port: g.httpPort } : null,
    limits: config.telemetry,
    logger,
    store,
  });
}

export async function gatewayCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    broker: { type: 'string' }, fleet: { type: 'string' }, 'shared-group': { type: 'string' }, 'mqtt-port': { type: 'string' },
    'http-port': { type: 'string' }, 'no-http': { type: 'boolean' }, id: { type: 'string' }, 'protocol-version': { type: 'string' },
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
  console.log(JSON.stringify({ event: 'gateway-ready', broker: gateway.brokerUrl, http: gateway.httpUrl, db: redactPostgresUrl(dbPathOf(config)), pid: process.pid }));
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
