/**
 * The PostgreSQL store against a real throwaway cluster: the shared store contract, plus what is
 * specific to it (monthly partitions, bounded quarantine, concurrent writers on one schema, keyset
 * paging, reopen and schema version, bad calls). Skipped (visibly) only when PostgreSQL is not
 * installed and not in CI.
 */
import test from 'ava';
import { join } from 'node:path';
import { PostgresStore, type PostgresStoreOptions } from '../gateway/store-postgres.ts';
import { openStore } from '../gateway/store-factory.ts';
import type { Reject } from '../gateway/store.ts';
import type { Reading } from '../src/contracts/telemetry.ts';
import { storeContract } from './store-contract.ts';
import { findPostgresBin, startPostgres, type Postgres } from './helpers/postgres.ts';
import { tempDir } from './helpers/tmp.ts';

const available = findPostgresBin() !== null || Boolean(process.env.CI);
let server: Postgres | null = null;
let dbUrl = '';
let schemas = 0;
const fresh = (options: Partial<PostgresStoreOptions> = {}) => PostgresStore.create({ url: dbUrl, schema: `s${++schemas}`, poolSize: 2, ...options });
const r = (device: string, sensor: string, ts: number, value: number, fleet = 'f'): Reading => ({ fleet, device, sensor, ts, value });
const rej = (i: number, payload = `x${i}`): Reject => ({ receivedAtMs: 1000 + i, transport: 'mqtt', topic: 'edgeloop/f/d/telemetry', source: 'c', reason: 'NOT_JSON', detail: `bad ${i}`, payload: Buffer.from(payload) });

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test.before(async () => {
  server = await startPostgres();
  if (server) dbUrl = await server.createDatabase('store');
});

test.after.always(async () => {
  await server?.stop();
});

if (available) {
  storeContract('postgres', () => fresh());
} else {
  test('postgres store: PostgreSQL not installed, skipped', (t) => t.pass());
}

const pgTest = available ? test : test.skip;

pgTest('readings go to monthly partitions created on demand; retention drops whole months', async (t) => {
  const s = await fresh();
  t.teardown(() => s.close());
  const jan31 = Date.UTC(2024, 0, 31, 23, 59, 59, 999);
  const feb1 = Date.UTC(2024, 1, 1);
  const mar15 = Date.UTC(2024, 2, 15);
  await s.writeBatch([r('a', 'x', jan31, 1), r('a', 'x', feb1, 2), r('a', 'x', mar15, 3), r('a', 'x', -1, 0)], []);
  const parts = await s.partitions();
  t.deepEqual(parts.map((p) => p.name), ['readings_1969_12', 'readings_2024_01', 'readings_2024_02', 'readings_2024_03']);
  t.deepEqual(parts[2], { name: 'readings_2024_02', fromMs: feb1, toMs: Date.UTC(2024, 2, 1) });
  // Each row sits in the partition of its month (asked of PostgreSQL, not of our own bookkeeping).
  const placed = await server!.psql('store', `SELECT tableoid::regclass || ':' || value FROM ${s.schema}.readings ORDER BY ts`);
  t.deepEqual(placed.split('\n'), ['readings_1969_12:0', 'readings_2024_01:1', 'readings_2024_02:2', 'readings_2024_03:3'].map((x) => `${s.schema}.${x}`));
  t.deepEqual(await s.dropPartitionsBefore(feb1), ['readings_1969_12', 'readings_2024_01']);
  t.deepEqual((await all(s.readings({ fleet: 'f' }))).map((x) => x.value), [2, 3]);
  // A dropped month is recreated when a late reading for it arrives.
  await s.writeBatch([r('a', 'x', jan31, 5)], []);
  t.is(await s.countReadings({ fleet: 'f' }), 3);
  const e = await t.throwsAsync(s.dropPartitionsBefore(Number.NaN));
  t.is((e as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(e.message, 'beforeMs NaN must be a finite epoch-milliseconds number');
});

pgTest('a month dropped by another instance is recreated when this one, which had it cached, writes to it again', async (t) => {
  const schema = `s${++schemas}`;
  const a = await PostgresStore.create({ url: dbUrl, schema, poolSize: 1 });
  const b = await PostgresStore.create({ url: dbUrl, schema, poolSize: 1 });
  t.teardown(async () => { await a.close(); await b.close(); });
  const jan = Date.UTC(2024, 0, 10);
  await a.writeBatch([r('a', 'x', jan, 1)], []);
  t.deepEqual(await b.dropPartitionsBefore(Date.UTC(2024, 1, 1)), ['readings_2024_01']);
  t.deepEqual(await a.writeBatch([r('a', 'x', jan, 2)], []), { inserted: 1, duplicates: 0, conflicts: 0, quarantined: 0 });
  t.deepEqual((await all(b.readings({ fleet: 'f' }))).map((x) => x.value), [2]);
});

pgTest('quarantine keeps at most maxQuarantineRows (newest), truncates payloads, counts evictions', async (t) => {
  const s = await fresh({ maxQuarantineRows: 3, maxQuarantinePayloadBytes: 4 });
  t.teardown(() => s.close());
  await s.writeBatch([], [rej(1, 'abcdefgh'), rej(2, 'ab')]);
  await s.writeBatch([], [rej(3), rej(4), { ...rej(5), detail: 'nul\u0000byte' }]);
  const q = await s.quarantine();
  t.deepEqual(q.map((x) => x.detail), ['bad 3', 'bad 4', 'nul\uFFFDbyte']);
  const first = await fresh({ maxQuarantinePayloadBytes: 4 });
  t.teardown(() => first.close());
  await first.writeBatch([], [rej(1, 'abcdefgh')]);
  const [row] = await first.quarantine();
  t.is(Buffer.from(row!.payload).toString(), 'abcd');
  t.is(row!.payloadBytes, 8);
  t.true(row!.truncated);
  const c = await s.counters();
  t.is(c.quarantineEvicted, 2);
  t.deepEqual(c.rejected, { NOT_JSON: 5 });
});

pgTest('two stores on one schema writing overlapping batches at once: each key stored once, counters exact', async (t) => {
  const schema = `s${++schemas}`;
  const a = await PostgresStore.create({ url: dbUrl, schema, poolSize: 2 });
  const b = await PostgresStore.create({ url: dbUrl, schema, poolSize: 2 });
  t.teardown(async () => { await a.close(); await b.close(); });
  const base = Date.UTC(2024, 0, 1);
  const day = 86_400_000;
  // 1000 keys each, 500 shared with a different value; new devices, sensors and partitions on both sides.
  const rowsA = Array.from({ length: 1000 }, (_, i) => r(`d${i % 4}`, `s${i % 3}`, base + Math.floor(i / 12) * day, i));
  const rowsB = Array.from({ length: 1000 }, (_, j) => {
    const i = j + 500;
    return r(`d${i % 4}`, `s${i % 3}`, base + Math.floor(i / 12) * day, i < 1000 ? i + 0.5 : i);
  });
  const chunks = (rows: Reading[]) => Array.from({ length: 10 }, (_, k) => rows.slice(k * 100, k * 100 + 100));
  const [wa, wb] = await Promise.all([
    (async () => { const out = []; for (const c of chunks(rowsA)) out.push(await a.writeBatch(c, [])); return out; })(),
    (async () => { const out = []; for (const c of chunks(rowsB)) out.push(await b.writeBatch(c, [])); return out; })(),
  ]);
  const sum = (k: 'inserted' | 'duplicates' | 'conflicts') => [...wa, ...wb].reduce((n, w) => n + w[k], 0);
  t.deepEqual({ inserted: sum('inserted'), duplicates: sum('duplicates'), conflicts: sum('conflicts') }, { inserted: 1500, duplicates: 500, conflicts: 500 });
  t.is(await a.countReadings({ fleet: 'f' }), 1500);
  const c = await b.counters();
  t.deepEqual([c.inserted, c.duplicates, c.conflicts], [1500, 500, 500]);
});

pgTest('readings() pages by keyset: every row once, in device then time order, with ties across page edges', async (t) => {
  const s = await fresh({ pageRows: 7 });
  t.teardown(() => s.close());
  const rows: Reading[] = [];
  for (const dev of ['b', 'a', 'c']) for (let ts = 1; ts <= 10; ts++) for (const sen of ['z', 'y', 'x']) rows.push(r(dev, sen, ts, rows.length));
  await s.writeBatch(rows, []);
  const got = await all(s.readings({ fleet: 'f' }));
  t.is(got.length, 90);
  t.is(new Set(got.map((x) => x.value)).size, 90);
  const order = got.map((x) => `${x.device}${String(x.ts).padStart(2, '0')}`);
  t.deepEqual(order, [...order].sort());
  const sub = await all(s.readings({ fleet: 'f', device: 'c', sensors: ['x', 'y'], fromMs: 3, toMs: 9 }));
  t.is(sub.length, 12);
  t.true(sub.every((x) => x.device === 'c' && x.sensor !== 'z' && x.ts >= 3 && x.ts < 9));
  t.deepEqual(await all(s.readings({ fleet: 'f', sensors: ['nope'] })), []);
  t.deepEqual(await all(s.readings({ fleet: 'nofleet' })), []);
});

pgTest('a reopened store keeps readings, ids and counters; a foreign schema version is refused', async (t) => {
  const schema = `s${++schemas}`;
  const a = await PostgresStore.create({ url: dbUrl, schema });
  await a.writeBatch([r('d', 's', 1, 1)], [rej(1)]);
  await a.close();
  const b = await PostgresStore.create({ url: dbUrl, schema });
  t.deepEqual(await b.writeBatch([r('d', 's', 1, 1), r('d', 't', 1, 2)], []), { inserted: 1, duplicates: 1, conflicts: 0, quarantined: 0 });
  const c = await b.counters();
  t.deepEqual([c.inserted, c.duplicates, c.rejected.NOT_JSON], [2, 1, 1]);
  await b.close();
  await server!.psql('store', `UPDATE ${schema}.meta SET value = '99' WHERE key = 'schema_version'`);
  const e = await t.throwsAsync(PostgresStore.create({ url: dbUrl, schema }));
  t.is((e as { code?: string }).code, 'STORE');
  t.is(e.message, `schema '${schema}' has store schema version 99, this edgeloop needs 1: export its data with the older version or use another schema`);
});

pgTest('bad calls are refused with a code and a message naming the argument', async (t) => {
  const cases: [Promise<unknown>, string, string][] = [
    [PostgresStore.create({ url: 'mysql://u:secret@h/db' }), 'BAD_ARGUMENT', 'url "mysql://u:secret@h/db" must start with postgres:// or postgresql://'],
    [PostgresStore.create({ url: dbUrl, schema: 'Bad-Name' }), 'BAD_ARGUMENT', 'schema "Bad-Name" must be 1-63 characters of a-z 0-9 _ starting with a letter or _'],
    [PostgresStore.create({ url: dbUrl, poolSize: 0 }), 'BAD_ARGUMENT', 'poolSize 0 must be an integer in 1..1000'],
    [PostgresStore.create({ url: dbUrl, maxQuarantineRows: 1.5 }), 'BAD_ARGUMENT', 'maxQuarantineRows 1.5 must be an integer in 1..1000000000000'],
    [openStore('mysql://u:pw@h/db'), 'BAD_ARGUMENT', `db "mysql://u:pw@h/db" has scheme 'mysql': only postgres:// (or postgresql://) URLs and SQLite file paths are supported`],
    [openStore(''), 'BAD_ARGUMENT', 'db must be a SQLite file path or a postgres:// URL, got an empty string'],
  ];
  for (const [p, code, message] of cases) {
    const e = await t.throwsAsync(p);
    t.is((e as { code?: string }).code, code);
    t.is(e.message, message);
  }
  // Nothing listens on port 1; the password must not appear in the message.
  const down = await t.throwsAsync(PostgresStore.create({ url: 'postgres://u:hunter2@127.0.0.1:1/db' }));
  t.is((down as { code?: string }).code, 'STORE');
  t.regex(down.message, /^cannot open PostgreSQL store at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db: /);
  t.false(down.message.includes('hunter2'));
  const s = await fresh();
  await s.close();
  const closed = await t.throwsAsync(s.writeBatch([r('a', 'x', 1, 1)], []));
  t.is((closed as { code?: string }).code, 'STORE');
  t.is(closed.message, 'the PostgreSQL store is closed');
  const live = await fresh();
  t.teardown(() => live.close());
  const lim = await t.throwsAsync(live.quarantine({ limit: 0 }));
  t.is((lim as { code?: string }).code, 'BAD_ARGUMENT');
  t.is(lim.message, 'limit 0 must be a positive integer');
});

pgTest('openStore picks PostgreSQL for a postgres:// URL and SQLite for a path', async (t) => {
  const p = await openStore(dbUrl, { postgres: { schema: `s${++schemas}` } });
  t.teardown(() => p.close());
  t.is(p.kind, 'postgres');
  const q = await openStore(join(tempDir(), 'f.db'));
  t.teardown(() => q.close());
  t.is(q.kind, 'sqlite');
});
