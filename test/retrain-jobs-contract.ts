/**
 * The contract every RetrainJobStore (gateway/retrain-jobs.ts) must pass, on SQLite and PostgreSQL:
 * the state machine, one open job per model even with two instances opening at once, compare-and-set
 * moves (a demoted leader's late move does not overwrite the new leader's), listing and counts.
 * Call `retrainJobsContract(name, factory)` from a *.test.ts file; the factory gives two stores on the
 * same tables (two gateway instances).
 */
import test from 'ava';
import type { RetrainJobStore } from '../gateway/retrain-jobs.ts';
import { isEdgeloopError } from '../src/errors.ts';

export type JobStorePair = { a: RetrainJobStore; b: RetrainJobStore; close(): Promise<void> };

export function retrainJobsContract(name: string, create: () => Promise<JobStorePair>): void {
  test(`${name}: the state machine refuses illegal moves; terminal states stamp finishedAtMs`, async (t) => {
    const { a: jobs, close } = await create();
    t.teardown(close);
    const { job, created } = await jobs.open({ model: 'm', fleet: 'f', trigger: { kind: 'manual', by: 't' }, state: 'training', nowMs: 1000 });
    t.true(created);
    t.is(job.state, 'training');
    t.deepEqual(job.trigger, { kind: 'manual', by: 't' });
    const err = await t.throwsAsync(jobs.transition(job.id, 'promoted', 1003));
    t.true(isEdgeloopError(err, 'BAD_ARGUMENT'));
    t.is(err!.message, `retraining job ${job.id} is training: it cannot become promoted (allowed: waiting-data, evaluating, rejected, failed)`);
    const evaluating = await jobs.transition(job.id, 'evaluating', 1004, { currentVersion: 3, evaluation: { metric: 'accuracy', candidate: 0.9, current: 0.8, holdoutRows: 10, trainRows: 20, windowFromMs: 1, holdoutFromMs: 2, windowToMs: 3, minGain: 0.01 } });
    t.is(evaluating.currentVersion, 3);
    t.is(evaluating.evaluation?.candidate, 0.9);
    t.is(evaluating.finishedAtMs, null);
    const rejected = await jobs.transition(job.id, 'rejected', 1005, { reason: 'not better' });
    t.is(rejected.finishedAtMs, 1005);
    t.is(rejected.updatedAtMs, 1005);
    t.is(rejected.reason, 'not better');
    t.is(await jobs.openFor('m'), null);
    t.is((await t.throwsAsync(jobs.transition(job.id, 'training', 1006)))!.message, `retraining job ${job.id} is rejected: it cannot become training (allowed: none, it is finished)`);
    t.true(isEdgeloopError(await t.throwsAsync(jobs.mustGet('nope')), 'NOT_FOUND'));
    t.is(await jobs.get('nope'), null);
    t.is(await jobs.lastCreatedAtMs('m'), 1000);
    t.is(await jobs.lastCreatedAtMs('never'), null);
  });

  test(`${name}: one open job per model, also when two instances open at once`, async (t) => {
    const { a, b, close } = await create();
    t.teardown(close);
    const opened = await Promise.all([
      a.open({ model: 'm', fleet: 'f', trigger: { kind: 'schedule', everyMs: 5 }, state: 'pending-approval', nowMs: 1000 }),
      b.open({ model: 'm', fleet: 'f', trigger: { kind: 'manual', by: 'b' }, state: 'training', nowMs: 1001 }),
      b.open({ model: 'other', fleet: 'f', trigger: { kind: 'manual', by: 'b' }, state: 'pending-approval', nowMs: 1002 }),
    ]);
    t.is(opened.filter((o) => o.created).length, 2, 'one job for m, one for other');
    t.is(opened[0]!.job.id, opened[1]!.job.id, 'both instances see the same open job of m');
    t.is((await a.list({ model: 'm' })).length, 1);
    const again = await a.open({ model: 'm', fleet: 'f', trigger: { kind: 'manual', by: 'a' }, state: 'training', nowMs: 1003 });
    t.false(again.created);
    const counts = await b.countsByState();
    t.is(counts['pending-approval'] + counts.training, 2);
    t.is(counts.failed, 0);
    await a.transition(again.job.id, 'failed', 1004, { reason: 'x' });
    t.true((await b.open({ model: 'm', fleet: 'f', trigger: { kind: 'manual', by: 'b' }, state: 'training', nowMs: 1005 })).created, 'a finished job does not block a new one');
    t.deepEqual((await b.list({ model: 'm' })).map((j) => j.state), ['training', 'failed'], 'newest first');
    t.is((await b.list({ state: 'failed' })).length, 1);
    t.is((await b.list({ limit: 1 })).length, 1);
    t.true(isEdgeloopError(await t.throwsAsync(b.list({ limit: 0 })), 'BAD_ARGUMENT'));
  });

  test(`${name}: a move from a state the job no longer has fails instead of overwriting another instance's move`, async (t) => {
    const { a, b, close } = await create();
    t.teardown(close);
    const { job } = await a.open({ model: 'm', fleet: 'f', trigger: { kind: 'manual', by: 't' }, state: 'pending-approval', nowMs: 1000 });
    // Two terminal moves: whichever commits first, the other finds a state it cannot move from (were one
    // of them 'training', the other could still follow it legally, training → rejected, when its read came later).
    const results = await Promise.allSettled([a.transition(job.id, 'failed', 1001, { reason: 'crashed' }), b.transition(job.id, 'rejected', 1001, { reason: 'operator' })]);
    t.is(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one of two concurrent moves wins');
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    t.true(isEdgeloopError(lost?.reason, 'BAD_ARGUMENT'));
    const final = await b.mustGet(job.id);
    t.true(final.state === 'failed' || final.state === 'rejected');
    const updated = await b.update(job.id, 1002, { runId: 'run-1', rolloutId: null });
    t.is(updated.runId, 'run-1');
    t.is(updated.state, final.state, 'update does not move the state');
  });
}
