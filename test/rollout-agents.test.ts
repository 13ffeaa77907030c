/**
 * Rollouts end to end: a real aedes broker, the real registry and transfer server, a RolloutService on
 * a real SQLite file, and real device agents (ONNX runtime, signed manifests, smoke tests) over MQTT.
 */
import test from 'ava';
import { orderDevices } from '../src/rollout-plan.ts';
import { waitFor } from './helpers/tmp.ts';
import { RolloutRig, FLEET } from './rollout-rig.ts';

test('canary, then waves, to all-active; every device really serves the new version', async (t) => {
  const rig = await RolloutRig.create(1);
  t.teardown(() => rig.close());
  await rig.startService();
  await rig.addAgents(5);
  const created = await rig.create({ target: 'tag:pi4', strategy: 'waves', canary: '1', waveSize: '2', waveInterval: '200ms', timeout: '20s' });
  t.is(created.waves, 3);
  t.is(created.targets, 5);
  const done = await rig.waitState(created.id, ['completed', 'aborted'], 20_000);
  t.is(done.state, 'completed', done.reason ?? '');
  t.deepEqual(done.counts, { pending: 0, transferring: 0, verifying: 0, active: 5, failed: 0, 'rolled-back': 0 });
  t.deepEqual(await rig.activeVersions(), { pi1: 1, pi2: 1, pi3: 1, pi4: 1, pi5: 1 });
  // Waves went out in order: canary (1 device), then 2, then 2, each after the previous one settled.
  const devices = await rig.service!.controller.store.devices(created.id);
  t.deepEqual(devices.map((d) => d.wave), [0, 1, 1, 2, 2]);
  const byWave = (w: number) => devices.filter((d) => d.wave === w);
  for (const w of [1, 2]) {
    const prevDone = Math.max(...byWave(w - 1).map((d) => d.finishedAtMs!));
    for (const d of byWave(w)) t.true(d.dispatchedAtMs! >= prevDone + 200, `wave ${w} dispatched after wave ${w - 1} settled plus the interval`);
  }
  const events = (await rig.service!.controller.store.events(created.id)).map((e) => e.kind);
  t.is(events.filter((k) => k === 'wave-started').length, 3);
  t.true(events.includes('completed'));
  // The fleet registry saw the new version through the devices' results and statuses.
  const pi1 = (await rig.service!.fleet.get(FLEET, 'pi1'))!;
  t.is(pi1.models.find((m) => m.model === 'occ')?.active, 1);
  t.true(pi1.runtimes.includes('onnxruntime-node'));
  t.is(pi1.health, 'online');
});

test('a device failing its smoke test aborts the rollout by failure rate and the updated devices are rolled back', async (t) => {
  const rig = await RolloutRig.create(2);
  t.teardown(() => rig.close());
  await rig.startService();
  const agents = await rig.addAgents(5);
  const first = await rig.create({ target: 'all', strategy: 'all-at-once', timeout: '20s' });
  t.is((await rig.waitState(first.id, ['completed', 'aborted'], 20_000)).state, 'completed');
  // Rig the device that comes second in the order (the first device of wave 2), so the canary succeeds first.
  const seed = 42;
  const order = orderDevices(agents.map((a) => a.id), seed);
  const rigged = agents.find((a) => a.id === order[1])!;
  rigged.broken.on = true;
  const second = await rig.create({ model: 'occ@2', target: 'tag:pi4', strategy: 'waves', canary: '1', waveSize: '2', waveInterval: '100ms', abortFailureRate: '20%', timeout: '20s', seed });
  const end = await rig.waitState(second.id, ['aborted', 'completed'], 20_000);
  t.is(end.state, 'aborted');
  // 1 of 3 when the other wave-2 device finished first, 1 of 2 when the rigged one did (the other is then
  // rolled back when its install completes).
  t.regex(end.reason!, /^aborted automatically: failure rate (33\.3% \(1 of 3|50% \(1 of 2) devices attempted\) is above the abort threshold 20%$/);
  const store = rig.service!.controller.store;
  const failed = (await store.device(second.id, rigged.id))!;
  t.is(failed.state, 'failed');
  t.is(failed.error?.code, 'SMOKE_TEST');
  // Everyone who got v2 is rolled back to v1; wave 3 never started.
  await waitFor(async () => (await store.devices(second.id)).every((d) => d.state !== 'active' && d.state !== 'transferring' && d.state !== 'verifying'), 15_000, 'rollbacks confirmed');
  const states = Object.fromEntries((await store.devices(second.id)).map((d) => [d.device, d.state]));
  t.is(states[order[0]!], 'rolled-back');
  t.is(states[order[2]!], 'rolled-back');
  t.is(states[order[3]!], 'pending');
  t.is(states[order[4]!], 'pending');
  t.deepEqual(await rig.activeVersions(), Object.fromEntries(agents.map((a) => [a.id, 1])), 'every agent serves v1 again');
  const kinds = (await store.events(second.id)).map((e) => e.kind);
  t.true(kinds.includes('aborted') && kinds.includes('rollback-sent'));
});

test('a gateway restarted mid-rollout resumes from SQLite and finishes', async (t) => {
  const rig = await RolloutRig.create(1);
  t.teardown(() => rig.close());
  const first = await rig.startService({ newId: () => 'ro-restart' });
  await rig.addAgents(4);
  const created = await rig.create({ target: 'all', strategy: 'waves', canary: '1', waveSize: '1', waveInterval: '400ms', timeout: '20s' });
  t.is(created.waves, 4);
  // Stop while wave 2 is installing: its result is published while the service is down.
  await waitFor(async () => {
    const c = (await first.controller.summary(created.id)).counts;
    return c.active >= 1 && c.transferring + c.verifying >= 1;
  }, 15_000, 'canary active and wave 2 installing');
  await first.stop();
  const mid = await first.controller.summary(created.id);
  t.is(mid.state, 'running');
  t.true(mid.currentWave < 3, `stopped in wave ${mid.currentWave + 1}`);
  const inFlight = (await first.controller.store.devices(created.id)).filter((d) => d.state === 'transferring' || d.state === 'verifying');
  t.true(inFlight.length >= 1);
  await new Promise((r) => setTimeout(r, 1000));
  // A new service on the same database continues.
  const second = await rig.startService({ newId: () => 'never-used' });
  const done = await rig.waitState(created.id, ['completed', 'aborted'], 20_000);
  t.is(done.state, 'completed', done.reason ?? '');
  t.is(done.counts.active, 4);
  t.deepEqual(await rig.activeVersions(), { pi1: 1, pi2: 1, pi3: 1, pi4: 1 });
  t.true((await second.controller.store.events(created.id)).some((e) => e.kind === 'wave-started' && e.detail.startsWith('wave 4 of 4')));
  // The devices that were installing during the stop were not sent a second install: their result,
  // queued by the broker for the durable session, was counted after the restart.
  for (const d of inFlight) {
    const after = (await second.controller.store.device(created.id, d.device))!;
    t.is(after.state, 'active');
    t.is(after.dispatchedAtMs, d.dispatchedAtMs);
    t.true(after.finishedAtMs! > mid.updatedAtMs);
  }
});
