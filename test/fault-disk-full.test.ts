/**
 * Disk full on the gateway, simulated with SQLite's max_page_count on the store's database: commits
 * fail with a clear error, nothing is acknowledged to the broker while full (the durable subscriber
 * retries the batch), the database stays intact, and every reading arrives once space returns.
 */
import test from 'ava';
import { join } from 'node:path';
import { Gateway } from '../gateway/gateway.ts';
import { SqliteStore } from '../gateway/store-sqlite.ts';
import { connectMqtt, endAsync } from '../io/mqtt-client.ts';
import type { Logger } from '../src/log.ts';
import { publishReadings, tally, line } from './helpers/fault-publish.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

test('disk full: clear error, no ack while full, integrity ok, all readings after space returns', async (t) => {
  const N = 1500;
  const errors: string[] = [];
  const logger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: (m) => { errors.push(typeof m === 'function' ? m() : m); }, child: () => logger };
  const gw = new Gateway({ id: 'full', dbPath: join(tempDir(), 'full.db'), embeddedBroker: { host: '127.0.0.1', port: 0 }, http: null, drift: false, logger });
  await gw.start();
  t.teardown(() => gw.stop());
  const db = (gw.store as SqliteStore).database;
  const pages = db.pragma('page_count', { simple: true }) as number;
  // A few pages of headroom: the first readings fit, the rest hit SQLITE_FULL.
  db.pragma(`max_page_count = ${pages + 3}`);

  const pub = await connectMqtt(gw.brokerUrl, { clientId: 'full-pub', clean: false });
  const run = publishReadings(pub, 'edgeloop/lab/full/telemetry', N);
  await run.done;
  await waitFor(() => (gw.subscriberStats?.commitFailures ?? 0) >= 2, 15_000, 'commits failing on a full disk');
  const whileFull = gw.subscriberStats!;
  const storedWhileFull = await gw.store.countReadings({ fleet: 'lab' });
  t.true(storedWhileFull < N, `only part fits (${storedWhileFull})`);
  t.is(whileFull.acked, whileFull.committed, 'acknowledged = committed: nothing acked that is not stored');
  t.true(whileFull.acked < whileFull.received, `messages held unacknowledged while full (${whileFull.received - whileFull.acked})`);
  t.true(errors.some((e) => /commit of \d+ messages failed, not acknowledging them.*database or disk is full/.test(e)), errors[0] ?? 'no error logged');
  t.is(db.pragma('integrity_check', { simple: true }), 'ok');

  db.pragma('max_page_count = 1073741823');
  await waitFor(async () => (await gw.store.countReadings({ fleet: 'lab' })) >= N, 20_000, 'all readings after space returns');
  await waitFor(() => gw.subscriberStats!.pending === 0, 5000, 'nothing pending');
  const result = await tally(gw.store, 'lab', 'full', run.sent(), run.acked);
  t.log(`disk full: ${line(result)} (stored while full: ${storedWhileFull}, failed commits: ${gw.subscriberStats!.commitFailures})`);
  t.is(db.pragma('integrity_check', { simple: true }), 'ok');
  t.is(result.acknowledged, N);
  t.is(result.stored, N);
  t.is(result.lost, 0);
  t.is(result.wrongValues, 0);
  t.is((await gw.store.counters()).inserted, N, 'each reading inserted once');
  await endAsync(pub);
});
