/**
 * Publishes a dataset as telemetry over MQTT (QoS 1) with a bounded number of messages in flight,
 * at a given rate or as fast as the broker acknowledges.
 */
import { deviceTopic } from '../src/topics.ts';
import { assertSafeName } from '../src/names.ts';
import { EdgeloopError } from '../src/errors.ts';
import type { Telemetry } from '../src/contracts/telemetry.ts';
import { connectMqtt, endAsync, type MqttClient } from '../io/mqtt-client.ts';

export interface ReplayOptions {
  brokerUrl: string;
  fleet: string;
  device: string;
  /** Messages per second; undefined = as fast as possible. */
  ratePerS?: number;
  /** Records per message (a JSON array when > 1). */
  batchSize?: number;
  /** Unacknowledged publishes allowed at once. */
  maxInFlight?: number;
  qos?: 0 | 1;
  clientId?: string;
  username?: string;
  password?: string;
  onProgress?: (sent: number, total: number) => void;
  /** An already connected client to publish with (it is not closed). */
  client?: MqttClient;
}

export interface ReplayResult {
  messages: number;
  records: number;
  acked: number;
  durationMs: number;
}

export async function replay(records: readonly Telemetry[], options: ReplayOptions): Promise<ReplayResult> {
  assertSafeName('fleet', options.fleet);
  assertSafeName('device', options.device);
  const batchSize = options.batchSize ?? 1;
  const maxInFlight = options.maxInFlight ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new EdgeloopError('BAD_ARGUMENT', `batch size ${batchSize} must be an integer in 1..10000`);
  if (options.ratePerS !== undefined && !(options.ratePerS > 0)) throw new EdgeloopError('BAD_ARGUMENT', `rate ${options.ratePerS} must be > 0 messages/s`);
  const qos = options.qos ?? 1;
  const topic = deviceTopic('telemetry', options.fleet, options.device);
  const client = options.client ?? (await connectMqtt(options.brokerUrl, { clientId: options.clientId, username: options.username, password: options.password }));
  const start = Date.now();
  const total = Math.ceil(records.length / batchSize);
  let inFlight = 0;
  let acked = 0;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  try {
    for (let m = 0; m < total; m++) {
      while (inFlight >= maxInFlight) await new Promise<void>((r) => (wake = r));
      if (failure) throw failure;
      if (options.ratePerS !== undefined) {
        const due = start + (m * 1000) / options.ratePerS;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const slice = records.slice(m * batchSize, (m + 1) * batchSize);
      const payload = JSON.stringify(batchSize === 1 ? slice[0] : slice);
      inFlight++;
      client.publish(topic, payload, { qos }, (err) => {
        inFlight--;
        if (err) failure = err;
        else acked++;
        const w = wake;
        wake = null;
        w?.();
      });
      options.onProgress?.(m + 1, total);
    }
    while (inFlight > 0) await new Promise<void>((r) => (wake = r));
    if (failure) throw failure;
  } finally {
    if (!options.client) await endAsync(client);
  }
  return { messages: total, records: records.length, acked, durationMs: Date.now() - start };
}
