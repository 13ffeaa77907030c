/**
 * Rolling back a rollout that was the devices' FIRST install of a model (issue #6): they had no version
 * before, so there is nothing to switch back to. The controller sends `rollback` with `toVersion: null`;
 * the agent deactivates the model (its runner stops, the candidate's slot is deleted), reports the model
 * with no active version, and the rollout device ends `rolled-back` with the agent's words in its event.
 * Real aedes broker, registry, SQLite, RolloutService and device agents (test/rollout-rig.ts).
 */
import test from 'ava';
import { validateCommand } from '../src/contracts/device.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { waitFor } from './helpers/tmp.ts';
import { RolloutRig, FLEET, MODEL } from './rollout-rig.ts';

test('rollback after an aborted first install: the updated device deactivates the model and ends rolled-back', async (t) => {
  const rig = await RolloutRig.create(1);
  t.teardown(() => rig.close());
  const service = await rig.startService();
  const agents = await rig.addAgents(3);
  t.deepEqual(await rig.activeVersions(), { pi1: null, pi2: null, pi3: null });
  // Canary of one, then a long soak: the operator aborts after the canary, before wave 2.
  const created = await rig.create({ target: 'all', strategy: 'waves', canary: '1', waveSize: '2', waveInterval: '1h', timeout: '20s', seed: 7 });
  await waitFor(async () => (await service.controller.summary(created.id)).counts.active === 1, 15_000, 'canary active');
  const store = service.controller.store;
  const canary = (await store.devices(created.id)).find((d) => d.state === 'active')!;
  t.is(canary.fromVersion, null, 'the canary ran no version before');
  const agent = agents.find((a) => a.id === canary.device)!;
  t.truthy(agent.agent.runner(MODEL));

  t.is((await service.controller.abort(created.id, 'operator: wrong model')).state, 'aborted');
  t.is((await service.controller.rollback(created.id, 'operator: undo')).state, 'rolled-back');
  await waitFor(async () => (await store.device(created.id, canary.device))!.state === 'rolled-back' || (await store.device(created.id, canary.device))!.rollbackError !== null, 15_000, 'rollback confirmed');
  const after = (await store.device(created.id, canary.device))!;
  t.is(after.rollbackError, null);
  t.is(after.state, 'rolled-back');
  const event = (await store.events(created.id)).find((e) => e.device === canary.device && e.kind === 'rolled-back');
  t.is(event?.detail, `active → rolled-back: rolled back ${MODEL} from v1 to no version: it had none before, no model is active now (requested)`);
  // The other devices were never touched.
  t.deepEqual((await store.devices(created.id)).filter((d) => d.device !== canary.device).map((d) => d.state), ['pending', 'pending']);

  // The agent serves nothing for the model and says so; the fleet registry shows it too.
  t.is(agent.agent.runner(MODEL), undefined);
  const slot = (await agent.agent.status()).models.find((m) => m.model === MODEL);
  t.deepEqual(slot, { model: MODEL, active: null, shadow: null, previous: [], highWater: 1 });
  await waitFor(async () => (await service.fleet.get(FLEET, canary.device))?.models.find((m) => m.model === MODEL)?.active === null, 10_000, 'fleet registry: no active version');
  t.deepEqual(await rig.activeVersions(), { pi1: null, pi2: null, pi3: null });

  // Rolling the same version out again is an ordinary install (not a downgrade) and works.
  const again = await rig.create({ target: `device:${canary.device}`, strategy: 'all-at-once', timeout: '20s' });
  t.is((await rig.waitState(again.id, ['completed', 'aborted'], 20_000)).state, 'completed');
  t.is((await rig.activeVersions())[canary.device], 1);
});

test('rollback to no version names a model: toVersion null without one is refused', (t) => {
  t.deepEqual(validateCommand({ id: 'r1', type: 'rollback', model: 'occ', toVersion: null }), { id: 'r1', type: 'rollback', model: 'occ', toVersion: null });
  const err = t.throws(() => validateCommand({ id: 'r2', type: 'rollback', toVersion: null }));
  t.true(isEdgeloopError(err, 'BAD_PAYLOAD'));
  t.is(err!.message, 'rollback command.toVersion null (roll back to no version) needs rollback command.model: which model to deactivate');
});
