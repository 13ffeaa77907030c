/**
 * `--input csv:PATH`: replays a dataset file (CSV as in device/csv-source.ts, e.g. the UCI occupancy
 * files; or JSONL {ts, values} lines) at `ratePerS` readings per second or `speed` × real time (the
 * gaps between the file's timestamps, divided by speed). Unlike readDatasetFile, one bad line does
 * not refuse the file: it becomes a reject item naming the line and the reason, and the replay goes on.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { EdgeloopError, isEdgeloopError, type ErrorCode } from '../src/errors.ts';
import { detectColumns, parseCsvRecords, tableToTelemetry, type CsvTable } from '../src/csv.ts';
import { cut, parseJsonReadings, sleep, type InputItem, type InputSource } from './input-source.ts';

export interface CsvInputOptions {
  path: string;
  /** Readings per second; default 200 (fast enough for a demo). Ignored when `speed` is set. */
  ratePerS?: number;
  /** Replay at this multiple of real time (timestamps one minute apart at speed 60: one a second). */
  speed?: number;
  /** Zone of local date-times in the file (default UTC; the occupancy files are Europe/Brussels). */
  timeZone?: string;
  timeColumn?: string;
  now?: () => number;
}

export const CSV_INPUT_DEFAULTS = { ratePerS: 200 };

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

type Row = { line: number; ts: number; values: Record<string, number> } | { line: number; code: ErrorCode; reason: string; raw: string };

export class CsvInput implements InputSource {
  readonly name: string;
  readonly #rows: Row[];
  readonly #o: CsvInputOptions;

  private constructor(o: CsvInputOptions, rows: Row[]) {
    this.name = `csv:${o.path}`;
    this.#o = o;
    this.#rows = rows;
  }

  /** Reads and parses the whole file (BAD_FILE when it cannot be read or has no usable header). */
  static async create(options: CsvInputOptions): Promise<CsvInput> {
    if (options.ratePerS !== undefined && !(options.ratePerS > 0 && Number.isFinite(options.ratePerS))) throw new EdgeloopError('BAD_ARGUMENT', `rate must be a positive number of readings per second, got ${options.ratePerS}`);
    if (options.speed !== undefined && !(options.speed > 0 && Number.isFinite(options.speed))) throw new EdgeloopError('BAD_ARGUMENT', `speed must be a positive multiple of real time, got ${options.speed}`);
    let text: string;
    try {
      text = readFileSync(options.path, 'utf8');
    } catch (err) {
      throw new EdgeloopError('BAD_FILE', `cannot read ${options.path}: ${(err as Error).message}`, { cause: err });
    }
    await Promise.resolve();
    const rows = extname(options.path).toLowerCase() === '.jsonl' ? jsonlRows(text, options.now ?? Date.now) : csvRows(text, options);
    return new CsvInput(options, rows);
  }

  get total(): number {
    return this.#rows.length;
  }

  async *items(signal: AbortSignal): AsyncIterable<InputItem> {
    const rate = this.#o.ratePerS ?? CSV_INPUT_DEFAULTS.ratePerS;
    const speed = this.#o.speed;
    const startMs = Date.now();
    let firstTs: number | null = null;
    for (let i = 0; i < this.#rows.length; i++) {
      if (signal.aborted) return;
      const row = this.#rows[i]!;
      let dueMs: number;
      if (speed !== undefined && 'ts' in row) {
        firstTs ??= row.ts;
        dueMs = startMs + (row.ts - firstTs) / speed;
      } else {
        dueMs = startMs + (i * 1000) / rate;
      }
      await sleep(dueMs - Date.now(), signal);
      if (signal.aborted) return;
      yield 'ts' in row
        ? { kind: 'reading', index: i, ts: row.ts, values: row.values }
        : { kind: 'reject', index: i, code: row.code, reason: `${this.name} line ${row.line}: ${row.reason}`, raw: row.raw };
    }
  }
}

function csvRows(text: string, o: CsvInputOptions): Row[] {
  const records = parseCsvRecords(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  if (records.length < 2) throw new EdgeloopError('BAD_FILE', `${o.path}: expected a header line and at least one row`);
  const header = records[0]!.map((h) => h.trim());
  const body = records.slice(1);
  // R's write.table layout (the occupancy files): rows carry one leading row id the header does not name.
  const withId = body.filter((r) => r.length === header.length + 1).length > body.length / 2;
  const width = withId ? header.length + 1 : header.length;
  const good = body.filter((r) => r.length === width).slice(0, 200).map((r) => (withId ? r.slice(1) : r));
  if (good.length === 0) throw new EdgeloopError('BAD_FILE', `${o.path}: no row has the header's ${header.length} fields`);
  const { timeColumn } = detectColumns({ header, rows: good, droppedRowId: withId }, { timeColumn: o.timeColumn, timeZone: o.timeZone });
  // Sensor columns by majority, not unanimity (src/csv.ts detectColumns): one bad value in the first
  // rows must be a rejected line, not a sensor that silently disappears from the whole replay.
  const sensorColumns = header.filter((h, j) => h !== timeColumn && good.filter((r) => NUMBER.test(r[j]!.trim())).length > 0.5 * good.length);
  if (sensorColumns.length === 0) throw new EdgeloopError('BAD_FILE', `${o.path}: no numeric sensor column found (header: ${header.join(', ')})`);
  const columns = { timeColumn, sensorColumns };
  return body.map((r, i): Row => {
    const line = i + 2;
    const raw = cut(r.join(','));
    if (r.length !== width) return { line, code: 'BAD_FILE', reason: `has ${r.length} fields, expected ${width}`, raw };
    const table: CsvTable = { header, rows: [withId ? r.slice(1) : r], droppedRowId: false };
    try {
      const [rec] = tableToTelemetry(table, columns, { timeZone: o.timeZone });
      if (Object.keys(rec!.values).length === 0) return { line, code: 'BAD_VALUE', reason: 'has no sensor value', raw };
      return { line, ts: rec!.ts as number, values: rec!.values };
    } catch (err) {
      if (!isEdgeloopError(err)) throw err;
      // tableToTelemetry numbers the line within the one-row table: name the file's line instead.
      return { line, code: 'BAD_FILE', reason: err.message.replace(/^CSV line \d+: /, ''), raw };
    }
  });
}

function jsonlRows(text: string, now: () => number): Row[] {
  const out: Row[] = [];
  text.split('\n').forEach((lineText, i) => {
    if (lineText.trim() === '') return;
    const r = parseJsonReadings(lineText, now());
    if (!r.ok) {
      out.push({ line: i + 1, code: r.code, reason: r.reason, raw: cut(lineText) });
      return;
    }
    for (const reading of r.readings) out.push({ line: i + 1, ...reading });
  });
  return out;
}
