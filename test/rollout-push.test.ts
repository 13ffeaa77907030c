/**
 * Rollouts push the model (issue #6): the rollout service's transfer server publishes every chunk once,
 * retained, when the rollout offers the version; real agents install from the push without a request.
 * A device whose broker lost some pushed chunks before it subscribed requests exactly those.
 * Real aedes broker, registry, SQLite, RolloutService and device agents (test/rollout-rig.ts).
 */
import test from 'ava';
import { connectMqtt, endAsync, publishAsync } from '../io/mqtt-client.ts';
import { chunkTopic, deviceTopic } from '../src/topics.ts';
import type { CommandResult } from '../src/contracts/device.ts';
import { waitFor } from './helpers/tmp.ts';
import { RolloutRig, FLEET, MODEL } from './rollout-rig.ts';

test('canary from the push alone; the next wave, whose broker lost three pushed chunks, requests only those', async (t) => {
  const rig = await RolloutRig.create(1);
  t.teardown(() => rig.close());
  const service = await rig.startService();
  await rig.addAgents(2);
  const total = (await rig.registry.manifest(`${MODEL}@1`, 'onnx', 'float32')).artifact.chunkSha256.length;
  const tap = await connectMqtt(rig.broker.url, { clientId: 'push-tap' });
  t.teardown(() => endAsync(tap, true));
  const results = new Map<string, CommandResult>();
  tap.on('message', (topic, payload) => { results.set(topic.split('/')[2]!, JSON.parse(payload.toString()) as CommandResult); });
  await tap.subscribeAsync(deviceTopic('cmdResult', FLEET, '+'), { qos: 1 });

  const created = await rig.create({ target: 'all', strategy: 'canary', canary: '1', waveInterval: '2s', timeout: '20s', seed: 3 });
  await waitFor(async () => (await service.controller.summary(created.id)).counts.active === 1, 15_000, 'canary active');
  const [canary, next] = await service.controller.store.devices(created.id);
  t.like(service.transferStats[FLEET], { chunksPushed: total, requests: 0 });
  await waitFor(() => results.has(canary!.device), 5000, 'canary result seen');
  const first = results.get(canary!.device)!;
  t.true(first.ok && first.transfer?.pushedChunks === total && first.transfer.requestedChunks === 0, JSON.stringify(first));

  // During the soak the broker loses three retained chunks (as a restart without persistence would).
  const lost = [1, 4, total - 1];
  for (const i of lost) await publishAsync(tap, chunkTopic(FLEET, MODEL, 1, i), '', { qos: 1, retain: true });
  const done = await rig.waitState(created.id, ['completed', 'aborted'], 20_000);
  t.is(done.state, 'completed', done.reason ?? '');
  t.deepEqual(await rig.activeVersions(), { pi1: 1, pi2: 1 });
  await waitFor(() => results.has(next!.device), 5000, 'second wave result seen');
  const second = results.get(next!.device)!;
  t.true(second.ok, JSON.stringify(second));
  t.like(second.ok ? second.transfer : {}, { totalChunks: total, pushedChunks: total - lost.length, requestedChunks: lost.length, tamperedChunks: 0 });
  t.like(service.transferStats[FLEET], { chunksPushed: total, chunksRequested: lost.length, rejected: 0 });
});
