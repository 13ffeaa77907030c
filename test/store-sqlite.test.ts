import test from 'ava';
import { join } from 'node:path';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import type { Reading } from '../src/contracts/telemetry.ts';
import { storeContract } from './store-contract.ts';
import { tempDir } from './helpers/tmp.ts';

storeContract('sqlite file', () => SqliteStore.create({ path: join(tempDir(), 'contract.db') }));
storeContract('sqlite in memory', () => SqliteStore.create({ path: ':memory:' }));

test('a reopened SQLite store keeps its readings, ids and counters', async (t) => {
  const path = join(tempDir(), 'reopen.db');
  const a = await SqliteStore.create({ path });
  await a.writeBatch([{ fleet: 'f', device: 'd', sensor: 's', ts: 1, value: 1 }], []);
  await a.close();
  const b = await SqliteStore.create({ path });
  const w = await b.writeBatch([{ fleet: 'f', device: 'd', sensor: 's', ts: 1, value: 1 }, { fleet: 'f', device: 'd', sensor: 't', ts: 1, value: 2 }], []);
  t.deepEqual(w, { inserted: 1, duplicates: 1, conflicts: 0, quarantined: 0 });
  t.is((await b.counters()).inserted, 2);
  await b.close();
});

test('readings() pages by keyset: every row once in device then time order, ties across page edges, no cursor held between pages', async (t) => {
  const s = await SqliteStore.create({ path: join(tempDir(), 'pages.db'), pageRows: 7 });
  t.teardown(() => s.close());
  const rows: Reading[] = [];
  for (const dev of ['b', 'a', 'c']) for (let ts = 1; ts <= 10; ts++) for (const sen of ['z', 'y', 'x']) rows.push({ fleet: 'f', device: dev, sensor: sen, ts, value: rows.length });
  await s.writeBatch(rows, []);
  const got: Reading[] = [];
  let turns = 0;
  const tick = setInterval(() => turns++, 0);
  for await (const x of s.readings({ fleet: 'f' })) {
    got.push(x);
    // A write between pages: a cursor left open on the connection would make better-sqlite3 refuse it.
    if (got.length === 20) await s.writeBatch([{ fleet: 'f', device: 'c', sensor: 'x', ts: 11, value: -1 }, { fleet: 'f', device: 'zz', sensor: 'x', ts: 1, value: -2 }], []);
  }
  clearInterval(tick);
  t.is(got.length, 91, 'the 90 rows and the one written meanwhile after the cursor; a device first seen meanwhile is not read');
  t.is(new Set(got.map((x) => x.value)).size, 91);
  const order = got.map((x) => `${x.device}${String(x.ts).padStart(2, '0')}`);
  t.deepEqual(order, [...order].sort());
  t.true(turns > 0, 'the event loop ran between pages');
  const sub = await all(s.readings({ fleet: 'f', device: 'c', sensors: ['x', 'y'], fromMs: 3, toMs: 9 }));
  t.is(sub.length, 12);
  t.true(sub.every((x) => x.device === 'c' && x.sensor !== 'z' && x.ts >= 3 && x.ts < 9));
  t.deepEqual(await all(s.readings({ fleet: 'f', sensors: ['nope'] })), []);
  t.deepEqual(await all(s.readings({ fleet: 'nofleet' })), []);
  await t.throwsAsync(SqliteStore.create({ path: ':memory:', pageRows: 0 }), { message: /pageRows must be an integer/ });
});

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
