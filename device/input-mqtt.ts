/**
 * `--input mqtt:TOPIC`: readings published by local sensors on a topic of a (local) broker,
 * JSON {ts, values} or an array of them, validated like gateway telemetry. Messages wait in a
 * bounded queue while the inference loop works; when it is full the newest message is refused as
 * a reject item (counted, logged) rather than growing memory without bound. Never ends by itself.
 */
import { EdgeloopError } from '../src/errors.ts';
import { connectMqtt, endAsync, type IClientOptions, type MqttClient } from '../io/mqtt-client.ts';
import { cut, parseJsonReadings, type InputItem, type InputSource } from './input-source.ts';

export interface MqttInputOptions {
  brokerUrl: string;
  topic: string;
  clientId?: string;
  mqtt?: IClientOptions;
  /** Messages held while the loop is busy; default 10000. */
  maxQueued?: number;
  now?: () => number;
}

export const MQTT_INPUT_DEFAULTS = { maxQueued: 10_000 };

export class MqttInput implements InputSource {
  readonly name: string;
  readonly total = null;
  readonly #o: MqttInputOptions;
  readonly #client: MqttClient;
  readonly #queue: { payload: Buffer; overflow: boolean }[] = [];
  #wake: (() => void) | null = null;
  #closed = false;

  private constructor(o: MqttInputOptions, client: MqttClient) {
    this.name = `mqtt:${o.topic}`;
    this.#o = o;
    this.#client = client;
    const max = o.maxQueued ?? MQTT_INPUT_DEFAULTS.maxQueued;
    client.on('message', (topic, payload) => {
      if (topic !== o.topic) return;
      // Over the bound: keep a marker so the loop reports the refusal in order.
      this.#queue.push(this.#queue.length >= max ? { payload: payload.subarray(0, 200), overflow: true } : { payload, overflow: false });
      const w = this.#wake;
      this.#wake = null;
      w?.();
    });
  }

  /** Connects and subscribes (QoS 1). */
  static async create(options: MqttInputOptions): Promise<MqttInput> {
    if (typeof options.topic !== 'string' || options.topic === '' || /[+#]/.test(options.topic)) {
      throw new EdgeloopError('BAD_ARGUMENT', `input topic must be a topic without wildcards, got ${JSON.stringify(options.topic)}`);
    }
    const client = await connectMqtt(options.brokerUrl, { clientId: options.clientId, ...options.mqtt });
    const input = new MqttInput(options, client);
    await client.subscribeAsync(options.topic, { qos: 1 });
    return input;
  }

  async *items(signal: AbortSignal): AsyncIterable<InputItem> {
    const now = this.#o.now ?? Date.now;
    const stop = (): void => {
      const w = this.#wake;
      this.#wake = null;
      w?.();
    };
    signal.addEventListener('abort', stop, { once: true });
    let index = 0;
    try {
      while (!signal.aborted && !this.#closed) {
        const next = this.#queue.shift();
        if (!next) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
          continue;
        }
        const text = next.payload.toString('utf8');
        if (next.overflow) {
          yield { kind: 'reject', index: index++, code: 'TOO_MANY_READINGS', reason: `${this.name}: input queue full (${this.#o.maxQueued ?? MQTT_INPUT_DEFAULTS.maxQueued} messages waiting); message refused`, raw: cut(text) };
          continue;
        }
        const r = parseJsonReadings(next.payload, now());
        if (!r.ok) {
          yield { kind: 'reject', index: index++, code: r.code, reason: `${this.name}: ${r.reason}`, raw: cut(text) };
          continue;
        }
        for (const reading of r.readings) yield { kind: 'reading', index: index++, ...reading };
      }
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#wake;
    this.#wake = null;
    w?.();
    await endAsync(this.#client);
  }
}
