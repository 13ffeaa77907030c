/**
 * The broker goes away while the device is predicting: predictions wait in the durable outbox
 * (SQLite) and, once the broker is back on the same port, all of them arrive, in ts order, none
 * lost (at-least-once: a batch in flight at the outage may arrive twice). The broker records what
 * it accepted, so a subscriber's own reconnect cannot hide or lose anything.
 */
import test from 'ava';
import { CsvInput } from '../device/input-csv.ts';
import { fileURLToPath } from 'node:url';
import type { InputDoneSummary } from '../device/inference.ts';
import { parsePredictionBatch } from '../src/contracts/predictions.ts';
import { startRecordingBroker, type RecordingBroker } from './helpers/outbox-broker.ts';
import { InferenceRig, DATA, FLEET } from './device-inference-rig.ts';
import { waitFor } from './helpers/tmp.ts';

test('broker down for a while during inference: every prediction arrives afterwards, in order', async (t) => {
  let broker: RecordingBroker = await startRecordingBroker(`edgeloop/${FLEET}/pi3/predictions`);
  const port = broker.port;
  const rig = await InferenceRig.create(broker.url, 1);
  t.teardown(async () => {
    await rig.close();
    await broker.stop();
  });
  const obs = await rig.observer('pi3');
  let done: InputDoneSummary | null = null;
  // ~2700 readings at 1500/s: about 1.8 s of input, the outage falls in the middle of it.
  const input = await CsvInput.create({ path: fileURLToPath(DATA), timeZone: 'Europe/Brussels', ratePerS: 1500 });
  const agent = await rig.agent('pi3', { input, batchSize: 20, batchMs: 50, onInputDone: (s) => { done = s; } });
  await rig.install(obs, 1);
  const before = broker.received;
  await waitFor(() => before.length >= 10, 20_000, 'some prediction batches before the outage');
  await broker.stop();
  const stoppedAt = agent.inference!.stats().predictionsOut;
  await waitFor(() => agent.inference!.stats().predictionsOut >= stoppedAt + 300, 20_000, 'predictions made while the broker is down');
  const queuedDuringOutage = agent.inference!.stats().outbox.queued;
  broker = await startRecordingBroker(`edgeloop/${FLEET}/pi3/predictions`, port);
  await waitFor(() => done !== null, 40_000, 'input-done');
  const total = done!.predictions;
  const tsOf = (payloads: string[]) => payloads.flatMap((p) => parsePredictionBatch(JSON.parse(p)).map((x) => x.ts));
  await waitFor(() => new Set([...tsOf(before), ...tsOf(broker.received)]).size >= total, 30_000, `${total} distinct predictions at the broker`);

  const all = [...tsOf(before), ...tsOf(broker.received)];
  const seen = new Set<number>();
  const firsts = all.filter((ts) => (seen.has(ts) ? false : (seen.add(ts), true)));
  t.is(firsts.length, total, 'nothing lost');
  t.true(firsts.every((ts, i) => i === 0 || ts > firsts[i - 1]!), 'first arrivals in ts order');
  t.true(queuedDuringOutage > 0, `messages waited in the outbox (${queuedDuringOutage})`);
  t.true(all.length - total <= 8 * 20, `duplicates (${all.length - total}) bounded by the in-flight window`);
  await waitFor(() => agent.inference!.stats().outbox.queued === 0, 10_000, 'outbox drained');
  t.log(`${total} predictions; ${before.length} batches before the outage, ${queuedDuringOutage} messages queued during it, ${all.length - total} duplicate prediction(s)`);
});
