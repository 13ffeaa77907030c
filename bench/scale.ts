/**
 * node --import tsx bench/scale.ts — durable ingest into PostgreSQL with 1 and 2 gateway instances
 * (one MQTT 5 shared-subscription group, one database), and SQLite with 1 instance for reference, in
 * the same run through one mosquitto. Each instance is its own process; PostgreSQL runs with fsync on.
 *
 * Publishers as in bench/ingest.ts: many connections, each a bounded window of unacknowledged QoS 1
 * publishes, 5 sensor values a message. A run ends when the instances together have committed every
 * message; the rate counts from the first publish to the last commit. Stored readings are counted
 * afterwards (lost = acked × 5 − stored).
 * Last line: `scale: pg x1 <msg/s>, pg x2 <msg/s>, sqlite <msg/s>`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectMqtt, endAsync, type MqttClient } from '../io/mqtt-client.ts';
import { openStore } from '../gateway/store-factory.ts';
import { startMosquitto } from '../test/helpers/mosquitto.ts';
import { startPostgres } from '../test/helpers/postgres.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 40_000);
const PUBLISHERS = Number(process.env.BENCH_PUBLISHERS ?? 20);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 50);
const here = fileURLToPath(new URL('.', import.meta.url));

interface Instance { child: ChildProcess; ready: Promise<void>; committed: number; lastMs: number }

function startInstance(db: string, schema: string, url: string, fleet: string, id: string, onCommit: () => void): Instance {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'scale-subscriber.ts'), db, schema, url, fleet, `g-${fleet}`, id], { stdio: ['ignore', 'pipe', 'inherit'] });
  let onReady: () => void;
  const inst: Instance = { child, ready: new Promise<void>((r) => (onReady = r)), committed: 0, lastMs: 0 };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const doc = JSON.parse(line) as { ready?: boolean; committed?: number; t?: number };
    if (doc.ready) return onReady();
    inst.committed = doc.committed!;
    inst.lastMs = doc.t!;
    onCommit();
  });
  return inst;
}

async function publishAll(url: string, fleet: string): Promise<{ startMs: number; acked: number }> {
  const clients: MqttClient[] = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => connectMqtt(url, { clientId: `scale-pub-${fleet}-${i}` })));
  const perClient = Math.ceil(MESSAGES / PUBLISHERS);
  const base = Date.UTC(2024, 0, 1);
  let acked = 0;
  const startMs = Date.now();
  await Promise.all(clients.map((c, ci) => new Promise<void>((resolve) => {
    let next = 0;
    let inFlight = 0;
    const count = Math.max(0, Math.min(perClient, MESSAGES - ci * perClient));
    if (count === 0) return resolve();
    const pump = () => {
      while (inFlight < WINDOW && next < count) {
        const i = ci * perClient + next++;
        inFlight++;
        const payload = JSON.stringify({ ts: base + i * 1000, values: { t: 20 + (i % 7), h: 30.5, l: i % 1000, c: 420 + (i % 50), w: 0.0047 } });
        c.publish(`edgeloop/${fleet}/dev${ci}/telemetry`, payload, { qos: 1 }, () => {
          inFlight--;
          acked++;
          if (next >= count && inFlight === 0) resolve();
          else pump();
        });
      }
    };
    pump();
  })));
  await Promise.all(clients.map((c) => endAsync(c)));
  return { startMs, acked };
}

async function run(label: string, db: string, schema: string, instances: number, url: string): Promise<number> {
  const fleet = `bench-${schema}`;
  let resolveDone: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const insts: Instance[] = [];
  const onCommit = () => { if (insts.reduce((n, i) => n + i.committed, 0) >= MESSAGES) resolveDone(); };
  for (let k = 0; k < instances; k++) insts.push(startInstance(db, schema, url, fleet, `${schema}-${k}`, onCommit));
  await Promise.all(insts.map((i) => i.ready));
  const { startMs, acked } = await publishAll(url, fleet);
  await done;
  const seconds = (Math.max(...insts.map((i) => i.lastMs)) - startMs) / 1000;
  await Promise.all(insts.map((i) => new Promise((r) => { i.child.once('exit', r); i.child.kill('SIGTERM'); })));
  const store = await openStore(db, { postgres: { schema, poolSize: 1 } });
  const stored = await store.countReadings({ fleet });
  await store.close();
  const rate = MESSAGES / seconds;
  console.log(`  ${label.padEnd(9)}: ${MESSAGES} messages in ${seconds.toFixed(2)} s = ${Math.round(rate)} msg/s (${Math.round(rate * 5)} readings/s), per instance ${insts.map((i) => i.committed).join('/')}, ${stored} readings stored, lost ${acked * 5 - stored}`);
  return rate;
}

const mosq = await startMosquitto();
if (!mosq) throw new Error('bench:scale needs mosquitto (apt-get install mosquitto)');
const pg = await startPostgres({ durable: true });
if (!pg) throw new Error('bench:scale needs PostgreSQL (apt-get install postgresql)');
const dir = mkdtempSync(join(tmpdir(), 'edgeloop-bench-scale-'));
try {
  const dbUrl = await pg.createDatabase('bench');
  console.log(`bench:scale — ${MESSAGES} messages × 5 readings, ${PUBLISHERS} publishers × window ${WINDOW}, mosquitto ${mosq.url}, PostgreSQL (fsync on) port ${pg.port}, ${cpus().length} CPUs`);
  const pg1 = await run('pg x1', dbUrl, 'pg1', 1, mosq.url);
  const pg2 = await run('pg x2', dbUrl, 'pg2', 2, mosq.url);
  const sqlite = await run('sqlite x1', join(dir, 'bench.db'), 'sqlite', 1, mosq.url);
  console.log(`scale: pg x1 ${Math.round(pg1)} msg/s, pg x2 ${Math.round(pg2)} msg/s, sqlite ${Math.round(sqlite)} msg/s`);
} finally {
  await mosq.stop();
  await pg.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
