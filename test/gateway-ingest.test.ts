import test from 'ava';
import { join } from 'node:path';
import { Gateway } from '../gateway/gateway.ts';
import { connectMqtt, publishAsync, endAsync } from '../io/mqtt-client.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

async function startGateway(t: { teardown: (fn: () => Promise<void>) => void }) {
  const dir = tempDir();
  const gw = new Gateway({ id: 't', dbPath: join(dir, 'gw.db'), embeddedBroker: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 } });
  await gw.start();
  t.teardown(() => gw.stop());
  return gw;
}

test('telemetry JSON, batches and bare sensor values published over MQTT are stored exactly', async (t) => {
  const gw = await startGateway(t);
  const client = await connectMqtt(gw.brokerUrl);
  await publishAsync(client, 'edgeloop/lab/dev1/telemetry', JSON.stringify({ ts: 1_700_000_000_000, values: { temp: 21.5, co2: 412.75 } }));
  await publishAsync(client, 'edgeloop/lab/dev1/telemetry', JSON.stringify([
    { ts: '2023-11-14T22:13:21Z', values: { temp: 21.6 } },
    { ts: '2023-11-14T23:13:22.5+01:00', values: { temp: 21.7 } },
  ]));
  await publishAsync(client, 'edgeloop/lab/dev2/telemetry/light', '433.5');
  await endAsync(client);
  await waitFor(async () => (await gw.store.countReadings({ fleet: 'lab' })) === 5, 5000, '5 readings');
  const rows = [];
  for await (const r of gw.store.readings({ fleet: 'lab', device: 'dev1' })) rows.push(r);
  t.deepEqual(rows.map((r) => r.ts), [...rows.map((r) => r.ts)].sort((a, b) => a - b), 'ordered by time');
  rows.sort((a, b) => a.ts - b.ts || a.sensor.localeCompare(b.sensor));
  t.deepEqual(rows, [
    { fleet: 'lab', device: 'dev1', sensor: 'co2', ts: 1_700_000_000_000, value: 412.75 },
    { fleet: 'lab', device: 'dev1', sensor: 'temp', ts: 1_700_000_000_000, value: 21.5 },
    { fleet: 'lab', device: 'dev1', sensor: 'temp', ts: 1_700_000_001_000, value: 21.6 },
    { fleet: 'lab', device: 'dev1', sensor: 'temp', ts: 1_700_000_002_500, value: 21.7 },
  ]);
  const light = [];
  for await (const r of gw.store.readings({ fleet: 'lab', device: 'dev2' })) light.push(r);
  t.is(light.length, 1);
  t.is(light[0]!.value, 433.5);
});

test('a redelivered or replayed reading is stored once; a different value for the same key is a counted conflict', async (t) => {
  const gw = await startGateway(t);
  const client = await connectMqtt(gw.brokerUrl);
  const msg = JSON.stringify({ ts: 1_700_000_000_000, values: { temp: 1 } });
  await publishAsync(client, 'edgeloop/lab/d/telemetry', msg);
  await publishAsync(client, 'edgeloop/lab/d/telemetry', msg);
  await publishAsync(client, 'edgeloop/lab/d/telemetry', JSON.stringify({ ts: 1_700_000_000_000, values: { temp: 2 } }));
  await endAsync(client);
  await waitFor(async () => (await gw.store.counters()).duplicates === 2, 5000, 'duplicates counted');
  t.is(await gw.store.countReadings({ fleet: 'lab' }), 1);
  const c = await gw.store.counters();
  t.is(c.conflicts, 1);
  const [row] = await (async () => { const a = []; for await (const r of gw.store.readings({ fleet: 'lab' })) a.push(r); return a; })();
  t.is(row!.value, 1);
});

test('HTTP telemetry goes through the same validation and store', async (t) => {
  const gw = await startGateway(t);
  const ok = await fetch(`${gw.httpUrl}/v1/telemetry/lab/httpdev`, { method: 'POST', body: JSON.stringify({ ts: 1_700_000_000_000, values: { a: 1, b: 2 } }) });
  t.is(ok.status, 200);
  t.deepEqual(await ok.json(), { inserted: 2, duplicates: 0 });
  const bad = await fetch(`${gw.httpUrl}/v1/telemetry/lab/httpdev`, { method: 'POST', body: '{"ts": 1700000000000, "values": {"a": "x"}}' });
  t.is(bad.status, 400);
  const body = (await bad.json()) as { error: string; quarantined: boolean };
  t.is(body.error, 'BAD_VALUE');
  t.true(body.quarantined);
  const badName = await fetch(`${gw.httpUrl}/v1/telemetry/lab/${encodeURIComponent('bad name')}`, { method: 'POST', body: '{}' });
  t.is(badName.status, 400);
  t.is(((await badName.json()) as { error: string }).error, 'BAD_NAME');
  const q = await gw.store.quarantine();
  t.is(q.length, 2);
  t.is(q[0]!.transport, 'http');
  t.is(await gw.store.countReadings({ fleet: 'lab' }), 2);
});

test('the gateway announces itself: retained online status, and its last will marks it offline when it dies', async (t) => {
  const { startEmbeddedBroker } = await import('../gateway/broker.ts');
  const { spawnGateway, killHard } = await import('./helpers/gateway-process.ts');
  const broker = await startEmbeddedBroker({ port: 0 });
  t.teardown(() => broker.stop());
  const gw = await spawnGateway(['--broker', broker.url, '--db', join(tempDir(), 'will.db'), '--no-http', '--id', 'willy', '--log-level', 'error']);
  const watcher = await connectMqtt(broker.url);
  t.teardown(() => endAsync(watcher));
  const seen: { online: boolean }[] = [];
  watcher.on('message', (_topic, payload) => seen.push(JSON.parse(payload.toString()) as { online: boolean }));
  await watcher.subscribeAsync('edgeloop/_gateway/willy/status', { qos: 1 });
  await waitFor(() => seen.some((s) => s.online), 5000, 'online status');
  await killHard(gw.child);
  await waitFor(() => seen.some((s) => !s.online), 5000, 'offline will');
  t.pass();
});

test('edgeloop replay publishes the occupancy file as it is, and every row is stored', async (t) => {
  const gw = await startGateway(t);
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { fileURLToPath } = await import('node:url');
  const bin = fileURLToPath(new URL('../bin/edgeloop.js', import.meta.url));
  const file = fileURLToPath(new URL('../datasets/occupancy/datatest.txt', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [bin, 'replay', file, '--fleet', 'occ', '--device', 'r1', '--broker', gw.brokerUrl, '--as-fast-as-possible', '--batch', '10', '--time-zone', 'Europe/Brussels']);
  t.regex(stdout, /replayed 2665 records in 267 messages/);
  await waitFor(async () => (await gw.store.countReadings({ fleet: 'occ' })) === 2665 * 6, 10_000, 'all readings');
  const first = [];
  for await (const r of gw.store.readings({ fleet: 'occ', toMs: Date.UTC(2015, 1, 2, 13, 19, 1) })) first.push(r);
  t.deepEqual(Object.fromEntries(first.map((r) => [r.sensor, r.value])), { Temperature: 23.7, Humidity: 26.272, Light: 585.2, CO2: 749.2, HumidityRatio: 0.00476416302416414, Occupancy: 1 });
});

test('the gateway serves Prometheus /metrics with its ingest counters and the drift API', async (t) => {
  const gw = await startGateway(t);
  await fetch(`${gw.httpUrl}/v1/telemetry/lab/m1`, { method: 'POST', body: JSON.stringify({ ts: 1_700_000_000_000, values: { a: 1, b: 2 } }) });
  await fetch(`${gw.httpUrl}/v1/telemetry/lab/m1`, { method: 'POST', body: 'nope' });
  const text = await (await fetch(`${gw.httpUrl}/metrics`)).text();
  t.regex(text, /edgeloop_ingest_readings_total\{outcome="inserted"\} 2/);
  t.regex(text, /NOT_JSON/);
  t.regex(text, /^edgeloop_leader\{gateway="t"\} 1$/m, 'a SQLite gateway is its own leader');
  t.true(gw.isLeader);
  // The process's own health: event-loop delay, CPU, memory (prom-client's default metrics).
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  t.true(value('nodejs_eventloop_lag_max_seconds') >= 0, 'event-loop delay');
  t.true(value('process_cpu_user_seconds_total') > 0, 'CPU');
  t.true(value('process_resident_memory_bytes') > 1e6, 'memory');
  const drift = (await (await fetch(`${gw.httpUrl}/v1/drift`)).json()) as { policy: { psiAlert: number } };
  t.is(drift.policy.psiAlert, 0.25);
});
