/**
 * Reads a CSV or JSONL dataset file into telemetry records (the shape devices publish).
 * CSV: see src/csv.ts. JSONL: one telemetry object {"ts", "values"} per line.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseCsv, detectColumns, tableToTelemetry } from '../src/csv.ts';
import { EdgeloopError } from '../src/errors.ts';
import type { Telemetry } from '../src/contracts/telemetry.ts';

export interface DatasetReadOptions {
  timeColumn?: string;
  sensorColumns?: string[];
  timeZone?: string;
}

export interface DatasetFile {
  format: 'csv' | 'jsonl';
  records: Telemetry[];
  sensors: string[];
  /** CSV columns that are not sensors (text, empty), with the reason: callers report them. */
  skippedColumns: { column: string; reason: string }[];
}

export function readDatasetFile(path: string, options: DatasetReadOptions = {}): DatasetFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new EdgeloopError('BAD_FILE', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (extname(path).toLowerCase() === '.jsonl') {
    const records: Telemetry[] = [];
    const sensors = new Set<string>();
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let doc: unknown;
      try {
        doc = JSON.parse(line);
      } catch (err) {
        throw new EdgeloopError('BAD_FILE', `${path} line ${i + 1} is not JSON: ${(err as Error).message}`);
      }
      const rec = doc as Telemetry;
      if (rec === null || typeof rec !== 'object' || typeof rec.values !== 'object' || rec.values === null) {
        throw new EdgeloopError('BAD_FILE', `${path} line ${i + 1}: expected {"ts": …, "values": {…}}`);
      }
      for (const s of Object.keys(rec.values)) sensors.add(s);
      records.push({ ts: rec.ts, values: rec.values });
    });
    return { format: 'jsonl', records, sensors: [...sensors], skippedColumns: [] };
  }
  const table = parseCsv(text);
  const columns = detectColumns(table, options);
  return { format: 'csv', records: tableToTelemetry(table, columns, { timeZone: options.timeZone }), sensors: columns.sensorColumns, skippedColumns: columns.skipped ?? [] };
}
