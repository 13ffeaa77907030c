/**
 * The retraining job store (gateway/retrain-jobs.ts) on a real SQLite file (two handles on it, as a
 * restarted gateway and the offline CLI) and on a real PostgreSQL cluster (two pools, as two gateway
 * instances), through the same contract. PostgreSQL is skipped (visibly) only when not installed and
 * not in CI.
 */
import test from 'ava';
import { join } from 'node:path';
import { openDatabase } from '../io/sqlite.ts';
import { SqlRetrainJobs } from '../gateway/retrain-jobs.ts';
import { RetrainStore } from '../gateway/retrain-store.ts';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { postgresSql, sqliteSql } from '../gateway/sql.ts';
import { retrainJobsContract } from './retrain-jobs-contract.ts';
import { findPostgresBin, startPostgres, type Postgres } from './helpers/postgres.ts';
import { tempDir } from './helpers/tmp.ts';

const available = findPostgresBin() !== null || Boolean(process.env.CI);
let server: Postgres | null = null;
let dbUrl = '';
let schemas = 0;

test.before(async () => {
  server = await startPostgres();
  if (server) dbUrl = await server.createDatabase('jobs');
});

test.after.always(async () => {
  await server?.stop();
});

retrainJobsContract('sqlite', async () => {
  const path = join(tempDir(), 'jobs.db');
  const da = openDatabase(path);
  const db = openDatabase(path);
  const a = await SqlRetrainJobs.create(sqliteSql(da));
  const b = await SqlRetrainJobs.create(sqliteSql(db));
  return { a, b, close: async () => { da.close(); db.close(); } };
});

if (available) {
  retrainJobsContract('postgres', async () => {
    const schema = `j${++schemas}`;
    const sa = await PostgresStore.create({ url: dbUrl, schema, poolSize: 2 });
    const sb = await PostgresStore.create({ url: dbUrl, schema, poolSize: 2 });
    const [a, b] = await Promise.all([SqlRetrainJobs.create(postgresSql(sa.pool)), SqlRetrainJobs.create(postgresSql(sb.pool))]);
    return { a, b, close: async () => { await sa.close(); await sb.close(); } };
  });
} else {
  test('retrain jobs on postgres: PostgreSQL not installed, skipped', (t) => t.pass());
}

test('sqlite: the asynchronous store and the synchronous RetrainStore (offline CLI) read the same table', async (t) => {
  const db = openDatabase(join(tempDir(), 'jobs.db'));
  t.teardown(() => db.close());
  const jobs = await SqlRetrainJobs.create(sqliteSql(db));
  const { job } = await jobs.open({ model: 'm', fleet: 'f', trigger: { kind: 'manual', by: 't' }, state: 'pending-approval', nowMs: 1000 });
  const sync = await RetrainStore.create(db);
  t.deepEqual(sync.mustGet(job.id), job);
  t.false(sync.open({ model: 'm', fleet: 'f', trigger: { kind: 'manual', by: 'u' }, state: 'training', nowMs: 1001 }).created);
});
