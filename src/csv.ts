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
  /** Columns that are neither (detection only): each with the reason, for the caller to report. */
  skipped?: { column: string; reason: string }[];
}

const isMissing = (text: string): boolean => text === '' || text.toUpperCase() === 'NA';

/**
 * Picks the time column (by name, else the first column that parses as time) and the sensor columns:
 * those whose values in the first 50 rows are mostly numbers (missing values aside). A stray bad value
 * then fails its line in tableToTelemetry instead of dropping the sensor; every column left out is
 * listed in `skipped` with the reason.
 */
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
  const sensorColumns = options.sensorColumns;
  if (sensorColumns) {
    const missing = sensorColumns.filter((s) => !header.includes(s));
    if (missing.length) throw new EdgeloopError('BAD_ARGUMENT', `sensor columns not in the CSV header: ${missing.join(', ')}`);
  } else {
    const found: string[] = [];
    const skipped: { column: string; reason: string }[] = [];
    header.forEach((h, j) => {
      if (h === timeColumn) return;
      const present = sample.map((r) => r[j]!.trim()).filter((v) => !isMissing(v));
      const bad = present.filter((v) => !NUMBER_RE.test(v));
      if (present.length === 0) skipped.push({ column: h, reason: `no value in the first ${sample.length} rows` });
      else if (bad.length * 2 >= present.length) skipped.push({ column: h, reason: `not numeric (${bad.length} of ${present.length} values in the first rows, e.g. ${JSON.stringify(bad[0]!.slice(0, 40))})` });
      else found.push(h);
    });
    if (found.length === 0) throw new EdgeloopError('BAD_FILE', `no numeric sensor columns found in the CSV (${skipped.map((s) => `${s.column}: ${s.reason}`).join('; ')})`);
    return { timeColumn, sensorColumns: found, skipped };
  }
  if (sensorColumns.length === 0) throw new EdgeloopError('BAD_FILE', 'no numeric sensor columns found in the CSV');
  return { timeColumn, sensorColumns, skipped: [] };
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
      if (isMissing(text)) return; // missing: no reading for that sensor
      if (!NUMBER_RE.test(text)) throw new EdgeloopError('BAD_FILE', `CSV line ${i + 2}: ${columns.sensorColumns[k]} value ${JSON.stringify(text)} is not a number`);
      values[columns.sensorColumns[k]!] = Number(text);
    });
    return { ts, values };
  });
}
