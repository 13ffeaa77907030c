/**
 * The telemetry contract: what a device may publish on edgeloop/<fleet>/<device>/telemetry[/<sensor>]
 * and how it becomes stored readings. Pure: the gateway's MQTT, HTTP and file importers all call it,
 * so every way in validates the same way. A message is accepted or rejected as a whole (it is the unit
 * of acknowledgement); a rejection carries a stable reason code for the quarantine.
 */
import { EdgeloopError, type ErrorCode } from '../errors.ts';
import { isSafeName, describeValue } from '../names.ts';
import { parseTimestamp } from '../time/parse-timestamp.ts';

/** One stored measurement. (fleet, device, sensor, ts) identifies it: a redelivery is stored once. */
export interface Reading {
  fleet: string;
  device: string;
  sensor: string;
  /** Epoch ms, UTC, integer. */
  ts: number;
  value: number;
}

/** The JSON a device sends: one object or an array of them. */
export interface Telemetry {
  ts: number | string;
  values: Record<string, number>;
}

export type RejectReason = Extract<
  ErrorCode,
  'BAD_TOPIC' | 'BAD_NAME' | 'NOT_JSON' | 'BAD_PAYLOAD' | 'BAD_TIMESTAMP' | 'BAD_VALUE' | 'PAYLOAD_TOO_LARGE' | 'TOO_MANY_READINGS'
>;

export const REJECT_REASONS: readonly RejectReason[] = [
  'BAD_TOPIC', 'BAD_NAME', 'NOT_JSON', 'BAD_PAYLOAD', 'BAD_TIMESTAMP', 'BAD_VALUE', 'PAYLOAD_TOO_LARGE', 'TOO_MANY_READINGS',
];

export interface TelemetryLimits {
  /** Largest accepted payload. */
  maxPayloadBytes: number;
  /** Most readings (sensor values) one message may carry. */
  maxReadingsPerMessage: number;
  /** Timestamps further than this ahead of the gateway clock are rejected (a device clock gone wrong). */
  maxFutureSkewMs: number;
  /** Timestamps before this are rejected (2000-01-01). */
  minTsMs: number;
}

export const DEFAULT_TELEMETRY_LIMITS: TelemetryLimits = {
  maxPayloadBytes: 256 * 1024,
  maxReadingsPerMessage: 10_000,
  maxFutureSkewMs: 24 * 3600_000,
  minTsMs: Date.UTC(2000, 0, 1),
};

export type TelemetryResult =
  | { ok: true; readings: Reading[] }
  | { ok: false; reason: RejectReason; detail: string };

function reject(reason: RejectReason, detail: string): TelemetryResult {
  return { ok: false, reason, detail };
}

function checkTs(raw: unknown, where: string, nowMs: number, limits: TelemetryLimits): number | string {
  let ts: number;
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) return `${where}: ts must be a finite number of epoch milliseconds`;
    ts = Math.round(raw);
  } else if (typeof raw === 'string') {
    try {
      ts = parseTimestamp(raw, { format: 'iso' });
    } catch (err) {
      return `${where}: ts ${describeValue(raw)} is not an ISO-8601 date-time with a zone (${(err as Error).message})`;
    }
  } else if (raw === undefined) {
    return `${where}: ts is missing`;
  } else {
    return `${where}: ts must be epoch milliseconds (number) or an ISO-8601 string, got ${raw === null ? 'null' : typeof raw}`;
  }
  if (ts < limits.minTsMs) return `${where}: ts ${ts} is before ${new Date(limits.minTsMs).toISOString()} (epoch seconds sent as milliseconds?)`;
  if (ts > nowMs + limits.maxFutureSkewMs) return `${where}: ts ${new Date(ts).toISOString()} is more than ${limits.maxFutureSkewMs} ms ahead of the gateway clock`;
  return ts;
}

/** Parses a JSON telemetry payload published for (fleet, device). Names must already be validated. */
export function parseTelemetryPayload(
  fleet: string,
  device: string,
  payload: Uint8Array | string,
  nowMs: number,
  limits: TelemetryLimits = DEFAULT_TELEMETRY_LIMITS,
): TelemetryResult {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > limits.maxPayloadBytes) return reject('PAYLOAD_TOO_LARGE', `payload is ${size} bytes, the limit is ${limits.maxPayloadBytes}`);
  let doc: unknown;
  try {
    doc = JSON.parse(typeof payload === 'string' ? payload : new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (err) {
    return reject('NOT_JSON', `payload is not UTF-8 JSON: ${(err as Error).message}`);
  }
  const items = Array.isArray(doc) ? doc : [doc];
  if (items.length === 0) return reject('BAD_PAYLOAD', 'payload is an empty array');
  const readings: Reading[] = [];
  for (let i = 0; i < items.length; i++) {
    const where = Array.isArray(doc) ? `item ${i}` : 'payload';
    const item: unknown = items[i];
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return reject('BAD_PAYLOAD', `${where} must be an object {"ts": …, "values": {…}}`);
    const rec = item as Record<string, unknown>;
    for (const key of Object.keys(rec)) {
      if (key !== 'ts' && key !== 'values') return reject('BAD_PAYLOAD', `${where} has unknown field ${describeValue(key)} (allowed: ts, values)`);
    }
    const ts = checkTs(rec.ts, where, nowMs, limits);
    if (typeof ts === 'string') return reject('BAD_TIMESTAMP', ts);
    const values = rec.values;
    if (values === null || typeof values !== 'object' || Array.isArray(values)) return reject('BAD_PAYLOAD', `${where}: values must be an object of sensor → number`);
    const entries = Object.entries(values as Record<string, unknown>);
    if (entries.length === 0) return reject('BAD_PAYLOAD', `${where}: values is empty`);
    for (const [sensor, value] of entries) {
      if (!isSafeName(sensor)) return reject('BAD_NAME', `${where}: sensor name ${describeValue(sensor)} is not allowed: use 1-64 characters of A-Z a-z 0-9 _ - starting with a letter or digit`);
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return reject('BAD_VALUE', `${where}: sensor ${sensor} value must be a finite number, got ${typeof value === 'string' ? describeValue(value) : value === null ? 'null' : typeof value}`);
      }
      if (readings.length >= limits.maxReadingsPerMessage) return reject('TOO_MANY_READINGS', `more than ${limits.maxReadingsPerMessage} readings in one message`);
      readings.push({ fleet, device, sensor, ts, value });
    }
  }
  return { ok: true, readings };
}

/** Parses a bare-number payload published on edgeloop/<fleet>/<device>/telemetry/<sensor>. */
export function parseSensorPayload(
  fleet: string,
  device: string,
  sensor: string,
  payload: Uint8Array | string,
  arrivalMs: number,
): TelemetryResult {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > 64) return reject('PAYLOAD_TOO_LARGE', `a bare sensor value is ${size} bytes, the limit is 64`);
  const text = (typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8')).trim();
  // Number('') is 0 and Number('0x10') is 16: accept only plain decimal notation.
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return reject('BAD_VALUE', `sensor ${sensor}: payload ${describeValue(text)} is not a decimal number`);
  const value = Number(text);
  if (!Number.isFinite(value)) return reject('BAD_VALUE', `sensor ${sensor}: payload ${describeValue(text)} is not finite`);
  return { ok: true, readings: [{ fleet, device, sensor, ts: Math.round(arrivalMs), value }] };
}

/** For callers that want exceptions (CLI import): turns a rejection into an EdgeloopError. */
export function telemetryOrThrow(result: TelemetryResult): Reading[] {
  if (result.ok) return result.readings;
  throw new EdgeloopError(result.reason, result.detail);
}
