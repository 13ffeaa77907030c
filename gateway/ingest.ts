/**
 * Turns raw messages (from MQTT, HTTP or a file) into stored readings and quarantined rejects.
 * One call = one store transaction: the caller acknowledges its messages only after it resolves.
 */
import { parseTopic } from '../src/topics.ts';
import { parseSensorPayload, parseTelemetryPayload, DEFAULT_TELEMETRY_LIMITS, type Reading, type RejectReason, type TelemetryLimits, type TelemetryResult } from '../src/contracts/telemetry.ts';
import { isEdgeloopError, errorMessage } from '../src/errors.ts';
import type { Reject, Store, Transport, WriteResult } from './store.ts';

export interface RawMessage {
  topic: string;
  payload: Uint8Array;
  receivedAtMs: number;
  transport: Transport;
  source: string;
}

export interface IngestOutcome extends WriteResult {
  /** Per message, in input order: null when accepted, else the rejection. */
  verdicts: ({ reason: RejectReason; detail: string } | null)[];
}

export function validateMessage(msg: RawMessage, limits: TelemetryLimits): TelemetryResult {
  let parsed;
  try {
    parsed = parseTopic(msg.topic);
  } catch (err) {
    const reason = isEdgeloopError(err, 'BAD_NAME') ? 'BAD_NAME' : 'BAD_TOPIC';
    return { ok: false, reason, detail: errorMessage(err) };
  }
  switch (parsed.kind) {
    case 'telemetry':
      return parseTelemetryPayload(parsed.fleet, parsed.device, msg.payload, msg.receivedAtMs, limits);
    case 'telemetrySensor':
      return parseSensorPayload(parsed.fleet, parsed.device, parsed.sensor, msg.payload, msg.receivedAtMs);
    default:
      return { ok: false, reason: 'BAD_TOPIC', detail: `topic ${JSON.stringify(msg.topic)} is a '${parsed.kind}' topic, not telemetry` };
  }
}

export class Ingestor {
  readonly #store: Store;
  readonly #limits: TelemetryLimits;

  constructor(store: Store, limits: Partial<TelemetryLimits> = {}) {
    this.#store = store;
    this.#limits = { ...DEFAULT_TELEMETRY_LIMITS, ...limits };
  }

  get limits(): TelemetryLimits {
    return this.#limits;
  }

  /** Validates every message and writes the batch in one transaction. */
  async ingest(messages: readonly RawMessage[]): Promise<IngestOutcome> {
    const readings: Reading[] = [];
    const rejects: Reject[] = [];
    const verdicts: IngestOutcome['verdicts'] = [];
    for (const msg of messages) {
      const result = validateMessage(msg, this.#limits);
      if (result.ok) {
        for (const r of result.readings) readings.push(r);
        verdicts.push(null);
      } else {
        rejects.push({ receivedAtMs: msg.receivedAtMs, transport: msg.transport, topic: msg.topic, source: msg.source, reason: result.reason, detail: result.detail, payload: msg.payload });
        verdicts.push({ reason: result.reason, detail: result.detail });
      }
    }
    const written = await this.#store.writeBatch(readings, rejects);
    return { ...written, verdicts };
  }
}
