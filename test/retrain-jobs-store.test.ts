/**
 * The retraining job store (gateway/retrain-jobs.ts) on a real SQLite file (two handles on it, as a
 * restarted gateway and the offline CLI) and on a real PostgreSQL cluster (two pools, as two gateway
 * instances), through the same contract. PostgreSQL is skipped (visibly) only when not installed and
 * not in CI. Last, the retraining service on this store: a job left in training by a dead leader.
 */
import test from 'ava';
import { join } from 'node:path';
import { openDatabase } from '../io/sqlite.ts';
import { SqlRetrainJobs } from '../gateway/retrain-jobs.ts';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { RetrainService, type RetrainServiceOptions } from '../gateway/retrain.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { NO_ROLLOUTS, occRegistry } from './helpers/retrain-registry.ts';
import { postgresSql, sqliteSql } from '../gateway/sql.ts';
import { retrainJobsContract } from './retrain-jobs-contract.ts';
import { pgRig } from './helpers/pg-rig.ts';
import { tempDir } from './helpers/tmp.ts';

const rig = pgRig({ database: 'jobs' });
let schemas = 0;

retrainJobsContract('sqlite', async () => {
  const path = join(tempDir(), 'jobs.db');
  const da = openDatabase(path);
  const db = openDatabase(path);
  const a = await SqlRetrainJobs.create(sqliteSql(da));
  const b = await SqlRetrainJobs.create(sqliteSql(db));
  return { a, b, close: async () => { da.close(); db.close(); } };
});

if (rig.available) {
  retrainJobsContract('postgres', async () => {
    const schema = `j${++schemas}`;
    const sa = await PostgresStore.create({ url: rig.dbUrl, schema, poolSize: 2 });
    const sb = await PostgresStore.create({ url: rig.dbUrl, schema, poolSize: 2 });
    const [a, b] = await Promise.all([SqlRetrainJobs.create(postgresSql(sa.pool)), SqlRetrainJobs.create(postgresSql(sb.pool))]);
    return { a, b, close: async () => { await sa.close(); await sb.close(); } };
  });
} else {
  test('retrain jobs on postgres: PostgreSQL not installed, skipped', (t) => t.pass());
}

test('sqlite: a read-only handle (the offline CLI) reads the jobs without touching the schema', async (t) => {
  const path = join(tempDir(), 'jobs.db');
  const db = openDatabase(path);
  t.teardown(() => db.close());
  const jobs = await SqlRetrainJobs.create(sqliteSql(db));
  const { job } = await jobs.open({ model: 'm', fleet: 'f', trigger: { kind: 'manual', by: 't' }, state: 'pending-approval', nowMs: 1000 });
  const ro = openDatabase(path, { readonly: true });
  t.teardown(() => ro.close());
  const offline = await SqlRetrainJobs.create(sqliteSql(ro), { readonly: true });
  t.deepEqual(await offline.mustGet(job.id), job);
  t.deepEqual(await offline.list({ model: 'm' }), [job]);
  t.true(isEdgeloopError(await t.throwsAsync(offline.open({ model: 'n', fleet: 'f', trigger: { kind: 'manual', by: 'u' }, state: 'training', nowMs: 1001 })), 'STORE'), 'nothing is written');
});

test('a job left in training fails at start, or with resumeTraining trains again; an instance that does not lead starts nothing', async (t) => {
  const { store, registry } = await occRegistry(tempDir());
  t.teardown(() => store.close());
  const jobs = await SqlRetrainJobs.create(sqliteSql(store.database));
  const service = (extra: Partial<RetrainServiceOptions>) => RetrainService.create({
    jobStore: jobs, store, registry, rollouts: NO_ROLLOUTS, defaultFleet: 'lab', timers: { setInterval: () => 0, clearInterval: () => {} }, ...extra,
  });
  const left = async () => (await jobs.open({ model: 'occ', fleet: 'lab', trigger: { kind: 'manual', by: 't' }, state: 'training', nowMs: 1 })).job;

  const a = await left();
  const plain = await service({});
  await plain.start();
  await plain.stop();
  t.like(await jobs.mustGet(a.id), { state: 'failed', reason: 'interrupted by a gateway restart or leader fail-over while training' });

  const b = await left();
  const follower = await service({ resumeTraining: true, leading: () => false });
  await follower.start();
  await follower.idle();
  await follower.stop();
  t.is((await jobs.mustGet(b.id)).state, 'training', 'an instance that lost the leadership does not touch the job');

  const resumed = await service({ resumeTraining: true, leading: () => true });
  await resumed.start();
  await resumed.idle();
  await resumed.stop();
  const job = await jobs.mustGet(b.id);
  t.is(job.state, 'failed');
  t.regex(job.reason!, /^NOT_FOUND: occ@1 was registered without a native model document/, 'it was run again (and failed on the fixture, which has no native model)');
  t.is(job.currentVersion, null);
});
