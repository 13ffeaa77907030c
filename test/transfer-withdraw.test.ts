/**
 * TransferServer.withdraw (issue #6): once no rollout needs a version, its pushed chunks and its manifest
 * stop being retained by the broker. Real mosquitto (skipped visibly when it is not installed and not in
 * CI), real TransferServers and TransferClients, a signed ONNX artifact.
 *
 * What the broker retains is read with test/helpers/retained.ts (a probe and a marker, no timing).
 */
import test from 'ava';
import { TransferServer, type TransferServerOptions } from '../gateway/transfer-server.ts';
import { TransferClient } from '../device/transfer-client.ts';
import { connectMqtt, endAsync, publishAsync, type MqttClient } from '../io/mqtt-client.ts';
import { deviceTopic } from '../src/topics.ts';
import { isEdgeloopError } from '../src/errors.ts';
import type { Rejection } from '../src/contracts/device.ts';
import { buildManifest, keyPair, mlpFixture } from './helpers/device-model.ts';
import { mosquittoRig } from './helpers/mosquitto-rig.ts';
import { tempDir } from './helpers/tmp.ts';
import { retainedUnder } from './helpers/retained.ts';

const FLEET = 'lab';
const CHUNK_BYTES = 256;
const pair = keyPair();
const fixture = mlpFixture();
const total = Math.ceil(fixture.bytes.length / CHUNK_BYTES);
const manifest = (version: number) => buildManifest({ model: 'occ', version, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair });
const allTopics = ['manifest', ...Array.from({ length: total }, (_, i) => `chunk/${i}`)].sort();

const mq = mosquittoRig();
let clientSeq = 0;

async function client(t: { teardown(fn: () => Promise<void>): void }, prefix: string): Promise<MqttClient> {
  const c = await connectMqtt(mq.broker!.url, { clientId: `${prefix}-${++clientSeq}` });
  t.teardown(() => endAsync(c, true));
  return c;
}

async function server(t: { teardown(fn: () => Promise<void>): void }, options: Partial<TransferServerOptions> = {}): Promise<TransferServer> {
  const s = new TransferServer({ client: await client(t, 'gw'), fleet: FLEET, pushChunks: true, ...options });
  await s.start();
  t.teardown(() => s.stop());
  return s;
}

/** The topics under edgeloop/lab/models/occ/<version>/ the broker retains (non-empty), sorted. */
function retained(_t: unknown, version: number): Promise<string[]> {
  return retainedUnder(mq.broker!.url, `edgeloop/${FLEET}/models/occ/${version}/`);
}

test.serial('withdraw clears every retained chunk, then the manifest; other versions stay; requests for it are refused', async (t) => {
  if (!mq.broker) return t.pass('mosquitto not installed: skipped');
  const s = await server(t);
  await s.offer(manifest(1), fixture.bytes);
  await s.offer(manifest(2), fixture.bytes);
  await s.idle();
  t.deepEqual(await retained(t, 1), allTopics, 'the push is retained: manifest and every chunk');

  t.deepEqual(await s.withdraw('occ', 1), { clearedTopics: total + 1, wasOffered: true });
  t.deepEqual(await retained(t, 1), []);
  t.deepEqual(await retained(t, 2), allTopics, 'v2 is still offered and retained');
  t.like(s.stats, { chunksPushed: 2 * total, retainedCleared: total + 1 });

  // A device asking for a withdrawn version is told so (it is not served from memory either).
  const dev = await client(t, 'dev');
  const rejection = new Promise<Rejection>((resolve) => dev.on('message', (_topic, payload) => resolve(JSON.parse(payload.toString()) as Rejection)));
  await dev.subscribeAsync(deviceTopic('rejected', FLEET, 'dev1'), { qos: 1 });
  await publishAsync(dev, deviceTopic('modelRequest', FLEET, 'dev1'), JSON.stringify({ model: 'occ', version: 1, chunks: [0] }), { qos: 1 });
  t.like(await rejection, { reason: 'NOT_FOUND', detail: 'model occ version 1 is not offered by this gateway' });
});

test.serial('withdraw is idempotent: a second call clears the same topics again and reports it was not offered', async (t) => {
  if (!mq.broker) return t.pass('mosquitto not installed: skipped');
  const s = await server(t);
  await s.offer(manifest(3), fixture.bytes);
  await s.idle();
  t.deepEqual(await s.withdraw('occ', 3), { clearedTopics: total + 1, wasOffered: true });
  t.deepEqual(await s.withdraw('occ', 3), { clearedTopics: total + 1, wasOffered: false });
  t.deepEqual(await retained(t, 3), []);
});

test.serial('a server that does not hold the offer (restarted) clears the pushed chunks when given chunkCount', async (t) => {
  if (!mq.broker) return t.pass('mosquitto not installed: skipped');
  const before = await server(t);
  await before.offer(manifest(4), fixture.bytes);
  await before.idle();
  await before.stop();
  const after = await server(t);
  // Without the count it can clear only the manifest: the chunks stay retained.
  t.deepEqual(await after.withdraw('occ', 4), { clearedTopics: 1, wasOffered: false });
  t.deepEqual(await retained(t, 4), allTopics.filter((x) => x !== 'manifest'));
  t.deepEqual(await after.withdraw('occ', 4, { chunkCount: total }), { clearedTopics: total + 1, wasOffered: false });
  t.deepEqual(await retained(t, 4), []);
});

test.serial('withdraw drops the chunks still queued for the push; none of them is retained afterwards', async (t) => {
  if (!mq.broker) return t.pass('mosquitto not installed: skipped');
  // Paced at 1 chunk/s: the first chunk goes out at once, the others wait in the queue.
  const s = await server(t, { maxChunksPerS: 1 });
  await s.offer(manifest(5), fixture.bytes);
  t.deepEqual(await s.withdraw('occ', 5), { clearedTopics: total + 1, wasOffered: true });
  await s.idle();
  t.true(s.stats.chunksPushed <= 1, `${s.stats.chunksPushed} chunks pushed before the withdraw`);
  t.deepEqual(await retained(t, 5), []);
});

test.serial('offering the version again after a withdraw (a new rollout) pushes it again, and a device gets it without a request', async (t) => {
  if (!mq.broker) return t.pass('mosquitto not installed: skipped');
  const s = await server(t);
  await s.offer(manifest(6), fixture.bytes);
  await s.idle();
  // Not awaited: the clears are written before the new offer's publishes, so they cannot undo them.
  const withdrawn = s.withdraw('occ', 6);
  await s.offer(manifest(6), fixture.bytes);
  await withdrawn;
  await s.idle();
  t.deepEqual(await retained(t, 6), allTopics);
  const device = new TransferClient({ client: await client(t, 'dev'), fleet: FLEET, device: 'dev2', stateDir: tempDir(), pinned: pair.publicKey });
  const res = await device.download('occ', 6);
  t.deepEqual(Buffer.from(res.bytes), Buffer.from(fixture.bytes));
  t.like(res.stats, { pushedChunks: total, requestedChunks: 0 });
});

test.serial('bad withdraw arguments are refused with the allowed range', async (t) => {
  if (!mq.broker) return t.pass('mosquitto not installed: skipped');
  const s = await server(t);
  await s.offer(manifest(7), fixture.bytes);
  await s.idle();
  const negative = await t.throwsAsync(s.withdraw('occ', 7, { chunkCount: -1 }));
  t.is(negative!.message, "withdraw occ@7: chunkCount must be an integer in 0..1000000000 (the manifest's artifact.chunkSha256.length), got -1");
  const version = await t.throwsAsync(s.withdraw('occ', 0));
  t.true(isEdgeloopError(version, 'BAD_ARGUMENT'));
  t.is(version!.message, 'withdraw occ: version must be an integer in 1..999999999, got 0');
  const name = await t.throwsAsync(s.withdraw('occ/+', 7));
  t.true(isEdgeloopError(name, 'BAD_NAME'));
  t.deepEqual(await retained(t, 7), allTopics, 'a refused withdraw clears nothing');
  // A chunkCount other than the offer's (another artifact of the version was pushed too): the larger is cleared.
  t.deepEqual(await s.withdraw('occ', 7, { chunkCount: total + 2 }), { clearedTopics: total + 3, wasOffered: true });
  t.deepEqual(await retained(t, 7), []);
});
