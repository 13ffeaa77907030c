/**
 * Scale-out for real: a mosquitto broker, three gateways in one MQTT 5 shared-subscription group, each
 * with its own PostgresStore (its own pool, as separate processes would have) on ONE database.
 * Nothing lost, nothing stored twice, every gateway took part — also when one gateway restarts
 * mid-stream. Skipped only when mosquitto or PostgreSQL is not installed and not in CI.
 */
import test from 'ava';
import { Gateway } from '../gateway/gateway.ts';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { connectMqtt, endAsync } from '../io/mqtt-client.ts';
import { pgRig } from './helpers/pg-rig.ts';
import { waitFor } from './helpers/tmp.ts';

const rig = pgRig({ database: 'scale', mosquitto: true });

// One share group per test: mosquitto keeps giving an offline persistent member its share (queued),
// so members left over from an earlier test would swallow messages.
async function startGateway(id: string, schema: string): Promise<{ gw: Gateway; store: PostgresStore }> {
  const store = await PostgresStore.create({ url: rig.dbUrl, schema, poolSize: 2 });
  const gw = new Gateway({ id, brokerUrl: rig.broker!.url, dbPath: 'unused', store, http: null, drift: false, sharedGroup: schema, protocolVersion: 5, maxBatch: 500 });
  await gw.start();
  return { gw, store };
}

async function publish(fleet: string, from: number, to: number): Promise<void> {
  const pub = await connectMqtt(rig.broker!.url, { clientId: `scale-pub-${fleet}-${from}` });
  const base = Date.UTC(2024, 0, 31); // spans two monthly partitions
  const sends: Promise<unknown>[] = [];
  for (let i = from; i < to; i++) {
    sends.push(pub.publishAsync(`edgeloop/${fleet}/dev${i % 7}/telemetry`, JSON.stringify({ ts: base + i * 60_000, values: { seq: i, half: i / 2 } }), { qos: 1 }));
  }
  await Promise.all(sends);
  await endAsync(pub);
}

test.serial('three gateways in one shared group on one PostgreSQL: nothing lost, nothing stored twice, all took part', async (t) => {
  if (!rig.broker || !rig.server) return t.pass('mosquitto or PostgreSQL not installed: skipped');
  const gws = await Promise.all(['a', 'b', 'c'].map((id) => startGateway(`pg-${id}`, 'shared3')));
  t.teardown(async () => { for (const { gw, store } of gws) { await gw.stop(); await store.close(); } });
  const N = 3000;
  await publish('three', 0, N);
  const store = gws[0]!.store;
  await waitFor(async () => (await store.countReadings({ fleet: 'three' })) === 2 * N, 20_000, `${2 * N} readings`);
  const committed = gws.map(({ gw }) => gw.subscriberStats!.committed);
  t.log(`committed per gateway: ${committed.join(', ')}`);
  t.true(committed.every((c) => c > 0), 'every gateway took part');
  t.is(committed.reduce((a, b) => a + b, 0), N, 'each message committed by exactly one gateway');
  const c = await store.counters();
  t.deepEqual([c.inserted, c.duplicates, c.conflicts], [2 * N, 0, 0]);
  // Exact values back, across both monthly partitions.
  let bad = 0;
  let rows = 0;
  for await (const r of store.readings({ fleet: 'three', sensors: ['seq'] })) {
    rows++;
    if (r.device !== `dev${r.value % 7}` || r.ts !== Date.UTC(2024, 0, 31) + r.value * 60_000) bad++;
  }
  t.is(rows, N);
  t.is(bad, 0);
  t.deepEqual((await store.partitions()).map((p) => p.name), ['readings_2024_01', 'readings_2024_02']);
});

test.serial('a gateway restarting mid-stream loses nothing: its queued share arrives when it is back, stored once', async (t) => {
  if (!rig.broker || !rig.server) return t.pass('mosquitto or PostgreSQL not installed: skipped');
  const a = await startGateway('restart-a', 'restart');
  let b = await startGateway('restart-b', 'restart');
  t.teardown(async () => { for (const { gw, store } of [a, b]) { await gw.stop(); await store.close(); } });
  const N = 2000;
  await publish('restart', 0, N / 2);
  await waitFor(async () => (await a.store.countReadings({ fleet: 'restart' })) === N, 20_000, 'first half');
  await b.gw.stop();
  await b.store.close();
  await publish('restart', N / 2, N);
  b = await startGateway('restart-b', 'restart');
  await waitFor(async () => (await a.store.countReadings({ fleet: 'restart' })) === 2 * N, 20_000, `${2 * N} readings`);
  const c = await a.store.counters();
  t.is(c.inserted, 2 * N);
  t.is(await a.store.countReadings({ fleet: 'restart' }), 2 * N);
  t.true(b.gw.subscriberStats!.committed > 0, 'the restarted gateway took part again');
});
