import test from 'ava';
import { join } from 'node:path';
import { SqliteStore } from '../gateway/store-sqlite.ts';
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
