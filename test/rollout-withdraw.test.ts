/**
 * A finished rollout withdraws its model (issue #6): the chunks and manifest the transfer server pushed
 * retained are cleared from the broker once no live rollout of the fleet needs the version, and a later
 * rollout of the same version offers it again. Real mosquitto (skipped visibly when it is not installed
 * and not in CI), registry, SQLite, RolloutService and device agents (test/rollout-rig.ts).
 */
import test from 'ava';
import { mosquittoRig } from './helpers/mosquitto-rig.ts';
import { retainedUnder } from './helpers/retained.ts';
import { waitFor } from './helpers/tmp.ts';
import { RolloutRig, FLEET, MODEL } from './rollout-rig.ts';

const mq = mosquittoRig();

test('a completed rollout clears its retained chunks; rolling the same version out again pushes them again', async (t) => {
  if (!mq.broker) return t.pass('mosquitto not installed: skipped');
  const rig = await RolloutRig.create(2, { brokerUrl: mq.broker.url });
  t.teardown(() => rig.close());
  const service = await rig.startService();
  await rig.addAgents(2);
  const total = (await rig.registry.manifest(`${MODEL}@1`, 'onnx', 'float32')).artifact.chunkSha256.length;
  const v1 = `edgeloop/${FLEET}/models/${MODEL}/1/`;
  const everything = ['manifest', ...Array.from({ length: total }, (_, i) => `chunk/${i}`)].sort();

  // The push is paced and runs on after create() returns: wait for it rather than race it.
  const pushed = async (prefix: string): Promise<string[]> => {
    let got: string[] = [];
    await waitFor(async () => (got = await retainedUnder(mq.broker!.url, prefix)).length === everything.length, 10_000, `every chunk of ${prefix} retained`).catch(() => undefined);
    return got;
  };
  const first = await rig.create({ target: 'all', strategy: 'all-at-once', timeout: '20s' });
  t.deepEqual(await pushed(v1), everything, 'pushed retained while the rollout runs');
  t.is((await rig.waitState(first.id, ['completed', 'aborted'])).state, 'completed');
  await waitFor(() => service.stats.withdrawn === 1, 10_000, 'the version to be withdrawn');
  t.deepEqual(await retainedUnder(mq.broker.url, v1), [], 'nothing of occ@1 is retained once its rollout completed');

  // A rollout of v2 that is aborted by hand is withdrawn too; v1 is offered again by a second rollout of it.
  const second = await rig.create({ model: `${MODEL}@2`, target: 'all', strategy: 'canary', canary: '1', waveInterval: '30s', timeout: '20s' });
  await rig.waitState(second.id, ['running']);
  await service.controller.abort(second.id, 'test');
  await waitFor(() => service.stats.withdrawn === 2, 10_000, 'v2 withdrawn after the abort');
  t.deepEqual(await retainedUnder(mq.broker.url, `edgeloop/${FLEET}/models/${MODEL}/2/`), []);
  const again = await rig.create({ target: 'all', strategy: 'all-at-once', timeout: '20s', allowDowngrade: true });
  t.deepEqual(await pushed(v1), everything, 'offered again for the new rollout');
  t.is((await rig.waitState(again.id, ['completed', 'aborted'])).state, 'completed');
  await waitFor(() => service.stats.withdrawn === 3, 10_000, 'withdrawn again');
});
