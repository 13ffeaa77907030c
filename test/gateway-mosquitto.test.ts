/**
 * Against a real mosquitto: a foreign client (mosquitto_pub) publishing the occupancy data ends up in
 * SQLite with exact values; two gateways in one shared-subscription group split one stream with no
 * reading lost or stored twice. Skipped (visibly) only when mosquitto is not installed and not in CI.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gateway } from '../gateway/gateway.ts';
import { parseCsv, detectColumns, tableToTelemetry } from '../src/csv.ts';
import { connectMqtt, endAsync } from '../io/mqtt-client.ts';
import { mosquittoRig } from './helpers/mosquitto-rig.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

const mq = mosquittoRig();

test.serial('mosquitto_pub publishing the occupancy data ends up in SQLite, values exact', async (t) => {
  if (!mq.broker) return t.pass('mosquitto not installed: skipped');
  const gw = new Gateway({ id: 'mq1', brokerUrl: mq.broker.url, dbPath: join(tempDir(), 'mq.db'), http: null });
  await gw.start();
  t.teardown(() => gw.stop());
  const table = parseCsv(readFileSync(new URL('../datasets/occupancy/datatest.txt', import.meta.url), 'utf8'));
  const records = tableToTelemetry(table, detectColumns(table), { timeZone: 'Europe/Brussels' });
  const lines = records.map((r) => JSON.stringify({ ts: new Date(r.ts as number).toISOString(), values: r.values })).join('\n') + '\n';
  const pub = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mq.broker.port), '-q', '1', '-t', 'edgeloop/occupancy/foreign/telemetry', '-l'], { stdio: ['pipe', 'ignore', 'pipe'] });
  pub.stdin.end(lines);
  const code = await new Promise<number | null>((r) => pub.once('exit', r));
  t.is(code, 0);
  const expected = records.length * 6;
  await waitFor(async () => (await gw.store.countReadings({ fleet: 'occupancy' })) === expected, 30_000, `${expected} readings`);
  const byKey = new Map<string, number>();
  for await (const r of gw.store.readings({ fleet: 'occupancy', device: 'foreign' })) byKey.set(`${r.ts}/${r.sensor}`, r.value);
  let mismatches = 0;
  for (const rec of records) for (const [s, v] of Object.entries(rec.values)) if (byKey.get(`${rec.ts}/${s}`) !== v) mismatches++;
  t.is(mismatches, 0);
  t.is(byKey.size, expected);
});

test.serial('two gateways in one shared-subscription group split the stream: nothing lost, nothing stored twice', async (t) => {
  if (!mq.broker) return t.pass('mosquitto not installed: skipped');
  const db = join(tempDir(), 'shared.db');
  const a = new Gateway({ id: 'a', brokerUrl: mq.broker.url, dbPath: db, http: null, sharedGroup: 'ingest', protocolVersion: 5 });
  const b = new Gateway({ id: 'b', brokerUrl: mq.broker.url, dbPath: db, http: null, sharedGroup: 'ingest', protocolVersion: 5 });
  await a.start();
  await b.start();
  t.teardown(async () => { await a.stop(); await b.stop(); });
  const N = 3000;
  const pub = await connectMqtt(mq.broker.url, { clientId: 'shared-pub' });
  const base = Date.UTC(2024, 0, 1);
  await Promise.all(Array.from({ length: N }, (_, i) => pub.publishAsync('edgeloop/shared/dev/telemetry', JSON.stringify({ ts: base + i, values: { seq: i } }), { qos: 1 })));
  await endAsync(pub);
  await waitFor(async () => (await a.store.countReadings({ fleet: 'shared' })) === N, 20_000, `${N} readings`);
  const ca = a.subscriberStats!.committed;
  const cb = b.subscriberStats!.committed;
  t.log(`gateway a committed ${ca}, gateway b committed ${cb}`);
  t.true(ca > 0 && cb > 0, 'both gateways took part');
  t.is(ca + cb, N, 'each message delivered to exactly one gateway');
  t.is((await a.store.counters()).duplicates, 0);
});
