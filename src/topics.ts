/**
 * The MQTT topic tree. Every topic edgeloop uses is built and parsed here, and every payload type is
 * named in TopicMap, so a typo is a compile error. See docs/protocol.md.
 *
 *   edgeloop/<fleet>/<device>/telemetry              device → gateway  Telemetry | Telemetry[] (JSON)
 *   edgeloop/<fleet>/<device>/telemetry/<sensor>     device → gateway  bare number (timestamp = arrival)
 *   edgeloop/<fleet>/<device>/status                 device → all      DeviceStatus, retained; last will = offline
 *   edgeloop/<fleet>/<device>/heartbeat              device → gateway  Heartbeat
 *   edgeloop/<fleet>/<device>/predictions            device → gateway  PredictionBatch
 *   edgeloop/<fleet>/<device>/drift                  device → gateway  DriftReport
 *   edgeloop/<fleet>/<device>/labels                 anyone → gateway  delayed ground truth (LabelBatch)
 *   edgeloop/<fleet>/<device>/cmd                    gateway → device  Command (install, activate, rollback, …)
 *   edgeloop/<fleet>/<device>/cmd/result             device → gateway  CommandResult
 *   edgeloop/<fleet>/<device>/model/request          device → gateway  ChunkRequest (resume a transfer)
 *   edgeloop/<fleet>/<device>/rejected               gateway → device  Rejection (why a message was quarantined)
 *   edgeloop/<fleet>/models/<model>/<version>/manifest   gateway → fleet  signed manifest, retained
 *   edgeloop/<fleet>/models/<model>/<version>/chunk/<n>  gateway → fleet  artifact chunk (binary frame)
 *   edgeloop/<fleet>/alerts                          gateway → ops     Alert
 *   edgeloop/_gateway/<gatewayId>/status             gateway → all     GatewayStatus, retained
 *
 * Names: see src/names.ts. `models` and `alerts` are reserved device names for that reason.
 */
import { EdgeloopError } from './errors.ts';
import { isSafeName, describeValue } from './names.ts';

export const TOPIC_ROOT = 'edgeloop';
export const RESERVED_DEVICE_NAMES: ReadonlySet<string> = new Set(['models', 'alerts', '_gateway']);

/** Per-device topic kinds (edgeloop/<fleet>/<device>/<suffix>). */
export const DEVICE_TOPICS = {
  telemetry: 'telemetry',
  status: 'status',
  heartbeat: 'heartbeat',
  predictions: 'predictions',
  drift: 'drift',
  labels: 'labels',
  cmd: 'cmd',
  cmdResult: 'cmd/result',
  modelRequest: 'model/request',
  rejected: 'rejected',
} as const;

export type DeviceTopicKind = keyof typeof DEVICE_TOPICS;

export type ParsedTopic =
  | { kind: DeviceTopicKind; fleet: string; device: string }
  | { kind: 'telemetrySensor'; fleet: string; device: string; sensor: string }
  | { kind: 'modelManifest'; fleet: string; model: string; version: number }
  | { kind: 'modelChunk'; fleet: string; model: string; version: number; index: number }
  | { kind: 'alerts'; fleet: string }
  | { kind: 'gatewayStatus'; gatewayId: string };

const SUFFIX_TO_KIND = new Map<string, DeviceTopicKind>(
  (Object.entries(DEVICE_TOPICS) as [DeviceTopicKind, string][]).map(([k, s]) => [s, k]),
);

export function deviceTopic(kind: DeviceTopicKind, fleet: string, device: string): string {
  return `${TOPIC_ROOT}/${fleet}/${device}/${DEVICE_TOPICS[kind]}`;
}

export function sensorTopic(fleet: string, device: string, sensor: string): string {
  return `${TOPIC_ROOT}/${fleet}/${device}/telemetry/${sensor}`;
}

export function manifestTopic(fleet: string, model: string, version: number): string {
  return `${TOPIC_ROOT}/${fleet}/models/${model}/${version}/manifest`;
}

export function chunkTopic(fleet: string, model: string, version: number, index: number): string {
  return `${TOPIC_ROOT}/${fleet}/models/${model}/${version}/chunk/${index}`;
}

export function alertsTopic(fleet: string): string {
  return `${TOPIC_ROOT}/${fleet}/alerts`;
}

export function gatewayStatusTopic(gatewayId: string): string {
  return `${TOPIC_ROOT}/_gateway/${gatewayId}/status`;
}

/** Subscription filters the gateway uses; `group` turns them into MQTT 5 shared subscriptions. */
export function gatewayFilters(fleet: string | '+', group?: string): string[] {
  const filters = [
    `${TOPIC_ROOT}/${fleet}/+/telemetry`,
    `${TOPIC_ROOT}/${fleet}/+/telemetry/+`,
  ];
  return group ? filters.map((f) => `$share/${group}/${f}`) : filters;
}

function badTopic(topic: string, why: string): EdgeloopError {
  return new EdgeloopError('BAD_TOPIC', `topic ${describeValue(topic)} ${why}`);
}

function nameOrThrow(topic: string, kind: string, value: string | undefined): string {
  if (value === undefined || !isSafeName(value)) {
    throw new EdgeloopError('BAD_NAME', `topic ${describeValue(topic)}: ${kind} name ${describeValue(value)} is not allowed: use 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit`);
  }
  return value;
}

function intOrThrow(topic: string, what: string, value: string | undefined): number {
  if (value === undefined || !/^(0|[1-9][0-9]{0,8})$/.test(value)) throw badTopic(topic, `has a bad ${what} ${describeValue(value)}`);
  return Number(value);
}

/** Parses any edgeloop topic; throws BAD_TOPIC or BAD_NAME with the reason. */
export function parseTopic(topic: string): ParsedTopic {
  if (topic.length > 512) throw badTopic(topic, 'is longer than 512 characters');
  const parts = topic.split('/');
  if (parts[0] !== TOPIC_ROOT) throw badTopic(topic, `does not start with '${TOPIC_ROOT}/'`);
  if (parts[1] === '_gateway' && parts.length === 4 && parts[3] === 'status') {
    return { kind: 'gatewayStatus', gatewayId: nameOrThrow(topic, 'gateway', parts[2]) };
  }
  const fleet = nameOrThrow(topic, 'fleet', parts[1]);
  if (parts[2] === 'alerts' && parts.length === 3) return { kind: 'alerts', fleet };
  if (parts[2] === 'models' && (parts[5] === 'manifest' || parts[5] === 'chunk')) {
    const model = nameOrThrow(topic, 'model', parts[3]);
    const version = intOrThrow(topic, 'version', parts[4]);
    if (parts.length === 6 && parts[5] === 'manifest') return { kind: 'modelManifest', fleet, model, version };
    if (parts.length === 7 && parts[5] === 'chunk') return { kind: 'modelChunk', fleet, model, version, index: intOrThrow(topic, 'chunk index', parts[6]) };
    throw badTopic(topic, 'is not a known model topic');
  }
  const device = nameOrThrow(topic, 'device', parts[2]);
  if (RESERVED_DEVICE_NAMES.has(device)) throw badTopic(topic, `uses the reserved device name '${device}'`);
  const suffix = parts.slice(3).join('/');
  if (parts.length === 5 && parts[3] === 'telemetry') {
    return { kind: 'telemetrySensor', fleet, device, sensor: nameOrThrow(topic, 'sensor', parts[4]) };
  }
  const kind = SUFFIX_TO_KIND.get(suffix);
  if (!kind) throw badTopic(topic, 'is not a known edgeloop topic (see docs/protocol.md)');
  return { kind, fleet, device };
}
