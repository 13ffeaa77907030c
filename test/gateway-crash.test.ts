/**
 * Crash test: a publisher sends N QoS 1 readings while the gateway process is SIGKILLed at random
 * moments and restarted. Every reading the broker acknowledged must end up stored exactly once.
 */
import test from 'ava';
import { join } from 'node:path';
import { startEmbeddedBroker } from '../gateway/broker.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { connectMqtt, endAsync } from '../io/mqtt-client.ts';
import { spawnGateway, killHard, type GatewayProcess } from './helpers/gateway-process.ts';
import { tempDir } from './helpers/tmp.ts';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('gateway SIGKILLed at random moments loses no acknowledged reading and stores none twice', async (t) => {
  const N = 6000;
  const KILLS = 5;
  const dir = tempDir();
  const db = join(dir, 'crash.db');
  const broker = await startEmbeddedBroker({ port: 0 });
  t.teardown(() => broker.stop());
  const args = ['--broker', broker.url, '--db', db, '--no-http', '--id', 'crash', '--log-level', 'error'];
  let gw: GatewayProcess = await spawnGateway(args);
  const random = seeded(42);

  const pub = await connectMqtt(broker.url, { clientId: 'crash-publisher' });
  const acked = new Set<number>();
  const base = Date.UTC(2024, 0, 1);
  let inFlight = 0;
  let sent = 0;
  const publishing = (async () => {
    while (sent < N) {
      if (inFlight >= 50) { await new Promise((r) => setTimeout(r, 1)); continue; }
      const i = sent++;
      inFlight++;
      pub.publish('edgeloop/crash/dev/telemetry', JSON.stringify({ ts: base + i * 1000, values: { seq: i } }), { qos: 1 }, (err) => {
        inFlight--;
        if (!err) acked.add(i);
      });
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
  })();

  let kills = 0;
  while (kills < KILLS) {
    await new Promise((r) => setTimeout(r, 150 + random() * 600));
    await killHard(gw.child);
    kills++;
    await new Promise((r) => setTimeout(r, random() * 300));
    gw = await spawnGateway(args);
  }
  await publishing;
  await endAsync(pub);

  // Let the last gateway drain what the broker kept for it, then stop it gently.
  const store = await SqliteStore.create({ path: db });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && (await store.countReadings({ fleet: 'crash' })) < acked.size) await new Promise((r) => setTimeout(r, 100));
  gw.child.kill('SIGTERM');
  await new Promise((r) => gw.child.once('exit', r));

  const stored = new Map<number, number>();
  for await (const r of store.readings({ fleet: 'crash' })) {
    const i = (r.ts - base) / 1000;
    t.is(r.value, i, 'value matches its timestamp');
    stored.set(i, (stored.get(i) ?? 0) + 1);
  }
  await store.close();
  const lost = [...acked].filter((i) => !stored.has(i));
  const twice = [...stored.values()].filter((n) => n > 1).length;
  const counters = { sent, acknowledged: acked.size, stored: stored.size, lost: lost.length, duplicates: twice, kills };
  t.log(JSON.stringify(counters));
  t.is(kills, KILLS);
  t.is(acked.size, N, 'the broker acknowledged every publish');
  t.deepEqual(lost, [], 'no acknowledged reading lost');
  t.is(twice, 0);
});
