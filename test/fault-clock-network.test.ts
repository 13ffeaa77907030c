/**
 * Device clock jumps and a device cut off from the network, against a running gateway.
 */
import test from 'ava';
import { join } from 'node:path';
import { Gateway } from '../gateway/gateway.ts';
import { connectMqtt, publishAsync, endAsync } from '../io/mqtt-client.ts';
import { publishReadings, tally, line, startProxy } from './helpers/fault-publish.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

test('clock jumps: past readings stored once, beyond the skew limit quarantined, ingest carries on', async (t) => {
  const NOW = Date.UTC(2025, 5, 1, 12);
  const H = 3600_000;
  const gw = new Gateway({ id: 'clock', dbPath: join(tempDir(), 'clock.db'), embeddedBroker: { host: '127.0.0.1', port: 0 }, http: null, drift: false, now: () => NOW });
  await gw.start();
  t.teardown(() => gw.stop());
  const dev = await connectMqtt(gw.brokerUrl, { clientId: 'clock-dev', clean: false });
  const topic = 'edgeloop/lab/clock/telemetry';
  // The device's clock as it sends: normal, jumps back a day, forward 2 days (beyond 24 h skew),
  // forward 23 h (within), back to normal, and a resend of an earlier reading.
  const timeline = [NOW - 3000, NOW - 2000, NOW - 24 * H, NOW - 24 * H + 1000, NOW + 48 * H, NOW + 48 * H + 1000, NOW + 23 * H, NOW - 1000, NOW, NOW - 2000];
  for (const [i, ts] of timeline.entries()) await publishAsync(dev, topic, JSON.stringify({ ts, values: { v: i } }));
  // A batch mixing good and future readings is rejected as a whole (a message is the unit).
  await publishAsync(dev, topic, JSON.stringify([{ ts: NOW + 1000, values: { v: 100 } }, { ts: NOW + 30 * H, values: { v: 101 } }]));
  await publishAsync(dev, topic, JSON.stringify({ ts: NOW + 2000, values: { v: 200 } }));
  await waitFor(async () => (await gw.store.countReadings({ fleet: 'lab' })) === 8, 5000, 'readings stored');
  await waitFor(async () => (await gw.store.quarantine()).length === 3, 5000, 'future readings quarantined');
  const stored = [];
  for await (const r of gw.store.readings({ fleet: 'lab', device: 'clock' })) stored.push([r.ts - NOW, r.value]);
  t.deepEqual(stored, [[-24 * H, 2], [-24 * H + 1000, 3], [-3000, 0], [-2000, 1], [-1000, 7], [0, 8], [2000, 200], [23 * H, 6]]);
  const q = await gw.store.quarantine();
  t.true(q.every((r) => r.reason === 'BAD_TIMESTAMP' && /ahead of the gateway clock/.test(r.detail)));
  const c = await gw.store.counters();
  t.is(c.duplicates, 1, 'the resent reading counted as a duplicate');
  t.is(c.conflicts, 1, 'its different value is a conflict; the first value is kept');
  t.is(c.rejected.BAD_TIMESTAMP, 3);
  t.log(`clock jumps: sent ${timeline.length + 2} messages / acknowledged ${timeline.length + 2} / stored 8 readings / quarantined 3 (BAD_TIMESTAMP) / lost 0`);
  await endAsync(dev);
});

test('device cut off from the network: clean:false + QoS 1 loses nothing after it reconnects', async (t) => {
  const N = 2000;
  const gw = new Gateway({ id: 'cut', dbPath: join(tempDir(), 'cut.db'), embeddedBroker: { host: '127.0.0.1', port: 0 }, http: null, drift: false });
  await gw.start();
  t.teardown(() => gw.stop());
  const network = await startProxy(Number(new URL(gw.brokerUrl).port));
  t.teardown(() => network.close());
  const dev = await connectMqtt(network.url, { clientId: 'cut-dev', clean: false, reconnectPeriod: 100 });
  let cuts = 0;
  let reconnects = 0;
  dev.on('connect', () => { reconnects++; });
  const run = publishReadings(dev, 'edgeloop/lab/cut/telemetry', N, {
    beforeEach: async (i) => {
      if (i > 0 && i % 500 === 0) {
        network.cut();
        cuts++;
        // The device keeps producing while offline (mqtt.js queues), then the network comes back.
        setTimeout(() => network.heal(), 400);
      }
    },
  });
  await run.done;
  await waitFor(async () => (await gw.store.countReadings({ fleet: 'lab' })) >= N, 20_000, 'all readings stored');
  const result = await tally(gw.store, 'lab', 'cut', run.sent(), run.acked);
  t.log(`network cut x${cuts} (${reconnects} reconnects): ${line(result)}`);
  t.is(cuts, 3);
  t.true(reconnects >= 3, `the device really lost its connection and came back (${reconnects} reconnects)`);
  t.deepEqual(run.errors, []);
  t.is(result.acknowledged, N);
  t.is(result.stored, N);
  t.is(result.lost, 0);
  t.is(result.wrongValues, 0);
  await endAsync(dev);
});
