/**
 * `edgeloop data import|export`: files in and out of the store. Import goes through the same
 * validation, store and quarantine as MQTT and HTTP; export streams with bounded memory.
 */
import { deviceTopic } from '../src/topics.ts';
import { assertSafeName } from '../src/names.ts';
import type { Telemetry } from '../src/contracts/telemetry.ts';
import { Ingestor } from './ingest.ts';
import type { ReadingQuery, Store } from './store.ts';

export interface ImportResult {
  messages: number;
  inserted: number;
  duplicates: number;
  quarantined: number;
}

/** Imports records in transactions of `batchSize` records; each record is validated like a message. */
export async function importRecords(store: Store, records: readonly Telemetry[], options: { fleet: string; device: string; source: string; batchSize?: number; now?: () => number }): Promise<ImportResult> {
  assertSafeName('fleet', options.fleet);
  assertSafeName('device', options.device);
  const ingestor = new Ingestor(store);
  const topic = deviceTopic('telemetry', options.fleet, options.device);
  const now = options.now ?? Date.now;
  const batchSize = options.batchSize ?? 2000;
  const result: ImportResult = { messages: records.length, inserted: 0, duplicates: 0, quarantined: 0 };
  for (let i = 0; i < records.length; i += batchSize) {
    const outcome = await ingestor.ingest(
      records.slice(i, i + batchSize).map((r) => ({ topic, payload: Buffer.from(JSON.stringify(r)), receivedAtMs: now(), transport: 'import' as const, source: options.source })),
    );
    result.inserted += outcome.inserted;
    result.duplicates += outcome.duplicates;
    result.quarantined += outcome.quarantined;
  }
  return result;
}

export interface ExportRow {
  device: string;
  ts: number;
  values: Record<string, number>;
}

/** Groups the store's (device, ts, sensor) ordered readings into one row per device and timestamp. */
export async function* exportRows(store: Store, query: ReadingQuery): AsyncGenerator<ExportRow> {
  let current: ExportRow | null = null;
  for await (const r of store.readings(query)) {
    if (!current || current.device !== r.device || current.ts !== r.ts) {
      if (current) yield current;
      current = { device: r.device, ts: r.ts, values: {} };
    }
    current.values[r.sensor] = r.value;
  }
  if (current) yield current;
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Writes an export as CSV (device, ts, time, sensors… — empty where a sensor has no reading) or JSONL. */
export async function writeExport(store: Store, query: ReadingQuery, format: 'csv' | 'jsonl', write: (chunk: string) => void | Promise<void>): Promise<number> {
  let sensors: string[] = [];
  if (format === 'csv') {
    const stats = await store.stats(query.fleet);
    sensors = [...new Set(stats.filter((s) => (query.device === undefined || s.device === query.device) && (!query.sensors || query.sensors.includes(s.sensor))).map((s) => s.sensor))].sort();
    await write(['device', 'ts', 'time', ...sensors].map(csvField).join(',') + '\n');
  }
  let n = 0;
  let buffer = '';
  for await (const row of exportRows(store, query)) {
    if (format === 'csv') {
      buffer += [csvField(row.device), String(row.ts), new Date(row.ts).toISOString(), ...sensors.map((s) => (row.values[s] === undefined ? '' : String(row.values[s])))].join(',') + '\n';
    } else {
      buffer += JSON.stringify({ device: row.device, ts: row.ts, values: row.values }) + '\n';
    }
    n++;
    if (buffer.length > 64 * 1024) {
      await write(buffer);
      buffer = '';
    }
  }
  if (buffer) await write(buffer);
  return n;
}
