/**
 * Each reject reason: the message is quarantined with its code and raw payload, the counters move,
 * and the gateway still ingests the next good message.
 */
import test from 'ava';
import { join } from 'node:path';
import { Gateway } from '../gateway/gateway.ts';
import { connectMqtt, publishAsync, endAsync, type MqttClient } from '../io/mqtt-client.ts';
import type { RejectReason } from '../src/contracts/telemetry.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

let gw: Gateway;
let client: MqttClient;
let goodSeq = 0;
const NOW = Date.UTC(2025, 5, 1);

test.before(async () => {
  gw = new Gateway({
    id: 'bad', dbPath: join(tempDir(), 'bad.db'), embeddedBroker: { host: '127.0.0.1', port: 0 }, http: null,
    limits: { maxReadingsPerMessage: 100, maxPayloadBytes: 64 * 1024 }, now: () => NOW,
  });
  await gw.start();
  client = await connectMqtt(gw.brokerUrl);
});

test.after.always(async () => {
  await endAsync(client);
  await gw.stop();
});

const cases: { title: string; topic: string; payload: string | Buffer; reason: RejectReason; detail: RegExp }[] = [
  { title: 'not JSON', topic: 'edgeloop/lab/d1/telemetry', payload: 'temp=21', reason: 'NOT_JSON', detail: /not UTF-8 JSON/ },
  { title: 'invalid UTF-8', topic: 'edgeloop/lab/d1/telemetry', payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), reason: 'NOT_JSON', detail: /not UTF-8 JSON/ },
  { title: 'JSON of the wrong shape', topic: 'edgeloop/lab/d1/telemetry', payload: '[1,2]', reason: 'BAD_PAYLOAD', detail: /item 0 must be an object/ },
  { title: 'empty batch', topic: 'edgeloop/lab/d1/telemetry', payload: '[]', reason: 'BAD_PAYLOAD', detail: /empty array/ },
  { title: 'unknown field', topic: 'edgeloop/lab/d1/telemetry', payload: JSON.stringify({ ts: NOW, values: { a: 1 }, extra: 1 }), reason: 'BAD_PAYLOAD', detail: /unknown field "extra"/ },
  { title: 'values not an object', topic: 'edgeloop/lab/d1/telemetry', payload: JSON.stringify({ ts: NOW, values: [1] }), reason: 'BAD_PAYLOAD', detail: /values must be an object/ },
  { title: 'missing ts', topic: 'edgeloop/lab/d1/telemetry', payload: JSON.stringify({ values: { a: 1 } }), reason: 'BAD_TIMESTAMP', detail: /ts is missing/ },
  { title: 'unparseable date', topic: 'edgeloop/lab/d1/telemetry', payload: JSON.stringify({ ts: '2015-02-30T10:00:00Z', values: { a: 1 } }), reason: 'BAD_TIMESTAMP', detail: /not an ISO-8601/ },
  { title: 'date without a zone', topic: 'edgeloop/lab/d1/telemetry', payload: JSON.stringify({ ts: '2015-02-04 17:51:00', values: { a: 1 } }), reason: 'BAD_TIMESTAMP', detail: /with a zone/ },
  { title: 'epoch seconds sent as ms', topic: 'edgeloop/lab/d1/telemetry', payload: JSON.stringify({ ts: 1_700_000_000, values: { a: 1 } }), reason: 'BAD_TIMESTAMP', detail: /before 2000-01-01/ },
  { title: 'far future', topic: 'edgeloop/lab/d1/telemetry', payload: JSON.stringify({ ts: NOW + 3 * 86_400_000, values: { a: 1 } }), reason: 'BAD_TIMESTAMP', detail: /ahead of the gateway clock/ },
  { title: 'string value', topic: 'edgeloop/lab/d1/telemetry', payload: JSON.stringify({ ts: NOW, values: { a: 'NaN' } }), reason: 'BAD_VALUE', detail: /sensor a value must be a finite number, got "NaN"/ },
  { title: 'null value', topic: 'edgeloop/lab/d1/telemetry', payload: JSON.stringify({ ts: NOW, values: { a: null } }), reason: 'BAD_VALUE', detail: /got null/ },
  { title: 'overflowing number (Infinity)', topic: 'edgeloop/lab/d1/telemetry', payload: `{"ts": ${NOW}, "values": {"a": 1e999}}`, reason: 'BAD_VALUE', detail: /finite/ },
  { title: 'bare value not a number', topic: 'edgeloop/lab/d1/telemetry/temp', payload: '0x10', reason: 'BAD_VALUE', detail: /not a decimal number/ },
  { title: 'bare value Infinity', topic: 'edgeloop/lab/d1/telemetry/temp', payload: 'Infinity', reason: 'BAD_VALUE', detail: /not a decimal number/ },
  { title: 'hostile sensor name', topic: 'edgeloop/lab/d1/telemetry', payload: JSON.stringify({ ts: NOW, values: { "a'); DROP TABLE readings;--": 1 } }), reason: 'BAD_NAME', detail: /sensor name .* is not allowed/ },
  { title: 'unicode device name', topic: 'edgeloop/lab/dévice/telemetry', payload: JSON.stringify({ ts: NOW, values: { a: 1 } }), reason: 'BAD_NAME', detail: /device name "d\\u00e9vice" is not allowed/ },
  { title: 'dotted device name', topic: 'edgeloop/lab/../telemetry', payload: JSON.stringify({ ts: NOW, values: { a: 1 } }), reason: 'BAD_NAME', detail: /device name "\.\." is not allowed/ },
  { title: 'reserved device name', topic: 'edgeloop/lab/models/telemetry', payload: JSON.stringify({ ts: NOW, values: { a: 1 } }), reason: 'BAD_TOPIC', detail: /reserved device name/ },
  { title: 'oversized payload', topic: 'edgeloop/lab/d1/telemetry', payload: JSON.stringify({ ts: NOW, values: { a: 1 }, pad: 'x'.repeat(70_000) }), reason: 'PAYLOAD_TOO_LARGE', detail: /limit is 65536/ },
  { title: 'too many readings', topic: 'edgeloop/lab/d1/telemetry', payload: JSON.stringify(Array.from({ length: 101 }, (_, i) => ({ ts: NOW - i * 1000, values: { a: i } }))), reason: 'TOO_MANY_READINGS', detail: /more than 100 readings/ },
];

for (const c of cases) {
  test.serial(`${c.reason}: ${c.title}`, async (t) => {
    const before = await gw.store.counters();
    const lastId = (await gw.store.quarantine({ limit: 1_000_000 })).at(-1)?.id ?? 0;
    await publishAsync(client, c.topic, c.payload);
    const seq = ++goodSeq;
    await publishAsync(client, 'edgeloop/lab/good/telemetry', JSON.stringify({ ts: NOW - seq * 1000, values: { ok: seq } }));
    await waitFor(async () => (await gw.store.countReadings({ fleet: 'lab', device: 'good' })) === seq, 5000, 'the next good message');
    const rows = await gw.store.quarantine({ afterId: lastId });
    t.is(rows.length, 1);
    const row = rows[0]!;
    t.is(row.reason, c.reason);
    t.regex(row.detail, c.detail);
    t.is(row.topic, c.topic);
    t.is(row.transport, 'mqtt');
    const raw = Buffer.isBuffer(c.payload) ? c.payload : Buffer.from(c.payload);
    t.is(row.payloadBytes, raw.length);
    t.deepEqual(Buffer.from(row.payload), raw.subarray(0, row.payload.length), 'raw payload kept');
    const after = await gw.store.counters();
    t.is((after.rejected[c.reason] ?? 0) - (before.rejected[c.reason] ?? 0), 1);
  });
}

test.serial('quarantine keeps a bounded payload and bounded rows, counting what it evicts', async (t) => {
  const { SqliteStore } = await import('../gateway/store-sqlite.ts');
  const store = await SqliteStore.create({ path: join(tempDir(), 'q.db'), maxQuarantineRows: 3, maxQuarantinePayloadBytes: 10 });
  const reject = (i: number) => ({ receivedAtMs: i, transport: 'mqtt' as const, topic: 't', source: 's', reason: 'NOT_JSON' as const, detail: 'd', payload: Buffer.from(`payload-number-${i}`) });
  await store.writeBatch([], [reject(1), reject(2)]);
  await store.writeBatch([], [reject(3), reject(4), reject(5)]);
  const rows = await store.quarantine();
  t.deepEqual(rows.map((r) => r.receivedAtMs), [3, 4, 5]);
  t.true(rows.every((r) => r.truncated && r.payload.length === 10));
  const c = await store.counters();
  t.is(c.quarantineEvicted, 2);
  t.is(c.rejected.NOT_JSON, 5);
  await store.close();
});
