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
