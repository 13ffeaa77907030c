/**
 * The contract every Store implementation must pass (SQLite today; PostgreSQL with scale-out).
 * Call `storeContract(name, factory)` from a *.test.ts file.
 */
import test from 'ava';
import type { Store, Reject } from '../gateway/store.ts';
import type { Reading } from '../src/contracts/telemetry.ts';

const r = (device: string, sensor: string, ts: number, value: number, fleet = 'f'): Reading => ({ fleet, device, sensor, ts, value });
const rej = (i: number): Reject => ({ receivedAtMs: 1000 + i, transport: 'mqtt', topic: `edgeloop/f/d/telemetry`, source: 'c', reason: 'NOT_JSON', detail: `bad ${i}`, payload: Buffer.from(`x${i}`) });

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function storeContract(name: string, create: () => Promise<Store>): void {
  test(`${name}: stores readings once by (fleet, device, sensor, ts) and counts duplicates and conflicts`, async (t) => {
    const s = await create();
    t.teardown(() => s.close());
    const w1 = await s.writeBatch([r('a', 'x', 1, 1), r('a', 'y', 1, 2), r('b', 'x', 1, 3), r('a', 'x', 1, 1, 'g')], []);
    t.deepEqual(w1, { inserted: 4, duplicates: 0, conflicts: 0, quarantined: 0 });
    const w2 = await s.writeBatch([r('a', 'x', 1, 1), r('a', 'y', 1, 9), r('a', 'x', 2, 4)], []);
    t.deepEqual(w2, { inserted: 1, duplicates: 2, conflicts: 1, quarantined: 0 });
    t.is(await s.countReadings({ fleet: 'f' }), 4);
    t.is(await s.countReadings({ fleet: 'g' }), 1);
    const y = await all(s.readings({ fleet: 'f', device: 'a', sensors: ['y'] }));
    t.deepEqual(y, [r('a', 'y', 1, 2)]);
    const c = await s.counters();
    t.is(c.inserted, 5);
    t.is(c.duplicates, 2);
    t.is(c.conflicts, 1);
  });

  test(`${name}: large batches (multi-row chunks plus remainder) keep every row`, async (t) => {
    const s = await create();
    t.teardown(() => s.close());
    const rows = Array.from({ length: 1000 }, (_, i) => r(`d${i % 3}`, `s${i % 5}`, Math.floor(i / 15), i));
    const w = await s.writeBatch(rows, []);
    t.is(w.inserted, 1000);
    const again = await s.writeBatch([...rows.slice(0, 300), r('new', 's', 1, -1)], []);
    t.deepEqual(again, { inserted: 1, duplicates: 300, conflicts: 0, quarantined: 0 });
    const back = await all(s.readings({ fleet: 'f' }));
    t.is(back.length, 1001);
    t.deepEqual(new Set(back.map((x) => x.value)).size, 1001);
  });

  test(`${name}: queries filter by device, sensors and a half-open time range, ordered by device then time`, async (t) => {
    const s = await create();
    t.teardown(() => s.close());
    await s.writeBatch([r('b', 'x', 3, 1), r('a', 'x', 2, 2), r('a', 'y', 1, 3), r('a', 'x', 1, 4), r('a', 'x', 5, 5)], []);
    const got = await all(s.readings({ fleet: 'f', fromMs: 1, toMs: 5 }));
    t.deepEqual(got.map((x) => `${x.device}@${x.ts}`), ['a@1', 'a@1', 'a@2', 'b@3']);
    t.is(await s.countReadings({ fleet: 'f', device: 'a', sensors: ['x'], fromMs: 2 }), 2);
    const stats = await s.stats('f');
    const ax = stats.find((x) => x.device === 'a' && x.sensor === 'x')!;
    t.deepEqual({ count: ax.count, first: ax.firstTsMs, last: ax.lastTsMs, min: ax.min, max: ax.max }, { count: 3, first: 1, last: 5, min: 2, max: 5 });
    await s.writeBatch([r('c', 'z', 7, 1, 'g')], []);
    t.deepEqual(await s.sensorRanges('f', ['x', 'y', 'z']), [
      { device: 'a', sensor: 'x', firstTsMs: 1, lastTsMs: 5 },
      { device: 'a', sensor: 'y', firstTsMs: 1, lastTsMs: 1 },
      { device: 'b', sensor: 'x', firstTsMs: 3, lastTsMs: 3 },
    ], 'per device and sensor; another fleet\'s z and absent pairs left out');
    t.deepEqual(await s.sensorRanges('f', []), []);
    t.deepEqual(await s.sensorRanges('nobody', ['x']), []);
  });

  test(`${name}: quarantine keeps rejects with payloads, pages by id, filters by reason, counts per reason`, async (t) => {
    const s = await create();
    t.teardown(() => s.close());
    await s.writeBatch([r('a', 'x', 1, 1)], [rej(1), rej(2), { ...rej(3), reason: 'BAD_VALUE' }]);
    const q = await s.quarantine();
    t.is(q.length, 3);
    t.is(Buffer.from(q[0]!.payload).toString(), 'x1');
    t.deepEqual((await s.quarantine({ afterId: q[0]!.id })).map((x) => x.detail), ['bad 2', 'bad 3']);
    t.deepEqual((await s.quarantine({ reason: 'BAD_VALUE' })).map((x) => x.detail), ['bad 3']);
    t.deepEqual((await s.counters()).rejected, { NOT_JSON: 2, BAD_VALUE: 1 });
  });
}
