/** `edgeloop device`: runs the device agent until SIGINT/SIGTERM. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EdgeloopError } from '../src/errors.ts';
import { createLogger, type LogLevel } from '../src/log.ts';
import { Agent, type AgentInferenceOptions } from '../device/agent.ts';
import type { IClientOptions } from '../io/mqtt-client.ts';
import { pinKeys } from '../device/verify.ts';
import { parseInputSpec, type InputSource } from '../device/input-source.ts';
import { CsvInput, CSV_INPUT_DEFAULTS } from '../device/input-csv.ts';
import { MqttInput } from '../device/input-mqtt.ts';
import { StdinInput } from '../device/input-stdin.ts';
import { parseFault } from '../device/fault.ts';
import { INFERENCE_DEFAULTS } from '../device/inference.ts';
import { PredictHttp } from '../device/predict-http.ts';
import { parse, requireFlag, intFlag } from './args.ts';

const USAGE = 'edgeloop device --broker mqtt://host:port --fleet F --id D [--dir state-dir] [--tags pi4,lab] [--public-key path] [--heartbeat-s N] [--keep N] [--window-chunks N] [--chunk-timeout-ms N] [--log-level L]\n'
  + '       broker login: [--username U (default <fleet>/<id>)] [--password-file f | --password P] [--ca f] [--cert f --key f]\n'
  + '       inference: [--input csv:PATH|mqtt:TOPIC|stdin] [--input-broker URL] [--time-zone Z] [--speed X | --rate N] [--publish-telemetry | --no-publish-telemetry]\n'
  + '                  [--labels COLUMN [--label-delay-ms N]] [--fault SENSOR:+N@WHEN ...] [--drift-window N] [--drift-every N] [--batch-size N] [--batch-ms N]\n'
  + '                  [--outbox-max N] [--no-wait-for-model] [--http-port N [--http-host H]] (see docs/device.md)';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export async function deviceCommand(argv: string[]): Promise<void> {
  const { values } = parse(argv, {
    broker: { type: 'string' }, fleet: { type: 'string' }, id: { type: 'string' }, dir: { type: 'string' }, tags: { type: 'string' },
    'public-key': { type: 'string' }, 'heartbeat-s': { type: 'string' }, keep: { type: 'string' }, 'window-chunks': { type: 'string' },
    'chunk-timeout-ms': { type: 'string' },
    username: { type: 'string' }, password: { type: 'string' }, 'password-file': { type: 'string' }, ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' },
    ...INFERENCE_FLAGS,
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
  const mqttLogin = brokerLogin(values, `${fleet}/${id}`);
  const inference = await inferenceOptions(values, { broker, fleet, id, mqtt: mqttLogin });
  const agent = await Agent.create({
    brokerUrl: broker, fleet, id, stateDir: dir, pinned, tags, logger, mqtt: mqttLogin, inference,
    heartbeatS: intFlag(values['heartbeat-s'], 'heartbeat-s', 1, 86_400),
    keepPrevious: intFlag(values.keep, 'keep', 0, 100),
    transfer: {
      windowChunks: intFlag(values['window-chunks'], 'window-chunks', 1, 1024),
      chunkTimeoutMs: intFlag(values['chunk-timeout-ms'], 'chunk-timeout-ms', 10, 600_000),
    },
  });
  await agent.start();
  let http: PredictHttp | null = null;
  if (values['http-port'] !== undefined) {
    http = await PredictHttp.create({ engine: agent.inference!, port: intFlag(values['http-port'], 'http-port', 0, 65_535)!, host: values['http-host'], logger });
    try {
      await http.start();
    } catch (err) {
      await agent.stop();
      throw err;
    }
  }
  // One machine-readable line so scripts and tests know the agent is up.
  console.log(JSON.stringify({ event: 'device-ready', fleet, id, dir, pid: process.pid, ...(inference?.input ? { input: inference.input.name } : {}), ...(http ? { http: http.url } : {}) }));
  await new Promise<void>((done) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      done();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await http?.stop();
  await agent.stop();
}

const INFERENCE_FLAGS = {
  input: { type: 'string' }, 'input-broker': { type: 'string' }, 'time-zone': { type: 'string' }, speed: { type: 'string' }, rate: { type: 'string' },
  'publish-telemetry': { type: 'boolean' }, 'no-publish-telemetry': { type: 'boolean' }, labels: { type: 'string' }, 'label-delay-ms': { type: 'string' },
  fault: { type: 'string', multiple: true }, 'drift-window': { type: 'string' }, 'drift-every': { type: 'string' }, 'batch-size': { type: 'string' },
  'batch-ms': { type: 'string' }, 'outbox-max': { type: 'string' }, 'no-wait-for-model': { type: 'boolean' }, 'http-port': { type: 'string' }, 'http-host': { type: 'string' },
} as const;

type InferenceFlagValues = { [K in keyof typeof INFERENCE_FLAGS]?: (typeof INFERENCE_FLAGS)[K] extends { multiple: true } ? string[] : (typeof INFERENCE_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

function positiveFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.replace(/\/s$/, ''));
  if (!(n > 0 && Number.isFinite(n))) throw new EdgeloopError('BAD_ARGUMENT', `--${flag} ${JSON.stringify(value)} must be a positive number`);
  return n;
}

/**
 * The inference loop's options from the flags (undefined: no --input and no --http-port, the agent
 * only manages models). Prints {"event":"input-done",…} on stdout when the input is exhausted.
 */
async function inferenceOptions(values: InferenceFlagValues, ctx: { broker: string; fleet: string; id: string; mqtt: IClientOptions }): Promise<AgentInferenceOptions | undefined> {
  const inputOnly = ['input-broker', 'time-zone', 'speed', 'rate', 'publish-telemetry', 'no-publish-telemetry', 'labels', 'label-delay-ms', 'fault', 'no-wait-for-model'] as const;
  if (values.input === undefined) {
    const stray = inputOnly.filter((f) => values[f] !== undefined);
    if (stray.length > 0) throw new EdgeloopError('BAD_ARGUMENT', `${stray.map((f) => `--${f}`).join(', ')} need(s) --input csv:PATH|mqtt:TOPIC|stdin`);
    if (values['http-port'] === undefined) return undefined;
  }
  if (values.speed !== undefined && values.rate !== undefined) throw new EdgeloopError('BAD_ARGUMENT', 'pass --speed (× real time) or --rate (readings per second), not both');
  if (values['publish-telemetry'] && values['no-publish-telemetry']) throw new EdgeloopError('BAD_ARGUMENT', 'pass --publish-telemetry or --no-publish-telemetry, not both');
  if (values['label-delay-ms'] !== undefined && values.labels === undefined) throw new EdgeloopError('BAD_ARGUMENT', '--label-delay-ms needs --labels COLUMN');
  const spec = values.input === undefined ? null : parseInputSpec(values.input);
  if (spec?.kind !== 'csv' && (values.speed !== undefined || values.rate !== undefined)) throw new EdgeloopError('BAD_ARGUMENT', '--speed and --rate pace a csv: input only');
  const faults = (values.fault ?? []).map((f) => parseFault(f, { timeZone: values['time-zone'] }));
  let input: InputSource | null = null;
  if (spec?.kind === 'csv') {
    input = await CsvInput.create({ path: spec.path, timeZone: values['time-zone'], speed: positiveFlag(values.speed, 'speed'), ratePerS: positiveFlag(values.rate, 'rate') ?? CSV_INPUT_DEFAULTS.ratePerS });
  } else if (spec?.kind === 'mqtt') {
    input = await MqttInput.create({ brokerUrl: values['input-broker'] ?? ctx.broker, topic: spec.topic, clientId: `edgeloop-${ctx.fleet}-${ctx.id}-input`, mqtt: values['input-broker'] === undefined ? ctx.mqtt : {} });
  } else if (spec?.kind === 'stdin') {
    input = new StdinInput();
  }
  const driftWindow = intFlag(values['drift-window'], 'drift-window', 1, 1_000_000) ?? INFERENCE_DEFAULTS.drift.windowSize;
  const driftEvery = intFlag(values['drift-every'], 'drift-every', 1, 1_000_000) ?? INFERENCE_DEFAULTS.drift.every;
  return {
    input,
    waitForModel: !values['no-wait-for-model'],
    // Default on for a csv replay (the gateway gets the data to retrain on), off for live sources.
    publishTelemetry: values['publish-telemetry'] ?? (values['no-publish-telemetry'] ? false : spec?.kind === 'csv'),
    labels: values.labels === undefined ? null : { column: values.labels, delayMs: intFlag(values['label-delay-ms'], 'label-delay-ms', 0, 30 * 24 * 3_600_000) ?? 0 },
    faults,
    drift: { windowSize: driftWindow, every: driftEvery },
    batchSize: intFlag(values['batch-size'], 'batch-size', 1, 10_000),
    batchMs: intFlag(values['batch-ms'], 'batch-ms', 1, 3_600_000),
    outboxMaxMessages: intFlag(values['outbox-max'], 'outbox-max', 1, 100_000_000),
    onInputDone: (s) => console.log(JSON.stringify({ event: 'input-done', fleet: ctx.fleet, id: ctx.id, ...s })),
  };
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
