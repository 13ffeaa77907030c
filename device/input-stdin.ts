/**
 * `--input stdin`: one JSON reading per line, {"ts": epoch ms or ISO-8601, "values": {sensor: number}}
 * (or an array of them), validated like gateway telemetry. A line that does not parse becomes a
 * reject item with the reason. The input ends when stdin closes.
 */
import { createInterface } from 'node:readline';
import { cut, parseJsonReadings, type InputItem, type InputSource } from './input-source.ts';

export class StdinInput implements InputSource {
  readonly name = 'stdin';
  readonly total = null;
  readonly #stream: NodeJS.ReadableStream;
  readonly #now: () => number;

  constructor(options: { stream?: NodeJS.ReadableStream; now?: () => number } = {}) {
    this.#stream = options.stream ?? process.stdin;
    this.#now = options.now ?? Date.now;
  }

  async *items(signal: AbortSignal): AsyncIterable<InputItem> {
    const rl = createInterface({ input: this.#stream, crlfDelay: Infinity });
    const close = (): void => rl.close();
    signal.addEventListener('abort', close, { once: true });
    let index = 0;
    let line = 0;
    try {
      for await (const text of rl) {
        line++;
        if (text.trim() === '') continue;
        const r = parseJsonReadings(text, this.#now());
        if (!r.ok) {
          yield { kind: 'reject', index: index++, code: r.code, reason: `stdin line ${line}: ${r.reason}`, raw: cut(text) };
          continue;
        }
        for (const reading of r.readings) yield { kind: 'reading', index: index++, ...reading };
      }
    } finally {
      signal.removeEventListener('abort', close);
      rl.close();
    }
  }
}
