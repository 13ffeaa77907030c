/**
 * The model registry through one contract (test/registry-contract.ts) on a real SQLite file and on a
 * real PostgreSQL cluster (two instances on one schema, as gateways scaled out). PostgreSQL is skipped
 * (visibly) only when not installed and not in CI.
 */
import test from 'ava';
import { join } from 'node:path';
import { Registry } from '../gateway/registry.ts';
import { PostgresStore } from '../gateway/store-postgres.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { postgresSql } from '../gateway/sql.ts';
import { isEdgeloopError } from '../src/errors.ts';
import { registryContract } from './registry-contract.ts';
import { registerInput } from './helpers/registry-fixture.ts';
import { pinKeys, verifyRollback } from '../device/verify.ts';
import { findPostgresBin, startPostgres, type Postgres } from './helpers/postgres.ts';
import { tempDir } from './helpers/tmp.ts';

const available = findPostgresBin() !== null || Boolean(process.env.CI);
let server: Postgres | null = null;
let dbUrl = '';
let schemas = 0;

test.before(async () => {
  server = await startPostgres();
  if (server) dbUrl = await server.createDatabase('registry');
});

test.after.always(async () => {
  await server?.stop();
});

registryContract('sqlite', async (now) => {
  const dir = tempDir();
  const sa = await SqliteStore.create({ path: join(dir, 'edgeloop.db') });
  const sb = await SqliteStore.create({ path: join(dir, 'edgeloop.db') });
  const a = await Registry.create({ database: sa.database, keyDir: join(dir, 'keys'), now });
  const b = await Registry.create({ database: sb.database, keyDir: join(dir, 'keys'), now });
  return { a, b, close: async () => { await sa.close(); await sb.close(); } };
});

if (available) {
  registryContract('postgres', async (now) => {
    const schema = `r${++schemas}`;
    const keyDir = join(tempDir(), 'keys');
    const sa = await PostgresStore.create({ url: dbUrl, schema, poolSize: 3 });
    const sb = await PostgresStore.create({ url: dbUrl, schema, poolSize: 3 });
    const [a, b] = await Promise.all([Registry.create({ sql: postgresSql(sa.pool), keyDir, now }), Registry.create({ sql: postgresSql(sb.pool), keyDir, now })]);
    return { a, b, close: async () => { await sa.close(); await sb.close(); } };
  });
} else {
  test('registry on postgres: PostgreSQL not installed, skipped', (t) => t.pass());
}

test('Registry.create needs exactly one of database and sql; rollbacks are signed on either database', async (t) => {
  const dir = tempDir();
  const err = await t.throwsAsync(Registry.create({ keyDir: join(dir, 'keys') }));
  t.true(isEdgeloopError(err, 'BAD_ARGUMENT'));
  t.is(err!.message, 'registry: exactly one of database (SQLite) or sql must be given');
  if (!available) return;
  const store = await PostgresStore.create({ url: dbUrl, schema: `r${++schemas}`, poolSize: 1 });
  t.teardown(() => store.close());
  const registry = await Registry.create({ sql: postgresSql(store.pool), keyDir: join(dir, 'keys') });
  const missing = await t.throwsAsync(registry.signRollback({ fleet: 'f', device: 'd', ref: 'm@1' }));
  t.true(isEdgeloopError(missing, 'NOT_FOUND'));
  t.is(missing!.message, 'model m is not registered (models: none)');
  await registry.register(registerInput());
  const signed = await registry.signRollback({ fleet: 'f', device: 'd', ref: 'occupancy@1', issuedAtMs: 1_700_000_000_000 });
  t.like(signed, { model: 'occupancy', version: 1, rollback: { issuedAtMs: 1_700_000_000_000, keyId: registry.publicKey().keyId } });
  const key = verifyRollback({ fleet: 'f', device: 'd', model: 'occupancy', version: 1 }, signed.rollback, pinKeys([registry.publicKey().pem]));
  t.is(key.keyId, registry.publicKey().keyId, 'a device pinning the registry key accepts the signature');
});
