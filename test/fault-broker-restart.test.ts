/**
 * Broker restart during ingest: mosquitto with persistence is stopped (SIGTERM, which writes its
 * persistence file) and restarted twice mid-stream while a device publishes QoS 1 readings with
 * clean:false and the gateway ingests. The device resends what was unacknowledged, the broker keeps
 * the gateway's queued messages across the restart, and every acknowledged reading is stored once.
 * (aedes keeps sessions in memory only, so the embedded broker cannot be restarted like this.)
 */
import test from 'ava';
import { join } from 'node:path';
import { Gateway } from '../gateway/gateway.ts';
import { connectMqtt, endAsync } from '../io/mqtt-client.ts';
import { findMosquitto } from './helpers/mosquitto.ts';
import { startConfiguredMosquitto, freePort, type ConfiguredMosquitto } from './helpers/mosquitto-conf.ts';
import { publishReadings, tally, line } from './helpers/fault-publish.ts';
import { tempDir, waitFor } from './helpers/tmp.ts';

test('mosquitto restarted twice mid-stream: every acknowledged reading stored exactly once', async (t) => {
  if (!findMosquitto()) return t.pass('mosquitto not installed');
  const N = 3000;
  const dir = tempDir('edgeloop-restart-');
  const port = await freePort();
  const conf = ['allow_anonymous true', 'persistence true', `persistence_location ${dir}/`, 'autosave_interval 1', 'max_queued_messages 0', 'max_inflight_messages 100'];
  let broker: ConfiguredMosquitto = (await startConfiguredMosquitto(conf, port, dir))!;
  t.teardown(() => broker.stop('SIGKILL'));
  const gw = new Gateway({ id: 'restart', brokerUrl: broker.url, dbPath: join(dir, 'restart.db'), http: null, drift: false });
  await gw.start();
  t.teardown(() => gw.stop());
  const dev = await connectMqtt(broker.url, { clientId: 'restart-dev', clean: false, reconnectPeriod: 100 });
  t.teardown(() => endAsync(dev, true));
  let restarts = 0;
  const run = publishReadings(dev, 'edgeloop/lab/restart/telemetry', N, {
    beforeEach: async (i) => {
      if (i === 1000 || i === 2000) {
        await broker.stop('SIGTERM');
        restarts++;
        await new Promise((r) => setTimeout(r, 300));
        broker = (await startConfiguredMosquitto(conf, port, dir))!;
      }
    },
  });
  await run.done;
  await waitFor(async () => (await gw.store.countReadings({ fleet: 'lab' })) >= run.acked.size, 30_000, 'acknowledged readings stored');
  const result = await tally(gw.store, 'lab', 'restart', run.sent(), run.acked);
  const counters = await gw.store.counters();
  t.log(`broker restart x${restarts}: ${line(result)} (redelivered duplicates absorbed: ${counters.duplicates}, gateway connections: ${gw.subscriberStats!.connections})`);
  t.is(restarts, 2);
  // The gateway's reconnect backoff may span both restarts; then the broker's persistence carried its queue twice.
  t.true(gw.subscriberStats!.connections >= 2, 'the gateway reconnected');
  t.deepEqual(run.errors, []);
  t.is(result.acknowledged, N);
  t.deepEqual(result.lostIds, []);
  t.is(result.stored, N);
  t.is(result.wrongValues, 0);
  t.is(counters.inserted, N, 'each reading inserted exactly once');
});
