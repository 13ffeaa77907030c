/**
 * The rollout state (gateway/sql.ts transactions, the rollout store, the fleet registry) through one
 * contract (test/rollout-store-contract.ts) on a real SQLite file and on a real PostgreSQL cluster (two
 * connections on one schema, as gateways scaled out), plus the SQLite transaction guard. PostgreSQL is
 * skipped (visibly) only when not installed and not in CI.
 */
import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { postgresSql, schemaFor, sqliteSql, type SqlDb } from '../gateway/sql.ts';
import { RolloutStore } from '../gateway/rollout-store.ts';
import { hasIndex } from '../gateway/sql-batch.ts';
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

/** rollout_devices as created before its created_at column (the rest of the schema is the store's). */
const OLD_ROLLOUT_DEVICES = `
CREATE TABLE rollouts (
  id TEXT PRIMARY KEY, fleet TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL, ref TEXT NOT NULL,
  format TEXT NOT NULL, variant TEXT NOT NULL, plan TEXT NOT NULL, seed {time} NOT NULL, state TEXT NOT NULL, reason TEXT,
  waves INTEGER NOT NULL, current_wave INTEGER NOT NULL DEFAULT -1, wave_started_at {time}, wave_settled_at {time},
  skipped TEXT NOT NULL DEFAULT '[]', control TEXT NOT NULL DEFAULT '[]', rollback_requested INTEGER NOT NULL DEFAULT 0,
  created_at {time} NOT NULL, updated_at {time} NOT NULL, finished_at {time}, created_by TEXT NOT NULL
);
CREATE TABLE rollout_devices (
  rollout_id TEXT NOT NULL REFERENCES rollouts (id), device TEXT NOT NULL, wave INTEGER NOT NULL, position INTEGER NOT NULL,
  state TEXT NOT NULL, install_mode TEXT NOT NULL, from_version INTEGER, command_id TEXT, dispatched_at {time}, finished_at {time},
  received_chunks INTEGER, total_chunks INTEGER, error_code TEXT, error_message TEXT,
  rollback_command_id TEXT, rollback_sent_at {time}, rollback_error TEXT,
  shadow_agree INTEGER NOT NULL DEFAULT 0, shadow_total INTEGER NOT NULL DEFAULT 0, updated_at {time} NOT NULL,
  PRIMARY KEY (rollout_id, device)
);
CREATE INDEX rollout_devices_by_device ON rollout_devices (device);
INSERT INTO rollouts (id, fleet, model, version, ref, format, variant, plan, seed, state, waves, created_at, updated_at, created_by)
  VALUES ('ro-old2', 'lab', 'occ', 2, 'occ@2', 'onnx', 'float32', '{}', 1, 'completed', 1, 2000, 2000, 'test'),
         ('ro-old1', 'lab', 'occ', 1, 'occ@1', 'onnx', 'float32', '{}', 1, 'completed', 1, 1000, 1000, 'test');
INSERT INTO rollout_devices (rollout_id, device, wave, position, state, install_mode, updated_at)
  VALUES ('ro-old2', 'pi1', 0, 0, 'active', 'active', 2000), ('ro-old1', 'pi1', 0, 0, 'active', 'active', 1000);
`;

async function migratesOldTables(t: ExecutionContext, db: SqlDb): Promise<void> {
  await db.exec(schemaFor(db.dialect, OLD_ROLLOUT_DEVICES));
  const store = await RolloutStore.create(db);
  t.like(await store.latestForDevice('lab', 'pi1'), { rolloutId: 'ro-old2', version: 2 }, 'rows from before the column: the newest by their rollout');
  t.false(await hasIndex(db, 'rollout_devices_by_device'), 'the index on (device) alone, a prefix of the new one, is dropped');
  await RolloutStore.create(db); // a second start finds the column and the index
  t.deepEqual((await db.all<{ created_at: number }>("SELECT created_at FROM rollout_devices WHERE device = 'pi1' ORDER BY created_at")).map((r) => Number(r.created_at)), [1000, 2000]);
}

test('sqlite: rollout_devices from before created_at get the column, filled in from their rollouts', async (t) => {
  const db = openDatabase(join(tempDir(), 'edgeloop.db'));
  t.teardown(() => db.close());
  await migratesOldTables(t, sqliteSql(db));
});

if (rig.available) {
  test('postgres: rollout_devices from before created_at get the column, filled in from their rollouts', async (t) => {
    const store = await PostgresStore.create({ url: rig.dbUrl, schema: `ro${++schemas}`, poolSize: 2 });
    t.teardown(() => store.close());
    await migratesOldTables(t, postgresSql(store.pool));
  });
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

test('sqlite: a body that yields is reported even when its transaction began in a setImmediate callback and that turn ran on', async (t) => {
  const db = openDatabase(join(tempDir(), 'edgeloop.db'));
  t.teardown(() => db.close());
  const sql = sqliteSql(db);
  await sql.exec('CREATE TABLE t (v INTEGER)');
  // The transaction's immediate probe then waits for the next turn, whose timers come first: the body's
  // 5 ms timer is due by then (the rest of this turn takes 10 ms), and only the timer probe sees it.
  const outcome = await new Promise<unknown>((resolve) => {
    setImmediate(() => {
      sql.transaction(async () => {
        await sql.run('INSERT INTO t (v) VALUES (1)');
        await new Promise((r) => setTimeout(r, 5));
      }).then(() => resolve(null), resolve);
    });
    setImmediate(() => {
      const until = performance.now() + 10;
      while (performance.now() < until);
    });
  });
  t.true(isEdgeloopError(outcome, 'INTERNAL'), String(outcome));
  t.false(db.inTransaction);
});
