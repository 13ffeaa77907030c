/**
 * Retraining jobs without a broker: the policy's validation (every problem listed) and the service's
 * triggers (schedule, cooldown, approve/reject, unknown model) against a real registry — in approve
 * mode, so no training runs. The job state machine and the one-open-job rule are the job store's
 * contract (test/retrain-jobs-contract.ts, run by test/retrain-jobs-store.test.ts).
 */
import test from 'ava';
import { RetrainService, resolveRetrainPolicy } from '../gateway/retrain.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { NO_ROLLOUTS, occRegistry } from './helpers/retrain-registry.ts';
import { tempDir } from './helpers/tmp.ts';

test('a bad policy is refused with BAD_CONFIG naming every problem', (t) => {
  const err = t.throws(() => resolveRetrainPolicy({ mode: 'yolo' as 'auto', holdoutFraction: 1, live: { minSamples: 0, onNoLabels: 'maybe' as 'promote' }, rollout: { kind: 'ab' as 'canary' } }));
  t.true(isEdgeloopError(err, 'BAD_CONFIG'));
  t.is(err!.message, "retraining policy is invalid: mode must be 'auto' or 'approve', got \"yolo\"; holdoutFraction must be in (0, 1), got 1; rollout.kind must be 'canary' or 'shadow', got \"ab\"; live.minSamples must be an integer ≥ 1, got 0; live.onNoLabels must be 'promote' or 'rollback', got \"maybe\"");
  t.is(resolveRetrainPolicy({ minGain: 0.01 }).live.maxDrop, 0.02, 'defaults fill what is not given');
});

test('schedule, cooldown, approve/reject and an unknown model, through the service (approve mode: nothing trains)', async (t) => {
  const { store, registry } = await occRegistry(tempDir());
  t.teardown(() => store.close());
  let nowMs = 1_000_000;
  const intervals: (() => void)[] = [];
  const s = await RetrainService.create({
    database: store.database, store, registry, rollouts: NO_ROLLOUTS, now: () => nowMs, defaultFleet: 'lab',
    timers: { setInterval: (fn) => intervals.push(fn), clearInterval: () => {} },
    policy: { mode: 'approve', cooldownMs: 60_000 }, schedule: { everyMs: 3600_000, models: [{ model: 'occ', fleet: 'lab' }] },
  });
  await s.start();
  t.teardown(() => s.stop());
  t.is(intervals.length, 1, 'one watch timer');
  await s.tick();
  const [job] = await s.jobStore.list();
  t.is(job!.state, 'pending-approval');
  t.deepEqual(job!.trigger, { kind: 'schedule', everyMs: 3600_000 });
  await s.tick();
  t.is((await s.jobStore.list()).length, 1, 'the open job is not duplicated');
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
  const failed = await s.jobStore.mustGet(manual!.id);
  t.is(failed.state, 'failed', 'the registered fixture has no native model to retrain');
  t.regex(failed.reason!, /^NOT_FOUND: occ@1 was registered without a native model document/);
});
