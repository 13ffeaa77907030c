/** `edgeloop device`: runs the device agent until SIGINT/SIGTERM. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EdgeloopError } from '../src/errors.ts';
import { createLogger, type LogLevel } from '../src/log.ts';
import { Agent } from '../device/agent.ts';
import type { IClientOptions } from '../io/mqtt-client.ts';
import { pinKeys } from '../device/verify.ts';
import { parse, requireFlag, intFlag } from './args.ts';

const USAGE = 'edgeloop device --broker mqtt://host:port --fleet F --id D [--dir state-dir] [--tags pi4,lab] [--public-key path] [--heartbeat-s N] [--keep N] [--window-chunks N] [--chunk-timeout-ms N] [--log-level L]\n       broker login: [--username U (default <fleet>/<id>)] [--password-file f | --password P] [--ca f] [--cert f --key f]';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export async function deviceCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    broker: { type: 'string' }, fleet: { type: 'string' }, id: { type: 'string' }, dir: { type: 'string' }, tags: { type: 'string' },
    'public-key': { type: 'string' }, 'heartbeat-s': { type: 'string' }, keep: { type: 'string' }, 'window-chunks': { type: 'string' },
    'chunk-timeout-ms': { type: 'string' },
    username: { type: 'string' }, password: { type: 'string' }, 'password-file': { type: 'string' }, ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' },
  }, USAGE);
  const broker = requireFlag(values.broker, 'broker', USAGE);
  const fleet = requireFlag(values.fleet, 'fleet', USAGE);
  const id = requireFlag(values.id, 'id', USAGE);
  const dir = resolve(values.dir ?? join('data', `device-${id}`));
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw new EdgeloopError('BAD_ARGUMENT', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(values['log-level'])}`);
  // The pinned gateway key: without one the device could not tell a real model from a forged one.
  const keyPath = values['public-key'] ?? join(dir, 'gateway.pub');
  if (!existsSync(keyPath)) {
    throw new EdgeloopError('BAD_CONFIG', `no pinned gateway public key at ${keyPath}: pass --public-key path (SPKI PEM or raw base64, see 'edgeloop models key') or put it there`);
  }
  const text = readFileSync(keyPath, 'utf8');
  // One or more keys (key rotation): PEM blocks, or raw base64 keys one per line.
  const keyTexts = text.includes('-----BEGIN') ? (text.match(/-----BEGIN[\s\S]+?-----END[^\n]*-----/g) ?? []) : text.split('\n').filter((l) => l.trim() !== '');
  if (keyTexts.length === 0) throw new EdgeloopError('BAD_CONFIG', `${keyPath} holds no public key`);
  const pinned = pinKeys(keyTexts);
  const tags = values.tags === undefined ? [] : values.tags.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const logger = createLogger({ level, sink: (l) => process.stderr.write(l + '\n') });
  const agent = await Agent.create({
    brokerUrl: broker, fleet, id, stateDir: dir, pinned, tags, logger, mqtt: brokerLogin(values, `${fleet}/${id}`),
    heartbeatS: intFlag(values['heartbeat-s'], 'heartbeat-s', 1, 86_400),
    keepPrevious: intFlag(values.keep, 'keep', 0, 100),
    transfer: {
      windowChunks: intFlag(values['window-chunks'], 'window-chunks', 1, 1024),
      chunkTimeoutMs: intFlag(values['chunk-timeout-ms'], 'chunk-timeout-ms', 10, 600_000),
    },
  });
  await agent.start();
  // One machine-readable line so scripts and tests know the agent is up.
  console.log(JSON.stringify({ event: 'device-ready', fleet, id, dir, pid: process.pid }));
  await new Promise<void>((done) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      done();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await agent.stop();
}

/** Broker login flags (docs/security.md): password (from a file, or a flag), CA of the broker, client certificate. */
function brokerLogin(values: { username?: string; password?: string; 'password-file'?: string; ca?: string; cert?: string; key?: string }, identity: string): IClientOptions {
  const file = (flag: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new EdgeloopError('BAD_CONFIG', `--${flag}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  if (values.password !== undefined && values['password-file'] !== undefined) throw new EdgeloopError('BAD_ARGUMENT', 'pass --password or --password-file, not both');
  if ((values.cert === undefined) !== (values.key === undefined)) throw new EdgeloopError('BAD_ARGUMENT', '--cert and --key go together (the client certificate and its private key)');
  const password = values.password ?? file('password-file', values['password-file'])?.toString('utf8').trim();
  const out: IClientOptions = {};
  if (password !== undefined) {
    out.username = values.username ?? identity;
    out.password = password;
  } else if (values.username !== undefined) out.username = values.username;
  const ca = file('ca', values.ca);
  const cert = file('cert', values.cert);
  const key = file('key', values.key);
  if (ca) out.ca = ca;
  if (cert && key) Object.assign(out, { cert, key });
  return out;
}
