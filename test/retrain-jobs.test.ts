/**
 * Retraining jobs without a broker: the policy's validation (every problem listed), the job state
 * machine and the one-open-job rule on a real SQLite file, and the service's triggers (schedule,
 * cooldown, approve/reject, unknown model) against a real registry — in approve mode, so no training runs.
 */
import test from 'ava';
import { join } from 'node:path';
import { openDatabase } from '../io/sqlite.ts';
import { Registry } from '../gateway/registry.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { RetrainService, RetrainStore, resolveRetrainPolicy, type RetrainRollouts } from '../gateway/retrain.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { mlpFixture } from './helpers/device-model.ts';
import { tempDir } from './helpers/tmp.ts';

test('a bad policy is refused with BAD_CONFIG naming every problem', (t) => {
  const err = t.throws(() => resolveRetrainPolicy({ mode: 'yolo' as 'auto', holdoutFraction: 1, live: { minSamples: 0, onNoLabels: 'maybe' as 'promote' }, rollout: { kind: 'ab' as 'canary' } }));
  t.true(isEdgeloopError(err, 'BAD_CONFIG'));
  t.is(err!.message, "retraining policy is invalid: mode must be 'auto' or 'approve', got \"yolo\"; holdoutFraction must be in (0, 1), got 1; rollout.kind must be 'canary' or 'shadow', got \"ab\"; live.minSamples must be an integer ≥ 1, got 0; live.onNoLabels must be 'promote' or 'rollback', got \"maybe\"");
  t.is(resolveRetrainPolicy({ minGain: 0.01 }).live.maxDrop, 0.02, 'defaults fill what is not given');
});

test('the state machine refuses illegal moves; one open job per model; terminal states stamp finishedAtMs', async (t) => {
  const db = openDatabase(join(tempDir(), 'jobs.db'));
  t.teardown(() => db.close());
  let n = 0;
  const jobs = await RetrainStore.create(db, { newId: () => `rt-${++n}` });
  const a = jobs.open({ model: 'm', fleet: 'f', trigger: { kind: 'manual', by: 't' }, state: 'training', nowMs: 1000 });
  t.true(a.created);
  const again = jobs.open({ model: 'm', fleet: 'f', trigger: { kind: 'schedule', everyMs: 5 }, state: 'training', nowMs: 1001 });
  t.false(again.created);
  t.is(again.job.id, 'rt-1');
  t.true(jobs.open({ model: 'other', fleet: 'f', trigger: { kind: 'manual', by: 't' }, state: 'pending-approval', nowMs: 1002 }).created);
  const err = t.throws(() => jobs.transition('rt-1', 'promoted', 1003));
  t.true(isEdgeloopError(err, 'BAD_ARGUMENT'));
  t.is(err!.message, 'retraining job rt-1 is training: it cannot become promoted (allowed: waiting-data, evaluating, rejected, failed)');
  const rejected = jobs.transition('rt-1', 'rejected', 1004, { reason: 'not better' });
  t.is(rejected.finishedAtMs, 1004);
  t.is(jobs.openFor('m'), null);
  t.is(t.throws(() => jobs.transition('rt-1', 'training', 1005))!.message, 'retraining job rt-1 is rejected: it cannot become training (allowed: none, it is finished)');
  t.true(isEdgeloopError(t.throws(() => jobs.mustGet('nope')), 'NOT_FOUND'));
  t.is(jobs.lastCreatedAtMs('m'), 1000);
  t.deepEqual(jobs.countsByState()['pending-approval'], 1);
});

test('schedule, cooldown, approve/reject and an unknown model, through the service (approve mode: nothing trains)', async (t) => {
  const dir = tempDir();
  const store = await SqliteStore.create({ path: join(dir, 'g.db') });
  t.teardown(() => store.close());
  const registry = await Registry.create({ database: store.database, keyDir: join(dir, 'keys') });
  const fx = mlpFixture();
  await registry.register({
    model: 'occ', task: 'classification', classes: ['0', '1'], createdBy: 'test',
    artifacts: [{ format: 'onnx', variant: 'float32', bytes: fx.bytes, metrics: {}, io: { inputs: [{ name: 'input', shape: [-1, 4], dtype: 'float32' }], outputs: [{ name: 'probabilities', shape: [-1, 2], dtype: 'float32' }] } }],
    pipeline: { spec: { v: 1 }, fitted: {} }, lineage: {}, smokeTest: fx.smoke, reference: null,
  });
  await registry.promote('occ@1', 'production');
  const noRollouts: RetrainRollouts = {
    create: () => Promise.reject(new Error('no rollout in this test')), view: () => { throw new Error('no rollout'); }, pause: () => {}, resume: () => {}, rollback: () => {},
  };
  let nowMs = 1_000_000;
  const intervals: (() => void)[] = [];
  const s = await RetrainService.create({
    database: store.database, store, registry, rollouts: noRollouts, now: () => nowMs, defaultFleet: 'lab',
    timers: { setInterval: (fn) => intervals.push(fn), clearInterval: () => {} },
    policy: { mode: 'approve', cooldownMs: 60_000 }, schedule: { everyMs: 3600_000, models: [{ model: 'occ', fleet: 'lab' }] },
  });
  await s.start();
  t.teardown(() => s.stop());
  t.is(intervals.length, 1, 'one watch timer');
  await s.tick();
  const [job] = s.jobs.list();
  t.is(job!.state, 'pending-approval');
  t.deepEqual(job!.trigger, { kind: 'schedule', everyMs: 3600_000 });
  await s.tick();
  t.is(s.jobs.list().length, 1, 'the open job is not duplicated');
  const rejected = await s.reject(job!.id, 'not now');
  t.is(rejected.state, 'rejected');
  t.is(rejected.reason, 'not now');
  nowMs += 30_000;
  t.is(await s.trigger({ model: 'occ', trigger: { kind: 'schedule', everyMs: 1 } }), null, 'within the cooldown');
  const manual = await s.trigger({ model: 'occ', trigger: { kind: 'manual', by: 'me' } });
  t.is(manual!.state, 'pending-approval', 'manual ignores the cooldown');
  t.is((await t.throwsAsync(s.reject(job!.id)))!.message, `retraining job ${job!.id} is rejected: only a job pending approval can be rejected`);
  const unknown = await t.throwsAsync(s.trigger({ model: 'nope', trigger: { kind: 'manual', by: 'me' } }));
  t.true(isEdgeloopError(unknown, 'NOT_FOUND'));
  t.regex(unknown!.message, /model nope is not registered/);
  await s.approve(manual!.id);
  await s.idle();
  const failed = s.jobs.mustGet(manual!.id);
  t.is(failed.state, 'failed', 'the registered fixture has no native model to retrain');
  t.regex(failed.reason!, /^NOT_FOUND: occ@1 was registered without a native model document/);
});
