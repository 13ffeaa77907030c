/**
 * Pushed transfers (TransferServer `pushChunks`, issue #6): offer() publishes every chunk once, retained,
 * and a device takes them with the manifest in one subscribe round trip, asking for nothing; a chunk the
 * broker no longer holds is requested (only that one), a tampered pushed chunk is refused and fetched
 * again, and nothing partial is ever returned. Real in-process aedes broker, one MQTT connection per
 * party, real TransferClients verifying a signed ONNX artifact.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker.ts';
import { TransferServer } from '../gateway/transfer-server.ts';
import { TransferClient, type TransferClientOptions } from '../device/transfer-client.ts';
import { connectMqtt, endAsync, publishAsync, type MqttClient } from '../io/mqtt-client.ts';
import { chunkTopic } from '../src/topics.ts';
import { isEdgeloopError } from '../src/errors.ts';
import type { ChunkRequest } from '../src/contracts/device.ts';
import { buildManifest, keyPair, mlpFixture } from './helpers/device-model.ts';
import { tempDir } from './helpers/tmp.ts';

const FLEET = 'lab';
const CHUNK_BYTES = 64;
const pair = keyPair();
const fixture = mlpFixture();
const total = Math.ceil(fixture.bytes.length / CHUNK_BYTES);

interface Rig {
  broker: EmbeddedBroker;
  gw: MqttClient;
  server: TransferServer;
  requests: { device: string; req: ChunkRequest }[];
  device(id: string, extra?: Partial<TransferClientOptions>): Promise<TransferClient>;
}

async function rig(t: { teardown(fn: () => Promise<void>): void }): Promise<Rig> {
  const broker = await startEmbeddedBroker({ port: 0 });
  const gw = await connectMqtt(broker.url, { clientId: 'gw' });
  const requests: Rig['requests'] = [];
  const server = new TransferServer({ client: gw, fleet: FLEET, pushChunks: true, onRequest: (device, req) => requests.push({ device, req }) });
  await server.start();
  const clients: MqttClient[] = [];
  t.teardown(async () => {
    await server.stop();
    for (const c of clients) await endAsync(c, true);
    await endAsync(gw, true);
    await broker.stop();
  });
  return {
    broker, gw, server, requests,
    async device(id, extra = {}) {
      const client = await connectMqtt(broker.url, { clientId: id });
      clients.push(client);
      return new TransferClient({ client, fleet: FLEET, device: id, stateDir: tempDir(), pinned: pair.publicKey, chunkTimeoutMs: 500, pushWaitMs: 300, ...extra });
    },
  };
}

const manifest = (version: number) => buildManifest({ model: 'occ', version, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair });
const chunk = (i: number): Buffer => Buffer.from(fixture.bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));

test('offer pushes every chunk once, retained: devices that subscribe later get the artifact without a single request', async (t) => {
  const r = await rig(t);
  await r.server.offer(manifest(1), fixture.bytes);
  await r.server.idle();
  t.like(r.server.stats, { chunksPushed: total, chunksPublished: total, requests: 0 });
  // Two devices that were not connected during the push.
  const results = await Promise.all([(await r.device('dev1')).download('occ', 1), (await r.device('dev2')).download('occ', 1)]);
  for (const res of results) {
    t.deepEqual(Buffer.from(res.bytes), Buffer.from(fixture.bytes));
    t.like(res.stats, { totalChunks: total, pushedChunks: total, requestedChunks: 0, tamperedChunks: 0, resumedChunks: 0 });
  }
  t.is(r.requests.length, 0);
  t.is(r.server.stats.chunksPublished, total, 'nothing published again');
});

test('chunks the broker no longer holds are requested, only those; nothing partial is returned before', async (t) => {
  const r = await rig(t);
  await r.server.offer(manifest(2), fixture.bytes);
  await r.server.idle();
  // The broker lost three retained chunks (a restart without persistence, a dropped queue).
  const lost = [0, 5, total - 1];
  for (const i of lost) await publishAsync(r.gw, chunkTopic(FLEET, 'occ', 2, i), '', { qos: 1, retain: true });
  const c = await r.device('dev3', { persistAfterMs: 0 });
  const res = await c.download('occ', 2);
  t.deepEqual(Buffer.from(res.bytes), Buffer.from(fixture.bytes));
  t.like(res.stats, { pushedChunks: total - lost.length, requestedChunks: lost.length, tamperedChunks: 0 });
  t.deepEqual(r.requests.flatMap(({ req }) => req.chunks).sort((a, b) => a - b), lost);
  t.true(r.requests.every(({ device }) => device === 'dev3'));
});

test('a tampered pushed chunk is refused, counted and fetched again from the gateway', async (t) => {
  const r = await rig(t);
  await r.server.offer(manifest(3), fixture.bytes);
  await r.server.idle();
  // Someone with publish rights replaces the retained chunk 2 with forged bytes.
  const forged = chunk(2);
  forged[0] ^= 0xff;
  await publishAsync(r.gw, chunkTopic(FLEET, 'occ', 3, 2), forged, { qos: 1, retain: true });
  const res = await (await r.device('dev4')).download('occ', 3);
  t.deepEqual(Buffer.from(res.bytes), Buffer.from(fixture.bytes));
  t.like(res.stats, { tamperedChunks: 1, requestedChunks: 1, pushedChunks: total - 1 });
  t.deepEqual(r.requests.map(({ req }) => req.chunks), [[2]]);
});

test('every pushed chunk forged and no gateway answering: TIMEOUT, no artifact, and the refused chunks are not kept', async (t) => {
  const r = await rig(t);
  await r.server.offer(manifest(4), fixture.bytes);
  await r.server.idle();
  await r.server.stop(); // the gateway stops answering requests
  for (let i = 0; i < total; i++) {
    const bad = chunk(i);
    bad[bad.length - 1] ^= 1;
    await publishAsync(r.gw, chunkTopic(FLEET, 'occ', 4, i), bad, { qos: 1, retain: true });
  }
  const c = await r.device('dev5', { chunkTimeoutMs: 50, maxStalledRounds: 3, persistAfterMs: 0 });
  const err = await t.throwsAsync(c.download('occ', 4));
  t.true(isEdgeloopError(err, 'TIMEOUT'), String(err));
  t.regex(err!.message, /stalled: no new chunk in 3 rounds of 50 ms \(0\/\d+ chunks on disk/);
  t.deepEqual(await c.receivedChunks('occ', 4), []);
});

test('a device resuming a partial transfer takes the rest from the push; withdraw clears the retained chunks', async (t) => {
  const r = await rig(t);
  await r.server.offer(manifest(5), fixture.bytes);
  await r.server.idle();
  const abort = new AbortController();
  const dev = await r.device('dev6', { persistAfterMs: 0, onProgress: (p) => { if (p.receivedChunks >= 5) abort.abort(); } });
  const first = await t.throwsAsync(dev.download('occ', 5, abort.signal));
  t.true(isEdgeloopError(first, 'ABORTED'), String(first));
  const kept = await dev.receivedChunks('occ', 5);
  t.true(kept.length >= 5 && kept.length <= total, `${kept.length} chunks on disk after the abort`);
  const res = await dev.download('occ', 5);
  t.deepEqual(Buffer.from(res.bytes), Buffer.from(fixture.bytes));
  t.like(res.stats, { resumedChunks: kept.length, pushedChunks: total - kept.length, requestedChunks: 0 });
  t.true(existsSync(dev.transferDir('occ', 5)), 'the transfer folder stays until the caller discards it (after staging)');
  await dev.discard('occ', 5);
  t.false(existsSync(dev.transferDir('occ', 5)), 'discard deletes what the resumed transfer left on disk');

  await r.server.withdraw('occ', 5);
  const late = await r.device('dev7', { manifestTimeoutMs: 300 });
  const err = await t.throwsAsync(late.download('occ', 5));
  t.true(isEdgeloopError(err, 'TIMEOUT'), String(err));
  // No retained chunk is left behind either.
  const seen: string[] = [];
  const probe = await connectMqtt(r.broker.url, { clientId: 'probe' });
  t.teardown(() => endAsync(probe, true));
  probe.on('message', (topic, payload) => { if (payload.length > 0) seen.push(topic); });
  await probe.subscribeAsync(`edgeloop/${FLEET}/models/occ/5/#`, { qos: 1 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.deepEqual(seen, []);
});

test('push options are checked', (t) => {
  const make = (o: Partial<TransferClientOptions>) => new TransferClient({ client: {} as MqttClient, fleet: FLEET, device: 'd', stateDir: tempDir(), pinned: pair.publicKey, ...o });
  const e1 = t.throws(() => make({ pushWaitMs: -1 }));
  t.true(isEdgeloopError(e1, 'BAD_ARGUMENT'));
  t.is(e1!.message, 'pushWaitMs must be an integer in 0..600000, got -1');
  const e2 = t.throws(() => make({ persistAfterMs: 0.5 }));
  t.is(e2!.message, 'persistAfterMs must be an integer in 0..600000, got 0.5');
});
