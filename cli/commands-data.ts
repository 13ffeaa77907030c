/** `edgeloop data import|export|quarantine|stats` and `edgeloop replay`. */
import { createWriteStream } from 'node:fs';
import { basename } from 'node:path';
import { EdgeloopError } from '../src/errors.ts';
import { REJECT_REASONS, type RejectReason } from '../src/contracts/telemetry.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { importRecords, writeExport } from '../gateway/data-io.ts';
import { readDatasetFile } from '../device/csv-source.ts';
import { replay } from '../device/replay.ts';
import { parse, requireFlag, intFlag, rateFlag, timeFlag } from './args.ts';
import { loadConfig, dbPathOf } from './config.ts';
import { ProgressBar } from './progress.ts';

const DATA_USAGE = `edgeloop data import <file.csv|file.jsonl> --fleet F --device D [--time-zone Z] [--time-column C] [--db path]
       edgeloop data export --fleet F [--device D] [--from T] [--to T] --format csv|jsonl [--out file] [--db path]
       edgeloop data quarantine [--reason CODE] [--limit N] [--format table|json] [--db path]
       edgeloop data stats [--fleet F] [--format table|json] [--db path]`;

async function openStore(values: { config?: string; db?: string }) {
  const config = loadConfig({ file: values.config, overrides: values.db ? [{ path: ['gateway', 'db'], value: values.db }] : [] });
  return SqliteStore.create({ path: dbPathOf(config), synchronous: config.gateway.synchronous });
}

function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(width[i]!)).join('  ');
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => String(r[c]))))].join('\n');
}

export async function dataCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    fleet: { type: 'string' }, device: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' },
    format: { type: 'string' }, out: { type: 'string' }, reason: { type: 'string' }, limit: { type: 'string' },
    'time-zone': { type: 'string' }, 'time-column': { type: 'string' },
  }, DATA_USAGE);
  switch (sub) {
    case 'import': {
      const file = positionals[0];
      if (!file) throw new EdgeloopError('BAD_ARGUMENT', `data import needs a file\nusage: ${DATA_USAGE}`);
      const fleet = requireFlag(values.fleet, 'fleet', DATA_USAGE);
      const device = requireFlag(values.device, 'device', DATA_USAGE);
      const dataset = readDatasetFile(file, { timeZone: values['time-zone'], timeColumn: values['time-column'] });
      reportSkipped(file, dataset.skippedColumns);
      const store = await openStore(values);
      try {
        const r = await importRecords(store, dataset.records, { fleet, device, source: basename(file) });
        console.log(`imported ${file}: ${r.messages} records → ${r.inserted} readings stored, ${r.duplicates} duplicates, ${r.quarantined} quarantined`);
      } finally {
        await store.close();
      }
      return;
    }
    case 'export': {
      const fleet = requireFlag(values.fleet, 'fleet', DATA_USAGE);
      const format = values.format ?? 'csv';
      if (format !== 'csv' && format !== 'jsonl') throw new EdgeloopError('BAD_ARGUMENT', `--format ${JSON.stringify(format)} must be csv or jsonl`);
      const store = await openStore(values);
      const out = values.out ? createWriteStream(values.out) : process.stdout;
      try {
        const n = await writeExport(store, { fleet, device: values.device, fromMs: timeFlag(values.from, 'from'), toMs: timeFlag(values.to, 'to') }, format, (chunk) =>
          new Promise<void>((resolve) => (out.write(chunk) ? resolve() : out.once('drain', () => resolve()))),
        );
        if (values.out) {
          await new Promise<void>((resolve) => (out as ReturnType<typeof createWriteStream>).end(() => resolve()));
          console.error(`exported ${n} rows to ${values.out}`);
        }
      } finally {
        await store.close();
      }
      return;
    }
    case 'quarantine': {
      if (values.reason !== undefined && !REJECT_REASONS.includes(values.reason as RejectReason)) {
        throw new EdgeloopError('BAD_ARGUMENT', `--reason ${JSON.stringify(values.reason)} must be one of ${REJECT_REASONS.join(', ')}`);
      }
      const store = await openStore(values);
      try {
        const rows = await store.quarantine({ reason: values.reason as RejectReason | undefined, limit: intFlag(values.limit, 'limit', 1, 1_000_000) ?? 100 });
        const counters = await store.counters();
        if (values.format === 'json') {
          console.log(JSON.stringify({ counters: counters.rejected, evicted: counters.quarantineEvicted, rows: rows.map((r) => ({ ...r, payload: Buffer.from(r.payload).toString('utf8') })) }, null, 2));
        } else {
          console.log(`rejected by reason: ${JSON.stringify(counters.rejected)} (evicted from quarantine: ${counters.quarantineEvicted})`);
          console.log(table(rows.map((r) => ({ id: r.id, received: new Date(r.receivedAtMs).toISOString(), via: r.transport, reason: r.reason, topic: r.topic, detail: r.detail.slice(0, 80), bytes: r.payloadBytes }))));
        }
      } finally {
        await store.close();
      }
      return;
    }
    case 'stats': {
      const store = await openStore(values);
      try {
        const stats = await store.stats(values.fleet);
        const counters = await store.counters();
        if (values.format === 'json') console.log(JSON.stringify({ series: stats, counters }, null, 2));
        else {
          console.log(table(stats.map((s) => ({ fleet: s.fleet, device: s.device, sensor: s.sensor, count: s.count, first: new Date(s.firstTsMs).toISOString(), last: new Date(s.lastTsMs).toISOString(), min: +s.min.toFixed(4), max: +s.max.toFixed(4), mean: +s.mean.toFixed(4) }))));
          console.log(`\ningested: ${counters.inserted} stored, ${counters.duplicates} duplicates (${counters.conflicts} with a different value), rejected ${JSON.stringify(counters.rejected)}`);
        }
      } finally {
        await store.close();
      }
      return;
    }
    default:
      throw new EdgeloopError('BAD_ARGUMENT', `unknown data subcommand ${JSON.stringify(sub ?? '')}\nusage: ${DATA_USAGE}`);
  }
}

const REPLAY_USAGE = 'edgeloop replay <file.csv|file.jsonl> --fleet F --device D [--broker mqtt://host:port] [--rate N/s | --as-fast-as-possible] [--batch N] [--time-zone Z] [--time-column C]';

export async function replayCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    fleet: { type: 'string' }, device: { type: 'string' }, broker: { type: 'string' }, rate: { type: 'string' },
    'as-fast-as-possible': { type: 'boolean' }, batch: { type: 'string' }, 'time-zone': { type: 'string' }, 'time-column': { type: 'string' },
    username: { type: 'string' }, password: { type: 'string' },
  }, REPLAY_USAGE);
  const file = positionals[0];
  if (!file) throw new EdgeloopError('BAD_ARGUMENT', `replay needs a file\nusage: ${REPLAY_USAGE}`);
  if (values.rate !== undefined && values['as-fast-as-possible']) throw new EdgeloopError('BAD_ARGUMENT', '--rate and --as-fast-as-possible exclude each other');
  const config = loadConfig({ file: values.config });
  const brokerUrl = values.broker ?? config.gateway.broker ?? `mqtt://${config.gateway.mqttHost}:${config.gateway.mqttPort}`;
  const dataset = readDatasetFile(file, { timeZone: values['time-zone'], timeColumn: values['time-column'] });
  reportSkipped(file, dataset.skippedColumns);
  const batchSize = intFlag(values.batch, 'batch', 1, 10_000) ?? 1;
  const bar = new ProgressBar(`replay ${basename(file)}`, Math.ceil(dataset.records.length / batchSize));
  const r = await replay(dataset.records, {
    brokerUrl, fleet: requireFlag(values.fleet, 'fleet', REPLAY_USAGE), device: requireFlag(values.device, 'device', REPLAY_USAGE),
    ratePerS: values['as-fast-as-possible'] ? undefined : (rateFlag(values.rate) ?? 100), batchSize,
    username: values.username, password: values.password, onProgress: (sent) => bar.update(sent),
  });
  bar.done();
  console.log(`replayed ${r.records} records in ${r.messages} messages to ${brokerUrl} in ${(r.durationMs / 1000).toFixed(1)} s (${r.acked} acknowledged)`);
}

/** Columns a CSV import leaves out are said, never dropped silently. */
function reportSkipped(file: string, skipped: readonly { column: string; reason: string }[]): void {
  for (const s of skipped) console.error(`${basename(file)}: column ${JSON.stringify(s.column)} is not imported: ${s.reason}`);
}
