/**
 * The one module that imports mqtt.js: publishers (replay, device agents, tests, benches) connect here.
 * Gateway ingest uses gateway/mqtt-session.ts instead (it defers acknowledgements past a commit).
 */
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient, IClientPublishOptions } from 'mqtt';
import { EdgeloopError } from '../src/errors.ts';

export type { MqttClient, IClientOptions };

/**
 * mqtt.js traces every packet through the `debug` package; even switched off, each call costs a check
 * (a few percent of a device agent's CPU during a rollout). The trace stays available with
 * DEBUG=mqttjs*; otherwise clients get a no-op logger.
 */
const quietLog = /mqttjs/.test(process.env.DEBUG ?? '') ? undefined : (): void => {};

export async function connectMqtt(url: string, options: IClientOptions = {}, timeoutMs = 10_000): Promise<MqttClient> {
  // reschedulePings false: the keepalive PINGREQ goes out every keepalive period instead of mqtt.js
  // re-arming its timer on every acknowledgement received (a clearInterval and a setInterval per PUBACK).
  const client = mqtt.connect(url, { reconnectPeriod: 500, connectTimeout: timeoutMs, reschedulePings: false, ...(quietLog ? { log: quietLog } : {}), ...options });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new EdgeloopError('TIMEOUT', `no CONNACK from ${url} within ${timeoutMs} ms`)), timeoutMs);
      client.once('connect', () => { clearTimeout(timer); resolve(); });
      client.once('error', (err) => { clearTimeout(timer); reject(new EdgeloopError('BAD_CONFIG', `cannot connect to ${url}: ${err.message}`, { cause: err })); });
    });
  } catch (err) {
    client.end(true);
    throw err;
  }
  return client;
}

export function publishAsync(client: MqttClient, topic: string, payload: string | Uint8Array, options: IClientPublishOptions = { qos: 1 }): Promise<void> {
  return new Promise((resolve, reject) => {
    client.publish(topic, Buffer.isBuffer(payload) || typeof payload === 'string' ? payload : Buffer.from(payload), options, (err) => (err ? reject(err) : resolve()));
  });
}

const corked = new WeakSet<object>();

/**
 * Holds the client's socket writes until the I/O callback now running and the ticks it queued are done
 * (setImmediate), then lets them go in one write. mqtt.js writes every packet on its own (one writev
 * syscall per PUBACK), so a burst of QoS 1 messages read at once — a model's retained chunks — would cost
 * one write per message; called from a 'message' listener, the burst's acknowledgements share one.
 */
export function corkUntilIdle(client: MqttClient): void {
  const stream = client.stream as { cork?: () => void; uncork?: () => void } | undefined;
  if (!stream?.cork || !stream.uncork || corked.has(stream)) return;
  corked.add(stream);
  stream.cork();
  setImmediate(() => {
    corked.delete(stream);
    stream.uncork!();
  });
}

export function endAsync(client: MqttClient, force = false): Promise<void> {
  return new Promise((resolve) => client.end(force, {}, () => resolve()));
}
