/**
 * CSV reading for datasets and replays (pure: text in, table out). Handles RFC 4180 quoting, CRLF,
 * and R's write.table layout where the header has one name fewer than each row because rows start
 * with a (quoted) row id — the UCI occupancy files are written that way.
 */
import { EdgeloopError } from './errors.ts';
import { parseTimestamp } from './time/parse-timestamp.ts';
import type { Telemetry } from './contracts/telemetry.ts';

export interface CsvTable {
  header: string[];
  rows: string[][];
  /** True when rows carried a leading row id that the header did not name (dropped). */
  droppedRowId: boolean;
}

/** Splits CSV text into records of fields. Quoted fields may contain commas, quotes ("") and newlines. */
export function parseCsvRecords(text: string, delimiter = ','): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let inQuotes = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        inQuotes = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { inQuotes = true; i++; continue; }
    if (c === delimiter) { record.push(field); field = ''; i++; continue; }
    if (c === '\n' || c === '\r') {
      record.push(field); field = '';
      if (!(record.length === 1 && record[0] === '')) records.push(record);
      record = [];
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    field += c; i++;
  }
  if (inQuotes) throw new EdgeloopError('BAD_FILE', `CSV ends inside a quoted field (record ${records.length + 1})`);
  if (field !== '' || record.length > 0) { record.push(field); records.push(record); }
  return records;
}

export function parseCsv(text: string, delimiter = ','): CsvTable {
  const records = parseCsvRecords(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, delimiter);
  if (records.length === 0) throw new EdgeloopError('BAD_FILE', 'CSV is empty: expected a header line');
  const header = records[0]!.map((h) => h.trim());
  const rows = records.slice(1);
  const droppedRowId = rows.length > 0 && rows.every((r) => r.length === header.length + 1);
  const out = droppedRowId ? rows.map((r) => r.slice(1)) : rows;
  out.forEach((r, i) => {
    if (r.length !== header.length) {
      throw new EdgeloopError('BAD_FILE', `CSV line ${i + 2} has ${r.length} fields, the header has ${header.length}`);
    }
  });
  return { header, rows: out, droppedRowId };
}

const TIME_NAMES = ['ts', 'timestamp', 'time', 'date', 'datetime', 'date_time'];
const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

export interface TelemetryColumns {
  timeColumn: string;
  sensorColumns: string[];
}

/** Picks the time column (by name, else the first column that parses as time) and the numeric sensor columns. */
export function detectColumns(table: CsvTable, options: { timeColumn?: string; sensorColumns?: string[]; timeZone?: string } = {}): TelemetryColumns {
  const { header, rows } = table;
  const sample = rows.slice(0, 50);
  let timeColumn = options.timeColumn;
  if (timeColumn !== undefined && !header.includes(timeColumn)) {
    throw new EdgeloopError('BAD_ARGUMENT', `time column '${timeColumn}' is not in the CSV header (${header.join(', ')})`);
  }
  if (timeColumn === undefined) {
    timeColumn = header.find((h) => TIME_NAMES.includes(h.toLowerCase()));
  }
  if (timeColumn === undefined) {
    timeColumn = header.find((_h, j) => sample.length > 0 && sample.every((r) => !NUMBER_RE.test(r[j]!.trim()) && canParseTime(r[j]!, options.timeZone)));
  }
  if (timeColumn === undefined) throw new EdgeloopError('BAD_FILE', `no time column found in the CSV header (${header.join(', ')}); name one with --time-column`);
  let sensorColumns = options.sensorColumns;
  if (sensorColumns) {
    const missing = sensorColumns.filter((s) => !header.includes(s));
    if (missing.length) throw new EdgeloopError('BAD_ARGUMENT', `sensor columns not in the CSV header: ${missing.join(', ')}`);
  } else {
    sensorColumns = header.filter((h, j) => h !== timeColumn && sample.length > 0 && sample.every((r) => NUMBER_RE.test(r[j]!.trim())));
  }
  if (sensorColumns.length === 0) throw new EdgeloopError('BAD_FILE', 'no numeric sensor columns found in the CSV');
  return { timeColumn, sensorColumns };
}

function canParseTime(v: string, timeZone?: string): boolean {
  try {
    parseTimestamp(v.trim(), { format: 'auto', timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Turns CSV rows into telemetry records. Local date-times are read in `timeZone` (default UTC);
 * sensor names are the column names (they must be safe names: the gateway checks).
 * A row whose time or value does not parse throws BAD_FILE naming the line.
 */
export function tableToTelemetry(table: CsvTable, columns: TelemetryColumns, options: { timeZone?: string } = {}): Telemetry[] {
  const tIdx = table.header.indexOf(columns.timeColumn);
  const sIdx = columns.sensorColumns.map((s) => table.header.indexOf(s));
  return table.rows.map((r, i) => {
    let ts: number;
    try {
      ts = parseTimestamp(r[tIdx]!.trim(), { format: 'auto', timeZone: options.timeZone });
    } catch (err) {
      throw new EdgeloopError('BAD_FILE', `CSV line ${i + 2}: ${(err as Error).message}`, { cause: err });
    }
    const values: Record<string, number> = {};
    sIdx.forEach((j, k) => {
      const text = r[j]!.trim();
      if (text === '' || text.toUpperCase() === 'NA') return; // missing: no reading for that sensor
      if (!NUMBER_RE.test(text)) throw new EdgeloopError('BAD_FILE', `CSV line ${i + 2}: ${columns.sensorColumns[k]} value ${JSON.stringify(text)} is not a number`);
      values[columns.sensorColumns[k]!] = Number(text);
    });
    return { ts, values };
  });
}
