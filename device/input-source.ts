/**
 * Where the device agent's readings come from (`edgeloop device --input …`): one interface over a
 * CSV replay (input-csv.ts), a local MQTT topic (input-mqtt.ts) and JSON lines on stdin
 * (input-stdin.ts). A source yields readings in input order and, for lines it cannot read, a
 * reject item with the reason: the inference loop counts and logs them, nothing is dropped silently.
 */
import { EdgeloopError, type ErrorCode } from '../src/errors.ts';
import { parseTelemetryPayload } from '../src/contracts/telemetry.ts';

export interface InputReading {
  kind: 'reading';
  /** Position in the input (0-based; rejects count too). */
  index: number;
  /** Epoch ms. */
  ts: number;
  values: Record<string, number>;
}

export interface InputReject {
  kind: 'reject';
  index: number;
  code: ErrorCode;
  reason: string;
  /** The offending line or payload, cut to 200 characters. */
  raw: string;
}

export type InputItem = InputReading | InputReject;

export interface InputSource {
  /** For logs and the input-done line, e.g. 'csv:datasets/occupancy/datatest.txt'. */
  readonly name: string;
  /** Items the input holds when known in advance (csv), else null. */
  readonly total: number | null;
  /** The items, in order; ends when the input is exhausted (or `signal` aborts). */
  items(signal: AbortSignal): AsyncIterable<InputItem>;
  /** Releases what the source holds (a broker connection); optional. */
  close?(): Promise<void>;
}

export type InputSpec = { kind: 'csv'; path: string } | { kind: 'mqtt'; topic: string } | { kind: 'stdin' };

/** Parses `--input`: csv:PATH, mqtt:TOPIC or stdin. */
export function parseInputSpec(text: string): InputSpec {
  if (text === 'stdin' || text === '-') return { kind: 'stdin' };
  const m = /^(csv|mqtt):(.+)$/.exec(text);
  if (!m) throw new EdgeloopError('BAD_ARGUMENT', `--input ${JSON.stringify(text)} must be csv:PATH, mqtt:TOPIC or stdin`);
  if (m[1] === 'mqtt' && /[+#]/.test(m[2]!)) throw new EdgeloopError('BAD_ARGUMENT', `--input ${JSON.stringify(text)}: the topic must not contain the wildcards + or #`);
  return m[1] === 'csv' ? { kind: 'csv', path: m[2]! } : { kind: 'mqtt', topic: m[2]! };
}

export function cut(raw: string): string {
  return raw.length > 200 ? `${raw.slice(0, 197)}...` : raw;
}

/**
 * Parses one JSON input message {ts, values} (or an array of them) with the gateway's own telemetry
 * validator, so a reading the device accepts is one the gateway accepts too. Readings come back in
 * message order, values grouped per timestamp.
 */
export function parseJsonReadings(payload: string | Uint8Array, nowMs: number): { ok: true; readings: { ts: number; values: Record<string, number> }[] } | { ok: false; code: ErrorCode; reason: string } {
  const r = parseTelemetryPayload('input', 'input', payload, nowMs);
  if (!r.ok) return { ok: false, code: r.reason, reason: r.detail };
  const out: { ts: number; values: Record<string, number> }[] = [];
  for (const reading of r.readings) {
    let last = out.at(-1);
    if (!last || last.ts !== reading.ts) out.push((last = { ts: reading.ts, values: {} }));
    last.values[reading.sensor] = reading.value;
  }
  return { ok: true, readings: out };
}

/** Sleeps `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
