/**
 * `edgeloop fleet list|show` and `edgeloop rollout create|status|pause|resume|abort|rollback`.
 * Both talk to the running gateway's HTTP API (gateway/rollout-http.ts); --gateway defaults to the
 * configured gateway.httpHost:httpPort.
 */
import { EdgeloopError } from '../src/errors.ts';
import { parse } from './args.ts';
import { callGateway, formatTable, gatewayApi } from './gateway-api.ts';

const FLEET_USAGE = `edgeloop fleet list [--fleet F] [--tag T] [--format table|json] [--gateway URL]
       edgeloop fleet show <device> [--fleet F] [--format table|json] [--gateway URL]`;
const ROLLOUT_USAGE = `edgeloop rollout create --model NAME@VERSION|NAME@alias --target 'tag:T'|'device:a,b'|'all'
           [--fleet F] [--strategy all-at-once|canary|waves] [--canary 10%|N] [--wave-size N|%] [--wave-interval 30s]
           [--abort-failure-rate 20%] [--timeout 5m] [--mode active|shadow|ab:0.2] [--model-format onnx|tflite] [--variant float32|…] [--seed N]
           [--allow-downgrade]   (roll devices back below a version they already ran: installs carry signed rollbacks)
           [--defer a,b]         (these devices go last: never the canary while other targets can be)
       edgeloop rollout status [id] | pause <id> | resume <id> | abort <id> [--reason R] | rollback <id> [--reason R]
       common: [--gateway http://127.0.0.1:8080] [--token-file F] [--format table|json]`;

export type Print = (line: string) => void;
const defaultPrint: Print = (line) => console.log(line);





function outputFormat(value: string | undefined): 'table' | 'json' {
  const f = value ?? 'table';
  if (f !== 'table' && f !== 'json') throw new EdgeloopError('BAD_ARGUMENT', `--format ${JSON.stringify(f)} must be table or json`);
  return f;
}

interface DeviceDoc {
  fleet: string; device: string; health: string; tags: string[]; agentVersion: string | null; runtimes: string[];
  hardware: { arch: string; platform: string; cpus: number; memoryBytes: number } | null;
  models: { model: string; active: number | null; shadow: number | null; previous: number[] }[];
  lastSeenMs: number; heartbeatsMissed: number; transfer: { model: string; version: number; receivedChunks: number; totalChunks: number } | null;
  rollout: { id: string; model: string; version: number; state: string; mode: string; fromVersion: number | null; error: { code: string; message: string } | null } | null;
}

const modelsText = (d: DeviceDoc) => d.models.map((m) => `${m.model}@${m.active ?? '-'}${m.shadow ? `+shadow@${m.shadow}` : ''}${m.previous.length ? ` (prev ${m.previous.join(',')})` : ''}`).join('; ') || '-';

export async function fleetCommand(argv: string[], print: Print = defaultPrint): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { gateway: { type: 'string' }, 'token-file': { type: 'string' }, fleet: { type: 'string' }, tag: { type: 'string' }, format: { type: 'string' } }, FLEET_USAGE);
  const format = outputFormat(values.format);
  switch (sub) {
    case 'list': {
      const q = new URLSearchParams();
      if (values.fleet) q.set('fleet', values.fleet);
      if (values.tag) q.set('tag', values.tag);
      const devices = (await callGateway(gatewayApi(values), 'GET', `/v1/fleet${q.size ? `?${q}` : ''}`)) as DeviceDoc[];
      if (format === 'json') return print(JSON.stringify(devices, null, 2));
      const now = Date.now();
      print(formatTable(devices.map((d) => ({
        fleet: d.fleet, device: d.device, health: d.health, tags: d.tags.join(',') || '-', models: modelsText(d),
        'last seen': `${Math.max(0, Math.round((now - d.lastSeenMs) / 1000))} s ago`, rollout: d.rollout ? `${d.rollout.id} ${d.rollout.state}` : '-',
      }))));
      return;
    }
    case 'show': {
      const device = positionals[0];
      if (!device) throw new EdgeloopError('BAD_ARGUMENT', `fleet show needs a device id\nusage: ${FLEET_USAGE}`);
      const base = gatewayApi(values);
      let fleet = values.fleet;
      if (fleet === undefined) {
        const matches = ((await callGateway(base, 'GET', '/v1/fleet')) as DeviceDoc[]).filter((d) => d.device === device);
        if (matches.length === 0) throw new EdgeloopError('NOT_FOUND', `device ${JSON.stringify(device)} has never reported to the gateway at ${base}`);
        if (matches.length > 1) throw new EdgeloopError('BAD_ARGUMENT', `device ${JSON.stringify(device)} exists in fleets ${matches.map((m) => m.fleet).join(', ')}: pass --fleet`);
        fleet = matches[0]!.fleet;
      }
      const d = (await callGateway(base, 'GET', `/v1/fleet/${encodeURIComponent(fleet)}/${encodeURIComponent(device)}`)) as DeviceDoc;
      if (format === 'json') return print(JSON.stringify(d, null, 2));
      const hw = d.hardware ? `${d.hardware.platform}/${d.hardware.arch}, ${d.hardware.cpus} CPUs, ${Math.round(d.hardware.memoryBytes / 2 ** 20)} MiB` : '-';
      print(formatTable([
        { field: 'device', value: `${d.fleet}/${d.device}` }, { field: 'health', value: d.health }, { field: 'tags', value: d.tags.join(', ') || '-' },
        { field: 'hardware', value: hw }, { field: 'runtimes', value: d.runtimes.join(', ') || '-' }, { field: 'agent', value: d.agentVersion },
        { field: 'models', value: modelsText(d) }, { field: 'last seen', value: new Date(d.lastSeenMs).toISOString() },
        { field: 'heartbeats missed', value: d.heartbeatsMissed },
        { field: 'transfer', value: d.transfer ? `${d.transfer.model}@${d.transfer.version} ${d.transfer.receivedChunks}/${d.transfer.totalChunks} chunks` : '-' },
        { field: 'rollout', value: d.rollout ? `${d.rollout.id}: ${d.rollout.model}@${d.rollout.fromVersion ?? '-'} → @${d.rollout.version} ${d.rollout.state} (${d.rollout.mode})${d.rollout.error ? ` ${d.rollout.error.code}: ${d.rollout.error.message}` : ''}` : '-' },
      ]));
      return;
    }
    default:
      throw new EdgeloopError('BAD_ARGUMENT', `unknown fleet subcommand ${JSON.stringify(sub ?? '')}\nusage: ${FLEET_USAGE}`);
  }
}

interface SummaryDoc {
  id: string; fleet: string; model: string; version: number; ref: string; state: string; reason: string | null; target: string; strategy: string; mode: string;
  waves: number; currentWave: number; targets: number; counts: Record<string, number>; failureRate: number; shadowAgreement: number | null; createdAtMs: number;
  skipped: { device: string; why: string }[]; control: string[]; allowDowngrade?: boolean;
  devices?: { device: string; wave: number; state: string; fromVersion: number | null; receivedChunks: number | null; totalChunks: number | null; error: { code: string; message: string } | null; rollbackCommandId: string | null }[];
  events?: { device: string | null; atMs: number; kind: string; detail: string }[];
}

function summaryRow(s: SummaryDoc) {
  const c = s.counts;
  return {
    id: s.id, model: `${s.model}@${s.version}`, fleet: s.fleet, target: s.target, strategy: s.strategy, mode: s.mode, state: s.state,
    wave: `${Math.max(0, s.currentWave + 1)}/${s.waves}`, active: `${c.active}/${s.targets}`, failed: c.failed, 'rolled-back': c['rolled-back'],
    'in flight': (c.transferring ?? 0) + (c.verifying ?? 0),
  };
}

function printDetail(s: SummaryDoc, print: Print): void {
  print(formatTable([summaryRow(s)]));
  if (s.reason) print(`reason: ${s.reason}`);
  if (s.shadowAgreement !== null) print(`shadow agreement: ${(s.shadowAgreement * 100).toFixed(1)}%`);
  if (s.skipped.length) print(`skipped: ${s.skipped.map((k) => `${k.device} (${k.why})`).join(', ')}`);
  if (s.control.length) print(`A/B control arm (unchanged): ${s.control.join(', ')}`);
  if (s.allowDowngrade) print('downgrade allowed: installs below a version a device already ran carry a signed rollback');
  if (s.devices) {
    print('');
    print(formatTable(s.devices.map((d) => ({
      device: d.device, wave: d.wave + 1, state: d.state, from: d.fromVersion ?? '-', chunks: d.totalChunks ? `${d.receivedChunks ?? 0}/${d.totalChunks}` : '-',
      rollback: d.rollbackCommandId ? (d.state === 'rolled-back' ? 'done' : 'sent') : '-', error: d.error ? `${d.error.code}: ${d.error.message}`.slice(0, 100) : '-',
    }))));
  }
}

export async function rolloutCommand(argv: string[], print: Print = defaultPrint): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    gateway: { type: 'string' }, 'token-file': { type: 'string' }, format: { type: 'string' }, model: { type: 'string' }, target: { type: 'string' }, fleet: { type: 'string' },
    strategy: { type: 'string' }, canary: { type: 'string' }, 'wave-size': { type: 'string' }, 'wave-interval': { type: 'string' },
    'abort-failure-rate': { type: 'string' }, timeout: { type: 'string' }, mode: { type: 'string' }, 'model-format': { type: 'string' },
    variant: { type: 'string' }, seed: { type: 'string' }, reason: { type: 'string' }, 'allow-downgrade': { type: 'boolean' },
    defer: { type: 'string' },
  }, ROLLOUT_USAGE);
  const format = outputFormat(values.format);
  const show = (doc: unknown) => (format === 'json' ? print(JSON.stringify(doc, null, 2)) : printDetail(doc as SummaryDoc, print));
  switch (sub) {
    case 'create': {
      if (!values.model) throw new EdgeloopError('BAD_ARGUMENT', `--model is required\nusage: ${ROLLOUT_USAGE}`);
      if (!values.target) throw new EdgeloopError('BAD_ARGUMENT', `--target is required\nusage: ${ROLLOUT_USAGE}`);
      const body: Record<string, unknown> = { model: values.model, target: values.target, createdBy: `cli:${process.env.USER ?? 'unknown'}` };
      const map: [keyof typeof values, string][] = [['fleet', 'fleet'], ['strategy', 'strategy'], ['canary', 'canary'], ['wave-size', 'waveSize'], ['wave-interval', 'waveInterval'],
        ['abort-failure-rate', 'abortFailureRate'], ['timeout', 'timeout'], ['mode', 'mode'], ['model-format', 'format'], ['variant', 'variant']];
      for (const [flag, field] of map) if (values[flag] !== undefined) body[field] = values[flag];
      if (values['allow-downgrade'] === true) body.allowDowngrade = true;
      if (values.defer !== undefined) body.defer = values.defer.split(',').map((d) => d.trim()).filter((d) => d.length > 0);
      if (values.seed !== undefined) {
        const seed = Number(values.seed);
        if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new EdgeloopError('BAD_ARGUMENT', `--seed ${JSON.stringify(values.seed)} must be an integer in 0..4294967295`);
        body.seed = seed;
      }
      show(await callGateway(gatewayApi(values), 'POST', '/v1/rollouts', body));
      return;
    }
    case 'status': {
      const base = gatewayApi(values);
      const id = positionals[0];
      if (id !== undefined) return show(await callGateway(base, 'GET', `/v1/rollouts/${encodeURIComponent(id)}`));
      const list = (await callGateway(base, 'GET', '/v1/rollouts')) as SummaryDoc[];
      print(format === 'json' ? JSON.stringify(list, null, 2) : formatTable(list.map(summaryRow)));
      return;
    }
    case 'pause':
    case 'resume':
    case 'abort':
    case 'rollback': {
      const id = positionals[0];
      if (!id) throw new EdgeloopError('BAD_ARGUMENT', `rollout ${sub} needs a rollout id\nusage: ${ROLLOUT_USAGE}`);
      show(await callGateway(gatewayApi(values), 'POST', `/v1/rollouts/${encodeURIComponent(id)}/${sub}`, values.reason ? { reason: values.reason } : {}));
      return;
    }
    default:
      throw new EdgeloopError('BAD_ARGUMENT', `unknown rollout subcommand ${JSON.stringify(sub ?? '')}\nusage: ${ROLLOUT_USAGE}`);
  }
}
