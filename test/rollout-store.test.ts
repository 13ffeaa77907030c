/**
 * The rollout state (gateway/sql.ts transactions, the rollout store, the fleet registry) through one
 * contract (test/rollout-store-contract.ts) on a real SQLite file and on a real PostgreSQL cluster (two
 * connections on one schema, as gateways scaled out), plus the SQLite transaction guard. PostgreSQL is
 * skipped (visibly) only when not installed and not in CI.
 */
import test from 'ava';
import { join } from 'node:path';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { postgresSql, sqliteSql } from '../gateway/sql.ts';
import { openDatabase } from '../io/sqlite.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { rolloutStoreContract } from './rollout-store-contract.ts';
import { pgRig } from './helpers/pg-rig.ts';
import { tempDir } from './helpers/tmp.ts';

const rig = pgRig({ database: 'rollouts' });
let schemas = 0;

rolloutStoreContract('sqlite', async () => {
  const file = join(tempDir(), 'edgeloop.db');
  const da = openDatabase(file);
  const db = openDatabase(file);
  return { a: sqliteSql(da), b: sqliteSql(db), close: async () => { da.close(); db.close(); } };
});

if (rig.available) {
  rolloutStoreContract('postgres', async () => {
    const schema = `ro${++schemas}`;
    const sa = await PostgresStore.create({ url: rig.dbUrl, schema, poolSize: 3 });
    const sb = await PostgresStore.create({ url: rig.dbUrl, schema, poolSize: 3 });
    return { a: postgresSql(sa.pool), b: postgresSql(sb.pool), close: async () => { await sa.close(); await sb.close(); } };
  });
} else {
  test('rollout store on postgres: PostgreSQL not installed, skipped', (t) => t.pass());
}

test('sqlite: a transaction body that yields to the event loop is reported (and what joined it is kept)', async (t) => {
  const db = openDatabase(join(tempDir(), 'edgeloop.db'));
  t.teardown(() => db.close());
  const sql = sqliteSql(db);
  await sql.exec('CREATE TABLE t (v INTEGER)');
  const err = await t.throwsAsync(sql.transaction(async () => {
    await sql.run('INSERT INTO t (v) VALUES (1)');
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Other code of the gateway would run here, on the same connection, inside this transaction.
    db.prepare('INSERT INTO t (v) VALUES (2)').run();
  }));
  t.true(isEdgeloopError(err, 'INTERNAL'));
  t.regex(err!.message, /yielded to the event loop/);
  t.false(db.inTransaction);
  t.deepEqual(db.prepare('SELECT v FROM t ORDER BY v').all(), [{ v: 1 }, { v: 2 }], 'committed: nothing that joined it is lost');
  // Awaiting only statements is fine, however many.
  await sql.transaction(async () => {
    for (let i = 0; i < 50; i++) await sql.run('INSERT INTO t (v) VALUES (?)', [i]);
  });
  t.is((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 52);
});
