/**
 * The device agent as a real process (`edgeloop device …`), killed with SIGKILL in the middle of a
 * model transfer and started again: the broker publishes its last will, and the restarted agent
 * resumes the install by itself, requesting exactly the chunks it did not have on disk.
 */
import test from 'ava';
import { readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedBroker } from '../gateway/broker.ts';
import { TransferServer } from '../gateway/transfer-server.ts';
import { connectMqtt, endAsync } from '../io/mqtt-client.ts';
import type { ChunkRequest } from '../src/contracts/device.ts';
import { buildManifest, keyPair, mlpFixture } from './helpers/device-model.ts';
import { DeviceObserver } from './helpers/device-observer.ts';
import { spawnDevice } from './helpers/device-child.ts';
import { killHard } from './helpers/gateway-process.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

const FLEET = 'lab';
const CHUNK_BYTES = 32;

test.serial('SIGKILL mid-transfer: last will published, restart resumes requesting only the missing chunks', async (t) => {
  const pair = keyPair();
  const fixture = mlpFixture();
  const total = Math.ceil(fixture.bytes.length / CHUNK_BYTES);
  const broker = await startEmbeddedBroker({ port: 0 });
  const gw = await connectMqtt(broker.url, { clientId: 'gw' });
  const requests: ChunkRequest[] = [];
  // Paced so the transfer takes ~1.6 s and the kill lands in the middle of it.
  const server = new TransferServer({ client: gw, fleet: FLEET, maxChunksPerS: 40, onRequest: (_d, req) => requests.push(req) });
  await server.start();
  const obs = await DeviceObserver.connect(broker.url, FLEET, 'pi7');
  const dir = tempDir();
  const keyFile = join(dir, 'gateway.pub');
  writeFileSync(keyFile, pair.publicKey.pem);
  const args = ['--broker', broker.url, '--fleet', FLEET, '--id', 'pi7', '--dir', join(dir, 'state'), '--public-key', keyFile, '--tags', 'pi4,lab', '--window-chunks', '16', '--chunk-timeout-ms', '10000', '--log-level', 'warn'];
  let current = await spawnDevice(args);
  t.teardown(async () => {
    await killHard(current.child);
    await obs.close();
    await server.stop();
    await endAsync(gw, true);
    await broker.stop();
  });
  await waitFor(() => obs.statuses.some((s) => s.online), 10_000, 'online status');

  await server.offer(buildManifest({ model: 'occ', version: 1, bytes: fixture.bytes, chunkBytes: CHUNK_BYTES, smoke: fixture.smoke, pair }), fixture.bytes);
  await obs.sendRaw(JSON.stringify({ id: 'inst-1', type: 'install', model: 'occ', version: 1, format: 'onnx', variant: 'float32' }));
  await waitFor(() => server.stats.chunksPublished >= 20, 10_000, '20 chunks published');
  await killHard(current.child);
  await waitFor(() => obs.lastStatus?.online === false, 10_000, 'last will');
  // Let the gateway finish what the dead device had asked for (nobody receives it), so every chunk
  // the restarted device gets is one it asked for itself.
  await server.idle();

  const chunkDir = join(dir, 'state', 'transfers', 'occ', '1', 'chunks');
  const onDisk = readdirSync(chunkDir).filter((f) => /^\d+\.bin$/.test(f)).map((f) => Number(f.slice(0, -4))).sort((a, b) => a - b);
  t.true(onDisk.length >= 10 && onDisk.length < total, `${onDisk.length} of ${total} chunks on disk at the kill`);
  t.true(existsSync(join(dir, 'state', 'pending.json')), 'the install is recorded as pending');
  t.is(obs.results.length, 0, 'no result before the kill');

  const before = requests.length;
  current = await spawnDevice(args);
  const res = await obs.result('inst-1', 20_000);
  t.true(res.ok, JSON.stringify(res));
  if (!res.ok) return;
  t.is(res.detail, 'installed and activated occ v1');
  t.is(res.transfer?.totalChunks, total);
  t.is(res.transfer?.resumedChunks, onDisk.length);
  t.is(res.transfer?.requestedChunks, total - onDisk.length);
  const askedAfter = requests.slice(before).flatMap((r) => r.chunks).sort((a, b) => a - b);
  const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !onDisk.includes(i));
  t.deepEqual(askedAfter, missing, 'after the restart exactly the missing chunks were requested');
  t.deepEqual(res.models, [{ model: 'occ', active: 1, shadow: null, previous: [] }]);
  await waitFor(() => { const s = obs.lastStatus; return s?.online === true && s.models[0]?.active === 1; }, 10_000, 'status with v1 active');
  t.false(existsSync(join(dir, 'state', 'pending.json')));
});

test.serial('edgeloop device refuses to start without required flags or a pinned key', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const { cliRoutesDevice } = await import('./helpers/device-child.ts');
  if (!cliRoutesDevice()) return t.pass('CLI does not route `device` yet');
  const bin = fileURLToPath(new URL('../bin/edgeloop.js', import.meta.url));
  const dir = tempDir();
  const noBroker = spawnSync(process.execPath, [bin, 'device', '--fleet', 'lab', '--id', 'pi1', '--dir', dir], { encoding: 'utf8' });
  t.is(noBroker.status, 2);
  t.regex(noBroker.stderr, /BAD_ARGUMENT: --broker is required/);
  const noKey = spawnSync(process.execPath, [bin, 'device', '--broker', 'mqtt://127.0.0.1:1', '--fleet', 'lab', '--id', 'pi1', '--dir', dir], { encoding: 'utf8' });
  t.is(noKey.status, 2);
  t.regex(noKey.stderr, /BAD_CONFIG: no pinned gateway public key at .*gateway\.pub: pass --public-key/);
  const badKey = join(dir, 'bad.pub');
  writeFileSync(badKey, 'not a key\n');
  const bad = spawnSync(process.execPath, [bin, 'device', '--broker', 'mqtt://127.0.0.1:1', '--fleet', 'lab', '--id', 'pi1', '--dir', dir, '--public-key', badKey], { encoding: 'utf8' });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /BAD_ARGUMENT: public key: expected a SPKI PEM or the raw 32-byte ed25519 key in base64/);
});
