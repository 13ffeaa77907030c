/**
 * npm run bench:ingest — durable ingest throughput against the ceiling, measured in the same run.
 *
 * Many publisher connections, each with a bounded window of unacknowledged QoS 1 publishes, send
 * telemetry (5 sensor values a message) through a broker (mosquitto when installed, else the embedded
 * aedes broker in its own process) to (a) a subscriber that acks and discards — the ceiling — and
 * (b) the gateway's ingest: validate, commit to SQLite (WAL, synchronous=FULL), then PUBACK.
 * Last line: `ingest: <durable msg/s> msg/s, ceiling <msg/s> msg/s, ratio <r>, lost <n>`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectMqtt, endAsync, type MqttClient } from '../io/mqtt-client.ts';
import { startMosquitto } from '../test/helpers/mosquitto.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 60_000);
const PUBLISHERS = Number(process.env.BENCH_PUBLISHERS ?? 20);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 50);
const here = fileURLToPath(new URL('.', import.meta.url));

async function startAedesProcess(): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', `
    const { startEmbeddedBroker } = await import(${JSON.stringify(join(here, '../gateway/broker.ts'))});
    const b = await startEmbeddedBroker({ port: 0 });
    console.log(b.url);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  return { url, stop: () => child.kill('SIGKILL') };
}

function startSubscriber(mode: 'durable' | 'discard', url: string, dir: string): { child: ChildProcess; ready: Promise<void>; done: Promise<{ committed: number; first: number; last: number; stored: number | null }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'ingest-subscriber.ts'), mode, url, String(MESSAGES), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  let onReady: () => void;
  let onDone: (v: { committed: number; first: number; last: number; stored: number | null }) => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const done = new Promise<{ committed: number; first: number; last: number; stored: number | null }>((r) => (onDone = r));
  lines.on('line', (line) => {
    const doc = JSON.parse(line) as { ready?: boolean; committed?: number };
    if (doc.ready) onReady();
    else onDone(doc as { committed: number; first: number; last: number; stored: number | null });
  });
  return { child, ready, done };
}

async function publishAll(url: string): Promise<{ startMs: number; acked: number }> {
  const clients: MqttClient[] = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => connectMqtt(url, { clientId: `bench-pub-${i}-${Date.now()}` })));
  const perClient = Math.ceil(MESSAGES / PUBLISHERS);
  const base = Date.UTC(2024, 0, 1);
  let acked = 0;
  const startMs = Date.now();
  await Promise.all(clients.map((c, ci) => new Promise<void>((resolve) => {
    let next = 0;
    let inFlight = 0;
    const count = Math.min(perClient, MESSAGES - ci * perClient);
    const pump = () => {
      while (inFlight < WINDOW && next < count) {
        const i = ci * perClient + next++;
        inFlight++;
        const payload = JSON.stringify({ ts: base + i, values: { t: 20 + (i % 7), h: 30.5, l: i % 1000, c: 420 + (i % 50), w: 0.0047 } });
        c.publish(`edgeloop/bench/dev${ci}/telemetry`, payload, { qos: 1 }, () => {
          inFlight--;
          acked++;
          if (next >= count && inFlight === 0) resolve();
          else pump();
        });
      }
      if (count === 0) resolve();
    };
    pump();
  })));
  await Promise.all(clients.map((c) => endAsync(c)));
  return { startMs, acked };
}

async function run(mode: 'durable' | 'discard', url: string): Promise<{ rate: number; lost: number }> {
  const dir = mkdtempSync(join(tmpdir(), `edgeloop-bench-${mode}-`));
  const sub = startSubscriber(mode, url, dir);
  await sub.ready;
  const { startMs, acked } = await publishAll(url);
  const result = await sub.done;
  sub.child.kill('SIGTERM');
  await new Promise((r) => sub.child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  const seconds = (result.last - startMs) / 1000;
  const rate = result.committed / seconds;
  const lost = result.stored === null ? 0 : acked * 5 - result.stored;
  console.log(`  ${mode.padEnd(7)}: ${result.committed} messages in ${seconds.toFixed(2)} s = ${Math.round(rate)} msg/s${result.stored === null ? '' : `, ${result.stored} readings stored`}`);
  return { rate, lost };
}

const mosq = await startMosquitto();
const broker = mosq ? { url: mosq.url, stop: () => void mosq.stop() } : await startAedesProcess();
console.log(`bench:ingest — ${MESSAGES} messages × 5 readings, ${PUBLISHERS} publishers × window ${WINDOW}, broker ${mosq ? 'mosquitto' : 'aedes'} ${broker.url}`);
// Warm-up so neither run pays for JIT and page cache alone.
const ceiling = await run('discard', broker.url);
const durable = await run('durable', broker.url);
broker.stop();
console.log(`ingest: ${Math.round(durable.rate)} msg/s, ceiling ${Math.round(ceiling.rate)} msg/s, ratio ${(durable.rate / ceiling.rate).toFixed(2)}, lost ${durable.lost}`);
process.exit(0);
