/**
 * Shadow and A/B rollouts with real agents, per-device timeouts against a device that never answers,
 * and rejection of bad device messages — all over a real aedes broker.
 */
import test from 'ava';
import { connectMqtt, endAsync, publishAsync } from '../io/mqtt-client.ts';
import { deviceTopic } from '../src/topics.ts';
import type { DeviceStatusOnline, Rejection } from '../src/contracts/device.ts';
import { waitFor } from './helpers/tmp.ts';
import { RolloutRig, FLEET, MODEL } from './rollout-rig.ts';

test('shadow: candidate installed beside the active model; agreement from paired predictions; no rollback of the active model', async (t) => {
  const rig = await RolloutRig.create(2);
  t.teardown(() => rig.close());
  await rig.startService();
  await rig.addAgents(2);
  const base = await rig.create({ target: 'all', strategy: 'all-at-once', timeout: '20s' });
  await rig.waitState(base.id, ['completed']);
  const shadow = await rig.create({ model: 'occ@2', target: 'all', strategy: 'all-at-once', mode: 'shadow', timeout: '20s' });
  t.is(shadow.mode, 'shadow');
  await rig.waitState(shadow.id, ['completed']);
  for (const a of rig.agents) {
    const slot = (await a.agent.status()).models.find((m) => m.model === MODEL)!;
    t.deepEqual([slot.active, slot.shadow], [1, 2], `${a.id}: v1 serves, v2 shadows`);
  }
  // The agent publishes no agreement figure; the gateway pairs predictions of both versions by ts.
  const dev = await connectMqtt(rig.broker.url, { clientId: 'pi1-predictions' });
  t.teardown(() => endAsync(dev, true));
  const ts0 = Date.UTC(2026, 0, 1);
  const batch = [];
  for (let i = 0; i < 10; i++) {
    batch.push({ ts: ts0 + i * 1000, model: MODEL, version: 1, output: i % 2 });
    batch.push({ ts: ts0 + i * 1000, model: MODEL, version: 2, output: i < 8 ? i % 2 : 1 - (i % 2) });
  }
  batch.push({ ts: ts0 + 99_000, model: MODEL, version: 2, output: 1 }); // unpaired: not counted
  batch.push({ ts: ts0 + 5000, model: 'other', version: 1, output: 0 }); // another model: ignored
  await publishAsync(dev, deviceTopic('predictions', FLEET, 'pi1'), JSON.stringify(batch));
  const c = rig.service!.controller;
  await waitFor(async () => (await c.summary(shadow.id)).shadowAgreement !== null, 5000, 'shadow agreement');
  t.is((await c.summary(shadow.id)).shadowAgreement, 0.8);
  t.deepEqual((await c.store.device(shadow.id, 'pi1'))!.shadow, { agree: 8, total: 10 });
  await c.rollback(shadow.id, 'candidate disagrees too often');
  const events = await c.store.events(shadow.id);
  t.true(events.some((e) => e.kind === 'rollback-skipped' && e.detail.includes('no command to drop a shadow model')));
  t.deepEqual(await rig.activeVersions(), { pi1: 1, pi2: 1 }, 'the active model was not touched');
});

test('A/B: ab:0.5 gives half the targets the candidate; the control arm is left alone', async (t) => {
  const rig = await RolloutRig.create(1);
  t.teardown(() => rig.close());
  await rig.startService();
  await rig.addAgents(4);
  const ab = await rig.create({ target: 'all', mode: 'ab:0.5', strategy: 'all-at-once', timeout: '20s', seed: 3 });
  t.is(ab.mode, 'ab:0.5');
  t.is(ab.targets, 2);
  t.is(ab.control.length, 2);
  const done = await rig.waitState(ab.id, ['completed']);
  t.is(done.counts.active, 2);
  const versions = await rig.activeVersions();
  for (const d of ab.control) t.is(versions[d], null, `${d} is in the control arm`);
  t.is(Object.values(versions).filter((v) => v === 1).length, 2);
});

test('a device that never answers times out, counts as failed and aborts the rollout; bad device messages are rejected with a reason', async (t) => {
  const rig = await RolloutRig.create(1);
  t.teardown(() => rig.close());
  await rig.startService();
  // A device that announces itself and then ignores every command.
  const ghost = await connectMqtt(rig.broker.url, { clientId: 'ghost', will: { topic: deviceTopic('status', FLEET, 'ghost'), payload: Buffer.from('{"online":false}'), qos: 1, retain: true } });
  t.teardown(() => endAsync(ghost, true));
  const rejections: Rejection[] = [];
  ghost.on('message', (_topic, payload) => rejections.push(JSON.parse(payload.toString()) as Rejection));
  await ghost.subscribeAsync(deviceTopic('rejected', FLEET, 'ghost'), { qos: 0 });
  const status: DeviceStatusOnline = {
    online: true, fleet: FLEET, device: 'ghost', tsMs: Date.now(), startedAtMs: Date.now(), agentVersion: 'sim', runtimes: ['onnxruntime-node'], tags: ['pi4'], models: [],
    hardware: { arch: 'arm64', platform: 'linux', nodeVersion: '20', cpus: 4, memoryBytes: 1e9 },
  };
  await publishAsync(ghost, deviceTopic('status', FLEET, 'ghost'), JSON.stringify(status), { qos: 1, retain: true });
  await waitFor(async () => (await rig.service!.fleet.get(FLEET, 'ghost')) !== null, 5000, 'ghost registered');
  const r = await rig.create({ target: 'device:ghost', timeout: '400ms', abortFailureRate: '20%' });
  const end = await rig.waitState(r.id, ['aborted', 'completed'], 5000);
  t.is(end.state, 'aborted');
  const d = (await rig.service!.controller.store.device(r.id, 'ghost'))!;
  t.is(d.state, 'failed');
  t.deepEqual(d.error, { code: 'TIMEOUT', message: 'no install result within 400 ms (last state transferring)' });
  t.is(end.reason, 'aborted automatically: failure rate 100% (1 of 1 devices attempted) is above the abort threshold 20%');

  // Bad messages from the device are answered on its `rejected` topic with the validator's reason.
  await publishAsync(ghost, deviceTopic('heartbeat', FLEET, 'ghost'), '{"tsMs":1,"seq":-1,"uptimeS":0,"active":{},"transfer":null}', { qos: 1 });
  await publishAsync(ghost, deviceTopic('cmdResult', FLEET, 'ghost'), 'not json', { qos: 1 });
  await publishAsync(ghost, deviceTopic('status', FLEET, 'ghost'), JSON.stringify({ ...status, device: 'pi9' }), { qos: 1 });
  await waitFor(() => rejections.length >= 3, 5000, 'three rejections');
  t.deepEqual(rejections.map((x) => x.reason), ['BAD_PAYLOAD', 'NOT_JSON', 'BAD_PAYLOAD']);
  t.is(rejections[0]!.detail, 'heartbeat.seq must be a finite number >= 0, got -1');
  t.regex(rejections[1]!.detail, /^command result is not UTF-8 JSON: /);
  t.is(rejections[2]!.detail, 'status names lab/pi9 but was published on the topic of lab/ghost');
  t.is(rejections[2]!.topic, deviceTopic('status', FLEET, 'ghost'));
  t.true(rig.service!.stats.rejected >= 3);
});
