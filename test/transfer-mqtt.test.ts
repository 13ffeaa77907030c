/**
 * Model transfer over a real (in-process aedes) broker: TransferServer on one MQTT client, the device's
 * TransferClient on another, a real ONNX artifact (test/fixtures/device-mlp.onnx) cut into small chunks.
 */
import test from 'ava';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker.ts';
import { TransferServer } from '../gateway/transfer-server.ts';
import { TransferClient } from '../device/transfer-client.ts';
import { connectMqtt, endAsync, publishAsync, type MqttClient } from '../io/mqtt-client.ts';
import { chunkTopic, deviceTopic, manifestTopic } from '../src/topics.ts';
import { isEdgeloopError } from '../src/errors.ts';
import type { ChunkRequest, Rejection } from '../src/contracts/device.ts';
import { buildManifest, keyPair, mlpFixture } from './helpers/device-model.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

const FLEET = 'lab';
const CHUNK_BYTES = 64;
const pair = keyPair();
const fixture = mlpFixture();
const totalChunks = Math.ceil(fixture.bytes.length / CHUNK_BYTES);

interface Rig {
  broker: EmbeddedBroker;
  gw: MqttClient;
  dev: MqttClient;
  server: TransferServer;
  requests: { device: string; req: ChunkRequest }[];
  close(): Promise<void>;
}

async function rig(serverOptions: { maxInflight?: number; maxChunksPerS?: number | null } = {}): Promise<Rig> {
  const broker = await startEmbeddedBroker({ port: 0 });
  const gw = await connectMqtt(broker.url, { clientId: 'gw' });
  const dev = await connectMqtt(broker.url, { clientId: 'dev1' });
  const requests: Rig['requests'] = [];
  const server = new TransferServer({ client: gw, fleet: FLEET, ...serverOptions, onRequest: (device, req) => requests.push({ device, req }) });
  return {
    broker, gw, dev, server, requests,
    async close() {
      await server.stop();
      await endAsync(dev, true);
      await endAsync(gw, true);
      await broker.stop();
    },
  };
}

function client(r: Rig, stateDir: string, extra: Partial<ConstructorParameters<typeof TransferClient>[0]> = {}): TransferClient {
  return new TransferClient({ client: r.dev, fleet: FLEET, device: 'dev1', stateDir, pinned: pair.publicKey, windowChunks: 8, chunkTimeoutMs: 300, ...extra });
}

test('downloads a signed ONNX artifact chunk by chunk and returns the verified bytes', async (t) => {
  const r = await rig({ maxInflight: 3 });
  t.teardown(() => r.close());
  await r.server.start();
  await r.server.offer(buildManifest({ model: 'occ', version: 1, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair }), fixture.bytes);
  const dir = tempDir();
  const res = await client(r, dir).download('occ', 1);
  t.deepEqual(Buffer.from(res.bytes), Buffer.from(fixture.bytes));
  t.is(res.stats.totalChunks, totalChunks);
  t.true(totalChunks > 20, `fixture should span many chunks, got ${totalChunks}`);
  t.is(res.stats.requestedChunks, totalChunks);
  t.is(res.stats.tamperedChunks, 0);
  t.is(res.stats.resumedChunks, 0);
  t.is(r.server.stats.chunksPublished, totalChunks);
  t.true(r.server.stats.peakInflight <= 3 && r.server.stats.peakInflight >= 1);
  // Requests come in windows of at most 8 indices, each index requested once.
  t.true(r.requests.every(({ req }) => req.chunks.length <= 8 && req.chunks.length >= 1));
  t.deepEqual(r.requests.flatMap(({ req }) => req.chunks).sort((a, b) => a - b), Array.from({ length: totalChunks }, (_, i) => i));
  t.true(r.requests.every(({ device }) => device === 'dev1'));
});

test('a tampered chunk from a man in the middle is refused, counted and requested again', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  await r.server.offer(buildManifest({ model: 'occ', version: 2, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair }), fixture.bytes);
  // The attacker answers the first request before the gateway listens: every chunk has one byte flipped.
  const mitm = await connectMqtt(r.broker.url, { clientId: 'mitm' });
  t.teardown(() => endAsync(mitm, true));
  let forged = 0;
  let first = true;
  mitm.on('message', (_topic, payload) => {
    if (!first) return;
    first = false;
    const req = JSON.parse(payload.toString()) as ChunkRequest;
    void (async () => {
      for (const i of req.chunks) {
        const bad = Buffer.from(fixture.bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
        bad[0] ^= 0xff;
        await publishAsync(mitm, chunkTopic(FLEET, 'occ', 2, i), bad);
        forged++;
      }
      await r.server.start();
    })();
  });
  await mitm.subscribeAsync(deviceTopic('modelRequest', FLEET, 'dev1'), { qos: 1 });
  const res = await client(r, tempDir()).download('occ', 2);
  t.deepEqual(Buffer.from(res.bytes), Buffer.from(fixture.bytes));
  t.is(forged, 8);
  t.is(res.stats.tamperedChunks, 8);
  // The first window was asked for twice: once answered by the forger, once by the gateway (on a
  // loaded machine a chunk timeout may ask for a few more again; never fewer).
  t.true(res.stats.requestedChunks >= totalChunks + 8, `requested ${res.stats.requestedChunks} chunks, expected ≥ ${totalChunks + 8}`);
  const asked = r.requests.flatMap(({ req }) => req.chunks);
  for (let i = 0; i < 8; i++) t.true(asked.includes(i), `chunk ${i} re-requested from the gateway`);
});

test('resumes from the chunks on disk after an interrupted transfer, requesting only the missing ones', async (t) => {
  const r = await rig({ maxChunksPerS: 200 });
  t.teardown(() => r.close());
  await r.server.start();
  await r.server.offer(buildManifest({ model: 'occ', version: 3, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair }), fixture.bytes);
  const dir = tempDir();
  const abort = new AbortController();
  const first = client(r, dir, { onProgress: (p) => { if (p.receivedChunks >= 10) abort.abort(); } });
  const err = await t.throwsAsync(first.download('occ', 3, abort.signal));
  t.true(isEdgeloopError(err, 'ABORTED'), String(err));
  await r.server.idle();
  const onDisk = readdirSync(join(first.transferDir('occ', 3), 'chunks')).filter((f) => f.endsWith('.bin')).map((f) => Number(f.slice(0, -4)));
  t.true(onDisk.length >= 10 && onDisk.length < totalChunks, `${onDisk.length} chunks on disk`);
  t.deepEqual((await first.receivedChunks('occ', 3)).sort((a, b) => a - b), onDisk.sort((a, b) => a - b));

  const before = r.requests.length;
  const res = await client(r, dir).download('occ', 3);
  t.deepEqual(Buffer.from(res.bytes), Buffer.from(fixture.bytes));
  t.is(res.stats.resumedChunks, onDisk.length);
  const askedAfter = r.requests.slice(before).flatMap(({ req }) => req.chunks);
  t.is(askedAfter.length, totalChunks - onDisk.length);
  t.true(askedAfter.every((i) => !onDisk.includes(i)));
});

test('a manifest that is unsigned, signed by another key, or changed after signing is refused with MODEL_SIGNATURE', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  const publishRaw = (version: number, m: object) => publishAsync(r.gw, manifestTopic(FLEET, 'occ', version), JSON.stringify(m), { qos: 1, retain: true });
  await publishRaw(10, buildManifest({ model: 'occ', version: 10, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair: null }));
  await publishRaw(11, buildManifest({ model: 'occ', version: 11, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair: keyPair() }));
  const changed = buildManifest({ model: 'occ', version: 12, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair });
  changed.artifact.sha256 = 'f'.repeat(64);
  await publishRaw(12, changed);
  const c = client(r, tempDir());
  const unsigned = await t.throwsAsync(c.download('occ', 10));
  t.true(isEdgeloopError(unsigned, 'MODEL_SIGNATURE'));
  t.regex(unsigned!.message, /not signed/);
  const otherKey = await t.throwsAsync(c.download('occ', 11));
  t.true(isEdgeloopError(otherKey, 'MODEL_SIGNATURE'));
  t.regex(otherKey!.message, /unknown key/);
  const tampered = await t.throwsAsync(c.download('occ', 12));
  t.true(isEdgeloopError(tampered, 'MODEL_SIGNATURE'));
  t.regex(tampered!.message, /invalid/);
  t.is(r.requests.length, 0, 'no chunk requested for a refused manifest');
});

test('a manifest published for another version is refused', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  const m = buildManifest({ model: 'occ', version: 5, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair });
  await publishAsync(r.gw, manifestTopic(FLEET, 'occ', 6), JSON.stringify(m), { qos: 1, retain: true });
  const err = await t.throwsAsync(client(r, tempDir()).download('occ', 6));
  t.true(isEdgeloopError(err, 'MODEL_SIGNATURE'));
  t.regex(err!.message, /describes occ v5, not occ v6/);
});

test('no manifest → TIMEOUT; no chunks → TIMEOUT after the stalled rounds, resumable', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  const c = client(r, tempDir(), { manifestTimeoutMs: 100, chunkTimeoutMs: 50, maxStalledRounds: 3 });
  const noManifest = await t.throwsAsync(c.download('occ', 40));
  t.true(isEdgeloopError(noManifest, 'TIMEOUT'));
  t.regex(noManifest!.message, /no manifest for occ v40/);
  // Manifest retained but the server is not answering.
  await r.server.offer(buildManifest({ model: 'occ', version: 41, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair }), fixture.bytes);
  // The retained manifest must arrive: a generous manifest timeout, so only the chunk rounds can stall.
  const c2 = client(r, tempDir(), { manifestTimeoutMs: 5000, chunkTimeoutMs: 50, maxStalledRounds: 3 });
  const stalled = await t.throwsAsync(c2.download('occ', 41));
  t.true(isEdgeloopError(stalled, 'TIMEOUT'));
  t.regex(stalled!.message, /stalled: no new chunk in 3 rounds of 50 ms \(0\/\d+ chunks on disk/);
});

test('bad names and options are refused before any I/O', (t) => {
  const r = { dev: undefined as unknown as MqttClient };
  const make = (o: object) => new TransferClient({ client: r.dev, fleet: FLEET, device: 'd', stateDir: '/nonexistent', pinned: pair.publicKey, ...o });
  const e1 = t.throws(() => make({ windowChunks: 0 }));
  t.is(e1?.message, 'windowChunks must be an integer in 1..1024, got 0');
  const e2 = t.throws(() => make({ chunkTimeoutMs: 1.5 }));
  t.is(e2?.message, 'chunkTimeoutMs must be an integer in 10..600000, got 1.5');
  const c = make({});
  const e3 = t.throws(() => c.transferDir('../etc', 1));
  t.true(isEdgeloopError(e3, 'BAD_NAME'));
  const e4 = t.throws(() => c.transferDir('occ', 1.5));
  t.true(isEdgeloopError(e4, 'BAD_NAME'));
  t.is(e4?.message, 'model version must be an integer in 1..999999999, got 1.5');
});

test('the server answers bad requests on the device\'s rejected topic and refuses bad offers', async (t) => {
  const r = await rig();
  t.teardown(() => r.close());
  await r.server.start();
  await r.server.offer(buildManifest({ model: 'occ', version: 1, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair }), fixture.bytes);
  const rejections: Rejection[] = [];
  r.dev.on('message', (topic, payload) => { if (topic === deviceTopic('rejected', FLEET, 'dev1')) rejections.push(JSON.parse(payload.toString()) as Rejection); });
  await r.dev.subscribeAsync(deviceTopic('rejected', FLEET, 'dev1'), { qos: 0 });
  const req = deviceTopic('modelRequest', FLEET, 'dev1');
  await publishAsync(r.dev, req, 'not json');
  await publishAsync(r.dev, req, JSON.stringify({ model: 'occ', version: 9, chunks: [0] }));
  await publishAsync(r.dev, req, JSON.stringify({ model: 'occ', version: 1, chunks: [totalChunks] }));
  await publishAsync(r.dev, req, JSON.stringify({ model: 'occ', version: 1, chunks: [1, 1] }));
  await publishAsync(r.dev, req, JSON.stringify({ model: '../x', version: 1, chunks: [0] }));
  await waitFor(() => rejections.length === 5, 5000, '5 rejections');
  t.deepEqual(rejections.map((x) => x.reason), ['NOT_JSON', 'NOT_FOUND', 'BAD_PAYLOAD', 'BAD_PAYLOAD', 'BAD_PAYLOAD']);
  t.regex(rejections[1].detail, /model occ version 9 is not offered/);
  t.is(rejections[2].detail, `chunk request.chunks: index ${totalChunks} is outside 0..${totalChunks - 1} of occ v1`);
  t.is(rejections[3].detail, 'chunk request.chunks[1] repeats chunk 1');
  t.regex(rejections[4].detail, /^chunk request\.model "\.\.\/x" is not a model name/);
  t.true(rejections.every((x) => x.topic === req));
  t.is(r.server.stats.rejected, 5);
  t.is(r.server.stats.chunksPublished, 0);

  const m = buildManifest({ model: 'occ', version: 2, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair });
  const wrongBytes = fixture.bytes.slice();
  wrongBytes[100] ^= 1;
  const e1 = await t.throwsAsync(r.server.offer(m, wrongBytes));
  t.true(isEdgeloopError(e1, 'MODEL_CHECKSUM'));
  const e2 = await t.throwsAsync(r.server.offer(buildManifest({ model: 'occ', version: 3, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair: null }), fixture.bytes));
  t.true(isEdgeloopError(e2, 'MODEL_SIGNATURE'));
  t.is(e2?.message, 'manifest occ@3 is not signed; sign it before offering it to devices');
  t.throws(() => new TransferServer({ client: r.gw, fleet: FLEET, maxInflight: 0 }), { message: 'maxInflight must be an integer in 1..1000, got 0' });
  t.throws(() => new TransferServer({ client: r.gw, fleet: FLEET, maxChunksPerS: -1 }), { message: 'maxChunksPerS must be a positive number or null, got -1' });
});
