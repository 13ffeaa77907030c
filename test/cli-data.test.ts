/** The CLI as a user runs it: import a real file, stats, export, quarantine, bad arguments. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/tmp.ts';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/edgeloop.js', import.meta.url));
const edgeloop = (args: string[]) => run(process.execPath, [BIN, ...args], { env: { ...process.env, EDGELOOP_LOG_LEVEL: 'error' } });

test('import the occupancy file, then stats, export (csv and jsonl) and quarantine', async (t) => {
  const dir = tempDir();
  const db = join(dir, 'cli.db');
  const file = fileURLToPath(new URL('../datasets/occupancy/datatest.txt', import.meta.url));
  const imp = await edgeloop(['data', 'import', file, '--fleet', 'occ', '--device', 'room1', '--db', db, '--time-zone', 'Europe/Brussels']);
  t.regex(imp.stdout, /2665 records → 15990 readings stored, 0 duplicates, 0 quarantined/);
  const again = await edgeloop(['data', 'import', file, '--fleet', 'occ', '--device', 'room1', '--db', db, '--time-zone', 'Europe/Brussels']);
  t.regex(again.stdout, /0 readings stored, 15990 duplicates/);
  const stats = JSON.parse((await edgeloop(['data', 'stats', '--db', db, '--format', 'json'])).stdout) as { series: { sensor: string; count: number; min: number; max: number }[] };
  const co2 = stats.series.find((s) => s.sensor === 'CO2')!;
  t.is(co2.count, 2665);
  const csvOut = join(dir, 'out.csv');
  await edgeloop(['data', 'export', '--fleet', 'occ', '--device', 'room1', '--format', 'csv', '--out', csvOut, '--db', db]);
  const lines = readFileSync(csvOut, 'utf8').trim().split('\n');
  t.is(lines.length, 2666);
  t.is(lines[0], 'device,ts,time,CO2,Humidity,HumidityRatio,Light,Occupancy,Temperature');
  t.is(lines[1], 'room1,1422883140000,2015-02-02T13:19:00.000Z,749.2,26.272,0.00476416302416414,585.2,1,23.7');
  const jsonl = (await edgeloop(['data', 'export', '--fleet', 'occ', '--from', '2015-02-02T13:19:00Z', '--to', '2015-02-02T13:21:00Z', '--format', 'jsonl', '--db', db])).stdout.trim().split('\n');
  t.is(jsonl.length, 2);
  t.deepEqual(JSON.parse(jsonl[0]!).values.Temperature, 23.7);

  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"ts": 1700000000000, "values": {"a": 1}}\n{"ts": "yesterday", "values": {"a": 2}}\n');
  const badImp = await edgeloop(['data', 'import', bad, '--fleet', 'occ', '--device', 'room2', '--db', db]);
  t.regex(badImp.stdout, /1 readings stored, 0 duplicates, 1 quarantined/);
  const q = JSON.parse((await edgeloop(['data', 'quarantine', '--format', 'json', '--db', db])).stdout) as { counters: Record<string, number>; rows: { reason: string; transport: string; payload: string }[] };
  t.is(q.counters.BAD_TIMESTAMP, 1);
  t.is(q.rows[0]!.transport, 'import');
  t.is(q.rows[0]!.payload, '{"ts":"yesterday","values":{"a":2}}');
});

test('bad arguments exit 2 with a clear message', async (t) => {
  const err1 = await t.throwsAsync(edgeloop(['data', 'export', '--format', 'xml', '--fleet', 'x', '--db', join(tempDir(), 'x.db')]));
  t.regex((err1 as unknown as { stderr: string }).stderr, /BAD_ARGUMENT: --format "xml" must be csv or jsonl/);
  t.is((err1 as unknown as { code: number }).code, 2);
  const err2 = await t.throwsAsync(edgeloop(['data', 'import', '--fleet', 'x']));
  t.regex((err2 as unknown as { stderr: string }).stderr, /data import needs a file/);
  const err3 = await t.throwsAsync(edgeloop(['frobnicate']));
  t.regex((err3 as unknown as { stderr: string }).stderr, /unknown command "frobnicate"/);
  const err4 = await t.throwsAsync(run(process.execPath, [BIN, 'gateway', '--http-port', '1'], { env: { ...process.env, EDGELOOP_GATEWAY_MQTT_PORT: 'x' } }));
  t.regex((err4 as unknown as { stderr: string }).stderr, /BAD_CONFIG: invalid configuration/);
});
