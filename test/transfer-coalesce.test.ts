/**
 * TransferServer coalescing (coalesceQuietMs): when several devices ask for the same chunks within the
 * quiet period, each chunk is published once and reaches all of them (chunks go to a fleet-wide
 * topic). Real in-process aedes broker, one MQTT connection per device, real TransferClients verifying
 * a signed ONNX artifact.
 */
import test from 'ava';
import { startEmbeddedBroker } from '../gateway/broker.ts';
import { TransferServer } from '../gateway/transfer-server.ts';
import { TransferClient } from '../device/transfer-client.ts';
import { connectMqtt, endAsync, type MqttClient } from '../io/mqtt-client.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { buildManifest, keyPair, mlpFixture } from './helpers/device-model.ts';
import { tempDir } from './helpers/tmp.ts';

const FLEET = 'lab';
const pair = keyPair();
const fixture = mlpFixture();
const DEVICES = 4;

test('requests from several devices within the quiet period: every chunk published once, every device complete', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  const gw = await connectMqtt(broker.url, { clientId: 'gw' });
  // Long quiet period: requests of devices started together always fall inside it, even on a busy machine.
  const server = new TransferServer({ client: gw, fleet: FLEET, coalesceQuietMs: 1500, coalesceMaxWaitMs: 5000 });
  const devices: MqttClient[] = [];
  t.teardown(async () => {
    await server.stop();
    for (const d of devices) await endAsync(d, true);
    await endAsync(gw, true);
    await broker.stop();
  });
  await server.start();
  // Chunks such that one request window covers the whole artifact.
  const chunkBytes = Math.ceil(fixture.bytes.length / 6);
  const manifest = await server.offer(buildManifest({ model: 'occ', version: 1, bytes: fixture.bytes, chunkBytes, smoke: fixture.smoke, pair }), fixture.bytes);
  const chunks = manifest.artifact.chunkSha256.length;
  for (let i = 0; i < DEVICES; i++) devices.push(await connectMqtt(broker.url, { clientId: `dev${i}` }));
  const results = await Promise.all(devices.map((client, i) => new TransferClient({ client, fleet: FLEET, device: `dev${i}`, stateDir: tempDir(), pinned: pair.publicKey, windowChunks: 16, chunkTimeoutMs: 10_000 }).download('occ', 1)));
  for (const r of results) t.deepEqual(Buffer.from(r.bytes), Buffer.from(fixture.bytes));
  t.like(server.stats, { requests: DEVICES, chunksRequested: DEVICES * chunks, chunksPublished: chunks, chunksCoalesced: (DEVICES - 1) * chunks, rejected: 0 });
  // Each device asked once for every chunk: nothing had to be asked for again.
  t.deepEqual(results.map((r) => r.stats.requestedChunks), Array(DEVICES).fill(chunks));
});

test('coalescing options are checked', (t) => {
  const client = {} as MqttClient;
  for (const [opts, message] of [
    [{ coalesceQuietMs: -1 }, 'coalesceQuietMs must be a number in 0..60000, got -1'],
    [{ coalesceQuietMs: 100, coalesceMaxWaitMs: 50 }, 'coalesceMaxWaitMs must be a number in coalesceQuietMs..60000, got 50'],
  ] as const) {
    const err = t.throws(() => new TransferServer({ client, fleet: FLEET, ...opts }));
    t.true(isEdgeloopError(err, 'BAD_ARGUMENT'));
    t.is(err!.message, message);
  }
});
